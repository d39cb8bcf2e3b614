"""Random translation of event frames (bna_zoo.data.frame_shift) and its use by the DataModules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bna_zoo.data.frame_shift import ShiftedFrames, offsets, shift_frames
from tests.data.test_events import nmnist, write_nmnist


def _shift_by_loops(frames: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(frames)
    h, w = frames.shape[-2:]
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[..., r, c] = frames[..., r - dy, c - dx]
    return out


@pytest.mark.parametrize("dy,dx", [(0, 0), (2, -1), (-3, 3), (1, 0), (0, -2)])
def test_shift_frames_moves_every_frame_alike_and_fills_zeros(dy, dx):
    frames = torch.rand(4, 2, 9, 11, generator=torch.Generator().manual_seed(0))
    got = shift_frames(frames, dy, dx)
    assert got.shape == frames.shape
    np.testing.assert_array_equal(got.numpy(), _shift_by_loops(frames.numpy(), dy, dx))


def test_offsets_cover_the_range_evenly_and_depend_only_on_seed_epoch_and_index():
    drawn = np.array([offsets(0, 0, i, 2) for i in range(5000)])
    assert drawn.min() == -2 and drawn.max() == 2
    counts = np.bincount(drawn[:, 0] + 2)
    assert counts.min() > 900 and counts.max() < 1100  # 1000 each expected
    assert np.mean(drawn[:, 0] == drawn[:, 1]) < 0.25  # the two axes are drawn apart
    assert offsets(0, 3, 17, 2) == offsets(0, 3, 17, 2)
    assert [offsets(0, e, 17, 4) for e in range(6)] != [offsets(0, 0, 17, 4)] * 6
    assert [offsets(s, 0, 17, 4) for s in range(6)] != [offsets(0, 0, 17, 4)] * 6


def test_shifted_frames_refuse_a_shift_below_one_pixel():
    with pytest.raises(ValueError, match="max_shift must be >= 1"):
        ShiftedFrames([], 0, seed=0)


def test_nmnist_shift_moves_training_recordings_only_and_the_same_way_on_resume(tmp_path):
    write_nmnist(tmp_path)
    plain, shifted = nmnist(tmp_path, val_size=10), nmnist(tmp_path, val_size=10, shift=3)
    for dm in (plain, shifted):
        dm.setup("fit")
    moved = 0
    for i in range(len(plain.datasets["train"])):
        x, y = plain.datasets["train"][i]
        xs, ys = shifted.datasets["train"][i]
        dy, dx = offsets(0, 0, i, 3)
        assert torch.equal(xs, shift_frames(x, dy, dx)) and y == ys
        moved += (dy, dx) != (0, 0)
    assert moved > 0
    for i in range(len(plain.datasets["val"])):  # validation is never shifted
        assert torch.equal(plain.datasets["val"][i][0], shifted.datasets["val"][i][0])
    # epoch 2 of the loader, as a run resumed at epoch 2 sees it: same batches, same shifts
    loader = shifted.train_dataloader()
    loader.sampler.set_epoch(2)
    first = [b[0] for b in loader]
    again = nmnist(tmp_path, val_size=10, shift=3)
    again.setup("fit")
    resumed = again.train_dataloader()
    resumed.sampler.set_epoch(2)
    assert all(torch.equal(a, b) for a, b in zip(first, [b[0] for b in resumed], strict=True))


def test_nmnist_refuses_a_negative_shift(tmp_path):
    with pytest.raises(ValueError, match="shift must be"):
        nmnist(tmp_path, shift=-1)
