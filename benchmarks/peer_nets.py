"""The peer implementations of benchmarks/peers.py: our networks in plain PyTorch, snnTorch and
SpikingJelly.

Each peer is built from one of our :class:`~bna_zoo.models.SpikingNetwork` objects: its constants
and layer plan, and copies of its conv/linear modules (so each peer trains its own weights):

- **plain step loop**: plain PyTorch, time outer and layers inner: per step conv/linear, the LIF
  update with a spike function written as a small ``torch.autograd.Function`` (strict
  ``u > theta``, fast-sigmoid derivative ``1/(1+k|u-theta|)^2``, reset path detached), the PSC
  filter; ordinary autograd BPTT.
- **plain layer loop**: plain PyTorch, layers outer: each conv/linear on all ``T*B`` samples at
  once, then one loop over T for the LIF and PSC updates (the issue's "plain layer loop").
- **snnTorch**: the step loop with ``snntorch.Leaky(beta=1-1/tau_m, reset_mechanism="zero",
  reset_delay=True)`` and ``surrogate.fast_sigmoid(slope=k)``, the PSC filter as plain torch.
- **SpikingJelly**: multi-step (``step_mode="m"``) ``layer.Conv2d``/``layer.Linear`` and
  ``neuron.LIFNode(tau=tau_m, decay_input=False, v_reset=0.0, detach_reset=True)`` with its
  built-in ``SoftSign`` surrogate (the one that selects its fused kernels on CUDA; on CPU
  SpikingJelly 2.0 runs its torch reference loop under autograd), the PSC filter as plain torch.

Why each one's forward matches ours (what the equality checks of peers.py rely on):

- snnTorch ``Leaky`` with ``reset_delay=True`` (its default) computes ``reset = H(mem - thr)``
  detached from the previous step's pre-reset ``mem``, ``mem = (1 - reset) * mem``, then
  ``mem = beta * mem + input`` and ``spk = (mem - thr) > 0``: our update in our order, with the same
  roundings (``beta`` is stored as float32, as torch rounds our Python factor).
- SpikingJelly charges ``h = v - v / tau + x`` (not ``v * (1 - 1/tau) + x``) and fires on
  ``h >= v_threshold``. The threshold is set to the next float32 above theta, which turns ``>=``
  into our strict ``>`` exactly; the charge rounds like ours only when ``1/tau_m`` is a power of
  two (``tau_m`` = 2, 4, 8, ...: nmnist-cnn's 8). Otherwise the potentials are one ulp apart now
  and then, which changes a spike only when the potential lies within an ulp of threshold: the
  PSC is then usually still identical, and the check reports a deviation, not a failure, if not.
  Its ``SoftSign(alpha=k)`` derivative is ``k/2`` times ours (it has no unscaled fast sigmoid);
  the gradient check therefore uses a SpikingJelly network whose surrogate is our spike function
  (its autograd reference path).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bna_zoo.models import SpikingNetwork
from bna_zoo.nn import SpikingConv2d, SpikingLinear, SumPool2d, TimeSharedDropout


# ------------------------------------------------------------------------ plain PyTorch peers
class FastSigmoidSpike(torch.autograd.Function):
    """Spike function: strict ``u > theta`` forward (``u >= theta`` with ``at_threshold``),
    ``1/(1 + k|u - theta|)^2`` derivative."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, u: torch.Tensor, theta: float, slope: float, at_threshold: bool = False
    ) -> torch.Tensor:
        ctx.save_for_backward(u)
        ctx.theta, ctx.slope = theta, slope
        return (u >= theta if at_threshold else u > theta).to(u.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        (u,) = ctx.saved_tensors
        return grad / (1.0 + ctx.slope * (u - ctx.theta).abs()).square(), None, None, None


class PeerNet(nn.Module):
    """Base of the peers: the constants and layer plan of one of our networks, its conv/linear
    modules copied (so each peer trains its own weights), and the pieces every peer shares.

    ``plan`` holds ``("syn", i)`` (synapse ``i`` then a spiking neuron), ``("pool", k, scale)``
    and ``("drop", p, mode)``, in our layer order. With ``record`` set, ``forward`` keeps every
    spiking layer's PSC, batch first, in ``traces`` (for the equality checks).
    """

    def __init__(self, net: SpikingNetwork) -> None:
        super().__init__()
        cfg = net.neuron
        self.tau_m, self.tau_s, self.theta = cfg.tau_m, cfg.tau_s, cfg.theta
        self.slope = cfg.surrogate_slope
        # Python floats, as bna_zoo.core.lif.LIFParams computes them: torch rounds them to float32
        # in the same way in every implementation.
        self.decay_m = 1.0 - 1.0 / cfg.tau_m
        self.decay_s = 1.0 - 1.0 / cfg.tau_s
        self.n_steps = net.n_steps
        self.input_shape = net.input_shape
        self.synapses = nn.ModuleList()
        self.plan: list[tuple] = []
        for layer in net.layers:
            if isinstance(layer, SpikingConv2d):
                self.plan.append(("syn", len(self.synapses)))
                self.synapses.append(copy.deepcopy(layer.conv))
            elif isinstance(layer, SpikingLinear):
                self.plan.append(("syn", len(self.synapses)))
                self.synapses.append(copy.deepcopy(layer.linear))
            elif isinstance(layer, SumPool2d):
                self.plan.append(("pool", layer.kernel_size, layer.scale))
            elif isinstance(layer, TimeSharedDropout):
                self.plan.append(("drop", layer.p, layer.mode))
            else:
                raise TypeError(f"no peer for layer {type(layer).__name__}")
        self.record = False
        self.traces: list[torch.Tensor] = []

    # -- shared pieces ---------------------------------------------------------------------
    def is_static(self, x: torch.Tensor) -> bool:
        """A static image ``[B, *input_shape]`` (repeated over T) rather than a sequence."""
        return x.dim() == len(self.input_shape) + 1

    def encoded_steps(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        """The PSC-filtered input of each step, ``[B, ...]``: ``y = decay_s y + x[t] / tau_s``,
        the encoder's arithmetic (a static image is the same input at every step)."""
        static = self.is_static(x)
        drive = x / self.tau_s if static else None
        y = torch.zeros_like(x if static else x[:, 0])
        for t in range(self.n_steps):
            y = self.decay_s * y + (drive if static else x[:, t] / self.tau_s)
            yield y

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The whole encoded input, time-major ``[T, B, ...]``."""
        return torch.stack(list(self.encoded_steps(x)))

    def psc_step(self, a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """One step of the synaptic filter ``a = (1 - 1/tau_s) a + s / tau_s``."""
        return a * self.decay_s + s / self.tau_s

    def psc(self, s: torch.Tensor) -> torch.Tensor:
        """The synaptic filter over a time-major spike train ``[T, ...]``."""
        a = torch.zeros_like(s[0])
        out = []
        for st in s:
            a = self.psc_step(a, st)
            out.append(a)
        return torch.stack(out)

    @staticmethod
    def pool(h: torch.Tensor, k: int, scale: float) -> torch.Tensor:
        """Sum pooling times ``scale`` on ``[N, C, H, W]``, as :class:`SumPool2d` computes it."""
        return F.avg_pool2d(h, k) * (k * k * scale)

    def run_plan(self, h: torch.Tensor,
                 layer: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """The layer plan on time-major ``h [T, B, ...]``, layers outer; ``layer(i, h)`` gives
        spiking layer ``i``'s PSC. Returns the output PSC batch first, ``[B, T, classes]``."""
        self.traces = []
        for op in self.plan:
            if op[0] == "syn":
                h = layer(op[1], h)
                self.keep(h, time_major=True)
            elif op[0] == "pool":
                h = self.pool_all(h, op[1], op[2])
            elif self.training and op[1] > 0:
                h = h * self.dropout_mask(h[0], op[1], op[2])
        return h.transpose(0, 1)

    def pool_all(self, h: torch.Tensor, k: int, scale: float) -> torch.Tensor:
        """:meth:`pool` on time-major ``[T, B, C, H, W]``, all ``T*B`` maps at once."""
        t, b = h.shape[:2]
        y = self.pool(h.reshape(t * b, *h.shape[2:]), k, scale)
        return y.view(t, b, *y.shape[1:])

    def dropout_mask(self, h: torch.Tensor, p: float, mode: str) -> torch.Tensor:
        """One inverted-dropout mask per sample, shared over time, for a per-step ``[B, ...]``."""
        shape = list(h.shape)
        if mode == "row" and h.dim() == 4:
            shape[-1] = 1
        return torch.empty(shape, device=h.device, dtype=h.dtype).bernoulli_(1 - p) / (1 - p)

    def synapse(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Synapse ``i`` on one step ``[B, ...]`` (a linear layer flattens its input)."""
        syn = self.synapses[i]
        return syn(h.flatten(1) if isinstance(syn, nn.Linear) else h)

    def keep(self, psc: torch.Tensor, time_major: bool) -> None:
        """Record the next spiking layer's PSC (batch first) when ``record`` is set."""
        if self.record:
            self.traces.append(psc.transpose(0, 1) if time_major else psc)


class StepLoopNet(PeerNet):
    """Time outer, layers inner: what an SNN library's per-step modules lead to. Subclasses
    supply :meth:`neuron_step`; this class is the plain-PyTorch one."""

    def neuron_step(
        self, i: int, current: torch.Tensor, state: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Spiking neuron ``i`` for one step: ``(spikes, new state)``; ``state`` is ``None`` at
        t = 0. Here: ``u = (1-1/tau_m) m + I``, ``s = u > theta``, ``m = u (1 - s)``."""
        u = current if state is None else state * self.decay_m + current
        s = FastSigmoidSpike.apply(u, self.theta, self.slope)
        return s, u * (1.0 - s.detach())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output PSC ``[B, T, classes]`` (input as for :class:`SpikingNetwork`)."""
        n = len(self.synapses)
        state: list[torch.Tensor | None] = [None] * n
        psc: list[torch.Tensor | None] = [None] * n
        masks: dict[int, torch.Tensor] = {}
        steps: list[list[torch.Tensor]] = [[] for _ in range(n)]
        for h in self.encoded_steps(x):
            for j, op in enumerate(self.plan):
                if op[0] == "syn":
                    i = op[1]
                    s, state[i] = self.neuron_step(i, self.synapse(i, h), state[i])
                    a = psc[i]
                    h = psc[i] = self.psc_step(torch.zeros_like(s) if a is None else a, s)
                    steps[i].append(h)
                elif op[0] == "pool":
                    h = self.pool(h, op[1], op[2])
                elif self.training and op[1] > 0:
                    if j not in masks:
                        masks[j] = self.dropout_mask(h, op[1], op[2])
                    h = h * masks[j]
        self.traces = []
        for i in range(n):
            self.keep(torch.stack(steps[i], 1), time_major=False)
        return self.traces[-1] if self.record else torch.stack(steps[-1], 1)


class LayerLoopNet(PeerNet):
    """Layers outer: each conv/linear on all ``T*B`` samples at once, then one loop over T for
    the LIF and PSC updates of that layer (plain PyTorch, autograd BPTT)."""

    def spiking(self, i: int, current: torch.Tensor) -> torch.Tensor:
        """Spiking layer ``i`` on time-major currents ``[T, B, ...]``; returns the PSC."""
        m = a = torch.zeros_like(current[0])
        out = []
        for t, it in enumerate(current):
            u = it if t == 0 else m * self.decay_m + it
            s = FastSigmoidSpike.apply(u, self.theta, self.slope)
            m = u * (1.0 - s.detach())
            a = self.psc_step(a, s)
            out.append(a)
        return torch.stack(out)

    def synapse_all(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Synapse ``i`` on ``[T, B, ...]``, folded to one batch of ``T*B``."""
        t, b = h.shape[:2]
        syn = self.synapses[i]
        flat = h.reshape(t * b, *([-1] if isinstance(syn, nn.Linear) else h.shape[2:]))
        y = syn(flat)
        return y.view(t, b, *y.shape[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output PSC ``[B, T, classes]``."""
        return self.run_plan(self.encode(x), lambda i, h: self.spiking(i, self.synapse_all(i, h)))


# ------------------------------------------------------------------------------- snnTorch
class SnnTorchNet(StepLoopNet):
    """The step loop with one ``snntorch.Leaky`` per spiking layer (see the module docstring)."""

    def __init__(self, net: SpikingNetwork) -> None:
        super().__init__(net)
        import snntorch
        from snntorch import surrogate

        self.lifs = nn.ModuleList(
            snntorch.Leaky(beta=self.decay_m, threshold=self.theta, reset_mechanism="zero",
                           reset_delay=True, spike_grad=surrogate.fast_sigmoid(slope=self.slope))
            for _ in self.synapses
        )

    def neuron_step(
        self, i: int, current: torch.Tensor, state: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``Leaky`` for one step; the state is its pre-reset ``mem`` (zeros at t = 0, passed
        explicitly so that no state leaks from the previous batch)."""
        return self.lifs[i](current, torch.zeros_like(current) if state is None else state)


# --------------------------------------------------------------------------- SpikingJelly
class ExactSurrogate(nn.Module):
    """Our spike function as a SpikingJelly surrogate (called on ``v - v_threshold``)."""

    def __init__(self, slope: float) -> None:
        super().__init__()
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # SpikingJelly's own surrogates fire on x >= 0 (x = v - v_threshold, the threshold the
        # next float above theta). Our strict > would miss a potential exactly there: a
        # different forward, so the check would compare gradients of different spikes (seen on
        # cifar10-cnn at batch 50: 3 first-layer spikes, then 2-6% apart).
        return FastSigmoidSpike.apply(x, 0.0, self.slope, True)


class SpikingJellyNet(PeerNet):
    """Multi-step SpikingJelly: ``layer.Conv2d``/``layer.Linear`` and ``neuron.LIFNode`` on
    ``[T, B, ...]``, layer by layer, the PSC filter as plain torch.

    Args:
        net: our network.
        exact_surrogate: use our spike function as the surrogate (SpikingJelly's autograd
            reference path, for the gradient check) instead of its built-in ``SoftSign``.
    """

    def __init__(self, net: SpikingNetwork, exact_surrogate: bool = False) -> None:
        super().__init__(net)
        from spikingjelly.activation_based import layer, neuron, surrogate

        synapses = nn.ModuleList()
        for syn in self.synapses:
            if isinstance(syn, nn.Conv2d):
                new = layer.Conv2d(syn.in_channels, syn.out_channels, syn.kernel_size, syn.stride,
                                   syn.padding, bias=syn.bias is not None, step_mode="m")
            else:
                new = layer.Linear(syn.in_features, syn.out_features, bias=syn.bias is not None,
                                   step_mode="m")
            new.load_state_dict(syn.state_dict())
            synapses.append(new)
        self.synapses = synapses
        # The next float32 above theta: SpikingJelly fires on v >= threshold, we on v > theta.
        threshold = float(np.nextafter(np.float32(self.theta), np.float32(np.inf)))
        self.lifs = nn.ModuleList(
            neuron.LIFNode(
                tau=float(self.tau_m), decay_input=False, v_threshold=threshold, v_reset=0.0,
                surrogate_function=(ExactSurrogate(self.slope) if exact_surrogate
                                    else surrogate.SoftSign(alpha=self.slope)),
                detach_reset=True, step_mode="m",
            )
            for _ in self.synapses
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output PSC ``[B, T, classes]``."""
        from spikingjelly.activation_based import functional

        functional.reset_net(self)  # membrane state of the previous batch
        return self.run_plan(self.encode(x), self._layer)

    def _layer(self, i: int, h: torch.Tensor) -> torch.Tensor:
        syn = self.synapses[i]
        return self.psc(self.lifs[i](syn(h.flatten(2) if isinstance(syn, nn.Linear) else h)))
