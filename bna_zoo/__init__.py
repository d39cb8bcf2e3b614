"""bna_zoo: spiking neural networks trained with Backpropagated Neighborhood Aggregation (NA).

Public face: :class:`BNAModel`, :func:`create_model`, :func:`list_models`,
:func:`list_pretrained`. Attributes load lazily so that ``import bna_zoo.core`` needs torch
alone (no Lightning, tonic or Hub client).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "BNAModel": "bna_zoo.bna_model",
    "create_model": "bna_zoo.models",
    "list_models": "bna_zoo.models",
    "list_pretrained": "bna_zoo.models",
    "get_entry": "bna_zoo.models",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'bna_zoo' has no attribute {name!r}")
