"""A spiking network built from the paper's architecture notation.

``"15C5-P2-40C5-P2-300-10"`` reads as in the paper: ``15C5`` = conv with 15 channels and 5x5
kernel (``p1`` appended = padding 1), ``P2`` = 2x2 sum pooling x1.1, ``D0.2`` = time-shared
dropout, a bare number = linear layer. The last token must be the linear output layer. Every
conv/linear is followed by an LIF neuron with the NA (or surrogate) gradient.
"""

from __future__ import annotations

import re

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
_POOL = re.compile(r"^P(\d+)$")
_DROP = re.compile(r"^D(0?\.\d+|0)$")
_LINEAR = re.compile(r"^(\d+)$")


def parse_arch(arch: str) -> list[tuple]:
    """Parse the notation into a list of layer tuples.

    Returns ``("conv", channels, kernel, pad)``, ``("pool", k)``, ``("drop", p)`` or
    ``("linear", n)`` per token.

    Raises:
        ValueError: naming the bad token and the grammar.
    """
    layers: list[tuple] = []
    for token in arch.split("-"):
        if m := _CONV.match(token):
            layers.append(("conv", int(m[1]), int(m[2]), int(m[3] or 0)))
        elif m := _POOL.match(token):
            layers.append(("pool", int(m[1])))
        elif m := _DROP.match(token):
            layers.append(("drop", float(m[1])))
        elif m := _LINEAR.match(token):
            layers.append(("linear", int(m[1])))
        else:
            raise ValueError(
                f"bad layer {token!r} in architecture {arch!r}; tokens are '<C>C<k>[p<pad>]' "
                "(conv), 'P<k>' (sum pool), 'D<p>' (dropout) or '<n>' (linear), joined by '-'"
            )
    if not layers or layers[-1][0] != "linear":
        raise ValueError(f"architecture {arch!r} must end with the linear output layer, e.g. '-10'")
    return layers


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
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        self.arch = arch
        self.input_shape = tuple(int(d) for d in input_shape)
        self.n_steps = n_steps
        self.neuron = neuron
        if input_kind not in ("image", "events"):
            raise ValueError(f"input_kind must be 'image' or 'events', got {input_kind!r}")
        self.input_kind = input_kind
        self.encoder = PSCEncoder(self.input_shape, n_steps, neuron.tau_s, input_kind == "image")
        spec = parse_arch(arch)
        shape = list(self.input_shape)
        layers: list[nn.Module] = []
        last_linear = max(i for i, s in enumerate(spec) if s[0] == "linear")
        for i, (kind, *args) in enumerate(spec):
            name = f"{kind}{i}"
            if kind == "conv":
                if len(shape) != 3:
                    raise ValueError(f"conv layer {name} needs a [C, H, W] input, got {shape}")
                ch, k, pad = args
                layers.append(
                    SpikingConv2d(shape[0], ch, k, neuron, pad, 1, conv_weight_scale, name=name)
                )
                shape = [ch, conv_out(shape[1], k, pad), conv_out(shape[2], k, pad)]
            elif kind == "pool":
                if len(shape) != 3:
                    raise ValueError(f"pool layer {name} needs a [C, H, W] input, got {shape}")
                layers.append(SumPool2d(args[0]))
                shape = [shape[0], shape[1] // args[0], shape[2] // args[0]]
            elif kind == "drop":
                layers.append(TimeSharedDropout(args[0], dropout_mode))
            else:
                fan_in = int(torch.tensor(shape).prod())
                layers.append(
                    SpikingLinear(fan_in, args[0], neuron, linear_weight_scale,
                                  is_output=i == last_linear, name=name)
                )
                shape = [args[0]]
            if min(shape) < 1:
                raise ValueError(
                    f"architecture {arch!r} shrinks the input {input_shape} to {shape}"
                )
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
