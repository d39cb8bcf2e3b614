"""Spiking layers over the NA core (docs/na.md §2–3).

Every layer is stateless: a whole sequence in, a whole sequence out. Layers pass the PSC trace
``a`` (real-valued), not binary spikes.

Layout: ``forward`` takes and returns the public batch-first ``[B, T, ...]``. Inside a network
every layer runs :meth:`forward_time_major` on ``[T, B, ...]`` instead: that is the NA kernels'
own layout (``[T, N]`` per layer), and ``T*B`` folds into the batch axis of a conv or linear op
as a view, so no layer copies its activations between layouts. A batch-first ``forward`` is the
time-major one between two transposes (views).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..core import psc_filter
from ..core.lif import all_finite
from .neuron import Neuron, NeuronConfig
from .pool import sum_pool2d


def _check_rank(x: torch.Tensor, rank: int, layout: str, layer: str) -> None:
    if x.dim() != rank:
        hint = " did you forget the time dimension?" if x.dim() == rank - 1 else ""
        raise ValueError(f"{layer} expects input {layout}, got shape {list(x.shape)}.{hint}")


class _TimeMajor(nn.Module):
    """A layer whose batch-first ``forward`` wraps its time-major :meth:`forward_time_major`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, ...]`` in, ``[B, T, ...]`` out (see :meth:`forward_time_major`)."""
        if not isinstance(x, torch.Tensor) or x.dim() < 3:
            shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"{type(self).__name__} expects input [B, T, ...], got {shape}: did you forget "
                "the time dimension?"
            )
        return self.forward_time_major(x.transpose(0, 1)).transpose(0, 1)

    def forward_time_major(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def as_neuron(neuron: Neuron | NeuronConfig) -> Neuron:
    """The :class:`Neuron` module a layer runs: the network's shared one, or (a layer built on
    its own, e.g. in a test) a fresh one of ``neuron``'s settings."""
    return neuron if isinstance(neuron, Neuron) else Neuron(neuron)


class SpikingLinear(_TimeMajor):
    """Per-time-step linear map (no bias by default) followed by the LIF/NA neuron.

    Trailing feature dims are flattened, so a ``[B, T, C, H, W]`` input works as ``[B, T, C*H*W]``.
    Init: Kaiming normal (fan_in, gain sqrt 2) times ``weight_scale`` (docs/na.md §2).

    Shape:
        input ``[B, T, in_features]`` (or ``[B, T, *dims]`` with ``prod(dims) == in_features``),
        output ``[B, T, out_features]``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        neuron: Neuron | NeuronConfig,
        weight_scale: float = 1.0,
        bias: bool = False,
        is_output: bool = False,
        name: str = "linear",
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        with torch.no_grad():
            nn.init.kaiming_normal_(self.linear.weight, mode="fan_in", nonlinearity="relu")
            self.linear.weight.mul_(weight_scale)
            if bias:
                self.linear.bias.zero_()
        self.neuron = as_neuron(neuron)
        self.is_output = is_output
        self.name = name

    def forward_time_major(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, in_features]`` (or ``[T, B, *dims]``) -> ``[T, B, out_features]``."""
        x = x.flatten(2)
        if x.shape[2] != self.linear.in_features:
            raise ValueError(
                f"{self.name} expects {self.linear.in_features} input features per step, got "
                f"{x.shape[2]} (input shape [B, T, ...] = {[x.shape[1], x.shape[0], x.shape[2]]})"
            )
        return self.neuron.fire(self.linear(x), self.is_output, self.name)


#: convolve step by step when the input has at most this many channels and T at least this many
#: steps (the first layer of the event nets; measured in benchmarks/README.md)
_PER_STEP_MAX_CHANNELS, _PER_STEP_MIN_STEPS = 4, 8


