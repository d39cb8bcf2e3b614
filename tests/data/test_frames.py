"""Events to frames: which bin, channel and pixel each event lands in (bna_zoo.data.frames)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import tonic

from bna_zoo.data.frames import FrameSpec
from tests.data.fake_events import events, random_events


def test_event_at_time_t_lands_in_bin_floor_t_over_bin_width():
    spec = FrameSpec((34, 34, 2), n_steps=5, bin_us=1000, binary=False)
    frames = spec.frames(events([(3, 4, 0, 1), (3, 4, 999, 1), (3, 4, 1000, 1), (5, 6, 4999, 0)]))
    assert frames.shape == (5, 2, 34, 34) and frames.dtype == np.float32
    assert frames[0, 1, 4, 3] == 2 and frames[1, 1, 4, 3] == 1 and frames[4, 0, 6, 5] == 1
    assert frames.sum() == 4


def test_polarity_selects_the_channel_off_0_on_1_and_y_is_the_row():
    spec = FrameSpec((34, 34, 2), n_steps=1, bin_us=1000, binary=False)
    frames = spec.frames(events([(10, 2, 0, 0), (2, 10, 0, 1)]))
    assert frames[0, 0, 2, 10] == 1 and frames[0, 1, 10, 2] == 1 and frames.sum() == 2


def test_events_after_t_bins_are_dropped():
    spec = FrameSpec((34, 34, 2), n_steps=3, bin_us=3000, binary=False)
    frames = spec.frames(events([(1, 1, 8999, 1), (1, 1, 9000, 1), (1, 1, 300_000, 0)]))
    assert frames.sum() == 1 and frames[2, 1, 1, 1] == 1


def test_binary_frames_clamp_counts_to_one():
    ev = events([(1, 1, 10, 1)] * 3)
    assert FrameSpec((34, 34, 2), 1, 1000, binary=True).frames(ev).max() == 1
    assert FrameSpec((34, 34, 2), 1, 1000, binary=False).frames(ev).max() == 3


def test_paper_bins_reproduce_the_matlab_ceil_and_off_by_one_quirk():
    spec = FrameSpec((34, 34, 2), n_steps=4, bin_us=3000, binary=False, paper_bins=True)
    ts = [0, 1, 3000, 3001, 9000, 9001]  # ceil(t/3000) = 0, 1, 1, 2, 3, 4
    frames = spec.frames(events([(i, 0, t, 1) for i, t in enumerate(ts)]))
    where = {int(x): int(s) for s, _, _, x in zip(*np.nonzero(frames), strict=True)}
    # v = 0 -> index -1 = T-1; v in 1..T-1 -> v-1; v >= T dropped
    assert where == {0: 3, 1: 0, 2: 0, 3: 1, 4: 2}


def test_counts_match_tonic_to_frame_with_windows_from_time_zero():
    ev = random_events(3000, seed=1, t_max=100_000)
    ours = FrameSpec((34, 34, 2), n_steps=30, bin_us=3000, binary=False).frames(ev)
    to_frame = tonic.transforms.ToFrame(sensor_size=(34, 34, 2), time_window=3000,
                                        start_time=0, end_time=90_000)
    np.testing.assert_array_equal(ours, to_frame(ev.copy())[:30])


def test_binning_imports_neither_lightning_nor_tonic():
    # predict bins a user's raw events through this module: it must not load the training stack
    code = ("import sys, bna_zoo.data.frames\n"
            "print(sorted({'lightning', 'tonic', 'torchvision'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
