"""N-MNIST 5-byte format and archive layout: bytes, tonic parity, ordering, corrupt files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import tonic
from tonic.io import read_mnist_file

from bna_zoo.data import nmnist_io
from bna_zoo.data.common import DatasetFormatError
from bna_zoo.data.nmnist_io import EVENT_DTYPE
from tests.data.fake_events import random_events


def write_tree(split_dir: Path, per_digit: int, seed: int) -> dict[str, tuple[int, np.ndarray]]:
    """``<split_dir>/<d>/<id>.bin`` with ids written in a scrambled order; returns name -> data."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(10 * per_digit * 7)[: 10 * per_digit]  # scattered, non-sequential
    written = {}
    for k, i in enumerate(ids):
        label = int(rng.integers(0, 10)) if k >= 10 else k  # every digit at least once
        ev = random_events(int(rng.integers(1, 60)), seed * 1000 + k)  # never empty (refused)
        path = split_dir / str(label) / f"{i:05d}.bin"
        nmnist_io.write_bin(path, ev)
        written[f"{label}/{i:05d}.bin"] = (label, ev)
    return written


def zip_tree(split_dir: Path, archive: Path, prefix: str) -> None:
    files = sorted(split_dir.rglob("*.bin"))
    with zipfile.ZipFile(archive, "w") as zf:
        for f in np.random.default_rng(0).permutation(files):  # member order must not matter
            zf.write(f, f"{prefix}{f.relative_to(split_dir).as_posix()}")


def assert_events_equal(a: np.ndarray, b: np.ndarray) -> None:
    for k in ("x", "y", "t", "p"):
        np.testing.assert_array_equal(np.asarray(a[k], np.int64), np.asarray(b[k], np.int64))


def test_one_event_encodes_to_the_documented_five_bytes():
    ev = np.array([(5, 7, 0x12345, 1)], dtype=EVENT_DTYPE)
    assert nmnist_io.encode_events(ev) == bytes([5, 7, 0x80 | 0x01, 0x23, 0x45])
    ev["p"] = 0
    assert nmnist_io.encode_events(ev) == bytes([5, 7, 0x01, 0x23, 0x45])


def test_written_file_reads_back_identically_with_tonic_and_our_reader(tmp_path):
    ev = random_events(500, seed=1, t_max=2**23)
    path = tmp_path / "a.bin"
    nmnist_io.write_bin(path, ev)
    assert path.stat().st_size == 5 * 500
    assert_events_equal(read_mnist_file(str(path), dtype=EVENT_DTYPE), ev)
    assert_events_equal(nmnist_io.read_sample(nmnist_io.SampleRef(str(path), None, 0)), ev)


@pytest.mark.parametrize(
    "field, value", [("t", 2**23), ("t", -1), ("y", 240), ("x", 256), ("p", 2)]
)
def test_encoder_refuses_values_the_format_cannot_hold(field, value):
    ev = random_events(3, seed=2)
    ev[field][1] = value
    with pytest.raises(ValueError):
        nmnist_io.encode_events(ev)


def test_encoder_refuses_unsorted_timestamps():
    ev = random_events(3, seed=3)
    ev["t"] = [10, 5, 20]
    with pytest.raises(ValueError, match="sorted"):
        nmnist_io.encode_events(ev)


def test_truncated_file_error_names_the_file(tmp_path):
    path = tmp_path / "Train" / "3" / "00012.bin"
    nmnist_io.write_bin(path, random_events(4, seed=4))
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(DatasetFormatError, match=r"00012\.bin: 18 bytes is not a multiple of 5"):
        nmnist_io.read_sample(nmnist_io.SampleRef(str(path), None, 3))


def test_event_outside_the_34x34_sensor_error_names_the_file(tmp_path):
    ev = random_events(4, seed=5)
    ev["x"][2] = 40
    path = tmp_path / "bad.bin"
    nmnist_io.write_bin(path, ev)
    with pytest.raises(DatasetFormatError, match=r"bad\.bin: event 2 at \(x=40"):
        nmnist_io.read_sample(nmnist_io.SampleRef(str(path), None, 0))


def test_truncated_zip_member_error_names_archive_and_member(tmp_path):
    archive = tmp_path / "Train.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Train/1/00007.bin", b"\x00" * 11)
    (ref,) = nmnist_io.list_zip(archive, "train")
    with pytest.raises(DatasetFormatError, match=r"Train\.zip::Train/1/00007\.bin: 11 bytes"):
        nmnist_io.read_sample(ref)


def test_sample_order_and_labels_match_tonic_nmnist(tmp_path, monkeypatch):
    written = write_tree(tmp_path / "NMNIST" / "Train", per_digit=3, seed=6)
    # tonic wants >= 10,000 files plus train.zip before it reads a folder; skip only that check.
    monkeypatch.setattr(tonic.datasets.NMNIST, "_check_exists", lambda self: True)
    theirs = tonic.datasets.NMNIST(save_to=str(tmp_path), train=True)
    ours = nmnist_io.find_split(tmp_path, "train")
    assert [Path(r.path) for r in ours] == [Path(p) for p in theirs.data]
    assert [r.label for r in ours] == theirs.targets
    assert len(ours) == len(written)
    for i, ref in enumerate(ours):
        assert_events_equal(nmnist_io.read_sample(ref), theirs[i][0])


