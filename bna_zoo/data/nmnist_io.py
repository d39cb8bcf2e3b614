"""N-MNIST on disk: the 5-byte event format and the ``Train/<digit>/*.bin`` archive layout.

Format (Orchard et al. 2015, also N-Caltech101): one event per 5 bytes, big-endian bit fields::

    byte 0        x            (0..33 for N-MNIST)
    byte 1        y            (0..33; y == 240 marks a timestamp-overflow record, not an event)
    byte 2 bit 7  polarity     (1 = ON, brightness increase; 0 = OFF)
    bytes 2-4     timestamp    (23 bits, microseconds from the start of the recording)

Reading goes through ``tonic.io.read_mnist_file`` so that events are exactly what tonic yields;
this module adds the checks tonic lacks (size a multiple of 5, coordinates on the 34x34 sensor)
and errors that name the file. Writing never emits overflow records: 23 bits hold 8.4 s, and an
N-MNIST recording lasts about 0.32 s.

Layout (as extracted from ``Train.zip``/``Test.zip``, or as members of those zips)::

    <root>/Train/<digit>/<id>.bin      <root>/Test/<digit>/<id>.bin

Samples are ordered as tonic's ``NMNIST`` orders them: digit folders in string order, files in
string order inside each, label = the folder's digit.

Empty recordings: the format could hold zero events, but no N-MNIST recording is empty (each is
~0.3 s of saccades over a digit, thousands of events, plus sensor noise), while a 0-byte file is
what an interrupted extraction or a full disk leaves. Read, it would become an all-zero sample
that still carries its label, so it is an error here (naming the file), and the writers refuse
to produce one.

Writing a split is atomic (:func:`staged_split`): files go to a hidden sibling folder that is
renamed into place only when all of them are written, so a failed or interrupted write never
leaves a ``<Split>/`` folder that looks complete.
"""

from __future__ import annotations

import contextlib
import io
import numbers
import os
import re
import shutil
import threading
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import DatasetFormatError

SENSOR_SIZE = (34, 34, 2)  # (W, H, P), as tonic.datasets.NMNIST.sensor_size
EVENT_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])  # tonic's NMNIST dtype
MAX_TIMESTAMP_US = 2**23 - 1
SPLIT_FOLDERS = {"train": "Train", "test": "Test"}
# A member/file directly inside a digit folder; "._*" are macOS resource forks, not recordings.
_MEMBER_RE = re.compile(r"(?:^|/)(?P<digit>[0-9])/(?P<name>(?!\._)[^/]+\.bin)$")


class SampleRef(NamedTuple):
    """Where one recording lives: a ``.bin`` file, or a member of a zip archive."""

    path: str  # the .bin file, or the .zip archive
    member: str | None  # member name inside the zip; None for a plain file
    label: int

    @property
    def name(self) -> str:
        """Human-readable location used in error messages (``archive.zip::Train/3/00012.bin``)."""
        return self.path if self.member is None else f"{self.path}::{self.member}"


class CorruptEventFileError(DatasetFormatError):
    """An event file is truncated or holds values an N-MNIST recording cannot hold."""


