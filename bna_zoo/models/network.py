"""A spiking network built from the paper's architecture notation.

``"15C5-P2-40C5-P2-300-10"`` reads as in the paper: ``15C5`` = conv with 15 channels and 5x5
kernel (``p1`` appended = padding 1), ``P2`` = 2x2 sum pooling x1.1, ``D0.2`` = time-shared
dropout, a bare number = linear layer. The last token must be the linear output layer. Every
conv/linear is followed by an LIF neuron with the NA (or surrogate) gradient.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence

import torch
from torch import nn

from ..nn import (
    NeuronConfig,
    PSCEncoder,
    SpikingConv2d,
    SpikingLinear,
    SumPool2d,
    TimeSharedDropout,
)
from ..nn.layers import conv_out

_CONV = re.compile(r"^(\d+)C(\d+)(?:p(\d+))?$")
_CONV_NO_PAD = re.compile(r"^(\d+)C(\d+)p$")  # what '8C3p-1' leaves after the split at '-'
_POOL = re.compile(r"^P(\d+)$")
_DROP = re.compile(r"^D(\d*\.?\d*)$")  # the value is checked against [0, 1) below
_LINEAR = re.compile(r"^(\d+)$")
_GRAMMAR = (
    "tokens are '<C>C<k>[p<pad>]' (conv), 'P<k>' (sum pool), 'D<p>' (dropout) or '<n>' "
    "(linear), joined by '-'"
)
DROPOUT_MODES = ("neuron", "row")  # TimeSharedDropout's modes
#: Most weights one layer may have (2^31: 8 GiB of float32). More is a typo in the architecture,
#: and refusing it here beats an allocator error (or minutes of swapping) at construction.
MAX_LAYER_WEIGHTS = 2**31


def _bad_layer(token: str, arch: str, rule: str) -> ValueError:
    return ValueError(f"bad layer {token!r} in architecture {arch!r}: {rule}")


def _parse_token(token: str, arch: str) -> tuple:
    """One token of :func:`parse_arch`, with its sizes checked."""
    if m := _CONV.match(token):
        channels, kernel, pad = int(m[1]), int(m[2]), int(m[3] or 0)
        if channels < 1:
            raise _bad_layer(token, arch, "a conv layer needs >= 1 output channels")
        if kernel < 1:
            raise _bad_layer(token, arch, "the conv kernel size must be >= 1")
        return ("conv", channels, kernel, pad)
    if _CONV_NO_PAD.match(token):
        raise _bad_layer(
            token, arch, "no padding after 'p'; the padding must be a non-negative integer "
            "('-' separates layers, so a negative padding such as 'p-1' cannot be written)"
        )
    if m := _POOL.match(token):
        if int(m[1]) < 1:
            raise _bad_layer(token, arch, "the pool size must be >= 1 ('P1' keeps the size)")
        return ("pool", int(m[1]))
    if (m := _DROP.match(token)) and m[1] not in ("", "."):
        p = float(m[1])
        if not 0.0 <= p < 1.0:
            raise _bad_layer(token, arch, f"the dropout probability must be in [0, 1), got {p}")
        return ("drop", p)
    if m := _LINEAR.match(token):
        if int(m[1]) < 1:
            raise _bad_layer(token, arch, "a linear layer needs >= 1 units")
        return ("linear", int(m[1]))
    if not token:
        raise _bad_layer(token, arch, f"empty (two '-' in a row, or one at an end); {_GRAMMAR}")
    raise _bad_layer(token, arch, _GRAMMAR)


def parse_arch(arch: str) -> list[tuple]:
    """Parse the notation into a list of layer tuples.

    Returns ``("conv", channels, kernel, pad)``, ``("pool", k)``, ``("drop", p)`` or
    ``("linear", n)`` per token.

    Raises:
        TypeError: if ``arch`` is not a string.
        ValueError: naming the bad token and the rule it breaks (the grammar, a size < 1, a
            dropout probability outside ``[0, 1)``), or a missing linear output layer.
    """
    if not isinstance(arch, str):
        raise TypeError(
            f"architecture must be a string in paper notation such as '12C5-P2-64C5-P2-10', got "
            f"{type(arch).__name__}"
        )
    layers = [_parse_token(token, arch) for token in arch.split("-")]
    if layers[-1][0] != "linear":
        raise ValueError(f"architecture {arch!r} must end with the linear output layer, e.g. '-10'")
    return layers


def _check_int(value: object, name: str, rule: str) -> int:
    """``value`` as an int >= 1; bools, floats and strings are refused, not converted."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive integer ({rule}), got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive integer ({rule}), got {value!r}")
    return int(value)


