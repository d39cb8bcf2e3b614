"""The zoo: lookups over the entries of :mod:`.entries` and building their networks.

Everything about a zoo name is its :class:`~.entry.ZooEntry`; the derived files (recipes, cards,
README table) come from it (:mod:`bna_zoo.generate`).
"""

from __future__ import annotations

import difflib
import fnmatch
from typing import Any

from .entries import ENTRIES
from .entry import WEIGHTS_DIR, InputSpec, Recipe, Results, ZooEntry

__all__ = ["NET_FIELDS", "WEIGHTS_DIR", "ZOO", "InputSpec", "Recipe", "Results", "ZooEntry",
           "create_model", "get_entry", "list_models", "list_pretrained"]

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


#: ZooEntry fields a network may override (``BNAModel(arch_overrides=...)``, ``create_model``)
NET_FIELDS = ("arch", "input_shape", "n_steps", "tau_m", "tau_s", "theta", "conv_weight_scale",
              "linear_weight_scale", "dropout_mode", "input_kind")


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
        name: zoo name (see :func:`list_models`), or any name when ``overrides`` set every
            field of :data:`NET_FIELDS` (a network that is not in the zoo).
        gradient: ``"na"`` or ``"surrogate"``.
        variant: NA form, ``"official"`` or ``"paper"``.
        clip: clip of the paper form.
        rescale: the official layer-wise log-ratio rescale (the paper recipe: on).
        surrogate_slope: slope of the surrogate gradient.
        **overrides: any of :data:`NET_FIELDS` (e.g. ``n_steps=10``, ``arch=...``).

    Returns:
        A :class:`~bna_zoo.models.network.SpikingNetwork`.
    """
    from ..nn import NeuronConfig
    from .network import SpikingNetwork

    bad = sorted(set(overrides) - set(NET_FIELDS))
    if bad:
        raise TypeError(f"create_model got unknown overrides {bad}; choose from {NET_FIELDS}")
    if name in ZOO or set(overrides) != set(NET_FIELDS):
        base = get_entry(name)  # an unknown name needs every setting
        args = {**{k: getattr(base, k) for k in NET_FIELDS}, **overrides}
    else:
        args = dict(overrides)
    neuron = NeuronConfig(
        tau_m=args["tau_m"], tau_s=args["tau_s"], theta=args["theta"], gradient=gradient,
        variant=variant, clip=clip, rescale=rescale, surrogate_slope=surrogate_slope,
    )
    return SpikingNetwork(
        args["arch"], tuple(args["input_shape"]), args["n_steps"], neuron,
        conv_weight_scale=args["conv_weight_scale"],
        linear_weight_scale=args["linear_weight_scale"],
        dropout_mode=args["dropout_mode"], input_kind=args["input_kind"],
    )