def encode_events(events: np.ndarray) -> bytes:
    """Encode events into the 5-byte N-MNIST format.

    Args:
        events: structured array with fields ``x, y, t, p`` (any integer dtypes), shape ``[N]``,
            sorted by ``t`` (the format has no other order; readers assume it).

    Returns:
        ``5 * N`` bytes.

    Raises:
        TypeError: if ``events`` is not a structured array with those fields.
        ValueError: for values the format cannot hold, or unsorted timestamps.
    """
    names = getattr(getattr(events, "dtype", None), "names", None) or ()
    if not {"x", "y", "t", "p"} <= set(names):
        kind = f"{events.dtype} array" if isinstance(events, np.ndarray) else type(events).__name__
        raise TypeError(
            f"events must be a structured array with fields x, y, t, p (nmnist_io.EVENT_DTYPE), "
            f"got {kind}"
        )
    x, y, t, p = (np.asarray(events[k]).astype(np.int64) for k in ("x", "y", "t", "p"))
    if len(x) and (x.min() < 0 or x.max() > 255 or y.min() < 0 or y.max() > 239):
        raise ValueError("x must be in 0..255 and y in 0..239 (y = 240 is the overflow marker)")
    if len(t) and (t.min() < 0 or t.max() > MAX_TIMESTAMP_US):
        raise ValueError(f"timestamps must be in 0..{MAX_TIMESTAMP_US} us (23 bits)")
    if len(t) and np.any(np.diff(t) < 0):
        raise ValueError("events must be sorted by timestamp")
    if not np.isin(p, (0, 1)).all():
        raise ValueError("polarity must be 0 (OFF) or 1 (ON)")
    raw = np.empty((len(x), 5), dtype=np.uint8)
    raw[:, 0] = x
    raw[:, 1] = y
    raw[:, 2] = (p << 7) | (t >> 16)
    raw[:, 3] = (t >> 8) & 0xFF
    raw[:, 4] = t & 0xFF
    return raw.tobytes()


def write_bin(path: str | os.PathLike, events: np.ndarray) -> None:
    """Write one recording as an N-MNIST ``.bin`` file (parent folders are created).

    The file appears whole or not at all (written to a temporary name, then renamed).

    Raises:
        ValueError: if ``events`` is empty (see the module docstring) or not encodable.
    """
    path = Path(path)
    data = encode_events(events)
    if not data:
        raise ValueError(_EMPTY_WRITE.format(path=path))
    _write_atomic(path, data)


_EMPTY_WRITE = (
    "{path}: refusing to write a recording with no events: readers take a 0-byte .bin for a "
    "truncated file (N-MNIST recordings are never empty); drop the sample or check its source"
)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def decode_events(raw: bytes, name: str, sensor_size: tuple[int, int, int] = SENSOR_SIZE):
    """Decode 5-byte records with tonic's reader, then check them.

    Args:
        raw: the file's bytes.
        name: file name used in error messages.
        sensor_size: ``(W, H, P)``; events outside ``W x H`` mean a corrupt file.

    Returns:
        structured array ``[N]`` with fields ``x, y, t, p`` (``EVENT_DTYPE``), in file order.

    Raises:
        CorruptEventFileError: an empty file (see the module docstring), a size not a multiple
            of 5, or coordinates off the sensor.
    """
    if not raw:
        raise CorruptEventFileError(
            f"{name}: empty file (0 bytes); an N-MNIST recording holds thousands of events, so "
            "this one was truncated (an interrupted download or extraction, a full disk): "
            "re-extract it from the original Train.zip/Test.zip, or delete it"
        )
    if len(raw) % 5:
        raise CorruptEventFileError(
            f"{name}: {len(raw)} bytes is not a multiple of 5, so the file is truncated or not an "
            "N-MNIST .bin; re-extract it from the original Train.zip/Test.zip"
        )
    # imported here: tonic pulls in torch (seconds), which the emulator's worker processes,
    # writing files only, would otherwise import each
    from tonic.io import read_mnist_file

    events = read_mnist_file(io.BytesIO(raw), dtype=EVENT_DTYPE, is_stream=True)
    w, h = sensor_size[0], sensor_size[1]
    bad = (events["x"] >= w) | (events["y"] >= h)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CorruptEventFileError(
            f"{name}: event {i} at (x={events['x'][i]}, y={events['y'][i]}) lies outside the "
            f"{w}x{h} sensor ({int(bad.sum())} such events); the file is corrupt or not N-MNIST"
        )
    return events


# One ZipFile per (process, thread, archive): a handle shared across a fork would share its
# file offset and interleave reads from DataLoader workers.
_zip_handles: dict[tuple[int, int, str], zipfile.ZipFile] = {}


def _zip(path: str) -> zipfile.ZipFile:
    key = (os.getpid(), threading.get_ident(), path)
    if key not in _zip_handles:
        _zip_handles[key] = zipfile.ZipFile(path)
    return _zip_handles[key]