@pytest.mark.parametrize("prefix", ["Train/", "NMNIST/Train/", ""])
def test_zip_members_list_in_the_same_order_and_read_the_same_as_the_folder(tmp_path, prefix):
    write_tree(tmp_path / "ex" / "Train", per_digit=2, seed=7)
    zip_tree(tmp_path / "ex" / "Train", tmp_path / "Train.zip", prefix)
    folder = nmnist_io.list_folder(tmp_path / "ex" / "Train")
    zipped = nmnist_io.list_zip(tmp_path / "Train.zip", "train")
    assert [r.label for r in zipped] == [r.label for r in folder]
    assert [tuple(r.member.split("/")[-2:]) for r in zipped] == [
        Path(r.path).parts[-2:] for r in folder
    ]
    for a, b in zip(folder, zipped, strict=True):
        assert_events_equal(nmnist_io.read_sample(a), nmnist_io.read_sample(b))


def test_zip_listing_skips_other_splits_and_macos_metadata(tmp_path):
    with zipfile.ZipFile(tmp_path / "Train.zip", "w") as zf:
        zf.writestr("Train/2/00001.bin", b"")
        zf.writestr("Test/2/00002.bin", b"")
        zf.writestr("__MACOSX/Train/2/._00001.bin", b"junk")
        zf.writestr("Train/2/._00003.bin", b"junk")
    refs = nmnist_io.list_zip(tmp_path / "Train.zip", "train")
    assert [r.member for r in refs] == ["Train/2/00001.bin"]


def test_half_extracted_folder_gives_way_to_the_complete_zip(tmp_path):
    root = tmp_path / "NMNIST"
    root.mkdir()
    write_tree(tmp_path / "full" / "Test", per_digit=2, seed=8)
    zip_tree(tmp_path / "full" / "Test", root / "Test.zip", "Test/")
    write_tree(root / "Test", per_digit=1, seed=9)  # fewer files than the archive
    refs = nmnist_io.find_split(tmp_path, "test")
    assert len(refs) == 20 and all(r.member is not None for r in refs)


def test_write_split_uses_the_n_mnist_layout_and_input_order(tmp_path):
    recs = [random_events(5, seed=s) for s in range(3)]
    paths = nmnist_io.write_split(tmp_path, "test", recs, [4, 0, 4], first_id=98)
    rel = [p.relative_to(tmp_path).as_posix() for p in paths]
    assert rel == ["Test/4/00098.bin", "Test/0/00099.bin", "Test/4/00100.bin"]
    refs = nmnist_io.find_split(tmp_path, "test")
    assert [r.label for r in refs] == [0, 4, 4]
    assert_events_equal(nmnist_io.read_sample(refs[2]), recs[2])


def test_empty_recording_is_an_error_naming_the_file_not_an_all_zero_sample(tmp_path):
    from bna_zoo.data.events import NMNISTDataModule

    for split in ("Train", "Test"):
        write_tree(tmp_path / "NMNIST" / split, per_digit=1, seed=10)
    victim = sorted((tmp_path / "NMNIST" / "Test").rglob("*.bin"))[3]
    victim.write_bytes(b"")  # what an interrupted extraction leaves
    dm = NMNISTDataModule(data_dir=str(tmp_path), download=False, stabilize=False)
    dm.setup("test")
    with pytest.raises(DatasetFormatError, match=rf"{victim.name}: empty file \(0 bytes\)"):
        [dm.datasets["test"][i] for i in range(len(dm.datasets["test"]))]


def test_write_split_checks_every_recording_first_and_leaves_the_split_unchanged(tmp_path):
    nmnist_io.write_split(tmp_path, "train", [random_events(5, seed=1)], [3])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    recs = [random_events(5, seed=2), random_events(0, seed=3), random_events(5, seed=4)]
    with pytest.raises(ValueError, match="recording 1: refusing to write a recording with no"):
        nmnist_io.write_split(tmp_path, "train", recs, [1, 2, 3], first_id=1)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["Train"]  # no staging folder left behind


def test_write_split_adds_to_an_existing_split_atomically(tmp_path):
    nmnist_io.write_split(tmp_path, "train", [random_events(5, seed=1)], [3])
    nmnist_io.write_split(tmp_path, "train", [random_events(6, seed=2)], [4], first_id=1)
    refs = nmnist_io.find_split(tmp_path, "train")
    assert [(Path(r.path).parent.name, Path(r.path).name) for r in refs] == [
        ("3", "00000.bin"), ("4", "00001.bin")]
