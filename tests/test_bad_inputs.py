"""Every bad input a clear error, nothing lost (issue #12): a table-driven sweep.

Each row is one bad or unusual input to the public surface (the NA core, neuron settings, model
construction, the network forward, the event DataModules, N-MNIST I/O, the emulator), the error
it must raise and a pattern its message must match: the message names the parameter or the file
and the rule it breaks. Rows that already behaved are here too, so that they cannot regress;
``fixed`` marks the rows that gave an unclear error, a silent wrong result or a hang before #12.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch

from bna_zoo.core import na_lif
from bna_zoo.data import nmnist_io
from bna_zoo.data.common import DatasetFormatError, DatasetNotFoundError
from bna_zoo.data.emulate import SaccadeSensor, emulate_batch, emulate_dataset, emulate_digits
from bna_zoo.data.events import DVSGestureDataModule, NMNISTDataModule
from bna_zoo.data.images import MNISTDataModule
from bna_zoo.data.nmnist_io import EVENT_DTYPE, CorruptEventFileError
from bna_zoo.model import BNAModel
from bna_zoo.models import SpikingNetwork, parse_arch
from bna_zoo.nn import NeuronConfig

INF, NAN = float("inf"), float("nan")


class Row(NamedTuple):
    """One bad input: ``call(tmp_path)`` must raise ``error`` with a message matching ``match``."""

    what: str
    call: Callable[[Path], object]
    error: type[BaseException]
    match: str
    fixed: bool  # True: unclear error, silent wrong result or hang before issue #12


# --------------------------------------------------------------------------- helpers


def _current() -> torch.Tensor:
    return torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0))


def _net(**overrides: object) -> SpikingNetwork:
    args = dict(arch="4C3-P2-10", input_shape=(1, 12, 12), n_steps=4, neuron=NeuronConfig())
    return SpikingNetwork(**{**args, **overrides})


def _forward(x: object) -> torch.Tensor:
    return _net()(x)


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

# --------------------------------------------------------------------------- the table

ROWS = [
    # --- the NA core: non-finite gradients, settings refused where they enter -------------
    Row("na_lif paper clip inf", lambda _: na_lif(_current(), variant="paper", clip=INF),
        ValueError, r"clip must be > 0 and finite .*got inf", True),
    Row("na_lif clip nan", lambda _: na_lif(_current(), clip=NAN),
        ValueError, r"clip must be > 0 and finite", False),
    Row("na_lif clip zero", lambda _: na_lif(_current(), variant="paper", clip=0.0),
        ValueError, r"clip must be > 0 and finite .*got 0", False),
    Row("na_lif clip negative", lambda _: na_lif(_current(), clip=-1.0),
        ValueError, r"clip must be .*> 0", False),
    Row("na_lif surrogate slope negative",
        lambda _: na_lif(_current(), gradient="surrogate", surrogate_slope=-2.0),
        ValueError, r"surrogate_slope must be > 0 and finite .*got -2", True),
    Row("na_lif surrogate slope zero",
        lambda _: na_lif(_current(), gradient="surrogate", surrogate_slope=0.0),
        ValueError, r"surrogate_slope must be > 0 and finite", True),
    Row("na_lif surrogate slope inf",
        lambda _: na_lif(_current(), gradient="surrogate", surrogate_slope=INF),
        ValueError, r"surrogate_slope must be > 0 and finite", True),
    Row("na_lif surrogate slope nan",
        lambda _: na_lif(_current(), gradient="surrogate", surrogate_slope=NAN),
        ValueError, r"surrogate_slope must be > 0 and finite .*got nan", True),
    Row("na_lif tau_m bool", lambda _: na_lif(_current(), tau_m=True),
        TypeError, r"tau_m must be a real number >= 1 .*got True \(bool\)", True),
    Row("na_lif tau_m string", lambda _: na_lif(_current(), tau_m="5"),
        TypeError, r"tau_m must be a real number >= 1 .*got '5' \(str\)", True),
    Row("na_lif tau_m below one", lambda _: na_lif(_current(), tau_m=0.5),
        ValueError, r"tau_m must be >= 1 and finite .*got 0.5", False),
    Row("na_lif tau_s one", lambda _: na_lif(_current(), tau_s=1.0),
        ValueError, r"tau_s must be > 1 and finite", False),
    Row("na_lif tau_s inf", lambda _: na_lif(_current(), tau_s=INF),
        ValueError, r"tau_s must be > 1 and finite", False),
    Row("na_lif theta zero", lambda _: na_lif(_current(), theta=0.0),
        ValueError, r"theta must be > 0 and finite \(firing threshold\)", False),
    Row("na_lif theta string", lambda _: na_lif(_current(), theta="1"),
        TypeError, r"theta must be a real number > 0 .*\(str\)", True),
    Row("na_lif unknown variant", lambda _: na_lif(_current(), variant="offical"),
        ValueError, r"unknown NA variant 'offical'; choose one of", False),
    Row("na_lif unknown gradient", lambda _: na_lif(_current(), gradient="bptt"),
        ValueError, r"unknown gradient 'bptt'; choose one of", False),
    Row("na_lif numpy current", lambda _: na_lif(_current().numpy()),
        TypeError, r"current must be a floating-point torch.Tensor", False),
    Row("na_lif integer current", lambda _: na_lif(torch.ones(2, 5, 3, dtype=torch.long)),
        TypeError, r"current must be a floating-point torch.Tensor, got a torch.int64", False),
    Row("na_lif current without time axis", lambda _: na_lif(torch.randn(2, 5)),
        ValueError, r"\[B, T, \.\.\.\].*forget the batch or the time", False),
    Row("na_lif empty batch", lambda _: na_lif(torch.randn(0, 5, 3)),
        ValueError, r"empty batch or time axis", False),
    Row("na_lif zero time steps", lambda _: na_lif(torch.randn(2, 0, 3)),
        ValueError, r"empty batch or time axis", False),
    Row("na_lif nan current", lambda _: na_lif(torch.full((2, 5, 3), NAN)),
        ValueError, r"NaN or inf", False),
    # --- neuron settings: a bad config fails at construction ------------------------------
    Row("NeuronConfig clip inf", lambda _: NeuronConfig(variant="paper", clip=INF),
        ValueError, r"clip must be > 0 and finite", True),
    Row("NeuronConfig surrogate slope negative",
        lambda _: NeuronConfig(gradient="surrogate", surrogate_slope=-1.0),
        ValueError, r"surrogate_slope must be > 0 and finite", True),
    Row("NeuronConfig surrogate slope zero", lambda _: NeuronConfig(surrogate_slope=0),
        ValueError, r"surrogate_slope must be > 0 and finite", True),
    Row("NeuronConfig tau_m bool", lambda _: NeuronConfig(tau_m=True),
        TypeError, r"tau_m must be .*got True \(bool\)", True),
    Row("NeuronConfig theta bool", lambda _: NeuronConfig(theta=True),
        TypeError, r"theta must be .*got True \(bool\)", True),
    Row("NeuronConfig tau_s string", lambda _: NeuronConfig(tau_s="2"),
        TypeError, r"tau_s must be a real number > 1", False),
    Row("NeuronConfig tau_s nan", lambda _: NeuronConfig(tau_s=NAN),
        ValueError, r"tau_s must be > 1 and finite", False),
    Row("NeuronConfig rescale string", lambda _: NeuronConfig(rescale="no"),
        TypeError, r"rescale must be True or False, got 'no'", True),
    Row("NeuronConfig unknown gradient", lambda _: NeuronConfig(gradient="sg"),
        ValueError, r"unknown gradient 'sg'", False),
    # --- architecture strings: the token and the rule, before any layer is built ----------
    Row("arch pool size zero", lambda _: parse_arch("P0-10"),
        ValueError, r"'P0'.*pool size must be >= 1", True),
    Row("arch conv kernel zero", lambda _: parse_arch("8C0-10"),
        ValueError, r"'8C0'.*kernel size must be >= 1", True),
    Row("arch conv channels zero", lambda _: parse_arch("0C3-10"),
        ValueError, r"'0C3'.*>= 1 output channels", True),
    Row("arch linear width zero", lambda _: parse_arch("8C3-0"),
        ValueError, r"bad layer '0'.*linear layer needs >= 1 units", True),
    Row("arch dropout one", lambda _: parse_arch("8C3-D1.0-10"),
        ValueError, r"'D1.0'.*dropout probability must be in \[0, 1\), got 1.0", True),
    Row("arch negative padding", lambda _: parse_arch("8C3p-1-10"),
        ValueError, r"'8C3p'.*padding must be a non-negative integer", True),
    Row("arch empty token", lambda _: parse_arch("8C3--10"),
        ValueError, r"bad layer ''.*two '-' in a row", True),
    Row("arch empty string", lambda _: parse_arch(""),
        ValueError, r"bad layer ''", False),
    Row("arch not a string", lambda _: parse_arch(123),
        TypeError, r"architecture must be a string", True),
    Row("arch unknown token", lambda _: parse_arch("12C5-X3-10"),
        ValueError, r"bad layer 'X3'.*conv", False),
    Row("arch without output layer", lambda _: parse_arch("12C5-P2"),
        ValueError, r"must end with the linear output layer", False),
    Row("network pool larger than input", lambda _: _net(arch="P64-10"),
        ValueError, r"'P64'.*shrinks its input \[1, 12, 12\] to \[1, 0, 0\]", False),
    Row("network kernel larger than input", lambda _: _net(arch="4C30-10"),
        ValueError, r"'4C30'.*shrinks its input", False),
    Row("network absurd linear width", lambda _: _net(arch="4C3-99999999999"),
        ValueError, r"'99999999999'.*weights.*typo", True),
    Row("network conv after linear", lambda _: _net(arch="20-4C3-10"),
        ValueError, r"conv layer '4C3'.*needs a \[C, H, W\] input", False),
    Row("network n_steps zero", lambda _: _net(n_steps=0),
        ValueError, r"n_steps must be a positive integer \(time steps T\), got 0", False),
    Row("network n_steps float", lambda _: _net(n_steps=5.0),
        TypeError, r"n_steps must be a positive integer .*got 5.0 \(float\)", True),
    Row("network n_steps string", lambda _: _net(n_steps="5"),
        TypeError, r"n_steps must be a positive integer .*got '5'", True),
    Row("network n_steps bool", lambda _: _net(n_steps=True),
        TypeError, r"n_steps must be a positive integer .*\(bool\)", True),
    Row("network input_shape zero", lambda _: _net(input_shape=(1, 0, 12)),
        ValueError, r"input_shape entry must be a positive integer .*got 0", True),
    Row("network input_shape float", lambda _: _net(input_shape=(1, 12.5, 12)),
        TypeError, r"input_shape entry must be a positive integer .*12.5", True),
    Row("network input_shape rank two", lambda _: _net(input_shape=(12, 12)),
        ValueError, r"input_shape must be \[C, H, W\].*or \[F\]", False),
    Row("network neuron dict", lambda _: _net(neuron={"tau_m": 5.0}),
        TypeError, r"neuron must be a NeuronConfig, got dict", True),
    Row("network conv weight scale nan", lambda _: _net(conv_weight_scale=NAN),
        ValueError, r"conv_weight_scale must be a finite number > 0", True),
    Row("network dropout mode without dropout", lambda _: _net(dropout_mode="rows"),
        ValueError, r"dropout_mode must be one of \('neuron', 'row'\), got 'rows'", True),
    Row("network unknown input kind", lambda _: _net(input_kind="video"),
        ValueError, r"input_kind must be 'image' or 'events'", False),
    # --- the network forward ----------------------------------------------------------------
    Row("forward numpy input", lambda _: _forward(np.zeros((2, 1, 12, 12), np.float32)),
        TypeError, r"input must be a torch.Tensor, got ndarray; convert with torch.as_tensor",
        False),
    Row("BNAModel lr nan", lambda _: BNAModel("fashionmnist-mlp", lr=NAN),
        ValueError, r"lr must be > 0 and finite \(AdamW learning rate\), got nan", True),
    Row("BNAModel lr string", lambda _: BNAModel("fashionmnist-mlp", lr="0.1"),
        TypeError, r"lr must be a real number > 0 .*got '0.1' \(str\)", True),
    Row("BNAModel weight decay negative",
        lambda _: BNAModel("fashionmnist-mlp", weight_decay=-0.1),
        ValueError, r"weight_decay must be >= 0", True),
    Row("BNAModel lr_gamma zero", lambda _: BNAModel("fashionmnist-mlp", lr_gamma=0.0),
        ValueError, r"lr_gamma must be in \(0, 1\] .*None keeps the rate constant", True),
    Row("BNAModel grad_clip zero", lambda _: BNAModel("fashionmnist-mlp", grad_clip=0.0),
        ValueError, r"grad_clip must be > 0 .*None disables it", True),
    Row("BNAModel weight_clamp negative",
        lambda _: BNAModel("fashionmnist-mlp", weight_clamp=-4.0),
        ValueError, r"weight_clamp must be > 0", True),
    Row("BNAModel forward numpy input",
        lambda _: BNAModel("fashionmnist-mlp")(np.zeros((2, 1, 28, 28), np.float32)),
        TypeError, r"input must be a torch.Tensor, got ndarray", False),
    Row("forward empty batch", lambda _: _forward(torch.zeros(0, 1, 12, 12)),
        ValueError, r"empty batch", False),
    Row("forward integer input", lambda _: _forward(torch.zeros(2, 1, 12, 12, dtype=torch.uint8)),
        TypeError, r"floating-point tensor, got torch.uint8", False),
    Row("forward wrong number of steps", lambda _: _forward(torch.zeros(2, 7, 1, 12, 12)),
        ValueError, r"expected 4 time steps .*got 7", False),
    Row("forward wrong image shape", lambda _: _forward(torch.zeros(2, 3, 12, 12)),
        ValueError, r"expected input \[-1, 4, 1, 12, 12\]", False),
    Row("forward nan input", lambda _: _forward(torch.full((2, 1, 12, 12), NAN)),
        ValueError, r"NaN or inf", False),
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


@pytest.mark.parametrize("row", ROWS, ids=[r.what for r in ROWS])
def test_bad_input_raises_an_error_that_names_the_problem(row: Row, tmp_path: Path) -> None:
    with pytest.raises(row.error, match=row.match):
        row.call(tmp_path)


def test_sweep_rows_are_unique_and_cover_the_issue() -> None:
    names = [r.what for r in ROWS]
    assert len(names) == len(set(names)), "row descriptions are test ids: keep them unique"
    assert len(ROWS) >= 60
    assert all(re.compile(r.match) for r in ROWS)


@pytest.mark.parametrize("arch", ["P1-10", "4C3p1-D0-10", "4C3-D.5-10", "4C3p0-P2-D0.2-10"])
def test_valid_edge_architectures_still_build(arch: str) -> None:
    net = _net(arch=arch)
    assert net(torch.rand(2, 1, 12, 12)).shape == (2, 4, 10)


def test_failed_split_write_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        nmnist_io.write_split(tmp_path, "train", [_events(), _events(0)], [1, 2])
    assert list(tmp_path.iterdir()) == []  # checked before a file (or folder) was made
