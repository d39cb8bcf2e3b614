"""Architectures and the model registry."""

from .network import SpikingNetwork, parse_arch, spikes_from_psc
from .registry import MODELS, ModelSpec, create_model, get_spec, list_models

__all__ = [
    "MODELS",
    "ModelSpec",
    "SpikingNetwork",
    "create_model",
    "get_spec",
    "list_models",
    "parse_arch",
    "spikes_from_psc",
]
