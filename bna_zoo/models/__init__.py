"""Architectures and the zoo: one :class:`ZooEntry` per name (see :mod:`.zoo`, :mod:`.entries`)."""

from .network import SpikingNetwork, parse_arch, spikes_from_psc
from .zoo import (
    ZOO,
    InputSpec,
    Recipe,
    Results,
    ZooEntry,
    create_model,
    get_entry,
    list_models,
    list_pretrained,
)

__all__ = [
    "ZOO",
    "InputSpec",
    "Recipe",
    "Results",
    "SpikingNetwork",
    "ZooEntry",
    "create_model",
    "get_entry",
    "list_models",
    "list_pretrained",
    "parse_arch",
    "spikes_from_psc",
]
