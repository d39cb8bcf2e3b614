"""Micro-benchmark of the LIF/NA kernels on CPU: pure torch vs fused C.

Times, per shape ``[T, N]`` (time-major, float32), the best of a few runs of:

* ``forward``: :func:`bna_zoo.core.lif.lif_forward`;
* ``neighbor``: the NA neighbor pass alone (:func:`bna_zoo.core.kernels.neighbor_loss_change`);
* ``NA bwd``: the whole ``NALIF`` backward (forward recompute, filters, neighbor pass, weighting);
* ``surr bwd``: the whole ``SurrogateLIF`` backward.

Usage::

    python benchmarks/kernels_micro.py [--repeats 3] [--threads 2] [--mean 0.3] [--clock wall]

``--clock cpu`` times the calling thread's CPU time with one thread: on a shared, loaded
machine it is far more repeatable than wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

# Time under the allocator setting the zoo's CLI runs with (bna_zoo/cli): transparent huge
# pages for torch's large CPU tensors. torch reads it once, at import, so it is set here;
# THP_MEM_ALLOC_ENABLE=0 in the environment times without (every implementation alike).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import torch

from bna_zoo.core.kernels import neighbor_loss_change
from bna_zoo.core.kernels.backend import use_backend
from bna_zoo.core.lif import LIFParams, lif_forward, reverse_filter
from bna_zoo.core.na import NALIF
from bna_zoo.core.surrogate import SurrogateLIF
from bna_zoo.cpu_memory import keep_freed_memory  # noqa: E402

# glibc keeps freed memory mapped, as the CLI sets it (bna_zoo/cpu_memory.py);
# BNA_ZOO_KEEP_MEMORY=0 in the environment times without (every implementation alike)
keep_freed_memory()

SHAPES = {
    "T30 32x12x32x32": (30, 32 * 12 * 32 * 32),
    "T30 32x64x12x12": (30, 32 * 64 * 12 * 12),
    "T5 50x32x28x28": (5, 50 * 32 * 28 * 28),
    "T5 64x400": (5, 64 * 400),
}


CLOCK = time.perf_counter


def _best_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: compile/load, allocator
    times = []
    for _ in range(repeats):
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return 1e3 * min(times)


def _inputs(steps: int, n: int, mean: float) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    current = torch.randn(steps, n, generator=gen) * 0.6 + mean
    grad = torch.randn(steps, n, generator=gen)
    return current, grad


def bench(steps: int, n: int, mean: float, repeats: int) -> dict[str, float]:
    p = LIFParams(tau_m=5.0 if steps == 5 else 8.0, tau_s=2.0 if steps == 5 else 4.0)
    current, grad = _inputs(steps, n, mean)
    u, s, _ = lif_forward(current, p)
    big_e = reverse_filter(reverse_filter(grad, p.decay_s), p.decay_s)
    x = current.clone().requires_grad_(True)
    # The graphs are built once; only the backward passes are timed (retain_graph keeps them).
    a_na = NALIF.apply(x, p, "official", 10.0, None, False, "")
    a_surr = SurrogateLIF.apply(x, p, 5.0)

    with torch.no_grad():
        fwd = _best_ms(lambda: lif_forward(current, p), repeats)
        nbr = _best_ms(lambda: neighbor_loss_change(current, u, s, big_e, p), repeats)
    return {
        "forward": fwd,
        "neighbor": nbr,
        "NA bwd": _best_ms(lambda: torch.autograd.grad(a_na, x, grad, retain_graph=True), repeats),
        "surr bwd": _best_ms(
            lambda: torch.autograd.grad(a_surr, x, grad, retain_graph=True), repeats
        ),
        "rate": float(s.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--mean", type=float, default=0.3, help="mean input current (std 0.6)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    if args.clock == "cpu":
        global CLOCK
        CLOCK = time.thread_time
        args.threads = 1
    torch.set_num_threads(args.threads)
    cols = ("forward", "neighbor", "NA bwd", "surr bwd")
    print(
        f"threads={args.threads}, current ~ N({args.mean}, 0.6), {args.clock} ms "
        f"(best of {args.repeats})"
    )
    print(f"{'shape':<18} {'rate':>5} " + " ".join(f"{c + ' torch/C':>19}" for c in cols))
    for name, (steps, n) in SHAPES.items():
        res = {}
        for mode in ("torch", "c"):
            with use_backend(mode):  # the env var is read once, at import
                res[mode] = bench(steps, n, args.mean, args.repeats)
        line = " ".join(
            f"{res['torch'][c]:8.1f} /{res['c'][c]:7.1f} ({res['torch'][c] / res['c'][c]:4.1f}x)"
            for c in cols
        )
        print(f"{name:<18} {res['c']['rate']:5.2f} {line}")


if __name__ == "__main__":
    main()
