"""Architectures and the zoo: one :class:`ZooEntry` per name (see :mod:`.zoo`, :mod:`.entries`)."""

from .arch import LayerPlan, parse_arch, plan_layers
from .config import NetConfig
from .network import SpikingNetwork, spikes_from_psc
from .zoo import (
    ZOO,
    InputSpec,
    Recipe,
    Results,
    ZooEntry,
    build_network,
    create_model,
    get_entry,
    list_models,
    list_pretrained,
    net_config,
)

__all__ = [
    "ZOO",
    "InputSpec",
    "LayerPlan",
    "NetConfig",
    "Recipe",
    "Results",
    "SpikingNetwork",
    "ZooEntry",
    "build_network",
    "create_model",
    "get_entry",
    "list_models",
    "list_pretrained",
    "net_config",
    "parse_arch",
    "plan_layers",
    "spikes_from_psc",
]
