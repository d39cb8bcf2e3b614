"""The on-disk formats of the image datasets: (Fashion-)MNIST IDX files and CIFAR-10 pickles.

Files are read here, not by torchvision's dataset classes, so that

- data already on disk is used with no network call and no md5 check (tiny test sets and Debian's
  recompressed Fashion-MNIST work), with content checks that name the faulty file instead;
- CIFAR-10's pickled batches are read by an unpickler that only builds numpy arrays, so a
  tampered file cannot run code.

Every reader returns numpy arrays (images uint8, labels int64) and raises
:class:`~bna_zoo.data.common.DatasetFormatError` naming the file when its content is wrong.
"""

from __future__ import annotations

import codecs
import gzip
import os
import pickle
import shutil
from pathlib import Path

import numpy as np

from .common import DatasetFormatError

#: Where Debian's package ``dataset-fashion-mnist`` installs the full Fashion-MNIST (gzip files).
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

#: The four IDX files of (Fashion-)MNIST: ``{split: (images, labels)}``, stored decompressed.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_COUNTS = {"train": 60000, "test": 10000}  # of the full datasets, checked on import
_IDX_MAGIC = {3: 0x00000803, 1: 0x00000801}  # unsigned-byte data with 3 (images) or 1 (labels) dims

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}


# --------------------------------------------------------------------------- IDX ((Fashion-)MNIST)


def read_idx(path: str | Path, ndim: int, count: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (the MNIST format), checking its content.

    Args:
        path: the decompressed file.
        ndim: 3 for an image file ``[N, 28, 28]``, 1 for a label file ``[N]``.
        count: the number of items the file must hold, or None to accept any.

    Returns:
        uint8 array ``[N, 28, 28]`` or ``[N]``.

    Raises:
        DatasetFormatError: wrong magic number, wrong image size or count, wrong file length
            (truncated or padded). The message names the file.
    """
    path = Path(path)
    raw = path.read_bytes()
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetFormatError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if magic != _IDX_MAGIC[ndim]:
        raise DatasetFormatError(
            f"{path}: IDX magic number {magic:#010x}, expected {_IDX_MAGIC[ndim]:#010x} "
            f"({'images' if ndim == 3 else 'labels'}); wrong or corrupted file, delete it and "
            "fetch it again"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if ndim == 3 and shape[1:] != (28, 28):
        raise DatasetFormatError(f"{path}: images of {shape[1]}x{shape[2]}, expected 28x28")
    if count is not None and shape[0] != count:
        raise DatasetFormatError(f"{path}: {shape[0]} items, expected {count}")
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DatasetFormatError(
            f"{path}: {len(raw)} bytes, but its header {shape} needs {expected}; the file is "
            "truncated or corrupted, delete it and fetch it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_split(folder: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 28, 28]`` uint8 and labels ``[N]`` int64 of one split from an IDX folder."""
    image_file, label_file = (Path(folder) / f for f in IDX_FILES[split])
    images, labels = read_idx(image_file, 3), read_idx(label_file, 1)
    if len(images) != len(labels):
        raise DatasetFormatError(
            f"{image_file} holds {len(images)} images but {label_file} {len(labels)} labels"
        )
    return images, _checked_labels(labels, label_file)


def decompress_idx(source: str | Path, target: str | Path, ndim: int, count: int | None) -> None:
    """Decompress a gzip IDX file and keep it only if its content checks out.

    Content, not md5: Debian recompresses the files, so the ``.gz`` checksums differ while the
    data is identical. Written to a temporary name and renamed, so an interrupted run leaves no
    half file that would later pass as present.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        with gzip.open(source, "rb") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 20)
        read_idx(partial, ndim, count)
    except (OSError, EOFError, DatasetFormatError) as err:
        partial.unlink(missing_ok=True)
        raise DatasetFormatError(f"cannot use {source}: {err}") from err
    partial.replace(target)


# --------------------------------------------------------------------------- CIFAR-10 pickles


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts/lists/str/bytes/ints and numpy arrays, nothing else (no code execution)."""

    _allowed = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,  # how Python 3 protocol 2 pickles bytes
        # the array constructors, under numpy 1 (the original files) and numpy 2 module names
        **{
            (m, "_reconstruct"): np.ndarray.__reduce__(np.zeros(1))[0]
            for m in ("numpy.core.multiarray", "numpy._core.multiarray")
        },
        **{
            (m, "_frombuffer"): np.ndarray.__reduce_ex__(np.zeros(1), 5)[0]
            for m in ("numpy.core.numeric", "numpy._core.numeric")
        },
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return self._allowed[(module, name)]


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch (a pickled dict with ``data`` and ``labels``).

    Args:
        path: e.g. ``<data_dir>/cifar-10-batches-py/data_batch_1``.

    Returns:
        Images ``[N, 32, 32, 3]`` uint8 (HWC, what PIL expects) and labels ``[N]`` int64.

    Raises:
        DatasetFormatError: unreadable pickle, unexpected content or shapes; names the file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            # latin1: the files were pickled by Python 2; its str must map to bytes one to one
            entry = _ArrayUnpickler(f, encoding="latin1").load()
        data, labels = entry["data"], np.asarray(entry["labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as err:
        raise DatasetFormatError(
            f"{path}: not a CIFAR-10 python batch ({type(err).__name__}: {err}); delete it and "
            "fetch it again"
        ) from err
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape[1:] != (3072,):
        raise DatasetFormatError(f"{path}: 'data' must be uint8 [N, 3072]")
    if len(data) != len(labels):
        raise DatasetFormatError(f"{path}: {len(data)} images but {len(labels)} labels")
    # rows are channel-planar (1024 R, 1024 G, 1024 B) -> [N, 3, 32, 32] -> HWC
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), _checked_labels(labels, path)


def _checked_labels(labels: np.ndarray, path: Path, num_classes: int = 10) -> np.ndarray:
    if labels.size and not (0 <= labels.min() and labels.max() < num_classes):
        raise DatasetFormatError(f"{path}: labels outside 0..{num_classes - 1}")
    return labels.astype(np.int64)
