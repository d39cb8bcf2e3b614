"""The neuron constants of a spiking layer (imported by every backend; imports nothing)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LIFParams:
    """Neuron constants of one spiking layer.

    Args:
        tau_m: membrane time constant in steps; the leak per step is ``1 - 1/tau_m``.
        tau_s: synaptic time constant in steps; must exceed 1 so the PSC filter decays.
        theta: firing threshold (> 0).
    """

    tau_m: float = 5.0
    tau_s: float = 2.0
    theta: float = 1.0

    def __post_init__(self) -> None:
        for name in ("tau_m", "tau_s", "theta"):
            value = getattr(self, name)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.tau_m < 1:
            raise ValueError(
                f"tau_m must be >= 1 (leak factor 1 - 1/tau_m in [0, 1)), got {self.tau_m}"
            )
        if self.tau_s <= 1:
            raise ValueError(
                f"tau_s must be > 1 (PSC decay 1 - 1/tau_s in (0, 1)), got {self.tau_s}"
            )
        if self.theta <= 0:
            raise ValueError(f"theta must be > 0 (a positive firing threshold), got {self.theta}")

    @property
    def decay_m(self) -> float:
        """Membrane leak factor ``1 - 1/tau_m``."""
        return 1.0 - 1.0 / self.tau_m

    @property
    def decay_s(self) -> float:
        """PSC decay factor ``1 - 1/tau_s``."""
        return 1.0 - 1.0 / self.tau_s
