"""The ``config.json`` of a checkpoint folder, format 3: each fact once, every key known.

::

    {"format_version": 3, "library_name": "bna_zoo", "bna_zoo_version": "...",
     "name": "nmnist-cnn", "dataset": "N-MNIST",
     "model_args": {NetConfig: arch, input_shape, n_steps, tau_m, ..., loss, loss_args},
     "training_args": {gradient, variant, clip, rescale, surrogate_slope, lr, ...},
     "labels": [...] | null,
     "input": {"mean": [...] | null, "std": [...] | null, "frames": {binning} | null},
     "n_params": ..., "weights_sha256": "...", "metrics": {...} | null, "training": {...} | null}

T, the input shape and the class count live in ``model_args`` alone (the class count is the last
token of ``arch``); ``input`` adds only what the network does not know: the images'
normalisation or the events' binning. A key this reader does not know is an error naming it (a
typo such as ``n_step`` must not be ignored). Formats 1 and 2 (``init_args`` + ``model_args``,
T written three times) are upgraded on reading; the files on disk are never rewritten.
"""

from __future__ import annotations

from typing import Any

from ..models.config import NetConfig
from ..models.zoo import ZOO, InputSpec
from .errors import IntegrityError

FORMAT_VERSION = 3

#: ``BNAModel`` arguments that say how the network was trained (not what it is)
TRAINING_ARGS = ("gradient", "variant", "clip", "rescale", "surrogate_slope", "lr",
                 "weight_decay", "lr_gamma", "grad_clip", "weight_clamp")
TOP_KEYS = ("format_version", "library_name", "bna_zoo_version", "name", "dataset",
            "model_args", "training_args", "labels", "input", "n_params", "weights_sha256",
            "metrics", "training")
INPUT_KEYS = ("mean", "std", "frames")
#: frame-binning keys that restate the network (the sensor is its input shape, T its n_steps)
_DERIVED_FRAME_KEYS = ("sensor_size", "n_steps")


def _unknown(keys: Any, known: tuple[str, ...], where: str) -> None:
    bad = sorted(set(keys) - set(known))
    if bad:
        raise IntegrityError(f"{where}: unknown key(s) {bad}; the known keys are {list(known)}")


def check(config: dict[str, Any], where: str) -> NetConfig:
    """Check a format-3 config's keys (top level, ``model_args``, ``training_args``,
    ``input``) and return its :class:`NetConfig`.

    Raises:
        IntegrityError: an unknown or missing key, naming it and the known ones.
    """
    _unknown(config, TOP_KEYS, f"{where} config.json")
    for key in ("name", "model_args"):
        if key not in config:
            raise IntegrityError(f"{where} config.json: no {key!r}")
    _unknown(config.get("training_args") or {}, TRAINING_ARGS,
             f"{where} config.json training_args")
    _unknown(config.get("input") or {}, INPUT_KEYS, f"{where} config.json input")
    try:
        return NetConfig.from_dict(config["model_args"], f"{where} config.json model_args")
    except (TypeError, ValueError) as err:
        raise IntegrityError(str(err)) from None


def input_block(spec: InputSpec) -> dict[str, Any]:
    """What ``input`` stores of ``spec``: normalisation and binning, nothing the network has."""
    frames = {k: v for k, v in (spec.frames or {}).items() if k not in _DERIVED_FRAME_KEYS}
    return {"mean": list(spec.mean) if spec.mean is not None else None,
            "std": list(spec.std) if spec.std is not None else None,
            "frames": frames or None}


def input_spec(config: dict[str, Any]) -> InputSpec | None:
    """The :class:`InputSpec` a format-3 config records (None when it records no ``input``)."""
    block = config.get("input")
    if not block:
        return None
    net = NetConfig.from_dict(config["model_args"])
    frames = None
    if net.input_kind == "events":
        c, h, w = net.input_shape
        frames = {"sensor_size": (w, h, c), "n_steps": net.n_steps, **(block.get("frames") or {})}
    mean, std = block.get("mean"), block.get("std")
    return InputSpec(net.input_kind, net.input_shape, net.n_steps,
                     tuple(mean) if mean is not None else None,
                     tuple(std) if std is not None else None, frames)


def upgrade(config: dict[str, Any], where: str) -> dict[str, Any]:
    """A format 1 or 2 config as format 3 (a format-3 config is returned as it is).

    Format 2 wrote the complete network as built in ``model_args``; format 1 only part of it,
    the rest being the zoo entry's, so an old folder of a name not in this zoo cannot load.
    """
    if config.get("format_version", 0) >= 3:
        return config
    init = dict(config.get("init_args") or {})
    name = config.get("name") or init.get("name")
    saved = dict(config.get("model_args") or {})
    missing = [k for k in NetConfig.keys() if k not in saved]
    if missing:
        entry = ZOO.get(name)
        if entry is None:
            raise IntegrityError(f"{where}: {name!r} is not a zoo name and its config.json "
                                 f"(format {config.get('format_version')}) lacks the network "
                                 f"settings {missing} to build it")
        saved = {**entry.net.to_dict(), **saved}
    spec = InputSpec.from_dict(config["input"]) if config.get("input") else None
    out = {
        "format_version": FORMAT_VERSION,
        **{k: config[k] for k in ("library_name", "bna_zoo_version", "dataset", "n_params",
                                  "weights_sha256", "metrics", "training") if k in config},
        "name": name,
        "model_args": {k: saved[k] for k in NetConfig.keys()},
        "training_args": {k: init[k] for k in TRAINING_ARGS if k in init},
        "labels": config.get("labels", init.get("labels")),
    }
    if spec is not None:
        out["input"] = input_block(spec)
    return out


__all__ = ["FORMAT_VERSION", "INPUT_KEYS", "TOP_KEYS", "TRAINING_ARGS", "check", "input_block",
           "input_spec", "upgrade"]
