"""NA core: the LIF/PSC neuron and Backpropagated Neighborhood Aggregation. Imports only torch."""

from .lif import (
    LIFParams,
    lif_forward,
    psc_filter,
    reverse_filter,
    set_thorough_checks,
    thorough_checks,
)
from .na import GRADIENTS, NALIF, VARIANTS, na_lif, na_weighting
from .rescale import LayerRescale
from .surrogate import SurrogateLIF

__all__ = [
    "GRADIENTS",
    "VARIANTS",
    "LIFParams",
    "LayerRescale",
    "NALIF",
    "SurrogateLIF",
    "lif_forward",
    "na_lif",
    "na_weighting",
    "psc_filter",
    "reverse_filter",
    "set_thorough_checks",
    "thorough_checks",
]
