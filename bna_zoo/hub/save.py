"""Write a checkpoint folder: ``config.json``, ``model.safetensors`` and the ``README.md`` card.

``config.json`` holds everything needed to rebuild the model without the registry's current
defaults: the ``BNAModel`` arguments (``init_args``), the network settings as trained
(``model_args``), labels, the input spec and, when given, measured metrics and how the run was
made. Each file is written to a temporary name and renamed, so an interrupted save never leaves
a half-written file under a real name.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..models.pretrained import PRETRAINED
from .card import TRAINING_FIELDS, card_values, normalize_metrics, render_card
from .load import FORMAT_VERSION
from .resolve import CONFIG_NAME, WEIGHTS_NAME

if TYPE_CHECKING:
    from ..model import BNAModel

CARD_NAME = "README.md"


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def model_args(model: BNAModel) -> dict[str, Any]:
    """The ModelSpec fields of ``model`` as built (overrides and a replaced head included)."""
    net = model.net
    args = {**model.spec.model_args(), **dict(model.hparams.get("arch_overrides") or {})}
    args.update(arch=net.arch, input_shape=list(net.input_shape), n_steps=net.n_steps,
                tau_m=net.neuron.tau_m, tau_s=net.neuron.tau_s, theta=net.neuron.theta)
    return args


def build_config(model: BNAModel, metrics: dict[str, float] | None = None,
                 labels: list[str] | None = None,
                 training: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``config.json`` content of ``model`` (see the module docstring)."""
    from .. import __version__

    init_args = {k: v for k, v in dict(model.hparams).items() if not k.startswith("_")}
    init_args["pretrained"] = None  # the weights travel with the config
    entry = PRETRAINED.get(init_args["name"])
    net = model.net
    if labels is None and entry is not None and len(entry.labels) == net.num_classes:
        labels = list(entry.labels)
    if labels is not None and len(labels) != net.num_classes:
        raise ValueError(f"{len(labels)} labels for a model with {net.num_classes} classes")
    inputs = None
    if entry is not None:
        inputs = asdict(entry.input)
        inputs.update(shape=list(net.input_shape), n_steps=net.n_steps)
        if inputs["frames"]:
            inputs["frames"]["n_steps"] = net.n_steps
    return {
        "format_version": FORMAT_VERSION,
        "library_name": "bna_zoo",
        "bna_zoo_version": __version__,
        "name": init_args["name"],
        "init_args": init_args,
        "model_args": model_args(model),
        "num_classes": net.num_classes,
        "labels": labels,
        "input": inputs,
        "metrics": normalize_metrics(metrics) or None,
        "training": {k: v for k, v in (training or {}).items() if v is not None} or None,
    }


def save_pretrained(model: BNAModel, directory: str | os.PathLike, *,
                    metrics: dict[str, float] | None = None, labels: list[str] | None = None,
                    repo_id: str | None = None, **card_fields: Any) -> Path:
    """Write ``model`` as a checkpoint folder that :func:`from_pretrained` loads.

    Args:
        model: the model to save.
        directory: created if needed; existing files of the same names are replaced.
        metrics: measured numbers: ``accuracy`` (fraction), ``firing_rate``, ``loss``
            (Lightning's ``test_acc``/``test_rate``/``test_loss`` are accepted too).
        labels: class names (default: the zoo entry's when the class count matches).
        repo_id: Hub repo the card points to (default ``bna-zoo/<name>``).
        **card_fields: how the run was made: ``command``, ``eval_command``, ``hardware``,
            ``wall_time``, ``epochs``, ``seed``, ``history`` (best/final accuracy over the
            run), ``data_note`` (a paragraph about the training data).

    Returns:
        The folder.

    Raises:
        TypeError: an unknown card field (a typo would otherwise vanish silently).
    """
    unknown = sorted(set(card_fields) - set(TRAINING_FIELDS))
    if unknown:
        raise TypeError(f"unknown card fields {unknown}; choose from {list(TRAINING_FIELDS)}")
    from safetensors.torch import save_file

    directory = Path(directory)
    config = build_config(model, metrics, labels, card_fields)
    # rendered before anything is written: a template error leaves the folder untouched
    card = render_card(config["name"], card_values(model, metrics, repo_id, config["labels"],
                                                   **card_fields))
    directory.mkdir(parents=True, exist_ok=True)
    # clone: contiguous, on CPU, and no storage shared between tensors (safetensors refuses it)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.net.state_dict().items()}
    # one metadata key only: its order in the header, hence the file's sha256, stays fixed
    _write_atomic(directory / WEIGHTS_NAME,
                  lambda p: save_file(state, str(p), metadata={"format": "pt"}))
    _write_atomic(directory / CONFIG_NAME,
                  lambda p: p.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n"))
    _write_atomic(directory / CARD_NAME, lambda p: p.write_text(card))
    return directory
