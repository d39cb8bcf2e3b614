"""Issue #12's sweep: every bad input to the DataModules, N-MNIST files, emulator: a clear error.

Each row is one bad or unusual input, the error it must raise and a pattern its message must match:
the message names the parameter or the file and the rule it breaks. Rows that already behaved are
here too, so that they cannot regress; ``fixed`` marks the rows that gave an unclear error, a silent
wrong result or a hang before #12. (The other packages' rows sit beside their tests.)
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from bna_zoo.data import nmnist_io
from bna_zoo.data.common import DatasetFormatError, DatasetNotFoundError
from bna_zoo.data.emulate import SaccadeSensor, emulate_batch, emulate_dataset, emulate_digits
from bna_zoo.data.events import DVSGestureDataModule, NMNISTDataModule
from bna_zoo.data.images import MNISTDataModule
from bna_zoo.data.nmnist_io import EVENT_DTYPE, CorruptEventFileError
from tests.helpers import Row, sweep_tests

INF, NAN = float("inf"), float("nan")


def _events(n: int = 5) -> np.ndarray:
    rng = np.random.default_rng(n)
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    ev["t"], ev["p"] = np.sort(rng.integers(0, 100_000, n)), rng.integers(0, 2, n)
    return ev

def _wide_events() -> np.ndarray:
    """One event at x = 40: encodable in the format, but off N-MNIST's 34x34 sensor."""
    return np.array([(40, 3, 10, 1)], dtype=EVENT_DTYPE)

def _nmnist(tmp: Path, **kw: object) -> NMNISTDataModule:
    return NMNISTDataModule(**{"data_dir": str(tmp), "download": False, "stabilize": False, **kw})

def _read_bytes(tmp: Path, raw: bytes) -> np.ndarray:
    path = tmp / "Train" / "3" / "00012.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    return nmnist_io.read_sample(nmnist_io.SampleRef(str(path), None, 3))

def _only_train_zip(tmp: Path) -> None:
    with zipfile.ZipFile(tmp / "Train.zip", "w") as zf:
        zf.writestr("Train/3/00001.bin", nmnist_io.encode_events(_events()))
    _nmnist(tmp).setup("test")

def _test_zip_holding_train(tmp: Path) -> None:
    with zipfile.ZipFile(tmp / "Test.zip", "w") as zf:
        zf.writestr("Train/3/00001.bin", nmnist_io.encode_events(_events()))
    _nmnist(tmp).setup("test")

def _images(n: int) -> np.ndarray:
    return np.random.default_rng(n).integers(0, 256, (n, 28, 28), dtype=np.uint8)

def _emulate(tmp: Path, images: np.ndarray | None = None, labels: object = (1, 2), **kw: object):
    images = _images(2) if images is None else images
    return emulate_dataset(images, labels, str(tmp), **kw)


QUIET = dict(noise_rate_hz=0.0)


