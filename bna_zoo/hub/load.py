"""Load checkpoints: ``config.json`` + ``model.safetensors`` into a ``BNAModel``, strictly.

Every load reads safetensors only (downloaded files are never unpickled), checks the sha256 the
registry pins, builds the model from ``config.json`` and loads the weights with
``strict=True``. Any failure raises before a model is returned: nothing half-loaded escapes.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..models import get_spec
from .errors import IntegrityError
from .resolve import CONFIG_NAME, WEIGHTS_NAME, resolve

if TYPE_CHECKING:
    from ..model import BNAModel

log = logging.getLogger("bna_zoo.hub")

FORMAT_VERSION = 1
# ModelSpec fields that shape the network or its dynamics: a checkpoint keeps the values it was
# trained with even if the registry's defaults change later (upgrade-safe checkpoints).
NET_FIELDS = ("arch", "input_shape", "n_steps", "tau_m", "tau_s", "theta", "conv_weight_scale",
              "linear_weight_scale", "dropout_mode")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``config.json`` of a checkpoint folder.

    Raises:
        FileNotFoundError: no ``config.json``.
        IntegrityError: not JSON, a newer format, or no ``init_args``.
    """
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a checkpoint folder holds config.json and "
                                f"{WEIGHTS_NAME}, as written by save_pretrained")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise IntegrityError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(config, dict) or not isinstance(config.get("init_args"), dict):
        raise IntegrityError(f"{path} has no 'init_args' object: not written by bna_zoo?")
    version = config.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IntegrityError(f"{path} has format_version {version!r}; this bna_zoo reads up to "
                             f"{FORMAT_VERSION}: upgrade bna_zoo")
    return config


def read_weights(directory: str | os.PathLike, sha256: str | None = None,
                 origin: str = "") -> dict[str, torch.Tensor]:
    """Read ``model.safetensors`` of a checkpoint folder, checking ``sha256`` when given.

    Raises:
        FileNotFoundError: no ``model.safetensors`` (a ``.bin``/``.pt`` is refused by design).
        IntegrityError: sha256 mismatch, or a corrupted or truncated file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        others = sorted(p.name for p in Path(directory).glob("*") if p.suffix in (".bin", ".pt"))
        extra = (f" ({', '.join(others)} found: bna_zoo loads safetensors only and never "
                 f"unpickles a downloaded file)") if others else ""
        raise FileNotFoundError(f"{path} is missing{extra}")
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise IntegrityError(
                f"sha256 of {path} is {actual}, but the registry pins {sha256} ({origin}). The "
                f"file is damaged or not the published one: delete it (for the Hub cache: "
                f"`hf cache delete` or remove the snapshot) and load again"
            )
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise IntegrityError(f"{path} is corrupted or truncated ({err}); delete it and "
                             f"download or save it again") from None


def _init_args(config: dict[str, Any], where: str) -> dict[str, Any]:
    """``BNAModel`` arguments from a config, pinned to the saved network settings."""
    from ..model import BNAModel

    init = {k: v for k, v in config["init_args"].items() if not k.startswith("_")}
    known = set(inspect.signature(BNAModel.__init__).parameters) - {"self"}
    unknown = sorted(set(init) - known)
    if unknown:
        raise IntegrityError(f"{where}: unknown init_args {unknown}; written by a newer bna_zoo?")
    name = init.get("name", config.get("name"))
    try:
        spec = get_spec(name)
    except KeyError as err:
        raise IntegrityError(f"{where}: architecture {name!r} is not in this bna_zoo's "
                             f"registry ({err.args[0]})") from None
    init["name"] = name
    saved = config.get("model_args") or {}
    overrides = dict(init.get("arch_overrides") or {})
    current = {**spec.model_args(), **overrides}
    for key in NET_FIELDS:
        if key in saved and _norm(saved[key]) != _norm(current.get(key)):
            overrides[key] = saved[key]
            log.info("%s: keeping the saved %s=%r (the registry now says %r)",
                     where, key, saved[key], current.get(key))
    init["arch_overrides"] = overrides or None
    init["pretrained"] = None  # the weights come from this folder, never from elsewhere
    return init


def _norm(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def build_model(config: dict[str, Any], state: dict[str, torch.Tensor],
                where: str = "") -> BNAModel:
    """``BNAModel(**init_args)`` with ``state`` loaded strictly into ``model.net``, in eval mode.

    Raises:
        IntegrityError: the config builds a network the weights do not fit.
    """
    from ..model import BNAModel

    init_args = _init_args(config, where)
    try:
        model = BNAModel(**init_args)
    except (TypeError, ValueError, KeyError) as err:
        raise IntegrityError(f"{where}: config.json does not build a model: {err}") from None
    try:
        model.net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise IntegrityError(f"{where}: config.json and {WEIGHTS_NAME} disagree (do they come "
                             f"from the same save_pretrained?): {err}") from None
    return model.eval()


def from_pretrained(source: str | os.PathLike, revision: str | None = None) -> BNAModel:
    """Load a trained model in eval mode.

    Args:
        source: a zoo name (``"nmnist-cnn"``, see :func:`bna_zoo.list_pretrained`), a Hub id
            ``"org/repo[@revision]"``, a folder written by :func:`save_pretrained`
            (``"./my-run"``), or ``zoo:``/``hf-hub:``/``local-dir:`` prefixed forms.
        revision: Hub branch, tag or commit (default: the entry's pinned commit, or ``main``).

    Returns:
        The :class:`~bna_zoo.BNAModel`, weights strictly loaded, in eval mode.

    Raises:
        KeyError: unknown name (close matches listed).
        ValueError: a local folder shadows the name; :class:`IntegrityError` (a ``ValueError``)
            for a wrong sha256, corrupted weights, or a config that does not fit the weights.
        FileNotFoundError: missing folder, ``config.json`` or ``model.safetensors``.
        HubUnavailableError: the Hub could not give the files (offline and not cached, ...).
    """
    found = resolve(source, revision)
    config = read_config(found.directory)
    state = read_weights(found.directory, found.sha256, found.origin)
    model = build_model(config, state, found.origin)
    log.info("loaded %s from %s", config["init_args"].get("name"), found.origin)
    return model


def load_state_for_finetuning(source: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The network ``state_dict`` of any checkpoint source (keys as ``model.net.state_dict()``).

    Args:
        source: everything :func:`from_pretrained` accepts, or a Lightning ``.ckpt`` file (read
            with ``torch.load(weights_only=True)``; the ``net.`` prefix is stripped).
    """
    if str(source).endswith(".ckpt"):
        return _ckpt_state(source)[1]
    found = resolve(source)
    return read_weights(found.directory, found.sha256, found.origin)


def _ckpt_state(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
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


def load_lightning_checkpoint(path: str | os.PathLike, name: str | None = None) -> BNAModel:
    """Rebuild a ``BNAModel`` from a Lightning ``.ckpt`` (weights only, strict), in eval mode.

    Args:
        path: the ``.ckpt`` file.
        name: expected architecture; a checkpoint of another one is refused.
    """
    hparams, state = _ckpt_state(path)
    if name is not None and hparams.get("name") != name:
        raise ValueError(f"{path} is a checkpoint of {hparams.get('name')!r}, not {name!r}")
    config = {"init_args": hparams}
    return build_model(config, state, str(path))
