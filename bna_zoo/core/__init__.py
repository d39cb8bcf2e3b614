"""NA core: the LIF/PSC neuron and Backpropagated Neighborhood Aggregation. Imports only torch.

Kernel backends (torch, C, Triton) and how one is chosen: :mod:`bna_zoo.core.kernels.backend`.
"""

from .kernels.backend import BACKENDS, get_backend, set_backend
from .lif import (
    LIFParams,
    lif_forward,
    psc_filter,
    reverse_filter,
    set_thorough_checks,
    thorough_checks,
)
from .na import GRADIENTS, NALIF, VARIANTS, na_lif, na_weighting, run_lif
from .rescale import LayerRescale
from .surrogate import SurrogateLIF

__all__ = [
    "BACKENDS",
    "GRADIENTS",
    "VARIANTS",
    "LIFParams",
    "LayerRescale",
    "NALIF",
    "SurrogateLIF",
    "get_backend",
    "lif_forward",
    "na_lif",
    "run_lif",
    "na_weighting",
    "psc_filter",
    "reverse_filter",
    "set_backend",
    "set_thorough_checks",
    "thorough_checks",
]
