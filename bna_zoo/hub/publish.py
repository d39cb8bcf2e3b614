"""Publish trained weights: upload to the Hub, or ship them inside the package.

Both end by printing the lines to paste into the name's entry in
:mod:`bna_zoo.models.entries` (``results=``, ``sha256=``, ``shipped=`` / ``revision=``); the
derived files (cards, configs, README table) are then regenerated with
``python -m bna_zoo.models.render``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models.zoo import Results, get_entry
from .checkpoint import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, read_config, read_weights, sha256_file

log = logging.getLogger("bna_zoo.hub")


@dataclass(frozen=True)
class PublishResult:
    """What :func:`publish` produced: the folder, the weights' sha256, the Hub commit."""

    directory: Path
    sha256: str
    repo_id: str
    revision: str | None

    def __str__(self) -> str:
        where = f"{self.repo_id}@{self.revision}" if self.revision else "not pushed"
        return f"{self.directory} (sha256 {self.sha256}; {where})"


def entry_snippet(directory: str | os.PathLike, sha256: str, **where: Any) -> str:
    """The entry lines for the checkpoint in ``directory`` (its ``Results`` and pins)."""
    config = read_config(directory)
    names = {f.name for f in dataclasses.fields(Results)}
    results = {k: v for k, v in {**(config.get("metrics") or {}),
                                 **(config.get("training") or {})}.items() if k in names}
    args = ", ".join(f"{k}={v!r}" for k, v in results.items())
    extra = "".join(f", {k}={v!r}" for k, v in where.items())
    return f"results=Results({args}),\nsha256={sha256!r}{extra},"


def publish(model: Any, repo_id: str | None = None, *, metrics: dict[str, float],
            push: bool = True, out_dir: str | os.PathLike | None = None, token: str | None = None,
            private: bool | None = None, overwrite_card: bool = False,
            **card_fields: Any) -> PublishResult:
    """Save ``model`` with its measured numbers, upload it, and report the sha256 to pin.

    Args:
        model: a ``BNAModel`` (e.g. ``BNAModel.from_lightning_checkpoint(path, name)``).
        repo_id: default ``bna-zoo/<name>``.
        metrics: ``accuracy`` (fraction), ``firing_rate``, ``loss``, measured by the caller.
        push: upload; ``False`` only writes ``out_dir``.
        out_dir: default ``./published/<name>``.
        token, private, overwrite_card: as ``BNAModel.push_to_hub``.
        **card_fields: ``command``, ``eval_command``, ``hardware``, ``wall_time``, ...
    """
    name = model.zoo_name
    repo_id = repo_id or f"bna-zoo/{name}"
    directory = Path(out_dir) if out_dir is not None else Path("published") / name
    model.save_pretrained(directory, metrics=metrics, **card_fields)
    sha = sha256_file(directory / WEIGHTS_NAME)
    revision = None
    if push:
        # the saved bytes are deterministic, so the uploaded file has the sha printed here
        commit = model.push_to_hub(repo_id, token=token, private=private,
                                   overwrite_card=overwrite_card, metrics=metrics,
                                   model_card_kwargs=card_fields,
                                   commit_message=f"Publish {name}")
        revision = getattr(commit, "oid", None) or str(commit)
    log.info("%s: paste into its entry in bna_zoo/models/entries.py:\n%s", name,
             entry_snippet(directory, sha, revision=revision))
    return PublishResult(directory, sha, repo_id, revision)


def register_shipped(name: str, directory: str | os.PathLike) -> str:
    """Ship a ``save_pretrained`` folder inside the package as ``bna_zoo/weights/<name>/``.

    The folder is checked first (config of ``name``, weights matching the sha256 it records,
    all finite). Prints the entry lines to paste; returns the sha256 of ``model.safetensors``.
    """
    entry = get_entry(name)
    directory = Path(directory)
    config = read_config(directory)
    if config.get("name") != name:
        raise ValueError(f"{directory} holds {config.get('name')!r}, not {name!r}")
    read_weights(directory)
    target = entry.shipped_dir
    shutil.rmtree(target, ignore_errors=True)  # no stale file of an earlier copy survives
    target.mkdir(parents=True)
    for f in (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME):
        if (directory / f).is_file():
            shutil.copyfile(directory / f, target / f)
    sha = sha256_file(target / WEIGHTS_NAME)
    print(f"shipped {name} in {target}\npaste into its entry in bna_zoo/models/entries.py:\n"
          f"{entry_snippet(target, sha, shipped=True)}")
    return sha
