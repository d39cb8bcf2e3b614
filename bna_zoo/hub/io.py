"""Models in and out of checkpoint folders: the glue between a model and :mod:`.checkpoint`.

Nothing here imports ``bna_zoo.model``: loaders receive the class to build (``BNAModel``'s
``ModelHubMixin`` hooks pass ``cls``), savers receive the model and read it duck-typed
(``hparams``, ``net``, ``labels``, ``input_spec``, ``zoo_name``, ``entry``).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
from pathlib import Path
from typing import Any

import torch

from ..models.zoo import NET_FIELDS, ZOO, InputSpec
from .card import TRAINING_FIELDS, normalize_metrics, render_card
from .checkpoint import (
    CARD_NAME,
    FORMAT_VERSION,
    lightning_checkpoint_state,
    read_config,
    read_weights,
    write_folder,
)
from .errors import IntegrityError
from .resolve import resolve

log = logging.getLogger("bna_zoo.hub")


def model_args(model: Any) -> dict[str, Any]:
    """The complete network settings of ``model`` as built (overrides, a new head included)."""
    net = model.net
    return {
        "arch": net.arch, "input_shape": list(net.input_shape), "n_steps": net.n_steps,
        "tau_m": net.neuron.tau_m, "tau_s": net.neuron.tau_s, "theta": net.neuron.theta,
        "conv_weight_scale": _scale(model, "conv_weight_scale"),
        "linear_weight_scale": _scale(model, "linear_weight_scale"),
        "dropout_mode": _dropout_mode(net), "input_kind": net.input_kind,
        "loss": model.loss_name, "loss_args": dict(model.loss_args),
    }


def _scale(model: Any, key: str) -> float:
    overrides = model.hparams.get("arch_overrides") or {}
    if key in overrides:
        return float(overrides[key])
    return float(getattr(model.entry, key)) if model.entry is not None else 1.0


def _dropout_mode(net: Any) -> str:
    modes = {m.mode for m in net.layers if hasattr(m, "mode")}
    return modes.pop() if len(modes) == 1 else "neuron"


def build_config(model: Any, metrics: dict[str, float] | None = None,
                 training: dict[str, Any] | None = None,
                 dataset: str | None = None) -> dict[str, Any]:
    """The ``config.json`` content of ``model``: everything loading and predicting need.

    ``dataset``: the name of the data it was trained on, when not its zoo entry's.
    """
    from .. import __version__

    unknown = sorted(set(training or {}) - set(TRAINING_FIELDS))
    if unknown:
        raise TypeError(f"unknown card fields {unknown}; choose from {list(TRAINING_FIELDS)}")
    labels, n = model.labels, model.net.num_classes
    if labels is not None and len(labels) != n:
        # refused before anything is written: from_pretrained would refuse the folder later
        raise ValueError(f"{len(labels)} labels for a model with {n} classes: set model.labels "
                         f"to {n} names (or None) before saving")
    init_args = {k: v for k, v in dict(model.hparams).items() if not k.startswith("_")}
    init_args["pretrained"] = None  # the weights travel with the config
    init_args["labels"] = model.labels
    entry = model.entry
    return {
        "format_version": FORMAT_VERSION,
        "library_name": "bna_zoo",
        "bna_zoo_version": __version__,
        "name": model.zoo_name,
        "dataset": dataset or (entry.dataset if entry is not None else None),
        "init_args": init_args,
        "model_args": model_args(model),
        "num_classes": model.net.num_classes,
        "n_params": sum(p.numel() for p in model.net.parameters()),
        "labels": model.labels,
        "input": dataclasses.asdict(model.input_spec),
        "metrics": normalize_metrics(metrics) or None,
        "training": {k: v for k, v in (training or {}).items() if v is not None} or None,
    }


def save_folder(model: Any, directory: str | os.PathLike, metrics: dict[str, float] | None = None,
                training: dict[str, Any] | None = None, dataset: str | None = None) -> Path:
    """``config.json`` + ``model.safetensors`` + card of ``model``, written atomically."""
    config = build_config(model, metrics, training, dataset)
    card = render_card(config)  # rendered before anything is written
    # clone: contiguous, on CPU, and no storage shared between tensors (safetensors refuses it)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.net.state_dict().items()}
    return write_folder(directory, state, config, card)


def _init_args(model_cls: type, config: dict[str, Any], where: str) -> dict[str, Any]:
    """Constructor arguments from a config, pinned to the saved network settings."""
    init = {k: v for k, v in config["init_args"].items() if not k.startswith("_")}
    known = set(inspect.signature(model_cls.__init__).parameters) - {"self"}
    unknown = sorted(set(init) - known)
    if unknown:
        raise IntegrityError(f"{where}: unknown init_args {unknown}; written by a newer bna_zoo?")
    name = init.get("name", config.get("name"))
    saved = dict(config.get("model_args") or {})
    overrides = dict(init.get("arch_overrides") or {})
    entry = ZOO.get(name)
    if entry is None:
        # not in this zoo: the config must describe the whole network (format 2 does)
        missing = sorted(set(NET_FIELDS) - set(saved))
        if missing or "loss" not in saved:
            raise IntegrityError(f"{where}: {name!r} is not a zoo name and config.json lacks the "
                                 f"network settings {missing or ['loss']} to build it")
    for key in (*NET_FIELDS, "loss", "loss_args"):
        current = overrides.get(key, getattr(entry, key, None))
        if key in saved and _norm(saved[key]) != _norm(current):
            overrides[key] = saved[key]
    init.update(name=name, arch_overrides=overrides or None, pretrained=None)
    if init.get("labels") is None and config.get("labels") is not None:
        init["labels"] = config["labels"]
    return init


def _norm(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def build_model(model_cls: type, config: dict[str, Any], state: dict[str, torch.Tensor],
                where: str = "") -> Any:
    """``model_cls(**init_args)`` with ``state`` loaded strictly into ``.net``, in eval mode.

    Raises:
        IntegrityError: the config does not build a model, or the weights do not fit it.
    """
    init_args = _init_args(model_cls, config, where)
    try:
        model = model_cls(**init_args)
    except (TypeError, ValueError, KeyError) as err:
        raise IntegrityError(f"{where}: config.json does not build a model: {err}") from None
    try:
        model.net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise IntegrityError(f"{where}: config.json and model.safetensors disagree (do they "
                             f"come from the same save_pretrained?): {err}") from None
    if config.get("input"):
        model._input_spec = InputSpec.from_dict(config["input"])  # the saved contract wins
    return model.eval()


def load_folder(model_cls: type, source: str | os.PathLike, revision: str | None = None) -> Any:
    """Resolve ``source`` (zoo name, Hub id, folder) and build the model from its files."""
    if str(source).endswith(".ckpt") and Path(source).is_file():
        raise FileNotFoundError(f"{source} is a Lightning checkpoint, not a save_pretrained "
                                f"folder: load it with BNAModel.from_lightning_checkpoint(path)")
    found = resolve(source, revision)
    config = read_config(found.directory)
    state = read_weights(found.directory, found.sha256, found.origin)
    model = build_model(model_cls, config, state, found.origin)
    log.info("loaded %s from %s", config.get("name"), found.origin)
    return model


def load_lightning_checkpoint(model_cls: type, path: str | os.PathLike,
                              name: str | None = None) -> Any:
    """Rebuild a model from a Lightning ``.ckpt`` (weights only, strict), in eval mode."""
    hparams, state = lightning_checkpoint_state(path)
    if name is not None and hparams.get("name") != name:
        raise ValueError(f"{path} is a checkpoint of {hparams.get('name')!r}, not {name!r}")
    return build_model(model_cls, {"init_args": hparams}, state, str(path))


def fetch_for_finetuning(source: str | os.PathLike) -> None:
    """Bring the files of ``source`` into the local cache (the network step of fine-tuning)."""
    if not str(source).endswith(".ckpt"):
        resolve(source)


def architecture_of(source: str | os.PathLike) -> str | None:
    """The paper-notation architecture a checkpoint source was saved with (None if unknown)."""
    try:
        if str(source).endswith(".ckpt"):
            hparams = lightning_checkpoint_state(source)[0]
            arch = (hparams.get("arch_overrides") or {}).get("arch") or hparams.get("arch")
            entry = ZOO.get(hparams.get("name"))
            return arch or (entry.arch if entry is not None else None)
        config = read_config(resolve(source).directory)
        return (config.get("model_args") or {}).get("arch")
    except (OSError, KeyError, ValueError, IntegrityError):
        return None


def state_for_finetuning(source: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The network ``state_dict`` of any checkpoint source (keys as ``model.net.state_dict()``).

    Args:
        source: everything ``from_pretrained`` accepts, or a Lightning ``.ckpt`` file.
    """
    if str(source).endswith(".ckpt"):
        return lightning_checkpoint_state(source)[1]
    found = resolve(source)
    return read_weights(found.directory, found.sha256, found.origin)


def has_card(repo_id: str, revision: str | None = None, token: str | None = None) -> bool:
    """Whether the Hub repo already has a ``README.md`` (False for a repo not created yet)."""
    from huggingface_hub import HfApi, errors

    try:
        return HfApi(token=token).file_exists(repo_id, CARD_NAME, revision=revision)
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError):
        return False