def read_sample(ref: SampleRef, sensor_size: tuple[int, int, int] = SENSOR_SIZE) -> np.ndarray:
    """Read and check one recording (plain file or zip member); see ``decode_events``."""
    try:
        if ref.member is None:
            raw = Path(ref.path).read_bytes()
        else:
            raw = _zip(ref.path).read(ref.member)
    except (OSError, zipfile.BadZipFile, KeyError) as err:
        raise CorruptEventFileError(f"{ref.name}: cannot read ({err})") from err
    return decode_events(raw, ref.name, sensor_size)


def _sort_key(digit: str, name: str) -> tuple[str, str]:
    return (digit, name)  # tonic: os.walk with dirs.sort() and files.sort() (plain str order)


def list_folder(folder: str | os.PathLike) -> list[SampleRef]:
    """Samples of an extracted split folder (``.../Train``), in tonic's order."""
    folder = Path(folder)
    found = []
    for digit_dir in folder.iterdir():
        if digit_dir.is_dir() and re.fullmatch(r"[0-9]", digit_dir.name):
            for f in digit_dir.iterdir():
                if _MEMBER_RE.search(f"{digit_dir.name}/{f.name}") and f.is_file():
                    found.append((_sort_key(digit_dir.name, f.name), str(f), int(digit_dir.name)))
    found.sort()
    return [SampleRef(path, None, label) for _, path, label in found]


def list_zip(archive: str | os.PathLike, split: str) -> list[SampleRef]:
    """Samples inside ``Train.zip``/``Test.zip`` (members ``[...]/<Split>/<digit>/<id>.bin``)."""
    folder = SPLIT_FOLDERS[split]
    found = []
    try:
        names = zipfile.ZipFile(archive).namelist()
    except (OSError, zipfile.BadZipFile) as err:
        raise CorruptEventFileError(f"{archive}: not a readable zip archive ({err})") from err
    for member in names:
        m = _MEMBER_RE.search(member)
        parts = member.split("/")
        # Accept "Train/3/x.bin" and "3/x.bin"; skip other splits and macOS metadata folders.
        if m and "__MACOSX" not in parts and (len(parts) == 2 or parts[-3] == folder):
            found.append((_sort_key(m["digit"], m["name"]), member, int(m["digit"])))
    found.sort()
    return [SampleRef(str(archive), member, label) for _, member, label in found]


def candidate_roots(data_dir: str | os.PathLike) -> list[Path]:
    """Folders searched for N-MNIST: ``<data_dir>/NMNIST`` (where tonic saves it), then
    ``<data_dir>`` itself (where ``emulate_dataset`` writes)."""
    return [Path(data_dir) / "NMNIST", Path(data_dir)]


def _archive_contents(archive: Path) -> str:
    """What a zip holds, for error messages: recordings per split folder."""
    counts: dict[str, int] = {}
    for member in zipfile.ZipFile(archive).namelist():
        parts = member.split("/")
        if _MEMBER_RE.search(member) and "__MACOSX" not in parts:
            key = f"{parts[-3]}/" if len(parts) >= 3 else "no split folder"
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return "no <digit>/<id>.bin recordings at all"
    return ", ".join(f"{n} recordings under {key}" for key, n in sorted(counts.items()))