class SpikingConv2d(_TimeMajor):
    """2D convolution applied independently at each step (no bias by default), then LIF/NA.

    Init: PyTorch's default conv init, ``U(±1/sqrt(fan_in))``, times ``weight_scale``
    (docs/na.md §2).

    Shape:
        input ``[B, T, C_in, H, W]``, output ``[B, T, C_out, H', W']``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        neuron: Neuron | NeuronConfig,
        padding: int = 0,
        stride: int = 1,
        weight_scale: float = 1.0,
        bias: bool = False,
        name: str = "conv",
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        with torch.no_grad():
            self.conv.weight.mul_(weight_scale)
        self.neuron = as_neuron(neuron)
        self.name = name
        #: convolve channels-last copies of the inputs (:func:`use_channels_last`); a runtime
        #: setting, not part of the network: no state, no config
        self.channels_last = False

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C_in, H, W]`` -> contiguous ``[N, C_out, H', W']``."""
        if not self.channels_last:
            return self.conv(x)
        # oneDNN's NHWC kernels; the output goes back to NCHW, which the neuron's time-major
        # views need. Equal to the NCHW result up to float rounding (benchmarks/README.md)
        return self.conv(x.contiguous(memory_format=torch.channels_last)).contiguous()

    def forward_time_major(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, C_in, H, W]`` -> ``[T, B, C_out, H', W']``."""
        _check_rank(x, 5, f"[B, T, {self.conv.in_channels}, H, W]", self.name)
        t, b, c = x.shape[:3]
        if c != self.conv.in_channels:
            raise ValueError(
                f"{self.name} expects {self.conv.in_channels} input channels, got {c} "
                f"(expected input [B, T, {self.conv.in_channels}, H, W])"
            )
        if c <= _PER_STEP_MAX_CHANNELS and t >= _PER_STEP_MIN_STEPS:
            # thin event inputs: oneDNN convolves T batches of [B, C, H, W] about twice as fast
            # (forward and backward) as one [T*B, C, H, W] batch, with identical outputs
            y = torch.stack([self._conv(x[i]) for i in range(t)])
            return self.neuron.fire(y, False, self.name)
        y = self._conv(x.reshape(t * b, *x.shape[2:]))  # a view of a contiguous input
        return self.neuron.fire(y.view(t, b, *y.shape[1:]), False, self.name)


def use_channels_last(module: nn.Module, enabled: bool = True) -> int:
    """Run every :class:`SpikingConv2d` in ``module`` on channels-last inputs (or not).

    On AVX2 CPUs oneDNN's channels-last convolutions are faster (nmnist-cnn's training step
    3-20% shorter, benchmarks/README.md); outputs and gradients equal the default ones up to float
    rounding, not bit for bit, so the shipped checkpoints were measured without it. Weights,
    state dicts and saved configs are unchanged.

    Returns:
        How many convolutions were set.
    """
    convs = [m for m in module.modules() if isinstance(m, SpikingConv2d)]
    for conv in convs:
        conv.channels_last = enabled
    return len(convs)


class SumPool2d(_TimeMajor):
    """Fixed, non-trainable sum pooling times ``scale`` (1.1 in the paper) on the PSC trace.

    Shape:
        input ``[B, T, C, H, W]``, output ``[B, T, C, H // k, W // k]``.
    """

    def __init__(self, kernel_size: int = 2, scale: float = 1.1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.scale = scale

    def forward_time_major(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, C, H, W]`` -> ``[T, B, C, H // k, W // k]``."""
        _check_rank(x, 5, "[B, T, C, H, W]", "SumPool2d")
        t, b = x.shape[:2]
        k = self.kernel_size
        # the window sum (divisor 1) times the scale, one multiply on the pooled output; for
        # k = 2 (every zoo net) bit for bit avg * (k*k*scale), as /4 and *4 are exact. One C
        # pass each way on CPU (nn/pool.py), the same bits.
        y = sum_pool2d(x.reshape(t * b, *x.shape[2:]), k, self.scale)
        return y.view(t, b, *y.shape[1:])

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, scale={self.scale}"


class TimeSharedDropout(_TimeMajor):
    """Inverted dropout on the PSC with one mask per sample shared over all time steps.

    Args:
        p: drop probability in [0, 1).
        mode: ``"neuron"`` (one mask per sample and neuron, the intended behaviour) or ``"row"``
            (one mask per sample, channel and row ``h``, shared across width: the 2021 official
            code's ``dropout3d`` quirk, docs/na.md §2; for 3-D inputs it equals ``"neuron"``).

    Shape:
        input ``[B, T, ...]``, output the same.
    """

    def __init__(self, p: float = 0.2, mode: str = "neuron") -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout p must be in [0, 1), got {p}")
        if mode not in ("neuron", "row"):
            raise ValueError(f"dropout mode must be 'neuron' or 'row', got {mode!r}")
        self.p = p
        self.mode = mode

    def forward_time_major(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, ...]`` -> same; the mask is ``[1, B, ...]``, drawn in batch-first order."""
        if not self.training or self.p == 0:
            return x
        shape = [1, x.shape[1], *x.shape[2:]]
        if self.mode == "row" and x.dim() == 5:
            shape[-1] = 1
        keep = torch.empty(shape, device=x.device, dtype=x.dtype).bernoulli_(1 - self.p)
        return x * keep.div_(1 - self.p)  # scale the small mask, not the activations

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"


class PSCEncoder(nn.Module):
    """Input encoding (docs/na.md §3): analog images or event frames through the PSC filter.

    A static image ``[B, *input_shape]`` is repeated over ``n_steps`` (direct current injection;
    only when ``static``); an event tensor ``[B, T, *input_shape]`` is filtered as is.

    Shape:
        input ``[B, C, H, W]`` or ``[B, T, C, H, W]`` (or ``[B, F]`` / ``[B, T, F]`` for vectors),
        output ``[B, T, *input_shape]``.
    """

    def __init__(
        self, input_shape: tuple[int, ...], n_steps: int, tau_s: float, static: bool = True
    ) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.n_steps = n_steps
        self.tau_s = tau_s
        self.static = static

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encoded input, batch first ``[B, T, *input_shape]``."""
        return self.forward_time_major(x).transpose(0, 1)

    def forward_time_major(self, x: torch.Tensor) -> torch.Tensor:
        """Check the input once (shape, dtype, finiteness) and encode it as ``[T, B, ...]``.

        This is the network's only full scan of its data: the spiking layers behind it trust it.
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"input must be a torch.Tensor, got {type(x).__name__}; convert with "
                "torch.as_tensor(x, dtype=torch.float32) or use BNAModel.predict, which accepts "
                "raw images and event recordings"
            )
        if not x.is_floating_point():
            raise TypeError(
                f"input must be a floating-point tensor, got {x.dtype}; normalised images or "
                "event frames are float (BNAModel.predict normalises raw uint8 images itself)"
            )
        n = len(self.input_shape)
        static, seq = [-1, *self.input_shape], [-1, self.n_steps, *self.input_shape]
        if x.shape[0] == 0:
            raise ValueError(f"empty batch: input shape {list(x.shape)}")
        if self.static and x.dim() == n + 1 and tuple(x.shape[1:]) == self.input_shape:
            if not all_finite(x):
                raise ValueError("input contains NaN or inf values")
            return self._encode_static(x)
        elif x.dim() != n + 2 or tuple(x.shape[2:]) != self.input_shape:
            alt = f" or a static {static}" if self.static else " (event frames)"
            raise ValueError(f"expected input {seq} (batch, time, ...){alt}, got shape "
                             f"{list(x.shape)}")
        elif x.shape[1] != self.n_steps:
            raise ValueError(
                f"expected {self.n_steps} time steps (dim 1) in input {seq}, got {x.shape[1]} "
                f"(shape {list(x.shape)}): bin the events to T={self.n_steps}"
            )
        if not all_finite(x):
            raise ValueError("input contains NaN or inf values")
        return psc_filter(x.transpose(0, 1), self.tau_s, dim=0).contiguous()

    def _encode_static(self, x: torch.Tensor) -> torch.Tensor:
        """The PSC filter of ``x`` held for T steps, ``[T, B, ...]``: the same recurrence and
        rounding as filtering the repeated input, without materialising the repeat."""
        decay = 1.0 - 1.0 / self.tau_s
        out = x.new_empty(self.n_steps, *x.shape)
        y = torch.zeros_like(x)
        drive = x / self.tau_s
        for t in range(self.n_steps):
            y = decay * y + drive
            out[t] = y
        return out


def conv_out(size: int, kernel: int, padding: int, stride: int = 1) -> int:
    """Spatial output size of a convolution."""
    return math.floor((size + 2 * padding - kernel) / stride) + 1
