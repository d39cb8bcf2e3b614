"""Several recordings per training image (bna_zoo.data.recordings) and N-MNIST's
``more_recordings``: one recording per image and epoch, training ids only, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bna_zoo.data import nmnist_io
from bna_zoo.data.common import DatasetNotFoundError
from bna_zoo.data.recordings import OneRecordingPerEpoch, recording_choice
from tests.data.fake_events import random_events
from tests.data.test_events import nmnist, write_nmnist


def test_recording_choice_is_uniform_and_depends_only_on_seed_epoch_and_index() -> None:
    drawn = np.array([recording_choice(0, 0, i, 3) for i in range(6000)])
    assert set(drawn.tolist()) == {0, 1, 2}
    assert np.bincount(drawn).min() > 1850  # 2000 each expected
    assert recording_choice(4, 2, 17, 3) == recording_choice(4, 2, 17, 3)
    first = recording_choice(0, 0, 17, 2)
    assert [recording_choice(0, e, 17, 2) for e in range(12)] != [first] * 12
    assert all(recording_choice(s, 0, 5, 1) == 0 for s in range(20))


def test_one_recording_per_epoch_refuses_sets_that_do_not_line_up() -> None:
    with pytest.raises(ValueError, match="at least one"):
        OneRecordingPerEpoch([], seed=0)
    with pytest.raises(ValueError, match="same samples"):
        OneRecordingPerEpoch([[(torch.zeros(1), 0)] * 3, [(torch.zeros(1), 0)] * 2], seed=0)


def test_nmnist_trains_on_one_recording_per_image_and_epoch_and_validates_as_before(tmp_path):
    write_nmnist(tmp_path / "a", seed=0)
    write_nmnist(tmp_path / "b", seed=5)  # same ids and digits, other events
    both = nmnist(tmp_path / "a", val_size=10, more_recordings=[str(tmp_path / "b")])
    only_a, only_b = nmnist(tmp_path / "a", val_size=10), nmnist(tmp_path / "b", val_size=10)
    for dm in (both, only_a, only_b):
        dm.setup("fit")
    train = both.datasets["train"]
    assert len(train) == len(only_a.datasets["train"]) == 20
    used = set()
    for epoch in range(4):
        train.set_epoch(epoch)
        for i in range(len(train)):
            x, y = train[i]
            xa, ya = only_a.datasets["train"][i]
            xb, yb = only_b.datasets["train"][i]
            assert y == ya == yb
            k = recording_choice(0, epoch, i, 2)
            assert torch.equal(x, (xa, xb)[k]) and not torch.equal(xa, xb)
            used.add(k)
    assert used == {0, 1}
    for i in range(len(only_a.datasets["val"])):  # validation: data_dir's recordings only
        assert torch.equal(both.datasets["val"][i][0], only_a.datasets["val"][i][0])


def test_nmnist_never_needs_the_validation_images_further_recordings(tmp_path):
    write_nmnist(tmp_path / "a", n_train=30)
    write_nmnist(tmp_path / "b", n_train=20, seed=5)  # ids 0-19: the training ids only
    dm = nmnist(tmp_path / "a", val_size=10, more_recordings=[str(tmp_path / "b")])
    dm.setup("fit")
    assert len(dm.datasets["train"]) == 20 and len(dm.datasets["val"]) == 10


def test_nmnist_more_recordings_shift_and_draw_per_epoch_together(tmp_path):
    write_nmnist(tmp_path / "a")
    write_nmnist(tmp_path / "b", seed=5)
    dm = nmnist(tmp_path / "a", val_size=10, shift=2, more_recordings=[str(tmp_path / "b")])
    dm.setup("fit")
    dm.datasets["train"].set_epoch(3)  # what the epoch-seeded sampler calls
    assert dm.datasets["train"].epoch == dm.datasets["train"].dataset.epoch == 3


def test_nmnist_more_recordings_missing_training_ids_is_an_error_naming_them(tmp_path):
    write_nmnist(tmp_path / "a")
    write_nmnist(tmp_path / "b", n_train=15, seed=5)
    dm = nmnist(tmp_path / "a", val_size=10, more_recordings=[str(tmp_path / "b")])
    with pytest.raises(ValueError, match=r"lacks 5 of the 20 training recordings \(ids \[15"):
        dm.setup("fit")


def test_nmnist_more_recordings_of_other_digits_are_refused(tmp_path):
    write_nmnist(tmp_path / "a")
    recs = [random_events(50, 300 + i) for i in range(30)]
    nmnist_io.write_split(tmp_path / "b", "train", recs, (np.arange(30) + 1) % 10)
    dm = nmnist(tmp_path / "a", val_size=10, more_recordings=[str(tmp_path / "b")])
    with pytest.raises(ValueError, match="different digit"):
        dm.setup("fit")


def test_nmnist_more_recordings_in_an_empty_folder_says_how_to_make_them(tmp_path):
    write_nmnist(tmp_path / "a")
    (tmp_path / "empty").mkdir()
    dm = nmnist(tmp_path / "a", val_size=10, more_recordings=[str(tmp_path / "empty")])
    with pytest.raises(DatasetNotFoundError, match="bna-zoo emulate --mnist-dir data --seed 1"):
        dm.setup("fit")


@pytest.mark.parametrize("bad", ["data/seed1", [3], 7])
def test_nmnist_more_recordings_must_be_a_list_of_folders(tmp_path, bad):
    with pytest.raises(TypeError, match="more_recordings must be a list"):
        nmnist(tmp_path, more_recordings=bad)
