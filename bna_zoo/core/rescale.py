"""Layer-wise log-ratio rescale of NA gradients (official code only; docs/na.md §6).

After NA computes a layer's δ, the official code multiplies it by::

    factor_l = 1.2 * ln(M_ref / (mean|δ_l| + 1e-5) + 1.02)

where ``M_ref`` comes from the output layer, whose backward runs first: the output layer uses its
own pre-scale mean (rounded), and every hidden layer uses the output layer's *post*-scale mean
(rounded). The official code keeps ``M_ref`` in a global dict; here it lives in one
:class:`LayerRescale` object owned by a model, so two models in one process never interfere.
"""

from __future__ import annotations

import math

import torch

from .kernels import abs_sum


class LayerRescale:
    """Per-model state of the layer-wise rescale.

    Args:
        round_digits: decimals ``M_ref`` is rounded to; ``3`` reproduces the official code
            (including its quirk that a tiny output gradient rounds ``M_ref`` to 0 and collapses
            every factor to ``1.2 * ln(1.02)``); ``None`` keeps full precision.
    """

    def __init__(self, round_digits: int | None = 3) -> None:
        self.round_digits = round_digits
        self.reference: float | None = None
        self.last_factors: dict[str, float] = {}

    def _round(self, value: float) -> float:
        return value if self.round_digits is None else round(value, self.round_digits)

    def apply(
        self, delta: torch.Tensor, is_output: bool, name: str = "", backend: str | None = None
    ) -> torch.Tensor:
        """Rescale one layer's δ (any shape) and update the reference if it is the output.

        Args:
            delta: the layer's NA gradient, any shape (the mean is over all of it).
            is_output: whether this is the network's output layer (its backward runs first).
            name: layer name, only used to record the factor in ``last_factors``.
            backend: the kernel backend that sums ``|delta|`` (``None``: the process-wide one).

        Returns:
            ``delta * factor``, computed in place: ``delta`` is the backward's own fresh tensor.
        """
        # one read pass, no |delta| temporary (a [T, N] allocation per layer and step)
        mean_t = abs_sum(delta, backend) / delta.numel()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # every rank must use the mean over the global batch, as one process would
            torch.distributed.all_reduce(mean_t)
            mean_t = mean_t / torch.distributed.get_world_size()
        mean = float(mean_t)
        if is_output:
            ref = self._round(mean)
        elif self.reference is None:
            raise RuntimeError(
                "LayerRescale: a hidden layer's backward ran before the output layer's; mark the "
                "last spiking layer with is_output=True"
            )
        else:
            ref = self.reference
        factor = 1.2 * math.log(ref / (mean + 1e-5) + 1.02)
        self.last_factors[name] = factor
        if is_output:
            self.reference = self._round(mean * factor)
        return delta.mul_(factor)
