"""Neuron settings shared by the spiking layers of one network."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from ..core import GRADIENTS, VARIANTS, LayerRescale, na_lif
from ..core.na import check_neuron_args


@dataclass
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
    # Per-model state of the rescale: never global, never in the state_dict.
    rescale_state: LayerRescale | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The numbers are checked here, at construction, exactly as na_lif checks them: a bad
        # config (clip = inf, a negative slope) must fail now, not as inf/NaN gradients later.
        check_neuron_args(self.tau_m, self.tau_s, self.theta, self.clip, self.surrogate_slope)
        if not isinstance(self.rescale, bool):  # "no" or 0.0 would be taken for True/False
            raise TypeError(f"rescale must be True or False, got {self.rescale!r}")
        if self.gradient not in GRADIENTS:
            raise ValueError(f"unknown gradient {self.gradient!r}; choose one of {GRADIENTS}")
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown NA variant {self.variant!r}; choose one of {VARIANTS}")
        if self.rescale and self.rescale_state is None:
            self.rescale_state = LayerRescale()

    def to_dict(self) -> dict:
        """JSON-able settings (without the rescale state)."""
        d = asdict(self)
        d.pop("rescale_state")
        return d

    def fire(self, current: torch.Tensor, is_output: bool, name: str) -> torch.Tensor:
        """Run the neuron on time-major ``current`` ``[T, B, ...]``; returns the PSC, same shape.

        No finiteness scan here: the network checked its input once at the encoder (see
        :func:`bna_zoo.core.set_thorough_checks` to scan every layer while debugging).
        """
        use_rescale = self.rescale and self.gradient == "na"
        return na_lif(
            current,
            tau_m=self.tau_m,
            tau_s=self.tau_s,
            theta=self.theta,
            variant=self.variant,
            clip=self.clip,
            gradient=self.gradient,
            surrogate_slope=self.surrogate_slope,
            rescale=self.rescale_state if use_rescale else None,
            is_output=is_output,
            name=name,
            time_major=True,
            check=False,
        )
