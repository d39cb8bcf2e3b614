"""A FLOP bound for a network's step: its multiply-adds and what the conv/matmul library needs
for them on this machine.

**MACs.** Every ``nn.Conv2d`` and ``nn.Linear`` call of one forward pass is captured with a
forward hook (the shapes the network really uses: our time-major layers fold ``[T, B, ...]`` to
``[T*B, ...]`` for a conv, the event nets' thin first conv runs T calls on ``[B, ...]``, a linear
layer maps ``[T, B, in]``). Per call, forward MACs = output elements x (in_channels / groups x
kh x kw), for a linear layer output elements x in_features; both are
``numel(output) * numel(weight[0])``. Backward needs the weight gradient (the same MACs) and,
where the layer's input requires grad, the input gradient (the same again): 2x the forward, 1x
for the first layer, whose input is the encoded data. Element-wise work (LIF and NA, PSC
filter, pooling, dropout, loss, optimizer) is not counted: it is memory-bound, not FLOP-bound.

**Bound.** Each captured op is timed alone, on random tensors of its exact shapes, on the
device and threads of the caller: the forward (``F.conv2d`` / ``F.linear``), and for training
the weight gradient and, where needed, the input gradient (``torch.nn.grad.conv2d_weight`` /
``conv2d_input``, which call the ``convolution_backward`` that autograd calls; two ``mm`` for a
linear layer). Warm-up first, then the median of a few repetitions. The bound is the sum, over
the network's calls, of these op times: how long the step would take if it did nothing but its
convolutions and matrix products, each at the speed the library reaches on it alone.

Usage::

    from flops import trace_layers, measure_bound
    calls = trace_layers(net, x)            # [LayerCall], MACs per call
    bound = measure_bound(calls)            # Bound: forward / training ms, GFLOP/s per op

    python benchmarks/flops.py              # the MAC table of every registry net (no timing)
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

#: the layer kinds whose MACs are counted
COUNTED = (nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class LayerCall:
    """Identical calls of one conv or linear module in one forward pass.

    Args:
        name: the module's qualified name in the network (e.g. ``layers.0.conv``).
        kind: ``"conv"`` or ``"linear"``.
        in_shape: input shape of one call, e.g. ``[T*B, C, H, W]`` or ``[T, B, in]``.
        out_shape: output shape of one call.
        weight_shape: ``[out, in / groups, kh, kw]`` or ``[out, in]``.
        stride, padding, dilation, groups: the conv's settings (linear: ones and zeros).
        input_grad: whether backward needs the gradient of this call's input (it requires grad).
        count: how many such calls (T for a conv that runs step by step, else 1).
    """

    name: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    input_grad: bool = True
    count: int = 1

    @property
    def macs_forward(self) -> int:
        """Forward multiply-adds of all ``count`` calls: each output element sums
        ``numel(weight[0])`` products (in/groups x kh x kw, or in_features)."""
        return self.count * math.prod(self.out_shape) * math.prod(self.weight_shape[1:])

    @property
    def macs_backward(self) -> int:
        """Backward multiply-adds: the weight gradient, plus the input gradient if needed."""
        return self.macs_forward * (2 if self.input_grad else 1)


def trace_layers(net: nn.Module, x: torch.Tensor) -> list[LayerCall]:
    """Every conv/linear call of one forward of ``net`` on ``x``, in call order.

    The forward runs with autograd on (so each call's ``input.requires_grad`` says whether
    backward needs its input gradient) and in the net's current train/eval mode; repeated calls
    of the same module with the same shapes (a step-by-step conv) merge into one with a count.

    Args:
        net: any module built of ``nn.Conv2d`` / ``nn.Linear`` (and other, uncounted, layers).
        x: an input batch as ``net`` takes it; only its shape matters to the result.

    Returns:
        One :class:`LayerCall` per run of consecutive calls of one module with the same shapes,
        in call order.
    """
    calls: list[LayerCall] = []
    names = {m: n for n, m in net.named_modules()}

    def hook(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        inp = args[0]
        call = _layer_call(names[module], module, inp, out)
        if calls and _same_op(calls[-1], call):
            calls[-1] = replace(calls[-1], count=calls[-1].count + 1)
        else:
            calls.append(call)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, COUNTED)]
    try:
        with torch.enable_grad():
            out = net(x)
        del out
    finally:
        for h in handles:
            h.remove()
    return calls


def _layer_call(name: str, module: nn.Module, inp: torch.Tensor,
                out: torch.Tensor) -> LayerCall:
    common = {"name": name, "in_shape": tuple(inp.shape), "out_shape": tuple(out.shape),
              "weight_shape": tuple(module.weight.shape), "input_grad": inp.requires_grad}
    if isinstance(module, nn.Conv2d):
        if not isinstance(module.padding, tuple):  # 'same' / 'valid': a string
            raise ValueError(f"{name}: padding={module.padding!r}; give the padding as numbers")
        return LayerCall(kind="conv", stride=tuple(module.stride), padding=tuple(module.padding),
                         dilation=tuple(module.dilation), groups=module.groups, **common)
    return LayerCall(kind="linear", **common)


def _same_op(a: LayerCall, b: LayerCall) -> bool:
    return replace(a, count=1) == replace(b, count=1)


def total_macs(calls: list[LayerCall]) -> tuple[int, int]:
    """``(forward MACs, backward MACs)`` summed over ``calls``."""
    return sum(c.macs_forward for c in calls), sum(c.macs_backward for c in calls)


# ------------------------------------------------------------------------------- timing
@dataclass(frozen=True)
class OpTime:
    """One timed library op of a :class:`LayerCall` (all its ``count`` calls together).

    Args:
        layer: the call's module name.
        op: ``"forward"``, ``"weight grad"`` or ``"input grad"``.
        macs: multiply-adds of the op over all calls.
        ms: the op's time over all calls: median of the repetitions of one call, times count.
        shape: a readable description of the operands.
    """

    layer: str
    op: str
    macs: int
    ms: float
    shape: str

    @property
    def gflops(self) -> float:
        """GFLOP/s reached (a multiply-add counts two floating-point operations)."""
        return 2 * self.macs / (self.ms * 1e6) if self.ms > 0 else math.inf


@dataclass(frozen=True)
class Bound:
    """The FLOP bound of a network's forward and training step, and the op times behind it.

    Args:
        macs_forward, macs_backward: multiply-adds of the conv/linear layers.
        ops: every timed op (forward ops always; the gradient ops when timed for training).
    """

    macs_forward: int
    macs_backward: int
    ops: list[OpTime] = field(default_factory=list)

    @property
    def forward_ms(self) -> float:
        """The forward ops' time: the inference bound."""
        return sum(o.ms for o in self.ops if o.op == "forward")

    @property
    def train_ms(self) -> float:
        """Forward and backward ops' time: the training-step bound."""
        return sum(o.ms for o in self.ops)

    @property
    def gmac_step(self) -> float:
        """Forward plus backward multiply-adds, in 10^9."""
        return (self.macs_forward + self.macs_backward) / 1e9

    @property
    def peak(self) -> OpTime:
        """The op that reached the most GFLOP/s."""
        return max(self.ops, key=lambda o: o.gflops)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_op(fn: Callable[[], object], device: torch.device, reps: int = 5, warmup: int = 1,
            min_rep_s: float = 2e-3) -> float:
    """Median seconds per call of ``fn``.

    After ``warmup`` calls (the first one creates the library's kernel for the shapes), each of
    ``reps`` repetitions runs ``fn`` often enough to take about ``min_rep_s`` (a sub-millisecond
    matmul timed one call at a time is mostly timer noise).
    """
    for _ in range(max(warmup, 1)):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        once = time.perf_counter() - t0
    inner = max(1, math.ceil(min_rep_s / max(once, 1e-7)))
    times = []
    for _ in range(reps):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        _sync(device)
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def library_ops(c: LayerCall, x: torch.Tensor, w: torch.Tensor,
                g: torch.Tensor) -> dict[str, Callable[[], torch.Tensor]]:
    """The library ops of one call of ``c``, as closures: ``"forward"`` (its output),
    ``"weight grad"`` and ``"input grad"`` (the gradients autograd computes from ``g``).

    Args:
        c: the call.
        x: its input, ``c.in_shape``.
        w: its weight, ``c.weight_shape``.
        g: a gradient of its output, ``c.out_shape``.
    """
    if c.kind == "conv":
        conf = (c.stride, c.padding, c.dilation, c.groups)
        return {
            "forward": lambda: F.conv2d(x, w, None, *conf),
            "weight grad": lambda: torch.nn.grad.conv2d_weight(x, w.shape, g, *conf),
            "input grad": lambda: torch.nn.grad.conv2d_input(x.shape, w, g, *conf),
        }
    # autograd's linear backward: grad_in = g @ W, grad_W = g^T @ x, over the folded batch
    x2, g2 = x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])
    return {
        "forward": lambda: F.linear(x, w),
        "weight grad": lambda: torch.mm(g2.t(), x2),
        "input grad": lambda: torch.mm(g2, w).view(x.shape),
    }