ROWS = [
    # --- DataModules ---------------------------------------------------------------------------
    Row("nmnist subset zero", lambda t: _nmnist(t, subset=0),
        ValueError, r"subset must be a positive integer \(samples per split; None uses all\)",
        True),
    Row("nmnist subset negative", lambda t: _nmnist(t, subset=-5),
        ValueError, r"subset must be a positive integer", True),
    Row("nmnist n_steps zero", lambda t: _nmnist(t, n_steps=0),
        ValueError, r"n_steps must be a positive integer", False),
    Row("nmnist n_steps float", lambda t: _nmnist(t, n_steps=5.0),
        TypeError, r"n_steps must be a positive integer .*got 5.0", True),
    Row("nmnist bin width zero", lambda t: _nmnist(t, bin_us=0),
        ValueError, r"bin_us must be a positive integer \(frame width", False),
    Row("nmnist batch size zero", lambda t: _nmnist(t, batch_size=0),
        ValueError, r"batch_size must be a positive integer", True),
    Row("nmnist negative workers", lambda t: _nmnist(t, num_workers=-1),
        ValueError, r"num_workers must be an integer >= 0", True),
    Row("nmnist val fraction one", lambda t: _nmnist(t, val_fraction=1.0),
        ValueError, r"val_fraction must be a number in \[0, 1\)", False),
    Row("nmnist val fraction string", lambda t: _nmnist(t, val_fraction="0.1"),
        TypeError, r"val_fraction must be a number in \[0, 1\)", True),
    Row("dvsgesture downsample not dividing 128",
        lambda t: DVSGestureDataModule(data_dir=str(t), download=False, downsample=3),
        ValueError, r"downsample must divide 128", False),
    Row("dvsgesture downsample float",
        lambda t: DVSGestureDataModule(data_dir=str(t), download=False, downsample=2.0),
        TypeError, r"downsample must be a positive integer", True),
    Row("mnist subset zero",
        lambda t: MNISTDataModule(data_dir=str(t), download=False, subset=0),
        ValueError, r"subset must be a positive number", False),
    Row("nmnist only the train zip", _only_train_zip, DatasetNotFoundError,
        r"(?s)N-MNIST test split not found.*Found only the other split: .*Train\.zip", True),
    Row("nmnist test zip holding the train split", _test_zip_holding_train, DatasetFormatError,
        r"Test\.zip: no N-MNIST test recordings .*1 recordings under Train/.*test split is "
        r"missing", True),
    # --- N-MNIST files ---------------------------------------------------------------------------
    Row("nmnist empty bin file", lambda t: _read_bytes(t, b""),
        CorruptEventFileError, r"00012\.bin: empty file \(0 bytes\).*truncated", True),
    Row("nmnist truncated bin file", lambda t: _read_bytes(t, b"\x00" * 7),
        CorruptEventFileError, r"00012\.bin: 7 bytes is not a multiple of 5", False),
    Row("nmnist event off the sensor", lambda t: _read_bytes(t, bytes([40, 1, 0, 0, 9])),
        CorruptEventFileError, r"00012\.bin: event 0 at \(x=40, y=1\) lies outside", False),
    Row("nmnist write empty recording",
        lambda t: nmnist_io.write_bin(t / "a.bin", _events(0)),
        ValueError, r"a\.bin: refusing to write a recording with no events", True),
    Row("nmnist encode plain array", lambda _: nmnist_io.encode_events(np.zeros((3, 4))),
        TypeError, r"structured array with fields x, y, t, p", True),
    Row("nmnist encode unsorted", lambda _: nmnist_io.encode_events(_events()[::-1]),
        ValueError, r"sorted by timestamp", False),
    Row("nmnist write split fewer labels",
        lambda t: nmnist_io.write_split(t, "train", [_events(), _events(), _events()], [1, 2]),
        ValueError, r"3 recordings but 2 labels", False),
    Row("nmnist write split label ten",
        lambda t: nmnist_io.write_split(t, "train", [_events()], [10]),
        ValueError, r"labels must be digits 0\.\.9 .*got 10 at index 0", True),
    Row("nmnist write split fractional label",
        lambda t: nmnist_io.write_split(t, "train", [_events()], [2.5]),
        TypeError, r"labels must be integers 0\.\.9", True),
    Row("nmnist write split off the sensor",
        lambda t: nmnist_io.write_split(t, "train", [_wide_events()], [1]),
        ValueError, r"recording 0: events outside the 34x34 N-MNIST sensor", True),
    Row("nmnist write split negative first id",
        lambda t: nmnist_io.write_split(t, "train", [_events()], [1], first_id=-1),
        ValueError, r"first_id must be a non-negative integer", True),
    Row("nmnist write split unknown split",
        lambda t: nmnist_io.write_split(t, "val", [_events()], [1]),
        ValueError, r"split must be one of \['train', 'test'\], got 'val'", True),
    Row("nmnist read missing file",
        lambda t: nmnist_io.read_sample(nmnist_io.SampleRef(str(t / "x.bin"), None, 0)),
        CorruptEventFileError, r"x\.bin: cannot read", False),
    # --- the emulator: every parameter checked where it enters -----------------------------------
    Row("emulator contrast nan", lambda _: SaccadeSensor(contrast_ratio=NAN),
        ValueError, r"contrast_ratio must be a number >= 1 .*got nan", True),
    Row("emulator contrast below one", lambda _: SaccadeSensor(contrast_ratio=0.5),
        ValueError, r"contrast_ratio must be a number >= 1", False),
    Row("emulator negative mismatch", lambda _: SaccadeSensor(threshold_mismatch=-0.1),
        ValueError, r"threshold_mismatch must be a number >= 0", True),
    Row("emulator threshold nan", lambda _: SaccadeSensor(threshold_on=NAN),
        ValueError, r"threshold_on must be a number > 0", True),
    Row("emulator threshold zero", lambda _: SaccadeSensor(threshold_off=0.0),
        ValueError, r"threshold_off must be a number > 0", False),
    Row("emulator step zero", lambda _: SaccadeSensor(dt_us=0),
        ValueError, r"dt_us must be an integer in 1\.\.saccade_us", True),
    Row("emulator step longer than a saccade",
        lambda _: SaccadeSensor(dt_us=200_000, refractory_us=200_000),
        ValueError, r"dt_us must be an integer in 1\.\.saccade_us=105000", True),
    Row("emulator saccade zero", lambda _: SaccadeSensor(saccade_us=0),
        ValueError, r"saccade_us must be an integer in 1\.\.2796202", True),
    Row("emulator saccade past 23-bit timestamps", lambda _: SaccadeSensor(saccade_us=3_000_000),
        ValueError, r"saccade_us must be .*23-bit timestamps", True),
    Row("emulator saccade float", lambda _: SaccadeSensor(saccade_us=105_000.5),
        TypeError, r"saccade_us must be an integer", True),
    Row("emulator refractory shorter than step", lambda _: SaccadeSensor(refractory_us=100),
        ValueError, r"refractory_us must be >= dt_us", False),
    Row("emulator negative blur", lambda _: SaccadeSensor(blur_px=-1.0),
        ValueError, r"blur_px must be a number >= 0", True),
    Row("emulator gamma zero", lambda _: SaccadeSensor(display_gamma=0.0),
        ValueError, r"display_gamma must be a number > 0", True),
    Row("emulator negative noise", lambda _: SaccadeSensor(noise_rate_hz=-1.0),
        ValueError, r"noise_rate_hz must be a number >= 0", True),
    Row("emulator scale zero", lambda _: SaccadeSensor(digit_scale=0.0),
        ValueError, r"digit_scale must be a number > 0", True),
    Row("emulator sensor zero", lambda _: SaccadeSensor(sensor_size=(0, 34)),
        ValueError, r"sensor_size entries must be an integer >= 1", True),
    Row("emulator offset nan", lambda _: SaccadeSensor(offset_px=(NAN, 0.0)),
        ValueError, r"offset_px entries must be a finite number", True),
    Row("emulator negative path", lambda _: SaccadeSensor(path_width_px=-7.0),
        ValueError, r"path_width_px must be a number >= 0", True),
    Row("emulator float images", lambda _: emulate_batch(np.zeros((1, 28, 28)), [0]),
        ValueError, r"expected uint8 grey images \[B, h, w\].*astype\(np.uint8\)", False),
    Row("emulator seed count", lambda _: emulate_batch(_images(2), [0]),
        ValueError, r"one seed per image: 2 images but 1 seeds", False),
    Row("emulator cfg dict", lambda _: emulate_batch(_images(1), [0], {"dt_us": 500}),
        TypeError, r"cfg must be a SaccadeSensor or None, got dict", True),
    Row("emulate dataset fewer labels", lambda t: _emulate(t, labels=[1], batch_size=1),
        ValueError, r"2 recordings but 1 labels", True),
    Row("emulate dataset label out of range", lambda t: _emulate(t, labels=[1, 12]),
        ValueError, r"labels must be digits 0\.\.9 .*got 12 at index 1", True),
    Row("emulate dataset batch size zero", lambda t: _emulate(t, batch_size=0),
        ValueError, r"batch_size must be an integer >= 1", True),
    Row("emulate dataset negative seed", lambda t: _emulate(t, seed=-1),
        ValueError, r"seed must be an integer >= 0", True),
    Row("emulate dataset sensor wider than n-mnist",
        lambda t: _emulate(t, cfg=SaccadeSensor(sensor_size=(40, 40))),
        ValueError, r"sensor_size \(40, 40\) exceeds N-MNIST's 34x34", True),
    Row("emulate dataset no images",
        lambda t: _emulate(t, images=np.zeros((0, 28, 28), np.uint8), labels=[]),
        ValueError, r"no images to emulate", True),
    Row("emulate dataset blank image without noise",
        lambda t: _emulate(t, images=np.zeros((1, 28, 28), np.uint8), labels=[3],
                           cfg=SaccadeSensor(**QUIET)),
        ValueError, r"image 0 .*gave no events", True),
    Row("emulate dataset unknown split", lambda t: _emulate(t, split="val"),
        ValueError, r"split must be 'train' or 'test'", False),
    Row("emulate digits negative count", lambda t: emulate_digits(str(t), n_train=-1),
        ValueError, r"n_train must be an integer >= 0", True),
]


(test_bad_input_raises_an_error_that_names_the_problem,
 test_sweep_rows_are_unique_and_their_patterns_compile) = sweep_tests(ROWS, at_least=57)


def test_failed_split_write_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        nmnist_io.write_split(tmp_path, "train", [_events(), _events(0)], [1, 2])
    assert list(tmp_path.iterdir()) == []  # checked before a file (or folder) was made
