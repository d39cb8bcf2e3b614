"""Claims about the in-memory image dataset that hands out whole batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bna_zoo.data.augment import BatchAugment
from bna_zoo.data.image_arrays import ArrayImageDataset, is_raw_batch

GREY = ((0.5,), (0.25,))
RGB = ((0.1, 0.2, 0.3), (0.5, 0.6, 0.7))


def _pixels(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize(("shape", "stats", "channels"), [((6, 5, 4), GREY, 1),
                                                          ((6, 5, 4, 3), RGB, 3)])
def test_grey_and_rgb_images_become_normalised_nchw_float32(shape, stats, channels):
    images, labels = _pixels(shape), np.arange(6) % 3
    x, y = ArrayImageDataset(images, labels, *stats).__getitems__([4, 1])
    assert x.shape == (2, channels, 5, 4) and x.dtype == torch.float32 and y.dtype == torch.int64
    expected = torch.from_numpy(images[4].astype(np.float32) / 255)
    expected = expected.unsqueeze(0) if channels == 1 else expected.permute(2, 0, 1)
    mean, std = (torch.tensor(s).view(-1, 1, 1) for s in stats)
    torch.testing.assert_close(x[0], (expected - mean) / std)
    assert y.tolist() == [labels[4], labels[1]]


def test_indices_expose_only_their_split_in_their_order():
    images = _pixels((8, 3, 3))
    dataset = ArrayImageDataset(images, np.arange(8), *GREY, indices=np.array([5, 2]))
    assert len(dataset) == 2
    _, y = dataset.__getitems__([0, 1])
    assert y.tolist() == [5, 2]


def test_one_sample_is_augmented_exactly_as_in_its_batch_once_the_epoch_is_set():
    images = _pixels((10, 8, 8), seed=1)
    dataset = ArrayImageDataset(images, np.arange(10), *GREY,
                                augment=BatchAugment(padding=2, degrees=30), seed=7)
    dataset.set_epoch(3)
    raw = dataset.__getitems__([2, 9, 4])
    assert is_raw_batch(raw) and raw[2].shape[0] == 3
    x, _ = dataset.finish_batch(raw)
    alone, label = dataset[9]
    torch.testing.assert_close(alone, x[1], rtol=0, atol=0)
    assert label == 9
    dataset.set_epoch(4)  # another epoch, other random numbers
    assert not torch.equal(dataset.__getitems__([9])[2], raw[2][1:2])


def test_a_finished_batch_passes_through_and_is_not_raw():
    dataset = ArrayImageDataset(_pixels((4, 3, 3)), np.arange(4), *GREY)
    batch = dataset.__getitems__([0, 1])
    assert not is_raw_batch(batch)
    assert dataset.finish_batch(batch) is batch