def find_split(data_dir: str | os.PathLike, split: str) -> list[SampleRef]:
    """Locate one split: an extracted ``<Split>/`` folder first, else ``<Split>.zip``.

    Args:
        data_dir: the DataModule's ``data_dir``.
        split: ``"train"`` or ``"test"``.

    Returns:
        the split's samples in tonic's order; empty if nothing was found.

    Raises:
        CorruptEventFileError: if the split's archive is there but holds none of its recordings
            (only the other split's, say), naming the archive and what it holds.
    """
    if split not in SPLIT_FOLDERS:
        raise ValueError(f"split must be one of {list(SPLIT_FOLDERS)}, got {split!r}")
    folder_name = SPLIT_FOLDERS[split]
    for root in candidate_roots(data_dir):
        folder = root / folder_name
        refs = list_folder(folder) if folder.is_dir() else []
        archives = [root / f"{n}.zip" for n in (folder_name, folder_name.lower())]
        archive = next((a for a in archives if a.is_file()), None)
        if archive is not None:
            zipped = list_zip(archive, split)
            if not zipped and not refs:
                # Named for this split but without its recordings: saying "not found" (or
                # downloading over it) would hide that the archive is the wrong one.
                raise CorruptEventFileError(
                    f"{archive}: no N-MNIST {split} recordings in this archive (expected "
                    f"{folder_name}/<digit>/<id>.bin members; it holds "
                    f"{_archive_contents(archive)}), so the {split} split is missing: put its "
                    f"recordings into {archive.name} as {folder_name}/<digit>/<id>.bin, or "
                    f"extract them to {folder}/"
                )
            # A half-extracted folder would silently shrink the dataset: trust the larger one.
            if len(zipped) > len(refs):
                return zipped
        if refs:
            return refs
    return []


def other_sources(data_dir: str | os.PathLike, split: str) -> list[str]:
    """Where the *other* splits were found (folders and archives), for "not found" messages.

    Returns:
        one line per source, e.g. ``"'/data/Train.zip' (train split)"``; empty if none.
    """
    found = []
    for other, folder_name in SPLIT_FOLDERS.items():
        if other == split:
            continue
        for root in candidate_roots(data_dir):
            for path in (root / folder_name, root / f"{folder_name}.zip",
                         root / f"{folder_name.lower()}.zip"):
                if path.exists():
                    found.append(f"'{path.resolve()}' ({other} split)")
    return found


def check_labels(labels: Sequence[int] | np.ndarray, n: int) -> list[int]:
    """Validate N-MNIST labels: ``n`` integers in 0..9 (the digit folders' names).

    Raises:
        ValueError: a count other than ``n``, or a label outside 0..9 (a folder ``10`` would be
            skipped by every reader, silently losing its samples).
        TypeError: non-integer labels (``2.5``, ``"3"``, bools).
    """
    values = np.asarray(labels)
    if values.ndim != 1:
        raise ValueError(f"labels must be a 1-D sequence of digits, got shape {list(values.shape)}")
    if len(values) != n:
        raise ValueError(
            f"{n} recordings but {len(values)} labels: every recording needs exactly one label"
        )
    if n and not np.issubdtype(values.dtype, np.integer):
        raise TypeError(
            f"labels must be integers 0..9 (the digit folder names), got {values.dtype} values "
            f"such as {values[0]!r}"
        )
    bad = np.flatnonzero((values < 0) | (values > 9)) if n else []
    if len(bad):
        raise ValueError(
            f"labels must be digits 0..9 (N-MNIST's folder names), got {int(values[bad[0]])} "
            f"at index {int(bad[0])} ({len(bad)} such labels)"
        )
    return [int(v) for v in values]


def check_first_id(first_id: object) -> int:
    """``first_id`` (the first file id of a write) as an int >= 0."""
    if isinstance(first_id, bool) or not isinstance(first_id, numbers.Integral):
        raise TypeError(f"first_id must be a non-negative integer (the first file id), got "
                        f"{first_id!r} ({type(first_id).__name__})")
    if first_id < 0:
        raise ValueError(f"first_id must be a non-negative integer (the first file id), got "
                         f"{first_id}")
    return int(first_id)


def encode_recordings(
    recordings: Sequence[np.ndarray], what: str = "recording"
) -> list[bytes]:
    """Encode recordings for the N-MNIST layout, checking each first.

    Raises:
        ValueError: naming the recording, if one is empty, lies off the 34x34 sensor or cannot
            be encoded (see :func:`encode_events`).
    """
    w, h = SENSOR_SIZE[0], SENSOR_SIZE[1]
    encoded = []
    for i, events in enumerate(recordings):
        try:
            data = encode_events(events)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{what} {i}: {err}") from err
        if not data:
            raise ValueError(_EMPTY_WRITE.format(path=f"{what} {i}"))
        if np.any(np.asarray(events["x"]) >= w) or np.any(np.asarray(events["y"]) >= h):
            raise ValueError(f"{what} {i}: events outside the {w}x{h} N-MNIST sensor; readers "
                             "would refuse the file")
        encoded.append(data)
    return encoded