def _describe(c: LayerCall) -> str:
    times = f" x{c.count}" if c.count > 1 else ""
    return f"{list(c.in_shape)} * {list(c.weight_shape)} -> {list(c.out_shape)}{times}"


def measure_bound(calls: list[LayerCall], training: bool = True, device: str = "cpu",
                  reps: int = 5, warmup: int = 1, seed: int = 0) -> Bound:
    """Time every op of ``calls`` alone and return the bound.

    Args:
        calls: from :func:`trace_layers`.
        training: also time the gradient ops (else the forward ops only: inference).
        device: where to time (the caller's threads apply on CPU).
        reps, warmup: repetitions (median) and untimed calls per op.
        seed: seeds the random operands (dense libraries do not skip zeros, so values do not
            matter to the time; seeded anyway, for repeatable runs).

    Returns:
        :class:`Bound` with the MACs of ``calls`` and one :class:`OpTime` per op.
    """
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    ops: list[OpTime] = []
    for c in calls:
        x, w, g = (torch.randn(s, generator=gen).to(dev)
                   for s in (c.in_shape, c.weight_shape, c.out_shape))
        fns = library_ops(c, x, w, g)
        wanted = ["forward"]
        if training:
            wanted += ["weight grad"] + (["input grad"] if c.input_grad else [])
        for op in wanted:
            seconds = time_op(fns[op], dev, reps, warmup)
            ops.append(OpTime(c.name, op, c.macs_forward, 1e3 * seconds * c.count, _describe(c)))
        del x, w, g, fns
    fwd, bwd = total_macs(calls)
    return Bound(fwd, bwd, ops)


