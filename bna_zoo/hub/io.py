"""Models in and out of checkpoint folders: the glue between a model and :mod:`.checkpoint`.

Nothing here imports ``bna_zoo.bna_model``: loaders receive the class to build (``BNAModel``'s
``ModelHubMixin`` hooks pass ``cls``), savers receive the model and read it duck-typed
(``hparams``, ``net``, ``labels``, ``input_spec``, ``zoo_name``, ``entry``). The network is
``model.net.config`` (a ``NetConfig``), written once, as ``model_args`` (format:
:mod:`.config_format`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from ..models.zoo import ZOO
from . import config_format
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
    hparams = dict(model.hparams)
    entry = model.entry
    return {
        "format_version": FORMAT_VERSION,
        "library_name": "bna_zoo",
        "bna_zoo_version": __version__,
        "name": model.zoo_name,
        "dataset": dataset or (entry.dataset if entry is not None else None),
        "model_args": model.net.config.to_dict(),
        "training_args": {k: hparams[k] for k in config_format.TRAINING_ARGS if k in hparams},
        "labels": model.labels,
        "input": config_format.input_block(model.input_spec),
        "n_params": sum(p.numel() for p in model.net.parameters()),
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


def _init_args(config: dict[str, Any]) -> dict[str, Any]:
    """``BNAModel`` arguments that rebuild the network a format-3 config describes.

    Every network setting is given (the saved description wins over a zoo entry that changed
    since), so loading needs no lookup of the entry here.
    """
    return {**(config.get("training_args") or {}), "name": config["name"],
            "arch_overrides": dict(config["model_args"]), "labels": config.get("labels"),
            "pretrained": None}


def _construct(model_cls: type, init_args: dict[str, Any], where: str) -> Any:
    try:
        return model_cls(**init_args)
    except (TypeError, ValueError, KeyError) as err:
        raise IntegrityError(f"{where}: the saved settings do not build a model: {err}") from None


def _load_state(model: Any, state: dict[str, torch.Tensor], where: str) -> Any:
    try:
        model.net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise IntegrityError(f"{where}: the network and model.safetensors disagree (do they "
                             f"come from the same save_pretrained?): {err}") from None
    return model.eval()


def build_model(model_cls: type, config: dict[str, Any], state: dict[str, torch.Tensor],
                where: str = "") -> Any:
    """``model_cls`` built from a format-3 ``config`` with ``state`` loaded strictly into
    ``.net``, in eval mode.

    Raises:
        IntegrityError: the config does not build a model, builds another network than it
            records, or the weights do not fit it.
    """
    model = _construct(model_cls, _init_args(config), where)
    saved = config_format.check(config, where)
    if model.net.config != saved:
        raise IntegrityError(f"{where}: config.json describes {saved} but builds "
                             f"{model.net.config}")
    spec = config_format.input_spec(config)
    if spec is not None:
        model.input_spec = spec  # the saved contract (normalisation, binning) wins
    return _load_state(model, state, where)


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
    # the hyperparameters are the model's own arguments; its weights travel in the file
    init = {k: v for k, v in hparams.items() if not k.startswith("_")}
    return _load_state(_construct(model_cls, {**init, "pretrained": None}, str(path)), state,
                       str(path))


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
