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
"""

from __future__ import annotations

import io
import os
import re
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tonic.io import read_mnist_file

from .common import DatasetFormatError

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
    """
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
    """Write one recording as an N-MNIST ``.bin`` file (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_events(events))


def decode_events(raw: bytes, name: str, sensor_size: tuple[int, int, int] = SENSOR_SIZE):
    """Decode 5-byte records with tonic's reader, then check them.

    Args:
        raw: the file's bytes.
        name: file name used in error messages.
        sensor_size: ``(W, H, P)``; events outside ``W x H`` mean a corrupt file.

    Returns:
        structured array ``[N]`` with fields ``x, y, t, p`` (``EVENT_DTYPE``), in file order.

    Raises:
        CorruptEventFileError: size not a multiple of 5, or coordinates off the sensor.
    """
    if len(raw) % 5:
        raise CorruptEventFileError(
            f"{name}: {len(raw)} bytes is not a multiple of 5, so the file is truncated or not an "
            "N-MNIST .bin; re-extract it from the original Train.zip/Test.zip"
        )
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


def find_split(data_dir: str | os.PathLike, split: str) -> list[SampleRef]:
    """Locate one split: an extracted ``<Split>/`` folder first, else ``<Split>.zip``.

    Args:
        data_dir: the DataModule's ``data_dir``.
        split: ``"train"`` or ``"test"``.

    Returns:
        the split's samples in tonic's order; empty if nothing was found.
    """
    folder_name = SPLIT_FOLDERS[split]
    for root in candidate_roots(data_dir):
        folder = root / folder_name
        refs = list_folder(folder) if folder.is_dir() else []
        archives = [root / f"{n}.zip" for n in (folder_name, folder_name.lower())]
        archive = next((a for a in archives if a.is_file()), None)
        if archive is not None:
            zipped = list_zip(archive, split)
            # A half-extracted folder would silently shrink the dataset: trust the larger one.
            if len(zipped) > len(refs):
                return zipped
        if refs:
            return refs
    return []


def write_split(
    out_dir: str | os.PathLike,
    split: str,
    recordings: Sequence[np.ndarray],
    labels: Sequence[int],
    first_id: int = 0,
) -> list[Path]:
    """Write recordings as ``<out_dir>/<Split>/<label>/<id:05d>.bin`` (N-MNIST's naming).

    Ids count up from ``first_id`` in the order given, so tonic's file-name order inside a digit
    folder is the order of ``recordings``.

    Returns:
        the written paths.
    """
    if len(recordings) != len(labels):
        raise ValueError(f"{len(recordings)} recordings but {len(labels)} labels")
    folder = Path(out_dir) / SPLIT_FOLDERS[split]
    paths = []
    for i, (events, label) in enumerate(zip(recordings, labels, strict=True)):
        path = folder / str(int(label)) / f"{first_id + i:05d}.bin"
        write_bin(path, events)
        paths.append(path)
    return paths
