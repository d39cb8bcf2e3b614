"""Where an event DataModule's recordings come from: one class per on-disk layout.

A source is a list of recordings with labels that reads one recording's events on demand, as the
structured array of :data:`bna_zoo.data.nmnist_io.EVENT_DTYPE` that :mod:`bna_zoo.data.frames`
bins. Sources are small and picklable, so DataLoader workers receive them whole.
"""

from __future__ import annotations

import numpy as np

from . import nmnist_io
from .common import DatasetFormatError


class NMNISTSource:
    """N-MNIST recordings as checked events; picklable for DataLoader workers."""

    def __init__(self, refs: list[nmnist_io.SampleRef], stabilize: bool):
        self.refs = refs
        self.stabilize = stabilize
        self.labels = [r.label for r in refs]

    def __len__(self) -> int:
        return len(self.refs)

    def names(self) -> list[str]:
        return [r.name for r in self.refs]

    def files(self) -> list[str]:
        return [r.path for r in self.refs]

    def events(self, i: int) -> np.ndarray:
        events = nmnist_io.read_sample(self.refs[i])
        if self.stabilize:
            from tonic.datasets.nmnist import stabilize

            events = stabilize(events)
        return events


class GestureSource:
    """DVS128 Gesture recordings in tonic's preprocessed ``.npy`` layout.

    Each file is an ``[N, 4]`` array with columns ``x, y, p, t`` (t in milliseconds, as tonic's
    ``DVSGesture`` reads it); the label is the file name (``<label>.npy``).
    """

    def __init__(self, files: list[str], labels: list[int], downsample: int):
        self.paths = files
        self.labels = labels
        self.downsample = downsample

    def __len__(self) -> int:
        return len(self.paths)

    def names(self) -> list[str]:
        return list(self.paths)

    def files(self) -> list[str]:
        return list(self.paths)

    def events(self, i: int) -> np.ndarray:
        path = self.paths[i]
        try:
            raw = np.load(path, allow_pickle=False)  # never unpickle data files
        except (OSError, ValueError, EOFError) as err:
            raise DatasetFormatError(f"{path}: cannot read ({err})") from err
        if raw.ndim != 2 or raw.shape[1] != 4 or not np.issubdtype(raw.dtype, np.number):
            raise DatasetFormatError(
                f"{path}: expected a numeric [N, 4] array (x, y, p, t_ms), got "
                f"{raw.dtype} {list(raw.shape)}"
            )
        x, y, p = (raw[:, k].astype(np.int64) for k in range(3))
        if len(raw) and (min(x.min(), y.min()) < 0 or max(x.max(), y.max()) > 127):
            raise DatasetFormatError(f"{path}: coordinates outside the 128x128 sensor")
        if not np.isin(p, (0, 1)).all():
            raise DatasetFormatError(f"{path}: polarity values other than 0/1")
        events = np.empty(len(raw), dtype=nmnist_io.EVENT_DTYPE)
        events["x"], events["y"], events["p"] = x // self.downsample, y // self.downsample, p
        events["t"] = (raw[:, 3] * 1000).astype(np.int64)  # ms -> us, as tonic
        return events
