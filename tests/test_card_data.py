"""Card data made again offline: one recording alone is the whole split's, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bna_zoo.cli.card_data import emulate_one, listed_position_to_id
from bna_zoo.data import nmnist_io
from bna_zoo.data.digits import load_digits
from bna_zoo.data.emulate import emulate_dataset
from bna_zoo.data.events import NMNISTDataModule


@pytest.fixture(scope="module")
def twelve():
    images, labels = load_digits()
    return images[:12], labels[:12]


def test_listed_position_follows_the_readers_digit_then_id_order():
    labels = np.array([3, 1, 3, 0, 1])
    assert [listed_position_to_id(labels, k) for k in range(5)] == [3, 1, 4, 0, 2]


def test_a_recording_emulated_alone_is_the_file_and_frames_of_the_whole_split(tmp_path, twelve):
    images, labels = twelve
    emulate_dataset(images, labels, str(tmp_path / "all"), "test", seed=0)
    listed = nmnist_io.find_split(str(tmp_path / "all"), "test")
    whole = NMNISTDataModule(data_dir=str(tmp_path / "all"), download=False, batch_size=1)
    whole.setup("test")
    for position in (0, 5, 11):
        one_dir = tmp_path / f"one{position}"
        i = emulate_one(images, labels, position, str(one_dir))
        (alone,) = nmnist_io.find_split(str(one_dir), "test")
        assert alone.label == labels[i] == listed[position].label
        assert open(alone.path, "rb").read() == open(listed[position].path, "rb").read()
        dm = NMNISTDataModule(data_dir=str(one_dir), download=False, batch_size=1)
        dm.setup("test")
        x_alone, y_alone = dm.test_dataloader().dataset[0]
        x_whole, y_whole = whole.test_dataloader().dataset[position]
        assert int(y_alone) == int(y_whole)
        assert torch.equal(torch.as_tensor(x_alone), torch.as_tensor(x_whole))