def _check_scale(value: object, name: str) -> float:
    """``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite number > 0, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0 (it multiplies the initial "
                         f"weights), got {value!r}")
    return float(value)


class SpikingNetwork(nn.Module):
    """PSC input encoding followed by the layers of ``arch``.

    Args:
        arch: architecture in paper notation (see module docstring).
        input_shape: per-step input shape, ``[C, H, W]`` (or ``[F]`` for MLP-only nets).
        n_steps: number of time steps T.
        neuron: neuron settings shared by all spiking layers.
        conv_weight_scale: init scale of conv weights (5 for the paper's CIFAR-10 net).
        linear_weight_scale: init scale of linear weights.
        dropout_mode: ``"neuron"`` or ``"row"`` (see :class:`TimeSharedDropout`).
        input_kind: ``"image"`` accepts static inputs (repeated over T); ``"events"`` only
            ``[B, T, ...]`` sequences.

    Shape:
        input ``[B, T, *input_shape]`` (events) or ``[B, *input_shape]`` (static image, repeated
        over T); output ``[B, T, num_classes]``, the output layer's PSC trace.

    Raises:
        TypeError: ``n_steps`` or an ``input_shape`` entry not an int, the scales not numbers,
            ``neuron`` not a :class:`NeuronConfig`.
        ValueError: a bad ``arch`` (see :func:`parse_arch`), a layer that shrinks its input below
            one pixel or has more than :data:`MAX_LAYER_WEIGHTS` weights, sizes or scales out of
            range, an unknown ``input_kind`` or ``dropout_mode``. All before any layer is built.
    """

    def __init__(
        self,
        arch: str,
        input_shape: tuple[int, ...],
        n_steps: int,
        neuron: NeuronConfig,
        conv_weight_scale: float = 1.0,
        linear_weight_scale: float = 1.0,
        dropout_mode: str = "neuron",
        input_kind: str = "image",
    ) -> None:
        super().__init__()
        # Everything is checked before a layer is built: a bad size must not surface as an
        # allocator or oneDNN error, or as a ZeroDivisionError in the shape arithmetic.
        spec = parse_arch(arch)
        n_steps = _check_int(n_steps, "n_steps", "time steps T")
        if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
            raise TypeError(
                f"input_shape must be a sequence of positive ints, [C, H, W] or [F], got "
                f"{input_shape!r}"
            )
        if len(input_shape) not in (1, 3):
            raise ValueError(
                f"input_shape must be [C, H, W] (images, event frames) or [F] (vectors), got "
                f"{list(input_shape)}"
            )
        shape = [_check_int(d, "every input_shape entry", f"in {list(input_shape)}")
                 for d in input_shape]
        if not isinstance(neuron, NeuronConfig):
            raise TypeError(
                f"neuron must be a NeuronConfig, got {type(neuron).__name__}; build one with "
                "NeuronConfig(**settings)"
            )
        conv_weight_scale = _check_scale(conv_weight_scale, "conv_weight_scale")
        linear_weight_scale = _check_scale(linear_weight_scale, "linear_weight_scale")
        if input_kind not in ("image", "events"):
            raise ValueError(f"input_kind must be 'image' or 'events', got {input_kind!r}")
        if dropout_mode not in DROPOUT_MODES:  # checked even without a 'D' layer to use it
            raise ValueError(f"dropout_mode must be one of {DROPOUT_MODES}, got {dropout_mode!r}")
        self.arch = arch
        self.input_shape = tuple(shape)
        self.n_steps = n_steps
        self.neuron = neuron
        self.input_kind = input_kind
        self.encoder = PSCEncoder(self.input_shape, n_steps, neuron.tau_s, input_kind == "image")
        layers: list[nn.Module] = []
        last_linear = max(i for i, s in enumerate(spec) if s[0] == "linear")
        for i, (kind, *args) in enumerate(spec):
            name = f"{kind}{i}"
            token = arch.split("-")[i]
            if kind in ("conv", "pool") and len(shape) != 3:
                raise ValueError(
                    f"{kind} layer {token!r} ({name}) needs a [C, H, W] input, got {shape}: "
                    "conv and pool layers come before the linear ones"
                )
            if kind == "conv":
                ch, k, pad = args
                new_shape = [ch, conv_out(shape[1], k, pad), conv_out(shape[2], k, pad)]
                weights = shape[0] * ch * k * k
            elif kind == "pool":
                new_shape = [shape[0], shape[1] // args[0], shape[2] // args[0]]
                weights = 0
            elif kind == "drop":
                new_shape, weights = shape, 0
            else:
                new_shape, weights = [args[0]], math.prod(shape) * args[0]
            if min(new_shape) < 1:
                raise ValueError(
                    f"layer {token!r} ({name}) of architecture {arch!r} shrinks its input {shape} "
                    f"to {new_shape} (input_shape {list(input_shape)}): use a smaller kernel or "
                    "pool, more padding, or a larger input"
                )
            if weights > MAX_LAYER_WEIGHTS:
                raise ValueError(
                    f"layer {token!r} ({name}) of architecture {arch!r} would have {weights:.3g} "
                    f"weights (input {shape}), more than {MAX_LAYER_WEIGHTS:.3g} (8 GiB): is a "
                    "size in the architecture a typo?"
                )
            if kind == "conv":
                layers.append(
                    SpikingConv2d(shape[0], ch, k, neuron, pad, 1, conv_weight_scale, name=name)
                )
            elif kind == "pool":
                layers.append(SumPool2d(args[0]))
            elif kind == "drop":
                layers.append(TimeSharedDropout(args[0], dropout_mode))
            else:
                layers.append(
                    SpikingLinear(math.prod(shape), args[0], neuron, linear_weight_scale,
                                  is_output=i == last_linear, name=name)
                )
            shape = new_shape
        self.layers = nn.Sequential(*layers)
        self.num_classes = shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output PSC ``[B, T, classes]``; see the class docstring for the input."""
        return self.forward_with_trace(x, trace=False)[0]

    def forward_with_trace(
        self, x: torch.Tensor, trace: bool = True
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Forward that also returns every spiking layer's PSC ``[B, T, ...]`` by layer name.

        Inside, every layer runs time-major (``[T, B, ...]``, the NA kernels' layout): the input
        is transposed once by the encoder and the output once here, nothing in between.
        """
        h = self.encoder.forward_time_major(x)
        traces: dict[str, torch.Tensor] = {}
        for layer in self.layers:
            h = layer.forward_time_major(h)
            if trace and isinstance(layer, (SpikingConv2d, SpikingLinear)):
                traces[layer.name] = h.transpose(0, 1)
        return h.transpose(0, 1).contiguous(), traces

    def spiking_layers(self) -> list[nn.Module]:
        """The conv/linear spiking layers in order."""
        return [m for m in self.layers if isinstance(m, (SpikingConv2d, SpikingLinear))]


def spikes_from_psc(psc: torch.Tensor, tau_s: float) -> torch.Tensor:
    """Recover the binary spike train from a PSC trace ``[B, T, ...]`` (inverts the filter)."""
    prev = torch.cat([torch.zeros_like(psc[:, :1]), psc[:, :-1]], dim=1)
    return (tau_s * (psc - (1.0 - 1.0 / tau_s) * prev)).round()
