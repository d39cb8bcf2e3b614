"""A spiking network built from a :class:`~bna_zoo.models.config.NetConfig`.

The layers are those of :func:`~bna_zoo.models.arch.plan_layers` (the paper's notation, see
:mod:`.arch`). Every conv/linear is followed by an LIF neuron with the NA (or surrogate)
gradient.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from ..nn import (
    Neuron,
    NeuronConfig,
    PSCEncoder,
    SpikingConv2d,
    SpikingLinear,
    SumPool2d,
    TimeSharedDropout,
)
from .arch import (  # noqa: F401 - parse_arch and the limits are part of this module's API
    DROPOUT_MODES,
    MAX_LAYER_WEIGHTS,
    _check_int,
    parse_arch,
    plan_layers,
)
from .config import NetConfig


def _check_scale(value: object, name: str) -> float:
    """``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite number > 0, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0 (it multiplies the initial "
                         f"weights), got {value!r}")
    return float(value)


class SpikingNetwork(nn.Module):
    """PSC input encoding followed by the layers of ``config.arch``.

    Args:
        config: the network's description; kept as ``self.config``. (For tests and quick
            experiments the fields may also be given loose: ``SpikingNetwork("400-10", (784,),
            5, NeuronConfig())``, with the keyword fields of :class:`NetConfig`.)
        neuron: how the spiking layers simulate and differentiate (all layers share it); its
            constants must be the config's ``tau_m``, ``tau_s``, ``theta``.

    Shape:
        input ``[B, T, *input_shape]`` (events) or ``[B, *input_shape]`` (static image, repeated
        over T); output ``[B, T, num_classes]``, the output layer's PSC trace.

    Raises:
        TypeError: ``n_steps`` or an ``input_shape`` entry not an int, the scales not numbers,
            ``neuron`` not a :class:`NeuronConfig`.
        ValueError: a bad ``arch`` (see :func:`parse_arch`), a layer that shrinks its input below
            one pixel or has more than :data:`MAX_LAYER_WEIGHTS` weights, sizes or scales out of
            range, an unknown ``input_kind`` or ``dropout_mode``, neuron constants other than
            the config's. All before any layer is built.
    """

    def __init__(self, config: NetConfig | str | None = None,
                 input_shape: tuple[int, ...] | None = None, n_steps: int | None = None,
                 neuron: NeuronConfig | None = None, *, arch: str | None = None,
                 **fields: object) -> None:
        super().__init__()
        if not isinstance(config, NetConfig):  # the loose shorthand (arch as first argument)
            if isinstance(neuron, NeuronConfig):
                fields.update(tau_m=neuron.tau_m, tau_s=neuron.tau_s, theta=neuron.theta)
            config = NetConfig(config if arch is None else arch, input_shape, n_steps, **fields)
        elif input_shape is not None or n_steps is not None or fields:
            raise TypeError("give a NetConfig alone, or the loose fields without one")
        if not isinstance(neuron, NeuronConfig):
            raise TypeError(f"neuron must be a NeuronConfig, got {type(neuron).__name__}; "
                            "build one with NeuronConfig(**settings)")
        # Everything is checked before a layer is built: a bad size must not surface as an
        # allocator or oneDNN error, or as a ZeroDivisionError in the shape arithmetic.
        plans = plan_layers(config)
        n_steps = _check_int(config.n_steps, "n_steps", "time steps T")
        conv_scale = _check_scale(config.conv_weight_scale, "conv_weight_scale")
        linear_scale = _check_scale(config.linear_weight_scale, "linear_weight_scale")
        if config.dropout_mode not in DROPOUT_MODES:  # checked even without a 'D' layer
            raise ValueError(f"dropout_mode must be one of {DROPOUT_MODES}, got "
                             f"{config.dropout_mode!r}")
        if (neuron.tau_m, neuron.tau_s, neuron.theta) != (config.tau_m, config.tau_s,
                                                          config.theta):
            raise ValueError(f"the neuron's constants (tau_m {neuron.tau_m}, tau_s "
                             f"{neuron.tau_s}, theta {neuron.theta}) are not the config's "
                             f"({config.tau_m}, {config.tau_s}, {config.theta})")
        self.config = config
        self.arch = config.arch
        self.input_shape = plans[0].in_shape
        self.n_steps = n_steps
        self.neuron = neuron
        # one module for every spiking layer: it owns the model's NA rescale state
        self.neurons = Neuron(neuron)
        self.input_kind = config.input_kind
        self.encoder = PSCEncoder(self.input_shape, n_steps, neuron.tau_s,
                                  config.input_kind == "image")
        self.layers = nn.Sequential(*(self._layer(p, conv_scale, linear_scale) for p in plans))
        self.num_classes = plans[-1].out_shape[0]

    def _layer(self, plan, conv_scale: float, linear_scale: float) -> nn.Module:
        """The module of one :class:`~bna_zoo.models.arch.LayerPlan`."""
        if plan.kind == "conv":
            ch, k, pad = plan.args
            return SpikingConv2d(plan.in_shape[0], ch, k, self.neurons, pad, 1, conv_scale,
                                 name=plan.name)
        if plan.kind == "pool":
            return SumPool2d(plan.args[0])
        if plan.kind == "drop":
            return TimeSharedDropout(plan.args[0], self.config.dropout_mode)
        return SpikingLinear(math.prod(plan.in_shape), plan.args[0], self.neurons, linear_scale,
                             is_output=plan.is_output, name=plan.name)

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
