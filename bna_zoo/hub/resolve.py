"""Turn what a user typed into the folder that holds a checkpoint's ``config.json`` and weights.

Sources, tried in this order:

1. explicit prefixes, never ambiguous: ``local-dir:PATH``, ``hf-hub:ORG/REPO[@REV]``,
   ``zoo:NAME[@REV]`` (as timm's ``hf-hub:`` / ``local-dir:``);
2. an ``os.PathLike``, or a string that reads as a path (``./x``, ``../x``, ``/x``, ``~/x``);
3. a zoo name (``"nmnist-cnn"``, ``"nmnist-cnn@<rev>"``);
4. a Hub id ``ORG/REPO[@REV]``;
5. a bare name of an existing folder that is neither of the above.

A folder in the working directory named like a zoo name or Hub id is refused: loading it
silently instead of the zoo weights (or the other way round) is the bug timm guards against.

Zoo names go to the Hub at the entry's pinned revision (through the Hugging Face cache, so a
cached commit needs no network and ``HF_HUB_OFFLINE=1`` works). Entries shipped inside the
package fall back to the shipped copy when the Hub cannot give the files; an entry not yet
published uses the shipped copy directly (no network round trip with retries for a repo that
does not exist yet).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..models.zoo import ZOO, ZooEntry, get_entry
from .checkpoint import CONFIG_NAME, WEIGHTS_NAME
from .errors import HubUnavailableError

log = logging.getLogger("bna_zoo.hub")

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class Resolved:
    """Where a checkpoint's files are.

    Args:
        directory: folder with ``config.json`` and ``model.safetensors``.
        origin: where they came from, for logs and error messages.
        sha256: expected sha256 of ``model.safetensors`` (``None``: nothing pinned).
    """

    directory: Path
    origin: str
    sha256: str | None = None


def _split_revision(text: str, revision: str | None) -> tuple[str, str | None]:
    base, at, rev = text.partition("@")
    if not at:
        return text, revision
    if revision is not None and revision != rev:
        raise ValueError(f"two revisions given: {text!r} and revision={revision!r}; pass one")
    return base, rev


def _looks_like_path(text: str) -> bool:
    return (text.startswith(("./", "../", ".\\", "..\\", "~")) or text in (".", "..")
            or os.path.isabs(text))


def _local(path: str | os.PathLike, revision: str | None = None) -> Resolved:
    if revision is not None:
        raise ValueError(f"revision={revision!r} applies to Hub sources, not to the folder {path}")
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"no checkpoint folder at {str(directory)!r} (resolved to "
                                f"{directory.resolve()})")
    return Resolved(directory, f"local directory {directory.resolve()}")


def _shadow_error(text: str, what: str) -> ValueError:
    return ValueError(
        f"{text!r} is both {what} and a folder in the working directory ({Path(text).resolve()}). "
        f"Say which you mean: './{text}' or 'local-dir:{text}' (or the absolute path) for the "
        f"folder; '{'zoo' if '/' not in text else 'hf-hub'}:{text}' for the published weights."
    )


def resolve(source: str | os.PathLike, revision: str | None = None) -> Resolved:
    """Find the checkpoint files of ``source`` (see the module docstring for the forms).

    Args:
        source: zoo name, ``org/repo[@rev]``, folder, or one of the prefixed forms.
        revision: Hub branch, tag or commit; overrides a zoo entry's pinned revision.

    Raises:
        KeyError: an unknown name (with close matches).
        ValueError: a folder shadows a zoo name or Hub id; two revisions given.
        FileNotFoundError: a path that is not a folder.
        HubUnavailableError: the Hub could not give the files and nothing shipped can stand in.
    """
    if isinstance(source, os.PathLike):
        return _local(source, revision)
    text = str(source)
    if text.startswith("local-dir:"):
        return _local(text.removeprefix("local-dir:"), revision)
    if text.startswith("hf-hub:"):
        return _from_hub(*_split_revision(text.removeprefix("hf-hub:"), revision))
    if text.startswith("zoo:"):
        return _from_zoo(*_split_revision(text.removeprefix("zoo:"), revision))
    if _looks_like_path(text):
        return _local(text, revision)
    base, rev = _split_revision(text, revision)
    if base in ZOO:
        if os.path.exists(base):
            raise _shadow_error(base, "a zoo name")
        return _from_zoo(base, rev)
    if _REPO_ID.match(base):
        if os.path.exists(base):
            raise _shadow_error(base, "a Hub repo id")
        try:
            return _from_hub(base, rev)
        except HubUnavailableError as err:
            raise HubUnavailableError(f"{err} (and there is no local folder {base!r})") from err
    if os.path.isdir(text) or "/" in text or os.sep in text:
        return _local(text, revision)  # a path; FileNotFoundError names it if it is missing
    get_entry(base)  # raises KeyError with close matches
    raise AssertionError("unreachable")


def _from_zoo(name: str, revision: str | None) -> Resolved:
    entry = get_entry(name)
    if revision is not None and revision != entry.revision:
        # the user picked another revision: the registry's sha256 does not describe it
        log.info("%s: loading revision %s of %s instead of the pinned %s (sha256 not checked)",
                 name, revision, entry.repo_id, entry.revision)
        return _from_hub(entry.repo_id, revision)
    if entry.revision is None:
        if entry.shipped:
            return _shipped(entry, "not yet published on the Hub")
        raise HubUnavailableError(
            f"no trained weights for {name!r} yet: not published on the Hub and not shipped in "
            f"the package. Train them with `bna-zoo fit --config zoo:{name}`; "
            f"bna_zoo.list_pretrained() lists the names with weights."
        )
    try:
        found = _from_hub(entry.repo_id, entry.revision)
    except HubUnavailableError as err:
        if not entry.shipped:
            raise
        return _shipped(entry, str(err))
    return Resolved(found.directory, found.origin, entry.sha256)


def _shipped(entry: ZooEntry, why: str) -> Resolved:
    directory = entry.shipped_dir
    if not directory.is_dir():
        raise FileNotFoundError(f"{entry.name}: the registry says the weights are shipped, but "
                                f"{directory} is missing (a broken install?)")
    log.info("%s: loading the copy shipped in the package (%s): %s", entry.name, why, directory)
    return Resolved(directory, f"shipped copy {directory}", entry.sha256)


def _from_hub(repo_id: str, revision: str | None) -> Resolved:
    from huggingface_hub import constants, errors, hf_hub_download

    from .. import __version__

    where = f"{repo_id}@{revision or 'main'}"
    paths: list[str] = []
    try:
        for filename in (CONFIG_NAME, WEIGHTS_NAME):
            paths.append(hf_hub_download(repo_id, filename, revision=revision,
                                         library_name="bna_zoo", library_version=__version__))
    except errors.RepositoryNotFoundError as err:
        reason = "repository not found (or private: log in or set HF_TOKEN)"
        raise HubUnavailableError(f"{where}: {reason}") from err
    except errors.RevisionNotFoundError as err:
        raise HubUnavailableError(f"{where}: revision {revision!r} not found") from err
    except errors.RemoteEntryNotFoundError as err:
        raise HubUnavailableError(f"{where}: the repository has no {filename} "
                                  f"(not a bna_zoo checkpoint?)") from err
    except (errors.OfflineModeIsEnabled, errors.LocalEntryNotFoundError) as err:
        if constants.is_offline_mode():
            reason = (f"HF_HUB_OFFLINE is set and {filename} of this revision is not in the "
                      f"Hugging Face cache ({constants.HF_HUB_CACHE}); run once online, or "
                      f"unset HF_HUB_OFFLINE")
        else:
            reason = f"the Hub could not be reached and {filename} is not in the cache"
        raise HubUnavailableError(f"{where}: {reason}") from err
    except (errors.HTTPError, OSError) as err:  # connection errors, HTTP 5xx, disk errors
        raise HubUnavailableError(f"{where}: download failed: {err}") from err
    directory = Path(paths[0]).parent
    log.info("%s: loading from the Hub (Hugging Face cache %s)", where, directory)
    return Resolved(directory, f"Hub {where} ({directory})")
