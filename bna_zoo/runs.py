"""Run folders of ``bna-zoo fit``: one per run, and which run ``--ckpt_path last`` resumes.

A run lives in ``<default_root_dir>/<version>/`` (Lightning's logger version, or ``--run_name``):
its ``config.yaml`` (the command's resolved settings), ``metrics.csv``, ``checkpoints/`` and,
at the end of ``fit``, ``model/`` (a :meth:`~bna_zoo.BNAModel.save_pretrained` folder). Nothing
is shared between runs, so runs of different settings never overwrite or resume each other.

``--ckpt_path last`` resumes the newest run whose network and data settings equal the
command's; a checkpoint whose settings differ is refused with the settings that differ. Only
settings that change what is trained are compared: Trainer settings (more epochs, another
precision) and ``num_workers``, ``download`` or ``pretrained`` (the weights are in the
checkpoint) may change on resume.

A run saved before a setting existed has no entry for it; it was trained as that setting's
default does today (a new setting's default keeps the old behaviour), so a command that leaves
the setting at its default resumes it, and one that changes it is refused, saying so.

Imports only the standard library and yaml at load: the CLI calls it before Lightning builds
anything.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import yaml

#: settings that may differ between a run and its resumption
RESUMABLE = {"model.pretrained", "data.num_workers", "data.download"}
CONFIG_NAME = "config.yaml"
#: a setting a config has no entry for, and no default for it is known
_ABSENT = object()


def flat_settings(model: dict[str, Any], data: dict[str, Any] | None) -> dict[str, Any]:
    """``{"model.lr": ..., "data.class_path": ..., "data.batch_size": ...}`` of a run's config
    sections (``data`` as LightningCLI writes it: ``class_path`` and ``init_args``)."""
    out = {f"model.{k}": v for k, v in (model or {}).items()}
    if data:
        out["data.class_path"] = data.get("class_path")
        out.update({f"data.{k}": v for k, v in (data.get("init_args") or {}).items()})
    return {k: v for k, v in out.items() if k not in RESUMABLE}


def setting_defaults(model_class: type, data_class_path: str | None) -> dict[str, Any]:
    """Today's default of each setting of the model class and the data class, flattened as
    :func:`flat_settings` (``{"model.clip": 10.0, "data.shift": 0, ...}``), as a config file holds
    them (tuples as lists, paths as strings). A data class that does not import adds nothing."""
    sections: dict[str, Any] = {"model": model_class}
    if data_class_path:
        module, _, name = data_class_path.rpartition(".")
        try:
            sections["data"] = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            pass  # the comparison then names data.class_path itself
    out = {}
    for prefix, cls in sections.items():
        for name, param in inspect.signature(cls).parameters.items():
            if param.default is not inspect.Parameter.empty:
                # a default that is not plain data becomes its text, equal to no config value
                out[f"{prefix}.{name}"] = json.loads(json.dumps(param.default, default=repr))
    return {k: v for k, v in out.items() if k not in RESUMABLE}


def differences(command: dict[str, Any], run: dict[str, Any],
                defaults: dict[str, Any] | None = None) -> list[str]:
    """The settings that differ, ``"model.gradient: 'na' here, 'surrogate' in the run"``.

    Args:
        command: this command's settings (:func:`flat_settings`).
        run: the run's settings, as its ``config.yaml`` holds them.
        defaults: :func:`setting_defaults`; a setting the run has no entry for compares as its
            default (the run predates it). Without them, a missing entry is a difference.
    """
    defaults = defaults or {}
    out = []
    for key in sorted(set(command) | set(run)):
        here = command.get(key, _ABSENT)
        there = run[key] if key in run else defaults.get(key, _ABSENT)
        if here is not _ABSENT and there is not _ABSENT and here == there:
            continue
        said_here = "not set" if here is _ABSENT else repr(here)
        if key in run:
            said_there = repr(there)
        elif there is _ABSENT:
            said_there = "no entry"
        else:
            said_there = f"no entry (saved before the setting existed: as its default {there!r})"
        out.append(f"{key}: {said_here} here, {said_there} in the run")
    return out


def run_settings(run_dir: Path) -> dict[str, Any] | None:
    """The compared settings of the run in ``run_dir`` (None without its ``config.yaml``)."""
    path = run_dir / CONFIG_NAME
    if not path.is_file():
        return None
    cfg = yaml.safe_load(path.read_text()) or {}
    return flat_settings(cfg.get("model") or {}, cfg.get("data"))


def runs_newest_first(log_root: Path) -> list[Path]:
    """Run folders under ``log_root`` that hold a ``checkpoints/last.ckpt``, newest first."""
    if not log_root.is_dir():
        return []
    runs = [d for d in log_root.iterdir() if (d / "checkpoints" / "last.ckpt").is_file()]
    return sorted(runs, key=lambda d: (d / "checkpoints" / "last.ckpt").stat().st_mtime,
                  reverse=True)


def resolve_last(log_root: Path, command: dict[str, Any],
                 defaults: dict[str, Any] | None = None) -> Path | None:
    """The run folder ``--ckpt_path last`` resumes: the newest with the command's settings
    (``defaults``: as :func:`differences`).

    Returns:
        The run folder, or None when ``log_root`` holds no run with a ``last.ckpt``.

    Raises:
        ValueError: runs exist but none has the command's settings; names what differs from
            the newest one.
    """
    runs = runs_newest_first(log_root)
    if not runs:
        return None
    saved = [run_settings(run) for run in runs]   # each config.yaml read once
    for run, settings in zip(runs, saved, strict=True):
        if settings is not None and not differences(command, settings, defaults):
            return run
    newest = runs[0]
    diff = (["its config.yaml is missing"] if saved[0] is None
            else differences(command, saved[0], defaults))
    raise ValueError(
        f"--ckpt_path last: none of the {len(runs)} runs in {log_root} has this command's "
        f"settings, so none is resumed; the newest, {newest.name}, differs in "
        f"{'; '.join(diff)}. Start a new run (leave out --ckpt_path), or give the same "
        "settings to resume it")


def check_checkpoint(ckpt: Path, command: dict[str, Any],
                     defaults: dict[str, Any] | None = None) -> None:
    """Refuse resuming ``ckpt`` when its run's settings differ from the command's
    (``defaults``: as :func:`differences`).

    A checkpoint outside a run folder (no ``config.yaml`` beside ``checkpoints/``) is not checked
    here; Lightning's strict state loading still refuses another network.
    """
    run = ckpt.resolve().parent.parent
    saved = run_settings(run)
    diff = [] if saved is None else differences(command, saved, defaults)
    if diff:
        raise ValueError(f"--ckpt_path {ckpt}: its run ({run}) was trained with other "
                         f"settings: {'; '.join(diff)}. Resume with the "
                         "run's settings, or fine-tune from it with --model.pretrained instead")
