"""Publish checkpoints: upload to the Hub, or ship them inside the package.

Uploads go in one commit (config and weights never land apart). A ``README.md`` already on
the Hub is kept unless ``overwrite_card=True``: a card edited on the Hub must not be replaced by
a re-rendered template (the ``PyTorchModelHubMixin.push_to_hub`` pitfall; timm checks
``file_exists`` the same way).

After publishing, the registry entry (:mod:`bna_zoo.models.pretrained`) is updated in a
reviewed commit with the snippet these functions print.

Run as a script to ship a folder written by ``save_pretrained``::

    python -m bna_zoo.hub fashionmnist-mlp path/to/folder
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..models import pretrained as _pretrained
from .load import load_lightning_checkpoint, read_config, sha256_file
from .resolve import CONFIG_NAME, WEIGHTS_NAME
from .save import CARD_NAME, save_pretrained

if TYPE_CHECKING:
    from ..model import BNAModel

log = logging.getLogger("bna_zoo.hub")


def upload_folder(directory: str | os.PathLike, repo_id: str, *, revision: str | None = None,
                  token: str | None = None, private: bool | None = None,
                  commit_message: str | None = None, overwrite_card: bool = False) -> str:
    """Upload a checkpoint folder to ``repo_id`` in one commit; returns the commit sha.

    The card is uploaded only if the repo has none at ``revision``, or ``overwrite_card``.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    directory = Path(directory)
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision is not None:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    files = [CONFIG_NAME, WEIGHTS_NAME]
    if overwrite_card or not api.file_exists(repo_id, CARD_NAME, revision=revision):
        files.append(CARD_NAME)
    else:
        log.info("%s already has a %s: kept (pass overwrite_card=True to replace it)",
                 repo_id, CARD_NAME)
    ops = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(directory / f)) for f in files]
    info = api.create_commit(repo_id, ops, revision=revision,
                             commit_message=commit_message or f"Upload {', '.join(files)}")
    log.info("uploaded %s to %s, commit %s", ", ".join(files), repo_id, info.oid)
    return info.oid


def push_to_hub(model: BNAModel, repo_id: str, *, revision: str | None = None,
                token: str | None = None, private: bool | None = None,
                commit_message: str | None = None, metrics: dict[str, float] | None = None,
                overwrite_card: bool = False, **card_fields: Any) -> str:
    """``save_pretrained`` into a temporary folder and upload it to ``repo_id``.

    Args:
        model: the model.
        repo_id: ``org/name``; created if missing.
        revision: branch to commit to (created if missing); default ``main``.
        token: Hub token (default: the logged-in one / ``HF_TOKEN``).
        private: visibility of a newly created repo.
        commit_message: default names the uploaded files.
        metrics, **card_fields: as :func:`save_pretrained`.
        overwrite_card: replace a ``README.md`` already on the Hub.

    Returns:
        The commit sha: the ``revision`` to pin in the registry.
    """
    with tempfile.TemporaryDirectory(prefix="bna_zoo-push-") as tmp:
        save_pretrained(model, tmp, metrics=metrics, repo_id=repo_id, **card_fields)
        return upload_folder(tmp, repo_id, revision=revision, token=token, private=private,
                             commit_message=commit_message, overwrite_card=overwrite_card)


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


def _registry_snippet(directory: Path, sha256: str, **where: Any) -> str:
    config = read_config(directory)
    fields = {f.name for f in dataclasses.fields(_pretrained.Results)}
    results = {k: v for k, v in {**(config.get("metrics") or {}),
                                 **(config.get("training") or {})}.items() if k in fields}
    args = ", ".join(f"{k}={v!r}" for k, v in results.items())
    extra = "".join(f", {k}={v!r}" for k, v in where.items())
    return f"results=Results({args}),\nsha256={sha256!r}{extra},"


def publish(name: str, ckpt_path: str | os.PathLike, repo_id: str | None = None, *,
            metrics: dict[str, float], push: bool = True, out_dir: str | os.PathLike | None = None,
            token: str | None = None, private: bool | None = None,
            overwrite_card: bool = False, **card_fields: Any) -> PublishResult:
    """Turn a Lightning checkpoint into a published zoo checkpoint.

    Loads ``ckpt_path`` (weights only, strict), saves it with its card rendered from
    ``metrics`` (measured by the caller, e.g. ``bna-zoo publish``) to ``out_dir``, uploads that
    same folder (so the Hub's file has the printed sha256) and logs the registry snippet.

    Args:
        name: zoo name; the checkpoint must be of this architecture.
        ckpt_path: Lightning ``.ckpt``.
        repo_id: default: the entry's (``bna-zoo/<name>``).
        metrics: ``accuracy`` (fraction), ``firing_rate``, ``loss``.
        push: upload; ``False`` only writes ``out_dir``.
        out_dir: default ``./published/<name>``.
        token, private, overwrite_card: as :func:`push_to_hub`.
        **card_fields: ``command``, ``eval_command``, ``hardware``, ``wall_time``, ``epochs``,
            ``seed``.
    """
    entry = _pretrained.get_pretrained(name)
    repo_id = repo_id or entry.repo_id
    model = load_lightning_checkpoint(ckpt_path, name)
    directory = Path(out_dir) if out_dir is not None else Path("published") / name
    save_pretrained(model, directory, metrics=metrics, repo_id=repo_id, **card_fields)
    sha = sha256_file(directory / WEIGHTS_NAME)
    revision = None
    if push:
        revision = upload_folder(directory, repo_id, token=token, private=private,
                                 overwrite_card=overwrite_card,
                                 commit_message=f"Publish {name} from {Path(ckpt_path).name}")
    snippet = _registry_snippet(directory, sha, revision=revision)
    log.info("%s: paste into its entry in bna_zoo/models/pretrained.py:\n%s", name, snippet)
    return PublishResult(directory, sha, repo_id, revision)


def register_shipped(name: str, directory: str | os.PathLike) -> str:
    """Ship a ``save_pretrained`` folder inside the package as ``bna_zoo/weights/<name>/``.

    The folder is loaded first (strict, as users will) and must be a checkpoint of ``name``.
    Prints the registry snippet (``results=...``, ``sha256=...``, ``shipped=True``) to paste
    into the entry; returns the sha256 of ``model.safetensors``.
    """
    from .load import from_pretrained

    entry = _pretrained.get_pretrained(name)
    directory = Path(directory)
    model = from_pretrained(directory if directory.is_absolute() else directory.resolve())
    if model.hparams["name"] != entry.architecture:
        raise ValueError(f"{directory} holds {model.hparams['name']!r}, not {name!r}")
    target = entry.shipped_dir
    shutil.rmtree(target, ignore_errors=True)  # no stale file of an earlier copy survives
    target.mkdir(parents=True)
    for f in (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME):
        if (directory / f).is_file():
            shutil.copyfile(directory / f, target / f)
    sha = sha256_file(target / WEIGHTS_NAME)
    print(f"shipped {name} in {target}\npaste into its entry in bna_zoo/models/pretrained.py:\n"
          f"{_registry_snippet(target, sha, shipped=True)}")
    return sha


def main(argv: list[str] | None = None) -> None:
    """``python -m bna_zoo.hub NAME FOLDER``: :func:`register_shipped`."""
    parser = argparse.ArgumentParser(description=register_shipped.__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("directory")
    args = parser.parse_args(argv)
    register_shipped(args.name, args.directory)
