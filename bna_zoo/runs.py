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

Imports only the standard library and yaml: the CLI calls it before Lightning builds anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

#: settings that may differ between a run and its resumption
RESUMABLE = {"model.pretrained", "data.num_workers", "data.download"}
CONFIG_NAME = "config.yaml"


def flat_settings(model: dict[str, Any], data: dict[str, Any] | None) -> dict[str, Any]:
    """``{"model.lr": ..., "data.class_path": ..., "data.batch_size": ...}`` of a run's config
    sections (``data`` as LightningCLI writes it: ``class_path`` and ``init_args``)."""
    out = {f"model.{k}": v for k, v in (model or {}).items()}
    if data:
        out["data.class_path"] = data.get("class_path")
        out.update({f"data.{k}": v for k, v in (data.get("init_args") or {}).items()})
    return {k: v for k, v in out.items() if k not in RESUMABLE}


def differences(command: dict[str, Any], run: dict[str, Any]) -> list[str]:
    """The settings that differ, ``"model.gradient: na here, surrogate in the run"``."""
    keys = sorted(set(command) | set(run))
    return [f"{k}: {command.get(k)!r} here, {run.get(k)!r} in the run" for k in keys
            if command.get(k) != run.get(k)]


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


def resolve_last(log_root: Path, command: dict[str, Any]) -> Path | None:
    """The run folder ``--ckpt_path last`` resumes: the newest with the command's settings.

    Returns:
        The run folder, or None when ``log_root`` holds no run with a ``last.ckpt``.

    Raises:
        ValueError: runs exist but none has the command's settings; names what differs from
            the newest one.
    """
    runs = runs_newest_first(log_root)
    for run in runs:
        if run_settings(run) == command:
            return run
    if not runs:
        return None
    newest = runs[0]
    diff = differences(command, run_settings(newest) or {})
    raise ValueError(
        f"--ckpt_path last: none of the {len(runs)} runs in {log_root} has this command's "
        f"settings, so none is resumed; the newest, {newest.name}, differs in "
        f"{'; '.join(diff)}. Start a new run (leave out --ckpt_path), or give the same "
        "settings to resume it")


def check_checkpoint(ckpt: Path, command: dict[str, Any]) -> None:
    """Refuse resuming ``ckpt`` when its run's settings differ from the command's.

    A checkpoint outside a run folder (no ``config.yaml`` beside ``checkpoints/``) is not checked
    here; Lightning's strict state loading still refuses another network.
    """
    run = ckpt.resolve().parent.parent
    saved = run_settings(run)
    if saved is not None and saved != command:
        raise ValueError(f"--ckpt_path {ckpt}: its run ({run}) was trained with other "
                         f"settings: {'; '.join(differences(command, saved))}. Resume with the "
                         "run's settings, or fine-tune from it with --model.pretrained instead")