@contextlib.contextmanager
def staged_split(out_dir: str | os.PathLike, split: str) -> Iterator[Path]:
    """Write a split atomically: yields an empty staging folder that becomes ``<out_dir>/<Split>``.

    Write ``<label>/<id>.bin`` files into the yielded folder. When the ``with`` block ends
    normally, the staging folder is renamed into place; files of an existing ``<Split>/`` are
    kept (hard-linked or copied over) unless the new write has a file of the same name, in any
    digit folder (a re-emulated sample replaces its old copy even under another label). On an
    exception the staging folder is deleted and ``<Split>/`` is left as it was. An interrupted
    process leaves only a hidden ``.<Split>.partial-*`` folder, which no reader looks at.

    Args:
        out_dir: the dataset root.
        split: ``"train"`` or ``"test"``.
    """
    if split not in SPLIT_FOLDERS:
        raise ValueError(f"split must be one of {list(SPLIT_FOLDERS)}, got {split!r}")
    out_dir = Path(out_dir)
    final = out_dir / SPLIT_FOLDERS[split]
    out_dir.mkdir(parents=True, exist_ok=True)
    # os.mkdir, not tempfile.mkdtemp: the folder keeps the umask's permissions once in place.
    staging = out_dir / f".{final.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        _promote(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _promote(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``, first carrying over what ``final`` holds (see above)."""
    if final.exists():
        new_names = {f.name for f in staging.glob("*/*.bin")}
        for path in final.rglob("*"):
            rel = path.relative_to(final)
            target = staging / rel
            if path.is_dir() or target.exists():
                continue
            if _MEMBER_RE.search(rel.as_posix()) and path.name in new_names:
                continue  # superseded by a new file of that name under another label
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:  # no hard links here (another file system, FAT): copy
                shutil.copy2(path, target)
        old = final.with_name(f".{final.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)


def write_recordings(
    folder: str | os.PathLike, encoded: Sequence[bytes], labels: Sequence[int], first_id: int = 0
) -> list[Path]:
    """Write encoded recordings as ``<folder>/<label>/<id:05d>.bin``, with no staging.

    For callers that manage a :func:`staged_split` themselves (``emulate_dataset`` writes a
    split batch by batch); arguments as :func:`write_split`, already checked.
    """
    folder = Path(folder)
    paths = []
    for i, (data, label) in enumerate(zip(encoded, labels, strict=True)):
        path = folder / str(int(label)) / f"{first_id + i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths


def write_split(
    out_dir: str | os.PathLike,
    split: str,
    recordings: Sequence[np.ndarray],
    labels: Sequence[int],
    first_id: int = 0,
) -> list[Path]:
    """Write recordings as ``<out_dir>/<Split>/<label>/<id:05d>.bin`` (N-MNIST's naming).

    Ids count up from ``first_id`` in the order given, so tonic's file-name order inside a digit
    folder is the order of ``recordings``. Everything is checked before the first file is
    written, and the split appears atomically (:func:`staged_split`); files already in
    ``<Split>/`` are kept unless rewritten.

    Returns:
        the written paths.

    Raises:
        ValueError: a bad split, label count, label (not 0..9), ``first_id``, or recording
            (empty, off the sensor, unencodable); nothing is written then.
    """
    if split not in SPLIT_FOLDERS:
        raise ValueError(f"split must be one of {list(SPLIT_FOLDERS)}, got {split!r}")
    values = check_labels(labels, len(recordings))
    first_id = check_first_id(first_id)
    encoded = encode_recordings(recordings)
    with staged_split(out_dir, split) as staging:
        written = write_recordings(staging, encoded, values, first_id)
    final = Path(out_dir) / SPLIT_FOLDERS[split]
    return [final / p.relative_to(staging) for p in written]
