"""Training-step cost of NA against the surrogate gradient, measured in the same run.

For every registry architecture at its own T and paper batch size: milliseconds per training
step (forward + loss + backward + AdamW step, the official recipe's clip and clamp included),
with NA and with the surrogate gradient on the same network and data, their ratio, and memory:
the bytes saved for backward (every tensor autograd keeps, counted by a saved-tensor hook: the
activation memory) and, on CUDA, the peak allocated memory.

Steps alternate NA / surrogate so that machine noise hits both alike; the median is reported.

Against the machine: the multiply-adds of the step's conv and linear layers (forward and
backward, ``GMAC/step``) and the **FLOP bound** (``bound ms``): the time the conv/matmul library
alone takes for those exact ops, each timed alone on this machine in the same run (``flops.py``);
``NA x bound`` and ``surrogate x bound`` say how far each step is from it. ``--no-bound`` skips
it, ``--bound-ops`` prints every timed op with its GFLOP/s.

Usage::

    python benchmarks/train_step.py                      # all models, table to stdout
    python benchmarks/train_step.py --models nmnist-cnn fashionmnist-mlp --steps 5
    python benchmarks/train_step.py --models mnist-cnn --bound-ops   # the bound's ops too
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

# Time under the allocator setting the zoo's CLI runs with (bna_zoo/cli): transparent huge
# pages for torch's large CPU tensors. torch reads it once, at import, so it is set here;
# THP_MEM_ALLOC_ENABLE=0 in the environment times without (every implementation alike).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import torch

from bna_zoo.models import ZooEntry, create_model, get_entry, list_models
from bna_zoo.nn import build_loss

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as a script or imported
from flops import Bound, fmt, format_ops, measure_bound, trace_layers  # noqa: E402

from bna_zoo.cpu_memory import keep_freed_memory  # noqa: E402

# glibc keeps freed memory mapped, as the CLI sets it (bna_zoo/cpu_memory.py);
# BNA_ZOO_KEEP_MEMORY=0 in the environment times without (every implementation alike)
KEPT_MEMORY = keep_freed_memory()

BATCH = {"mnist-cnn": 64, "nmnist-cnn": 32, "fashionmnist-mlp": 64, "fashionmnist-cnn": 50,
         "cifar10-cnn": 50, "dvsgesture-cnn": 16}


def make_step(name: str, gradient: str, batch: int, device: str, seed: int = 0,
              inputs: tuple[torch.Tensor, torch.Tensor] | None = None,
              net: torch.nn.Module | None = None):
    """A closure running one training step; returns it and a function measuring saved bytes.

    ``inputs``: a real ``(x, y)`` batch; by default random images, or events at 20% density
    (at 5% a freshly initialised event net stays silent in every layer, which times nothing).
    ``net``: train this network (e.g. shipped weights) instead of a seeded init of ``name``.
    """
    torch.manual_seed(seed)
    spec = get_entry(name)
    if net is None:
        net = create_model(name, gradient=gradient, rescale=gradient == "na")
    net = net.to(device)
    loss_fn = build_loss(spec.loss, spec.loss_args, spec.tau_s)
    opt = torch.optim.AdamW(net.parameters(), lr=5e-4)
    x, y = inputs if inputs is not None else make_inputs(spec, net.num_classes, batch, seed)
    x, y = x.to(device), y.to(device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for p in net.parameters():
                p.clamp_(-4, 4)

    def saved_bytes() -> int:
        total = 0

        def pack(t: torch.Tensor) -> torch.Tensor:
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = loss_fn(net(x), y)
        del loss
        return total

    return step, saved_bytes


def make_inputs(spec: ZooEntry, num_classes: int, batch: int,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The benchmark's seeded batch ``(x, y)`` on the CPU.

    ``x``: random images ``[B, *input_shape]`` (standard normal), or event frames
    ``[B, T, *input_shape]`` with 20% of the pixels on; ``y``: labels ``[B]``.
    """
    g = torch.Generator().manual_seed(seed)
    if spec.input_kind == "events":
        x = (torch.rand(batch, spec.n_steps, *spec.input_shape, generator=g) < 0.2).float()
    else:
        x = torch.randn(batch, *spec.input_shape, generator=g)
    return x, torch.randint(0, num_classes, (batch,), generator=g)


def step_bound(name: str, batch: int, device: str, reps: int = 5, seed: int = 0) -> Bound:
    """The FLOP bound of one training step of ``name`` at ``batch`` (see ``flops.py``).

    The conv/linear calls are traced on the benchmark's own input, so the shapes are those the
    timed step runs (time folded into the batch, or the event nets' step-by-step first conv).
    """
    torch.manual_seed(seed)
    net = create_model(name, gradient="surrogate").to(device)
    x, _ = make_inputs(get_entry(name), net.num_classes, batch, seed)
    calls = trace_layers(net, x.to(device))
    del net  # its activations are gone; only the shapes are needed
    return measure_bound(calls, training=True, device=device, reps=reps, seed=seed)


