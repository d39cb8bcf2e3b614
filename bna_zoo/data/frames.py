"""Events to frames, and the on-disk frame cache: the one place events become tensors.

An event ``(x, y, t, p)`` lands in ``frames[t_bin, p, y, x]`` with ``t_bin = floor(t / bin_us)``
counted from ``t = 0`` (the recording's start, not its first event), and only the first
``n_steps`` bins are kept. Channel 0 is OFF (p = 0), channel 1 is ON (p = 1), as tonic's
``ToFrame``.

The official MATLAB converter stored ``ceil(t / 3000)`` and its loader wrote bin ``v`` to index
``v - 1``, so step k < T-1 gets the right-closed window ``(k * 3 ms, (k + 1) * 3 ms]`` and step
T-1 only events at exactly t = 0 (almost empty). ``paper_bins=True`` reproduces that; the default
uses half-open windows ``[k * bin_us, (k + 1) * bin_us)`` for every step.

:class:`FrameDataset` caches frames on disk when given a ``cache_dir`` (binning on every access
costs ~10-30% of a CPU training step): one sparse store per split, keyed by a sha256 over every
frame parameter, the file list, labels and each file's size and mtime, so a changed parameter or
file can never be served stale frames (tonic's own disk cache ignores transform parameters,
tonic #160).

Imports numpy and torch only (not Lightning), so ``predict`` bins raw events without loading the
DataModules.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

CACHE_FORMAT = 1  # bump when the cache layout or the binning code changes meaning


@dataclass(frozen=True)
class FrameSpec:
    """Every parameter that shapes a frame. Its JSON is part of the cache key.

    Attributes:
        sensor_size: ``(W, H, P)`` of the events as binned (after any downsampling).
        n_steps: T, the number of frames kept.
        bin_us: frame width in microseconds.
        binary: clamp counts to 1 (the paper's binary frames) instead of counting events.
        paper_bins: reproduce the official converter's ``ceil``/off-by-one binning (module doc).
        stabilize: remove N-MNIST saccade motion before binning (N-MNIST only).
        downsample: integer spatial pooling factor applied before binning (DVS Gesture only).
    """

    sensor_size: tuple[int, int, int]
    n_steps: int
    bin_us: int
    binary: bool
    paper_bins: bool = False
    stabilize: bool = False
    downsample: int = 1

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """Frame shape ``(T, P, H, W)``."""
        w, h, p = self.sensor_size
        return (self.n_steps, p, h, w)

    def sparse(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bin events into sparse frames.

        Args:
            events: structured ``[N]`` with fields ``x, y, t, p`` on the ``sensor_size`` grid,
                ``t`` in microseconds from the recording's start.

        Returns:
            ``(flat_index uint32 [K], count uint16 [K])``: the non-zero cells of the
            ``(T, P, H, W)`` frame tensor in C order, and their event counts.
        """
        t = np.asarray(events["t"], dtype=np.int64)
        if self.paper_bins:
            v = -(-t // self.bin_us)  # ceil for t >= 0
            keep = (v >= 0) & (v < self.n_steps)
            step = (v - 1) % self.n_steps  # v = 0 (t == 0) wraps to the last step, as in MATLAB
        else:
            step = t // self.bin_us
            keep = (step >= 0) & (step < self.n_steps)
        _, p, h, w = self.shape
        pol = np.asarray(events["p"], dtype=np.int64)[keep]
        flat = ((step[keep] * p + pol) * h + np.asarray(events["y"])[keep]) * w
        flat = flat + np.asarray(events["x"])[keep]
        index, count = np.unique(flat, return_counts=True)
        return index.astype(np.uint32), np.minimum(count, 65535).astype(np.uint16)

    def dense(self, index: np.ndarray, count: np.ndarray) -> np.ndarray:
        """Sparse frames to a dense float32 ``[T, P, H, W]`` array (binary if ``self.binary``)."""
        frames = np.zeros(int(np.prod(self.shape)), dtype=np.float32)
        frames[index.astype(np.int64)] = 1.0 if self.binary else count
        return frames.reshape(self.shape)

    def frames(self, events: np.ndarray) -> np.ndarray:
        """Events to dense float32 frames ``[T, P, H, W]``."""
        return self.dense(*self.sparse(events))


def events_to_frames(events: np.ndarray, sensor_size: tuple[int, int, int], n_steps: int,
                     bin_us: int, binary: bool, paper_bins: bool = False,
                     stabilize: bool = False, downsample: int = 1) -> np.ndarray:
    """One raw recording to the frames a model was trained on (the DataModules' path).

    Args:
        events: structured ``[N]`` with fields ``x, y, t, p`` (t in microseconds), on the
            original sensor grid (before ``downsample``).
        sensor_size, n_steps, bin_us, binary, paper_bins: see :class:`FrameSpec`
            (``sensor_size`` after downsampling).
        stabilize: remove N-MNIST saccade motion first (tonic's ``stabilize``).
        downsample: integer spatial pooling factor.

    Returns:
        float32 ``[T, P, H, W]``.
    """
    if stabilize:
        from tonic.datasets.nmnist import stabilize as tonic_stabilize

        events = tonic_stabilize(events.copy())  # tonic's stabilize edits its input in place
    if downsample > 1:
        events = events.copy()
        events["x"] //= downsample
        events["y"] //= downsample
    spec = FrameSpec(tuple(sensor_size), n_steps, bin_us, binary, paper_bins, stabilize,
                     downsample)
    return spec.frames(events)



#: the cache folder under data_dir that cache_dir="auto" names
AUTO_CACHE = "frame_cache"


def _fingerprint(source, spec: FrameSpec, dataset: str) -> str:
    stats = {}
    for f in dict.fromkeys(source.files()):  # one stat per file or per zip archive
        st = os.stat(f)
        stats[f] = [st.st_size, st.st_mtime_ns]
    blob = json.dumps(
        {
            "format": CACHE_FORMAT,
            "dataset": dataset,
            "spec": dataclasses.asdict(spec),
            "names": source.names(),
            "labels": [int(v) for v in source.labels],
            "stats": stats,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _identity(sample):
    return sample  # module level, so spawned cache-build workers can pickle it


class _Encode(Dataset):
    """Sample index -> sparse frames; a Dataset so the cache build can use DataLoader workers."""

    def __init__(self, source, spec: FrameSpec):
        self.source, self.spec = source, spec

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int):
        return self.spec.sparse(self.source.events(i))


class FrameDataset(Dataset):
    """``(frames float32 [T, P, H, W], label int64)`` per recording, binned on the fly or cached.

    Args:
        source: an ``NMNISTSource`` or ``GestureSource``.
        spec: the binning.
        cache_dir: folder for the sparse frame store; None bins every access.
        dataset: name used in the cache folder name and key.
        num_workers: worker processes for building the cache.
    """

    def __init__(self, source, spec: FrameSpec, cache_dir: str | None = None,
                 dataset: str = "events", num_workers: int = 0):
        self.source, self.spec = source, spec
        self.labels = np.asarray(source.labels, dtype=np.int64)
        self.cache_path: Path | None = None
        self.cache_status: str | None = None  # "hit" or "built"
        self._arrays: dict[str, np.ndarray] | None = None
        self._pid = -1
        if cache_dir is not None:
            key = _fingerprint(source, spec, dataset)
            self.cache_path = Path(cache_dir) / f"{dataset}-{key[:20]}"
            self.cache_status = "hit" if (self.cache_path / "offsets.npy").exists() else "built"
            if self.cache_status == "built":
                self._build(num_workers)

    def _build(self, num_workers: int) -> None:
        loader = DataLoader(_Encode(self.source, self.spec), batch_size=None,
                            num_workers=num_workers, collate_fn=_identity)
        indices, counts, offsets = [], [], [0]
        for index, count in loader:
            indices.append(index)
            counts.append(count)
            offsets.append(offsets[-1] + len(index))
        tmp = self.cache_path.with_name(f"{self.cache_path.name}.tmp{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        np.save(tmp / "index.npy", np.concatenate(indices or [np.zeros(0, np.uint32)]))
        np.save(tmp / "count.npy", np.concatenate(counts or [np.zeros(0, np.uint16)]))
        np.save(tmp / "offsets.npy", np.asarray(offsets, dtype=np.int64))
        spec = dataclasses.asdict(self.spec)
        (tmp / "meta.json").write_text(json.dumps({"spec": spec, "n": len(self.source)}))
        try:
            os.replace(tmp, self.cache_path)  # atomic: readers never see a half-written store
        except OSError:  # another process finished first; its store is identical
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()

    def _store(self) -> dict[str, np.ndarray]:
        if self._arrays is None or self._pid != os.getpid():  # memmaps are opened per process
            self._arrays = {k: np.load(self.cache_path / f"{k}.npy", mmap_mode="r")
                            for k in ("index", "count", "offsets")}
            self._pid = os.getpid()
        return self._arrays

    def __getstate__(self):
        return {**self.__dict__, "_arrays": None, "_pid": -1}

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cache_path is None:
            index, count = self.spec.sparse(self.source.events(i))
        else:
            store = self._store()
            a, b = store["offsets"][i], store["offsets"][i + 1]
            index, count = store["index"][a:b], store["count"][a:b]
        frames = torch.from_numpy(self.spec.dense(index, count))
        return frames, torch.tensor(self.labels[i], dtype=torch.int64)
