"""Event DataModules: batches, order, splits, caching and errors, on fixtures written in
the real on-disk formats (N-MNIST .bin folder and zip, tonic's DVS Gesture .npy layout)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tonic
import torch

from bna_zoo.data import nmnist_io
from bna_zoo.data.common import DatasetFormatError, DatasetNotFoundError
from bna_zoo.data.events import DVSGestureDataModule, NMNISTDataModule
from bna_zoo.data.frames import FrameSpec
from tests.data.fake_events import random_events


def write_nmnist(root: Path, n_train: int = 30, n_test: int = 20, seed: int = 0) -> dict:
    """``root/NMNIST/{Train,Test}/<digit>/<id>.bin``; returns split -> [(label, events)] in the
    order tonic lists them (digit folders, then file names)."""
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        rng = np.random.default_rng(seed + len(split))
        labels = np.arange(n) % 10
        recs = [random_events(int(rng.integers(20, 200)), seed * 7919 + i + 100 * len(split))
                for i in range(n)]
        nmnist_io.write_split(root / "NMNIST", split, recs, labels)
        out[split] = sorted(zip(labels.tolist(), recs, range(n), strict=True),
                            key=lambda r: (str(r[0]), f"{r[2]:05d}"))
    return out


def write_gesture(root: Path, users: dict[str, list[int]], seed: int = 0) -> dict[str, np.ndarray]:
    """tonic's DVS Gesture layout: ``root/DVSGesture/ibmGesture{Train,Test}/<user>/<label>.npy``
    holding ``[N, 4]`` float arrays ``x, y, p, t_ms``; returns path -> array for Train."""
    out = {}
    rng = np.random.default_rng(seed)
    for folder in ("ibmGestureTrain", "ibmGestureTest"):
        for user, labels in users.items():
            for label in labels:
                n = int(rng.integers(50, 300))
                arr = np.stack([rng.integers(0, 128, n), rng.integers(0, 128, n),
                                rng.integers(0, 2, n), np.sort(rng.integers(0, 2000, n))], 1)
                path = root / "DVSGesture" / folder / user / f"{label}.npy"
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, arr.astype(np.float64))
                if folder == "ibmGestureTrain":
                    out[str(path)] = arr
    return out


def nmnist(root: Path, **kw) -> NMNISTDataModule:
    args = dict(data_dir=str(root), batch_size=8, download=False, stabilize=False)
    return NMNISTDataModule(**{**args, **kw})


# --------------------------------------------------------------------------- N-MNIST module


def test_nmnist_batches_are_float_btchw_with_int64_labels(tmp_path):
    write_nmnist(tmp_path)
    dm = nmnist(tmp_path)
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 30, 2, 34, 34) and x.dtype == torch.float32
    assert y.shape == (8,) and y.dtype == torch.int64
    assert dm.num_classes == 10 and dm.sensor_size == (34, 34, 2)
    assert dm.input_shape == (2, 34, 34) and dm.n_steps == 30 and len(dm.classes) == 10
    assert dm.classes == tonic.datasets.NMNIST.classes


def test_nmnist_samples_follow_tonic_order_and_frames_of_its_events(tmp_path, monkeypatch):
    write_nmnist(tmp_path)
    monkeypatch.setattr(tonic.datasets.NMNIST, "_check_exists", lambda self: True)
    theirs = tonic.datasets.NMNIST(save_to=str(tmp_path), train=False, stabilize=True)
    dm = nmnist(tmp_path, stabilize=True, binary=False)
    dm.setup("test")
    ds = dm.datasets["test"]
    spec = FrameSpec((34, 34, 2), 30, 3000, binary=False, stabilize=True)
    assert len(ds) == len(theirs) == 20
    for i in range(len(ds)):
        x, y = ds[i]
        ev, label = theirs[i]
        assert int(y) == label
        np.testing.assert_array_equal(x.numpy(), spec.frames(ev))


def test_nmnist_zip_archives_give_the_same_batches_as_the_extracted_folder(tmp_path):
    write_nmnist(tmp_path / "a")
    zipped = tmp_path / "b" / "NMNIST"
    zipped.mkdir(parents=True)
    for folder in ("Train", "Test"):
        with zipfile.ZipFile(zipped / f"{folder.lower()}.zip", "w") as zf:  # tonic's file name
            for f in sorted((tmp_path / "a" / "NMNIST" / folder).rglob("*.bin")):
                zf.write(f, f.relative_to(tmp_path / "a" / "NMNIST").as_posix())
    batches = []
    for root in (tmp_path / "a", tmp_path / "b"):
        dm = nmnist(root, batch_size=50)
        dm.setup("test")
        batches.append(next(iter(dm.test_dataloader())))
    assert all(r.member for r in dm.datasets["test"].source.refs)
    torch.testing.assert_close(batches[0], batches[1], rtol=0, atol=0)


def test_val_fraction_zero_validates_on_the_test_set(tmp_path):
    write_nmnist(tmp_path)
    dm = nmnist(tmp_path, batch_size=50)
    dm.setup("fit")
    val = next(iter(dm.val_dataloader()))
    test = next(iter(dm.test_dataloader()))
    torch.testing.assert_close(val, test, rtol=0, atol=0)


def test_val_fraction_holds_out_a_seeded_disjoint_share_of_train(tmp_path):
    write_nmnist(tmp_path)
    splits = []
    for seed in (0, 0, 1):
        dm = nmnist(tmp_path, val_fraction=0.2, seed=seed)
        dm.setup("fit")
        splits.append((dm.datasets["train"].indices, dm.datasets["val"].indices))
    train, val = splits[0]
    assert len(val) == 6 and len(train) == 24 and not set(train) & set(val)
    assert splits[1] == splits[0] and splits[2] != splits[0]
    assert "test" not in dm.datasets  # fit with a held-out split does not touch Test


def test_subset_is_seeded_and_keeps_file_order(tmp_path):
    write_nmnist(tmp_path)
    dm = nmnist(tmp_path, subset=7, seed=3)
    dm.setup("fit")
    names = dm.datasets["train"].source.names()
    full = [r.name for r in nmnist_io.find_split(tmp_path, "train")]
    assert len(names) == 7 and names == [n for n in full if n in names]
    dm2 = nmnist(tmp_path, subset=7, seed=3)
    dm2.setup("fit")
    assert dm2.datasets["train"].source.names() == names


def test_hparams_are_json_serialisable(tmp_path):
    dm = nmnist(tmp_path, cache_dir=str(tmp_path / "c"), subset=None)
    json.dumps(dict(dm.hparams))
    assert dm.hparams.bin_us == 3000 and dm.hparams.stabilize is False


def test_missing_data_offline_names_where_the_files_must_go(tmp_path):
    dm = nmnist(tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"(?s)NMNIST.*Train\.zip.*Train/<digit>"):
        dm.setup("fit")


def test_failed_download_says_where_to_put_the_files(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr(tonic.datasets, "NMNIST", offline)
    dm = nmnist(tmp_path, download=True)
    with pytest.raises(DatasetNotFoundError, match=r"(?s)no route to host.*Train\.zip"):
        dm.prepare_data()


def test_corrupt_file_in_a_batch_names_the_file(tmp_path):
    write_nmnist(tmp_path)
    victim = sorted((tmp_path / "NMNIST" / "Test" / "0").glob("*.bin"))[0]
    victim.write_bytes(victim.read_bytes()[:-3])
    dm = nmnist(tmp_path, batch_size=50)
    dm.setup("test")
    with pytest.raises(DatasetFormatError, match=str(victim.name)):
        next(iter(dm.test_dataloader()))


# --------------------------------------------------------------------------- frame cache


def test_cache_is_built_once_then_hit_and_serves_identical_frames(tmp_path):
    write_nmnist(tmp_path)
    cache = str(tmp_path / "cache")
    first = nmnist(tmp_path, cache_dir=cache, batch_size=50)
    first.prepare_data()
    assert len(list(Path(cache).iterdir())) == 2  # one store per split, built in prepare_data
    first.setup("test")
    second = nmnist(tmp_path, cache_dir=cache, batch_size=50)
    second.setup("test")
    plain = nmnist(tmp_path, batch_size=50)
    plain.setup("test")
    assert second.cache_status == {"test": "hit"} and plain.cache_status == {"test": None}
    a, b = next(iter(second.test_dataloader())), next(iter(plain.test_dataloader()))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_cache_dir_auto_keeps_the_store_under_data_dir_and_serves_identical_frames(tmp_path):
    write_nmnist(tmp_path)
    auto = nmnist(tmp_path, cache_dir="auto", batch_size=50)
    auto.prepare_data()
    assert auto.cache_dir == str(tmp_path / "frame_cache")
    assert len(list((tmp_path / "frame_cache").iterdir())) == 2
    auto.setup("test")
    plain = nmnist(tmp_path, batch_size=50)
    plain.setup("test")
    assert auto.cache_status == {"test": "hit"}
    a, b = next(iter(auto.test_dataloader())), next(iter(plain.test_dataloader()))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert auto.hparams.cache_dir == "auto"  # what the user wrote is what a checkpoint records


@pytest.mark.parametrize("bad", [5, True, ["c"]])
def test_cache_dir_that_is_not_a_path_names_the_choices(tmp_path, bad):
    with pytest.raises(TypeError, match=r"cache_dir must be a folder path, 'auto'.*None"):
        nmnist(tmp_path, cache_dir=bad)


def test_event_recipes_cache_their_frames() -> None:
    from bna_zoo.models import get_entry

    for name in ("nmnist-cnn", "dvsgesture-cnn"):
        assert get_entry(name).datamodule_config()["init_args"]["cache_dir"] == "auto"


@pytest.mark.parametrize(
    "change",
    [{"n_steps": 20}, {"bin_us": 2000}, {"binary": False}, {"stabilize": True},
     {"paper_bins": True}, {"subset": 10}, "rewrite a file", "add a file"],
)
def test_cache_misses_when_any_parameter_or_file_changes(tmp_path, change):
    write_nmnist(tmp_path)
    cache = str(tmp_path / "cache")
    dm = nmnist(tmp_path, cache_dir=cache)
    dm.setup("test")
    assert dm.cache_status == {"test": "built"}
    kw = change if isinstance(change, dict) else {}
    if change == "rewrite a file":
        victim = sorted((tmp_path / "NMNIST" / "Test" / "3").glob("*.bin"))[0]
        nmnist_io.write_bin(victim, random_events(7, seed=99))
        os.utime(victim, ns=(1, 1))  # a new mtime even on coarse-clock file systems
    elif change == "add a file":
        nmnist_io.write_bin(tmp_path / "NMNIST" / "Test" / "3" / "99999.bin", random_events(7, 9))
    again = nmnist(tmp_path, cache_dir=cache, **kw)
    again.setup("test")
    assert again.cache_status == {"test": "built"}


# --------------------------------------------------------------------------- DVS Gesture


USERS = {"user02_led": [3, 0, 10], "user01_fluorescent": [1, 2, 4, 5, 6, 7, 8, 9]}


def test_gesture_files_and_labels_match_tonic_and_events_are_read_alike(tmp_path, monkeypatch):
    write_gesture(tmp_path, USERS)
    monkeypatch.setattr(tonic.datasets.DVSGesture, "_check_exists", lambda self: True)
    theirs = tonic.datasets.DVSGesture(save_to=str(tmp_path), train=True)
    dm = DVSGestureDataModule(data_dir=str(tmp_path), download=False, n_steps=10, bin_us=100_000)
    dm.setup("fit")
    source = dm.datasets["train"].source
    assert dm.classes == tonic.datasets.DVSGesture.classes and dm.num_classes == 11
    assert sorted(zip(source.paths, source.labels, strict=True)) == sorted(
        zip(theirs.data, theirs.targets, strict=True))
    # our order: user folders by name, then label
    assert source.labels == [1, 2, 4, 5, 6, 7, 8, 9, 0, 3, 10]
    for i, path in enumerate(source.paths):
        ev, _ = theirs[theirs.data.index(path)]
        mine = source.events(i)
        for k in ("x", "y", "t", "p"):
            np.testing.assert_array_equal(mine[k], np.asarray(ev[k], np.int64))


def test_gesture_downsampling_pools_pixels_and_keeps_every_event(tmp_path):
    arrays = write_gesture(tmp_path, {"user01_led": [4]})
    full = DVSGestureDataModule(data_dir=str(tmp_path), download=False, n_steps=4,
                                bin_us=500_000)
    small = DVSGestureDataModule(data_dir=str(tmp_path), download=False, n_steps=4,
                                 bin_us=500_000, downsample=4)
    full.setup("fit")
    small.setup("fit")
    (x_full, y), (x_small, _) = full.datasets["train"][0], small.datasets["train"][0]
    assert x_full.shape == (4, 2, 128, 128) and x_small.shape == (4, 2, 32, 32)
    assert small.sensor_size == (32, 32, 2) and small.num_classes == 11 and int(y) == 4
    pooled = x_full.reshape(4, 2, 32, 4, 32, 4).sum(dim=(3, 5))
    torch.testing.assert_close(x_small, pooled, rtol=0, atol=0)
    assert x_full.sum() == len(next(iter(arrays.values())))  # 2 s fit in 4 bins of 0.5 s


def test_gesture_file_with_off_sensor_coordinates_error_names_it(tmp_path):
    arrays = write_gesture(tmp_path, {"user01_led": [2]})
    path = next(iter(arrays))
    bad = np.load(path)
    bad[0, 0] = 128
    np.save(path, bad)
    dm = DVSGestureDataModule(data_dir=str(tmp_path), download=False)
    dm.setup("fit")
    with pytest.raises(DatasetFormatError, match=r"2\.npy: coordinates outside"):
        dm.datasets["train"][0]


def test_gesture_missing_split_names_the_expected_layout(tmp_path):
    (tmp_path / "DVSGesture" / "ibmGestureTest").mkdir(parents=True)  # extracted, but empty
    dm = DVSGestureDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(DatasetNotFoundError, match=r"ibmGestureTest/user<NN>_<lighting>"):
        dm.setup("test")


def test_held_out_validation_batches_are_collated_like_training_batches(tmp_path):
    # a Subset of the frame dataset: its loader must collate (it has __getitems__ of its own)
    from bna_zoo.data.digits import load_digits
    from bna_zoo.data.emulate import emulate_dataset

    images, labels = load_digits()
    emulate_dataset(images[:6], labels[:6], str(tmp_path), "train", seed=0)
    for kw in ({"val_size": 2}, {"val_fraction": 0.34}):
        dm = NMNISTDataModule(str(tmp_path), download=False, batch_size=2, n_steps=4, **kw)
        dm.setup("fit")
        x, y = next(iter(dm.val_dataloader()))
        assert x.shape == (2, 4, 2, 34, 34) and y.shape == (2,)
