"""The zoo: lookups over the entries of :mod:`.entries` and building their networks.

Everything about a zoo name is its :class:`~.entry.ZooEntry`; the derived files (recipes, cards,
README table) come from it (:mod:`bna_zoo.cli.generate`).
"""

from __future__ import annotations

import difflib
import fnmatch
from typing import Any

from .config import NetConfig
from .entries import ENTRIES
from .entry import WEIGHTS_DIR, InputSpec, Recipe, Results, ZooEntry

__all__ = ["NET_FIELDS", "WEIGHTS_DIR", "ZOO", "InputSpec", "NetConfig", "Recipe", "Results",
           "ZooEntry", "build_network", "create_model", "get_entry", "list_models",
           "list_pretrained", "net_config"]

ZOO: dict[str, ZooEntry] = {e.name: e for e in ENTRIES}
def get_entry(name: str) -> ZooEntry:
    """The entry of ``name``.

    Raises:
        KeyError: unknown name, listing close matches and every name.
    """
    if not isinstance(name, str) or name not in ZOO:
        close = difflib.get_close_matches(str(name), ZOO, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(f"unknown zoo model {name!r}.{hint} Available: {', '.join(sorted(ZOO))}")
    return ZOO[name]


def list_models() -> list[str]:
    """Every zoo name (trained or not)."""
    return sorted(ZOO)


def list_pretrained(pattern: str = "*", *, available_only: bool = True) -> list[str]:
    """Names with trained weights, like ``timm.list_pretrained``.

    Args:
        pattern: shell-style wildcard on the name (``"fashionmnist-*"``).
        available_only: only names whose weights can be loaded now (shipped or published);
            ``False`` lists every name.
    """
    return sorted(n for n, e in ZOO.items()
                  if fnmatch.fnmatch(n, pattern) and (e.available or not available_only))


#: the network settings (:class:`NetConfig` fields) a model may override
NET_FIELDS = NetConfig.keys()


def build_network(
    config: NetConfig,
    *,
    gradient: str = "na",
    variant: str = "official",
    clip: float = 10.0,
    rescale: bool = True,
    surrogate_slope: float = 5.0,
):
    """The network ``config`` describes, freshly initialised (the one builder).

    Args:
        config: the network (kept on it as ``net.config``).
        gradient: ``"na"`` or ``"surrogate"``.
        variant: NA form, ``"official"`` or ``"paper"``.
        clip: clip of the paper form.
        rescale: the official layer-wise log-ratio rescale (the paper recipe: on).
        surrogate_slope: slope of the surrogate gradient.

    Returns:
        A :class:`~bna_zoo.models.network.SpikingNetwork`.
    """
    from ..nn import NeuronConfig
    from .network import SpikingNetwork

    neuron = NeuronConfig(
        tau_m=config.tau_m, tau_s=config.tau_s, theta=config.theta, gradient=gradient,
        variant=variant, clip=clip, rescale=rescale, surrogate_slope=surrogate_slope,
    )
    return SpikingNetwork(config, neuron=neuron)


def net_config(name: str, **overrides: Any) -> NetConfig:
    """The :class:`NetConfig` of zoo name ``name`` with ``overrides``; for a name not in the
    zoo, ``overrides`` must give at least ``arch``, ``input_shape`` and ``n_steps``.

    Raises:
        KeyError: an unknown name without a complete description (listing the zoo's names).
        TypeError: an override that is not a network setting.
    """
    if name in ZOO or not {"arch", "input_shape", "n_steps"} <= set(overrides):
        return get_entry(name).net.replace(**overrides)
    NetConfig.from_dict(overrides, where=f"settings of {name!r}")  # names unknown keys
    return NetConfig(**overrides)


def create_model(
    name: str,
    *,
    gradient: str = "na",
    variant: str = "official",
    clip: float = 10.0,
    rescale: bool = True,
    surrogate_slope: float = 5.0,
    **overrides: Any,
):
    """Build a zoo architecture, freshly initialised, with the entry's settings.

    Args:
        name: zoo name (see :func:`list_models`), or any name when ``overrides`` describe the
            network (at least ``arch``, ``input_shape``, ``n_steps``).
        gradient, variant, clip, rescale, surrogate_slope: see :func:`build_network`.
        **overrides: any :class:`NetConfig` field (e.g. ``n_steps=10``, ``arch=...``).

    Returns:
        A :class:`~bna_zoo.models.network.SpikingNetwork`.
    """
    bad = sorted(set(overrides) - set(NET_FIELDS))
    if bad:
        raise TypeError(f"create_model got unknown overrides {bad}; choose from {NET_FIELDS}")
    return build_network(net_config(name, **overrides), gradient=gradient, variant=variant,
                         clip=clip, rescale=rescale, surrogate_slope=surrogate_slope)
