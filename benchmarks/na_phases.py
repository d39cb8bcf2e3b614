"""Where the fused NA backward spends its time, pass by pass, beside the surrogate's backward.

For each net it runs one training step of the shipped weights (a seeded initialisation where
none are shipped) on a real batch (``loop_data.py``'s data, as ``train_loop.py``'s bare step),
keeps every spiking layer's input current and ``dL/da``, and times on exactly those tensors, per
layer, in the C kernels (``bna_zoo/core/kernels/cpu_na_impl.h``, ``na_chunk``):

* ``forward``: the NA kernel stopped after its forward pass (``u`` and a cached copy of the
  currents per chunk);
* ``+ sweep``: stopped after the backward sweep (the reverse filters, the headroom, every
  neuron's result as if no neighbor needed simulating, and which neurons are busy);
* ``NA``: the whole kernel, so ``NA - sweep`` is the neighbor pass on the busy neurons;
* ``rescale``: the official layer rescale on its output (``|δ|`` sum and multiply);
* ``surrogate``: the whole surrogate backward (forward recompute and BPTT sweep).

The stopped kernels are the package's own source compiled with ``NA_STOP_AFTER`` 1 or 2 (same
compiler and flags as the package's library, into a temporary folder); the package never
defines it. The medians of ``--reps`` timed calls each, with ``--threads`` threads.

Usage::

    python benchmarks/na_phases.py                                 # nmnist-cnn and mnist-cnn
    python benchmarks/na_phases.py --models nmnist-cnn --threads 1 --reps 21
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # as the other benchmarks and the CLI

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from train_loop import BATCH, datamodule  # noqa: E402

import bna_zoo.core.na as na_module  # noqa: E402
from bna_zoo import BNAModel  # noqa: E402
from bna_zoo.core.kernels import cpu_kernel  # noqa: E402
from bna_zoo.core.kernels.torch_kernel import OFFICIAL_CLIP  # noqa: E402
from bna_zoo.core.lif import LIFParams  # noqa: E402
from bna_zoo.core.rescale import LayerRescale  # noqa: E402
from bna_zoo.models import get_entry  # noqa: E402

#: NA_STOP_AFTER value -> the column it times
STOPS = {1: "forward", 2: "sweep"}


def stopped_libraries(folder: str) -> dict[int, ctypes.CDLL]:
    """The C kernels built with ``NA_STOP_AFTER`` = 1 and 2, with the package's own flags."""
    compiler = cpu_kernel._compiler()
    if compiler is None or cpu_kernel.load_library() is None:
        raise SystemExit("no C compiler or no C kernels here: nothing to time")
    flags = cpu_kernel._flag_sets()[0]
    libs = {}
    for stop in STOPS:
        target = Path(folder) / f"na_stop{stop}.so"
        cpu_kernel._compile(compiler, [*flags, f"-DNA_STOP_AFTER={stop}"], target)
        lib = ctypes.CDLL(str(target))
        cpu_kernel._declare(lib)
        libs[stop] = lib
    return libs


def capture(name: str, data_dir: str) -> list[tuple[torch.Tensor, torch.Tensor, LIFParams, str,
                                                     float]]:
    """Every NA layer's ``(current, dL/da, p, variant, clip)`` in one step on a real batch."""
    torch.manual_seed(0)
    entry = get_entry(name)
    # the copy shipped in the package: no Hub round trip (none is reachable where this runs)
    model = BNAModel.from_pretrained(str(entry.shipped_dir)) if entry.shipped else BNAModel(name)
    dm = datamodule(name, data_dir, 0, BATCH[name], BATCH[name])
    dm.prepare_data()
    dm.setup("test")
    x, y = next(iter(dm.test_dataloader()))
    seen = []
    original = na_module.na_backward

    def keep(current, grad_a, p, variant, clip, backend=None):
        seen.append((current.detach().clone(), grad_a.detach().clone(), p, variant, clip))
        return original(current, grad_a, p, variant, clip, backend)

    # the backward's own inputs are not reachable from outside: NALIF.backward looks
    # na_backward up in its module at call time, so wrapping it there is enough
    na_module.na_backward = keep
    try:
        model.train()
        loss = model.loss_fn(model.net(x), y)
        loss.backward()
    finally:
        na_module.na_backward = original
    return seen


def median_ms(fn: Callable[[], object], reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def layer_row(libs: dict[int, ctypes.CDLL], current: torch.Tensor, grad_a: torch.Tensor,
              p: LIFParams, variant: str, clip: float, reps: int) -> dict[str, float]:
    """The columns of one layer, in ms (``work``: the neighbor pass's (block, neighbor, step)
    triples)."""
    official = variant == "official"
    bound = OFFICIAL_CLIP if official else float(clip)
    steps, n = current.shape
    out = torch.empty_like(current)
    threads = max(1, torch.get_num_threads())

    def stopped(lib: ctypes.CDLL) -> Callable[[], object]:
        fn = lib.bna_na_backward_f32
        return lambda: fn(current.data_ptr(), grad_a.data_ptr(), out.data_ptr(), steps, n,
                          p.decay_m, p.decay_s, 1.0 / p.tau_s, p.theta, int(official), bound,
                          threads, None)

    row = {STOPS[stop]: median_ms(stopped(lib), reps) for stop, lib in libs.items()}
    row["na"] = median_ms(lambda: cpu_kernel.na_backward_c(current, grad_a, p, official, bound),
                          reps)
    delta, row["work"] = cpu_kernel.na_backward_c_with_work(current, grad_a, p, official, bound)
    rescale = LayerRescale()
    row["rescale"] = median_ms(lambda: rescale.apply(delta.clone(), True, "x", "c"), reps) - \
        median_ms(delta.clone, reps)
    row["surrogate"] = median_ms(
        lambda: cpu_kernel.surrogate_backward_c(current, grad_a, p, 5.0), reps)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=["nmnist-cnn", "mnist-cnn"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=11)
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads={args.threads}, median of {args.reps}, load average "
          f"{os.getloadavg()[0]:.2f}; ms per call")
    print("| net | layer [T, N] | forward | + sweep | NA (whole) | neighbor pass | work | "
          "rescale | surrogate | NA + rescale - surrogate |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        libs = stopped_libraries(folder)
        for name in args.models:
            total = {"na": 0.0, "rescale": 0.0, "surrogate": 0.0}
            for current, grad_a, p, variant, clip in capture(name, args.data_dir):
                r = layer_row(libs, current, grad_a, p, variant, clip, args.reps)
                for k in total:
                    total[k] += r[k]
                gap = r["na"] + r["rescale"] - r["surrogate"]
                print(f"| {name} | {list(current.shape)} | {r['forward']:.2f} | "
                      f"{r['sweep']:.2f} | {r['na']:.2f} | {r['na'] - r['sweep']:.2f} | "
                      f"{r['work']} | {r['rescale']:.2f} | {r['surrogate']:.2f} | {gap:+.2f} |")
            gap = total["na"] + total["rescale"] - total["surrogate"]
            print(f"| {name} | all layers | | | {total['na']:.2f} | | | {total['rescale']:.2f} | "
                  f"{total['surrogate']:.2f} | {gap:+.2f} |")


if __name__ == "__main__":
    main()