def peak_rss_mb(name: str, gradient: str, batch: int, steps: int = 2) -> float:
    """Peak resident memory (MB) of a fresh process that runs ``steps`` training steps.

    A process of its own per (model, gradient), so neither run's peak hides the other's.
    """
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", name, gradient, str(batch), str(steps)],
        capture_output=True, text=True, check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _rss_child(name: str, gradient: str, batch: int, steps: int) -> None:
    step, _ = make_step(name, gradient, batch, "cpu")
    for _ in range(steps):
        step()
    # VmHWM, not getrusage's ru_maxrss: the latter survives fork+exec, so the child would
    # report the parent's peak
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print(int(line.split()[1]) / 1024)  # kB
            return
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def bench(name: str, batch: int, steps: int, warmup: int, device: str,
          bound_reps: int = 0) -> dict:
    """Time ``steps`` alternating NA / surrogate steps of ``name``; with ``bound_reps`` > 0 also
    the FLOP bound (:func:`step_bound`, that many repetitions per op), after the steps."""
    runs = {g: make_step(name, g, batch, device) for g in ("na", "surrogate")}
    times: dict[str, list[float]] = {g: [] for g in runs}
    peak: dict[str, float] = {}
    for step, _ in runs.values():
        for _ in range(warmup):
            step()
    for _ in range(steps):
        for g, (step, _) in runs.items():
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            sync(device)
            t0 = time.perf_counter()
            step()
            sync(device)
            times[g].append(1e3 * (time.perf_counter() - t0))
            if device == "cuda":
                peak[g] = max(peak.get(g, 0.0), torch.cuda.max_memory_allocated() / 2**20)
    med = {g: statistics.median(v) for g, v in times.items()}
    saved = {g: runs[g][1]() / 2**20 for g in runs}
    del runs
    bound = step_bound(name, batch, device, bound_reps) if bound_reps > 0 else None
    return {"name": name, "T": get_entry(name).n_steps, "batch": batch, "na_ms": med["na"],
            "sg_ms": med["surrogate"], "ratio": med["na"] / med["surrogate"],
            "na_mb": saved["na"], "sg_mb": saved["surrogate"],
            "na_peak": peak.get("na"), "sg_peak": peak.get("surrogate"), "bound": bound}


def bound_cells(r: dict) -> str:
    """The row's bound columns: GMAC/step, bound ms, NA x bound, surrogate x bound."""
    b: Bound = r["bound"]
    return (f" {fmt(b.gmac_step)} | {fmt(b.train_ms)} | {r['na_ms'] / b.train_ms:.2f} | "
            f"{r['sg_ms'] / b.train_ms:.2f} |")


def peak_line(rows: list[dict]) -> str:
    """The highest GFLOP/s one op reached, over every model's bound, and where."""
    best = max(((r["name"], r["bound"].peak) for r in rows), key=lambda p: p[1].gflops)
    name, op = best
    return (f"peak: {op.gflops:.1f} GFLOP/s, {name} {op.layer} {op.op} ({op.shape}); "
            "per model: " + ", ".join(f"{r['name']} {r['bound'].peak.gflops:.1f}" for r in rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=list_models())
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rss", action="store_true",
                        help="also measure each gradient's peak process memory (CPU)")
    parser.add_argument("--no-bound", action="store_true",
                        help="leave out the FLOP bound (its op timing takes about as long as "
                             "a few steps)")
    parser.add_argument("--bound-reps", type=int, default=5,
                        help="timed repetitions (median) of each op of the bound")
    parser.add_argument("--bound-ops", action="store_true",
                        help="also print every op of each model's bound with its GFLOP/s")
    parser.add_argument("--rss-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        name, gradient, batch, steps = args.rss_child
        _rss_child(name, gradient, int(batch), int(steps))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    from bna_zoo.core.kernels import active_kernel

    print(f"device {args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"NA kernel: {active_kernel()}, {args.steps} timed steps (median), "
          f"THP_MEM_ALLOC_ENABLE={os.environ['THP_MEM_ALLOC_ENABLE']}, "
          f"freed memory kept {KEPT_MEMORY}, "
          f"load {' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    cols = "| model | T | batch | NA ms/step | surrogate ms/step | NA/surrogate | NA saved MB | " \
           "surrogate saved MB |"
    if args.device == "cuda":
        cols += " NA peak MB | surrogate peak MB |"
    elif args.rss:
        cols += " NA peak RSS MB | surrogate peak RSS MB |"
    if not args.no_bound:
        cols += " GMAC/step | bound ms | NA x bound | surrogate x bound |"
    print(cols)
    print("|" + "---|" * (cols.count("|") - 1))
    rows = []
    for name in args.models:
        r = bench(name, BATCH.get(name, 32), args.steps, args.warmup, args.device,
                  0 if args.no_bound else args.bound_reps)
        rows.append(r)
        line = (f"| {r['name']} | {r['T']} | {r['batch']} | {r['na_ms']:.1f} | {r['sg_ms']:.1f} | "
                f"{r['ratio']:.2f} | {r['na_mb']:.1f} | {r['sg_mb']:.1f} |")
        if args.device == "cuda":
            line += f" {r['na_peak']:.0f} | {r['sg_peak']:.0f} |"
        elif args.rss:
            batch = BATCH.get(name, 32)
            line += (f" {peak_rss_mb(name, 'na', batch):.0f} |"
                     f" {peak_rss_mb(name, 'surrogate', batch):.0f} |")
        if r["bound"] is not None:
            line += bound_cells(r)
        print(line, flush=True)
    if not args.no_bound and rows:
        print(f"\n{peak_line(rows)}")
        print("GMAC/step: conv/linear multiply-adds of forward + backward; bound ms: those ops "
              "timed alone (benchmarks/flops.py); element-wise work (LIF/NA, PSC, pooling, "
              "optimizer) is outside the bound")
    if args.bound_ops:
        for r in rows:
            if r["bound"] is not None:
                print(f"\n{r['name']} (T={r['T']}, batch {r['batch']}):\n"
                      f"{format_ops(r['bound'])}")


if __name__ == "__main__":
    main()