def fmt(value: float) -> str:
    """A table number with about three significant digits, never in exponent notation for the
    sizes these tables hold (``461``, ``23.6``, ``0.358``)."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) >= 1e-4 else f"{value:.1e}"


def format_ops(bound: Bound) -> str:
    """A markdown table of the bound's ops: layer, op, shapes, GMAC, ms, GFLOP/s."""
    lines = ["| layer | op | shapes (input * weight -> output) | GMAC | ms | GFLOP/s |",
             "|---|---|---|---|---|---|"]
    for o in bound.ops:
        lines.append(f"| {o.layer} | {o.op} | {o.shape} | {fmt(o.macs / 1e9)} | {fmt(o.ms)} | "
                     f"{fmt(o.gflops)} |")
    return "\n".join(lines)


def mac_table(names: list[str]) -> str:
    """A markdown table of the forward and backward GMAC of registry nets at the benchmark's T and
    batch (``train_step.py``'s), traced on its own input; nothing is timed."""
    from train_step import BATCH, make_inputs  # the script's batch and input, as it traces them

    from bna_zoo.models import create_model, get_entry

    lines = ["| model | T | batch | GMAC forward | GMAC backward | GMAC/step |",
             "|---|---|---|---|---|---|"]
    for name in names:
        torch.manual_seed(0)
        net, batch = create_model(name), BATCH.get(name, 32)
        x, _ = make_inputs(get_entry(name), net.num_classes, batch)
        fwd, bwd = total_macs(trace_layers(net, x))
        lines.append(f"| {name} | {net.n_steps} | {batch} | {fwd / 1e9:.3f} | {bwd / 1e9:.3f} | "
                     f"{(fwd + bwd) / 1e9:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    from bna_zoo.models import list_models

    print(mac_table(sys.argv[1:] or list_models()))
