"""``NetConfig``: the one description of a network, from the zoo entry to ``config.json``.

A network is fully described by a frozen :class:`NetConfig`: the build part of a zoo entry
(``entry.net``), the only input of the builder (:func:`bna_zoo.models.build_network`), kept on
the network it built (``net.config``) and written as the ``model_args`` block of ``config.json``.
How it is *trained* (gradient, NA form, learning rate...) is not part of it: those are
``BNAModel``'s training arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .arch import parse_arch

LOSS_NAMES = ("count", "kernel")


@dataclass(frozen=True)
class NetConfig:
    """Everything needed to build a network (not to train it).

    Args:
        arch: layers in paper notation (:func:`~bna_zoo.models.network.parse_arch`); the last
            token is the number of classes.
        input_shape: per-step input ``(C, H, W)`` (or ``(F,)``).
        n_steps: time steps T.
        tau_m, tau_s, theta: neuron constants (steps, steps, threshold).
        conv_weight_scale, linear_weight_scale: init scales of the weights.
        dropout_mode: ``"neuron"`` or ``"row"`` (see ``TimeSharedDropout``).
        input_kind: ``"image"`` (a static input held for T steps) or ``"events"``.
        loss: ``"kernel"`` or ``"count"``; ``loss_args`` its keyword arguments.

    Sizes, scales and the architecture are checked by the builder, before a layer is made.
    """

    arch: str
    input_shape: tuple[int, ...]
    n_steps: int
    tau_m: float = 5.0
    tau_s: float = 2.0
    theta: float = 1.0
    conv_weight_scale: float = 1.0
    linear_weight_scale: float = 1.0
    dropout_mode: str = "neuron"
    input_kind: str = "image"
    loss: str = "kernel"
    loss_args: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # JSON gives lists and YAML may give a tuple: one canonical form, so that two configs
        # of the same network compare equal
        shape = self.input_shape
        if not isinstance(shape, (str, bytes)) and isinstance(shape, (list, tuple)):
            object.__setattr__(self, "input_shape", tuple(shape))
        object.__setattr__(self, "loss_args", dict(self.loss_args or {}))
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {sorted(LOSS_NAMES)}")
        if self.input_kind not in ("image", "events"):
            raise ValueError(f"input_kind must be 'image' or 'events', got {self.input_kind!r}")

    __hash__ = None  # loss_args is a dict: compare, never hash

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The field names, in order (what ``model_args`` in ``config.json`` holds)."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @property
    def num_classes(self) -> int:
        """Size of the output layer (the last token of ``arch``)."""
        return int(parse_arch(self.arch)[-1][1])

    def replace(self, **changes: Any) -> NetConfig:
        """A copy with ``changes`` applied.

        Raises:
            TypeError: a key that is not a field, naming it and the known ones.
        """
        unknown = sorted(set(changes) - set(self.keys()))
        if unknown:
            raise TypeError(f"unknown network settings {unknown}; known: {list(self.keys())}")
        return dataclasses.replace(self, **changes)

    def with_num_classes(self, num_classes: int) -> NetConfig:
        """The same network with an output layer of ``num_classes`` (a new head)."""
        tokens = self.arch.split("-")
        return self.replace(arch="-".join([*tokens[:-1], str(num_classes)]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, every field once (``input_shape`` as a list)."""
        d = dataclasses.asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["loss_args"] = dict(self.loss_args)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "model_args") -> NetConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: an unknown key (a typo such as ``n_step``) or a missing required one,
                naming it, ``where`` it was and the known keys.
        """
        unknown = sorted(set(d) - set(cls.keys()))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; the known keys are "
                             f"{list(cls.keys())}")
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
        missing = [k for k in required if k not in d]
        if missing:
            raise ValueError(f"{where}: missing key(s) {missing} (a network needs {required})")
        return cls(**dict(d))


__all__ = ["LOSS_NAMES", "NetConfig"]
