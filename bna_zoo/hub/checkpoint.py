"""Checkpoint folders: ``config.json`` + ``model.safetensors`` (+ a ``README.md`` card).

``config.json`` is **self-describing** (format: :mod:`.config_format`): the network
(``model_args``, a ``NetConfig``), how it was trained (``training_args``), the class labels,
the input's normalisation or event binning and the sha256 of the weights. A folder therefore
loads and predicts correctly with no zoo entry (a fine-tuned model with its own classes), and a
flipped bit in the weights is caught.

Writes are atomic for the **whole folder**: everything is prepared (and the config serialised)
before anything touches the disk, written into a sibling staging folder, read back, and swapped
in with two renames; files of the old folder that are not ours are carried over. Reads take
safetensors only (nothing is unpickled), check the sha256 and refuse non-finite weights.

This module knows nothing of ``BNAModel``: callers pass the model (duck-typed: ``hparams``,
``net``, ``labels``, ``input_spec``) or the class to build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from .errors import IntegrityError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
# 3: each fact once (hub/config_format.py); 2: weights_sha256 and complete model_args; 1 and 2
# are still read
FORMAT_VERSION = 3


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json_default(value: Any) -> Any:
    # numpy scalars (a metric computed with numpy) are exact as Python numbers; anything else
    # is refused before a byte is written
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} {value!r} cannot be stored in {CONFIG_NAME}")


def dumps_config(config: dict[str, Any]) -> str:
    """``config`` as JSON text; raises ``TypeError`` naming a value JSON cannot hold."""
    return json.dumps(config, indent=2, sort_keys=True, default=_json_default) + "\n"


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``config.json`` of a checkpoint folder, as format 3.

    Older formats are upgraded in memory (:func:`.config_format.upgrade`); every key is checked
    (:func:`.config_format.check`).

    Raises:
        FileNotFoundError: no ``config.json``.
        IntegrityError: not JSON, a newer format, an old one without ``init_args``, or an
            unknown or missing key.
    """
    from . import config_format

    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a checkpoint folder holds {CONFIG_NAME} and "
                                f"{WEIGHTS_NAME}, as written by save_pretrained")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise IntegrityError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise IntegrityError(f"{path} holds no JSON object: not written by bna_zoo?")
    version = config.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IntegrityError(f"{path} has format_version {version!r}; this bna_zoo reads up to "
                             f"{FORMAT_VERSION}: upgrade bna_zoo")
    if version < 3 and not isinstance(config.get("init_args"), dict):
        raise IntegrityError(f"{path} has no 'init_args' object: not written by bna_zoo?")
    config = config_format.upgrade(config, str(path))
    config_format.check(config, str(path))
    return config


def read_weights(directory: str | os.PathLike, sha256: str | None = None,
                 origin: str = "") -> dict[str, torch.Tensor]:
    """Read ``model.safetensors``, checking its sha256 and that every value is finite.

    Args:
        directory: the checkpoint folder.
        sha256: the expected hash (a zoo entry's pin); ``None`` uses ``config.json``'s
            ``weights_sha256`` when the folder records one.
        origin: where the folder came from, for messages.

    Raises:
        FileNotFoundError: no ``model.safetensors`` (a ``.bin``/``.pt`` is refused by design).
        IntegrityError: sha256 mismatch, a corrupted file, or NaN/inf weights.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    path = directory / WEIGHTS_NAME
    if not path.is_file():
        others = sorted(p.name for p in directory.glob("*") if p.suffix in (".bin", ".pt", ".ckpt"))
        extra = (f" ({', '.join(others)} found: bna_zoo loads safetensors only and never "
                 f"unpickles a downloaded file; a Lightning .ckpt loads with "
                 f"BNAModel.from_lightning_checkpoint)") if others else ""
        raise FileNotFoundError(f"{path} is missing{extra}")
    who = "the registry pins"
    if sha256 is None and (directory / CONFIG_NAME).is_file():
        sha256, who = read_config(directory).get("weights_sha256"), f"{CONFIG_NAME} records"
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise IntegrityError(
                f"sha256 of {path} is {actual}, but {who} {sha256} ({origin or directory}). The "
                f"file is damaged or not the one saved with this config: delete the folder (for "
                f"the Hub cache: `hf cache delete`) and download or save it again"
            )
    try:
        state = load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise IntegrityError(f"{path} is corrupted or truncated ({err}); delete it and "
                             f"download or save it again") from None
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise IntegrityError(f"{path}: weight {key!r} holds NaN or inf values; the run that "
                                 f"saved it diverged: load an earlier checkpoint")
    return state


def write_folder(directory: str | os.PathLike, state: dict[str, torch.Tensor],
                 config: dict[str, Any], card: str | None) -> Path:
    """Write a checkpoint folder atomically (see the module docstring).

    Args:
        directory: the folder; created, or replaced as a whole.
        state: the weights (CPU, contiguous, no shared storage).
        config: ``config.json`` content; ``weights_sha256`` is added.
        card: ``README.md`` text, or ``None`` for no card.

    Returns:
        The folder.

    Raises:
        TypeError: a config value JSON cannot hold (nothing written).
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    dumps_config(config)  # fail before touching the disk
    directory.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-", dir=directory.parent))
    try:
        # one metadata key only: its order in the header, hence the file's sha256, stays fixed
        save_file(state, str(stage / WEIGHTS_NAME), metadata={"format": "pt"})
        config = {**config, "weights_sha256": sha256_file(stage / WEIGHTS_NAME)}
        (stage / CONFIG_NAME).write_text(dumps_config(config))
        if card is not None:
            (stage / CARD_NAME).write_text(card)
        read_weights(stage)  # read back what a user will read
        if not directory.exists():
            os.replace(stage, directory)
            return directory
        if not directory.is_dir():
            raise NotADirectoryError(f"{directory} exists and is not a folder")
        for extra in directory.iterdir():  # copies of what is not ours (the user's notes...)
            if extra.name not in (WEIGHTS_NAME, CONFIG_NAME, CARD_NAME):
                copy = shutil.copytree if extra.is_dir() else shutil.copy2
                copy(extra, stage / extra.name)
        old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
        os.replace(directory, old / directory.name)
        try:
            os.replace(stage, directory)
        except OSError:
            os.replace(old / directory.name, directory)  # put the old folder back
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return directory


def lightning_checkpoint_state(
    path: str | os.PathLike,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Hyperparameters and ``net`` weights of a Lightning ``.ckpt`` (``weights_only`` load).

    Raises:
        FileNotFoundError: no such file.
        IntegrityError: not a readable Lightning checkpoint of a ``BNAModel``.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise IntegrityError(f"{path} is not a readable Lightning checkpoint ({err})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise IntegrityError(f"{path} has no 'state_dict': not a Lightning checkpoint")
    state = {k.removeprefix("net."): v for k, v in ckpt["state_dict"].items()
             if k.startswith("net.")}
    if not state:
        raise IntegrityError(f"{path} holds no 'net.*' weights: not a BNAModel checkpoint")
    return dict(ckpt.get("hyper_parameters") or {}), state
