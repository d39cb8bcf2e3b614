"""The neuron shared by the spiking layers of one network: frozen settings and a module.

:class:`NeuronConfig` is the settings (constants and gradient), checked once when made;
:class:`Neuron` is the module the layers share: it runs the neuron and owns the per-model state
of the NA layer rescale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..core import GRADIENTS, VARIANTS, LayerRescale, run_lif
from ..core.lif import LIFParams, check_current, thorough_checks
from ..core.na import check_neuron_args


@dataclass(frozen=True)
class NeuronConfig:
    """How every spiking layer of a network simulates and differentiates its neurons.

    Args:
        tau_m: membrane time constant (steps, >= 1).
        tau_s: synaptic time constant (steps, > 1).
        theta: firing threshold (> 0).
        gradient: ``"na"`` or ``"surrogate"``.
        variant: NA form, ``"official"`` or ``"paper"``.
        clip: clip of the paper form's inverse distance (> 0).
        surrogate_slope: slope of the fast-sigmoid surrogate (> 0).
        rescale: layer-wise log-ratio rescale of NA gradients (official code, docs/na.md §6);
            on by default, as in every recipe and in ``BNAModel``.

    Attributes:
        params: the constants as the kernels take them (checked once, here).

    Raises:
        TypeError: a number that is not a real number (bools and strings included), or a
            non-bool ``rescale``.
        ValueError: a NaN, an infinity or a value out of range (naming the field and the
            range), or an unknown ``gradient``/``variant``.
    """

    tau_m: float = 5.0
    tau_s: float = 2.0
    theta: float = 1.0
    gradient: str = "na"
    variant: str = "official"
    clip: float = 10.0
    surrogate_slope: float = 5.0
    rescale: bool = True  # the paper recipe (docs/na.md §6); NA only
    params: LIFParams = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Checked here, once: a bad config (clip = inf, a negative slope) fails now, not as
        # inf/NaN gradients later, and no forward checks the constants again.
        params = check_neuron_args(self.tau_m, self.tau_s, self.theta, self.clip,
                                   self.surrogate_slope)
        if not isinstance(self.rescale, bool):  # "no" or 0.0 would be taken for True/False
            raise TypeError(f"rescale must be True or False, got {self.rescale!r}")
        if self.gradient not in GRADIENTS:
            raise ValueError(f"unknown gradient {self.gradient!r}; choose one of {GRADIENTS}")
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown NA variant {self.variant!r}; choose one of {VARIANTS}")
        object.__setattr__(self, "params", params)  # frozen: set the derived field once

    def to_dict(self) -> dict:
        """JSON-able settings."""
        d = asdict(self)
        d.pop("params")
        return d


class Neuron(nn.Module):
    """The neuron of one network's spiking layers (one instance, shared by all of them).

    Args:
        config: the settings.

    Attributes:
        config: the settings (frozen).
        rescale: the per-model state of the NA layer rescale (``None`` when off, or for the
            surrogate gradient); never global, never in the ``state_dict``.
    """

    def __init__(self, config: NeuronConfig) -> None:
        super().__init__()
        if not isinstance(config, NeuronConfig):
            raise TypeError(f"neuron must be a NeuronConfig, got {type(config).__name__}; "
                            "build one with NeuronConfig(**settings)")
        self.config = config
        self.rescale = LayerRescale() if config.rescale and config.gradient == "na" else None

    def fire(self, current: torch.Tensor, is_output: bool, name: str) -> torch.Tensor:
        """Run the neuron on time-major ``current`` ``[T, B, ...]``; returns the PSC, same shape.

        No checks here: the settings were checked when the config was made, and the network
        checked its input once at the encoder (see :func:`bna_zoo.core.set_thorough_checks` to
        scan every layer while debugging).
        """
        if thorough_checks():  # the debugging aid: every layer's input scanned for NaN/inf
            check_current(current, f"{name} input", finite=True)
        c = self.config
        return run_lif(current, c.params, variant=c.variant, clip=float(c.clip),
                       gradient=c.gradient, surrogate_slope=float(c.surrogate_slope),
                       rescale=self.rescale, is_output=is_output, name=name, time_major=True,
                       backend=None)

    def extra_repr(self) -> str:
        c = self.config
        return (f"tau_m={c.tau_m}, tau_s={c.tau_s}, theta={c.theta}, gradient={c.gradient}, "
                f"variant={c.variant}, rescale={self.rescale is not None}")
