"""Claims about the event sources, read from files in the real on-disk layouts."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from bna_zoo.data.common import DatasetFormatError
from bna_zoo.data.event_sources import GestureSource, NMNISTSource
from bna_zoo.data.nmnist_io import SampleRef, write_bin
from tests.data.fake_events import random_events


def test_nmnist_source_reads_each_bin_file_back_with_its_label(tmp_path):
    recorded = [random_events(50, seed=s) for s in range(3)]
    refs = []
    for i, events in enumerate(recorded):
        path = tmp_path / "Train" / str(i) / f"{i:05d}.bin"
        write_bin(path, events)
        refs.append(SampleRef(str(path), None, i))
    source = pickle.loads(pickle.dumps(NMNISTSource(refs, stabilize=False)))  # as a worker gets it
    assert len(source) == 3 and source.labels == [0, 1, 2]
    assert source.files() == source.names() == [r.path for r in refs]
    for i, events in enumerate(recorded):
        np.testing.assert_array_equal(source.events(i), events)


def test_gesture_source_downsamples_and_turns_milliseconds_into_microseconds(tmp_path):
    path = tmp_path / "3.npy"
    np.save(path, np.array([[0, 127, 1, 0.5], [64, 3, 0, 12.0]]))
    events = GestureSource([str(path)], [3], downsample=4).events(0)
    assert events["x"].tolist() == [0, 16] and events["y"].tolist() == [31, 0]
    assert events["p"].tolist() == [1, 0] and events["t"].tolist() == [500, 12_000]


@pytest.mark.parametrize(("array", "named"), [
    (np.zeros((3, 3)), r"expected a numeric \[N, 4\] array"),
    (np.array([[0, 128, 1, 0.0]]), "coordinates outside the 128x128 sensor"),
    (np.array([[0, 0, 2, 0.0]]), "polarity values other than 0/1"),
])
def test_gesture_source_refuses_a_malformed_file_naming_it(tmp_path, array, named):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(DatasetFormatError, match=f"bad.npy: {named}"):
        GestureSource([str(path)], [0], downsample=1).events(0)


def test_gesture_source_never_unpickles_a_data_file(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetFormatError, match="obj.npy: cannot read"):
        GestureSource([str(path)], [0], downsample=1).events(0)
