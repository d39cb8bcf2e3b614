"""Event-camera DataModules (N-MNIST, DVS128 Gesture): recordings to batches of frames.

Each recording is read as events (:mod:`bna_zoo.data.nmnist_io`, or tonic's DVS Gesture ``.npy``
layout) and binned by :mod:`bna_zoo.data.frames`. N-MNIST defaults follow the paper's pipeline
(docs/na.md §3): 3 ms bins, T = 30 (the first 90 ms, inside the first saccade), binary frames,
saccade motion removed.

Differences from the official MATLAB preprocessing, all switchable:

- ``stabilize=True`` uses tonic's port of Orchard's stabilisation (``tonic.datasets.nmnist.
  stabilize``: linear motion model with 105 ms saccades, a hand-set offset of (+4, +2) px, rounding,
  events pushed off the 34x34 sensor dropped). The MATLAB scripts are not available here, so the
  exact pixel offsets of the paper's frames may differ by a pixel.
- Binning: ``paper_bins=True`` reproduces the converter's ``ceil``/off-by-one windows (see
  :mod:`bna_zoo.data.frames`); the default uses half-open windows for every step.

Frames are cached on disk when ``cache_dir`` is set (``"auto"``: ``<data_dir>/frame_cache``, what
the zoo's event recipes use).
"""

from __future__ import annotations

import numbers
import os
import re
from pathlib import Path

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset, Subset

from . import nmnist_io
from .catalog import DATASETS
from .common import (
    DatasetNotFoundError,
    make_loader,
    missing_dataset_message,
    seeded_split,
)
from .event_sources import GestureSource, NMNISTSource
from .frame_shift import ShiftedFrames
from .frames import AUTO_CACHE, FrameDataset, FrameSpec
from .recordings import OneRecordingPerEpoch


def _check_int(value: object, name: str, meaning: str, minimum: int) -> None:
    """Refuse a setting that is not an integer >= ``minimum`` (bools and floats included)."""
    rule = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {rule} ({meaning}), got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be {rule} ({meaning}), got {value!r}")


class _EventDataModule(L.LightningDataModule):
    """Shared split/subset/loader logic; subclasses find files, download and name classes."""

    name = "events"
    classes: list[str] = []

    def __init__(self, data_dir: str, batch_size: int, num_workers: int, val_fraction: float,
                 seed: int, n_steps: int, bin_us: int, download: bool, subset: int | None,
                 cache_dir: str | None, shift: int = 0):
        super().__init__()
        # Checked here, where the settings enter: later they would surface as numpy shape
        # errors, or (subset=0) as an empty dataset that trains on nothing without a word.
        if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real):
            raise TypeError(f"val_fraction must be a number in [0, 1) (0 validates on the test "
                            f"set), got {val_fraction!r} ({type(val_fraction).__name__})")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be a number in [0, 1) (0 validates on the test "
                             f"set), got {val_fraction!r}")
        _check_int(n_steps, "n_steps", "time steps T, frames per sample", 1)
        _check_int(bin_us, "bin_us", "frame width in microseconds", 1)
        _check_int(batch_size, "batch_size", "samples per batch", 1)
        _check_int(num_workers, "num_workers", "DataLoader worker processes; 0 loads in the "
                   "main process", 0)
        _check_int(seed, "seed", "seeds the split, subset and shuffling", 0)
        _check_int(shift, "shift", "largest random translation of training frames in pixels; "
                   "0 for none", 0)
        if subset is not None:
            _check_int(subset, "subset", "samples per split; None uses all", 1)
        self.data_dir, self.batch_size, self.num_workers = data_dir, batch_size, num_workers
        self.val_fraction, self.seed, self.subset = val_fraction, seed, subset
        self.shift = shift
        if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
            raise TypeError(f"cache_dir must be a folder path, 'auto' (<data_dir>/{AUTO_CACHE}) "
                            f"or None (bin on every access), got {cache_dir!r}")
        if cache_dir == "auto":
            cache_dir = str(Path(data_dir) / AUTO_CACHE)
        self.download, self.cache_dir = download, cache_dir
        self._n_steps, self.bin_us = n_steps, bin_us
        self.datasets: dict[str, Dataset] = {}
        self.val_size = 0  # N-MNIST's held-out last recordings by id (NMNISTDataModule)

    @property
    def holds_out(self) -> bool:
        """Whether validation uses part of the training split (else the test split)."""
        return self.val_fraction > 0 or self.val_size > 0

    def _with_more_recordings(self, train: Dataset) -> Dataset:
        """The training set with its further recordings (N-MNIST's ``more_recordings``)."""
        return train

    def _last_by_id(self, full: FrameDataset) -> tuple[np.ndarray, np.ndarray]:
        raise ValueError(f"val_size is defined for N-MNIST only (its file ids follow MNIST's "
                         f"order); for {self.name} use val_fraction")

    # --- what subclasses provide -------------------------------------------------------------
    def _spec(self) -> FrameSpec:
        raise NotImplementedError

    def _source(self, split: str):
        raise NotImplementedError

    def _fetch(self, split: str) -> None:
        raise NotImplementedError

    # --- public properties -------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def sensor_size(self) -> tuple[int, int, int]:
        """``(W, H, P)`` as binned, tonic's convention."""
        return self._spec().sensor_size

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Per-step input ``(P, H, W)``."""
        return self._spec().shape[1:]

    @property
    def n_steps(self) -> int:
        return self._n_steps

    @property
    def cache_status(self) -> dict[str, str | None]:
        """Per split: ``"hit"``, ``"built"`` or None (no cache) after ``setup``."""
        return {k: getattr(d, "cache_status", None) for k, d in self.datasets.items()}

    # --- Lightning hooks ---------------------------------------------------------------------
    def prepare_data(self, stage: str | None = None) -> None:
        """Download the missing splits a stage reads (only here, rank 0) and cache their frames.

        Args:
            stage: ``"fit"``, ``"validate"``, ``"test"`` or ``"predict"``; None takes the
                attached Trainer's (Lightning calls this without one), else both splits. A test
                or predict run never asks for the training split.
        """
        for split in self._splits_for(stage):
            if self.download:
                self._fetch(split)
            if self.cache_dir is not None:
                self._dataset(split)

    def _splits_for(self, stage: str | None) -> tuple[str, ...]:
        if stage is None:
            trainer = getattr(self, "trainer", None)
            fn = getattr(getattr(trainer, "state", None), "fn", None)
            stage = {"fit": "fit", "validate": "validate", "test": "test",
                     "predict": "predict"}.get(getattr(fn, "value", None))
        if stage in ("test", "predict") or (stage == "validate" and not self.holds_out):
            return ("test",)
        if stage == "fit" and self.holds_out:
            return ("train",)
        return ("train", "test")

    def setup(self, stage: str | None = None) -> None:
        need_train = stage in (None, "fit") or (stage == "validate" and self.holds_out)
        if need_train and "train" not in self.datasets:
            full = self._dataset("train")
            if self.val_size > 0:
                train_idx, val_idx = self._last_by_id(full)
                self.datasets["val"] = Subset(full, val_idx.tolist())
                self.datasets["train"] = Subset(full, train_idx.tolist())
            elif self.val_fraction > 0:
                train_idx, val_idx = seeded_split(len(full), self.val_fraction, self.seed)
                self.datasets["val"] = Subset(full, val_idx.tolist())
                self.datasets["train"] = Subset(full, train_idx.tolist())
            else:
                self.datasets["train"] = full
            self.datasets["train"] = self._with_more_recordings(self.datasets["train"])
            if self.shift:  # training only: validation and test see the frames as recorded
                self.datasets["train"] = ShiftedFrames(self.datasets["train"], self.shift,
                                                       self.seed)
        if "test" not in self.datasets and (stage != "fit" or not self.holds_out):
            self.datasets["test"] = self._dataset("test")

    def _dataset(self, split: str) -> FrameDataset:
        source = self._source(split)
        if self.subset is not None and self.subset < len(source):
            # Seeded choice, then sorted: keeps tonic's order and spans all classes.
            keep = np.sort(np.random.default_rng(self.seed).permutation(len(source))[: self.subset])
            source = _take(source, keep)
        return FrameDataset(source, self._spec(), self.cache_dir, f"{self.name}-{split}",
                            self.num_workers)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            raise RuntimeError(f"no {split} data: call setup() first (Lightning does this)")
        # Epoch-seeded order (common.make_loader): a resumed run sees the same batches.
        return make_loader(self.datasets[split], self.batch_size, self.num_workers, shuffle,
                           self.seed)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        # val_fraction == 0: validate on the test set, the paper's protocol (best test accuracy).
        return self._loader("val" if self.holds_out else "test", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


def _file_id(ref: nmnist_io.SampleRef) -> int:
    """An N-MNIST recording's id: its file name without ``.bin`` (ids follow MNIST's order)."""
    stem = Path(ref.member or ref.path).stem
    if not stem.isdigit():
        raise ValueError(f"{ref.member or ref.path}: N-MNIST file names are integer ids "
                         f"(<id>.bin); this one cannot be matched with another recording")
    return int(stem)


def _check_folders(value: object) -> list[str]:
    """``more_recordings`` as a list of folder paths (None: empty)."""
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        raise TypeError(f"more_recordings must be a list of folders, got the single path "
                        f"{os.fspath(value)!r}: write [{os.fspath(value)!r}]")
    folders = list(value) if isinstance(value, (list, tuple)) else None
    if folders is None or not all(isinstance(f, (str, os.PathLike)) for f in folders):
        raise TypeError(f"more_recordings must be a list of folder paths, got {value!r}")
    return [os.fspath(f) for f in folders]


def _take(source, keep: np.ndarray):
    """A copy of ``source`` restricted to the indices ``keep``."""
    if isinstance(source, NMNISTSource):
        return NMNISTSource([source.refs[i] for i in keep], source.stabilize)
    return GestureSource([source.paths[i] for i in keep], [source.labels[i] for i in keep],
                         source.downsample)


class NMNISTDataModule(_EventDataModule):
    """N-MNIST (Orchard et al. 2015): 34x34 ATIS recordings of MNIST digits, 10 classes.

    Data is read from ``<data_dir>/NMNIST/`` (tonic's location) or ``<data_dir>/`` (where
    ``bna_zoo.data.emulate`` writes): an extracted ``Train/<digit>/*.bin`` folder, or the
    ``Train.zip``/``train.zip`` archive itself (same for Test). Samples come in tonic's order.

    Args:
        data_dir: root folder (see above).
        batch_size: samples per batch.
        num_workers: DataLoader worker processes (also used to build the cache).
        val_fraction: 0 validates on the test set (the paper's protocol); >0 holds out that
            seeded share of the training set.
        seed: seeds the validation split, the subset and the shuffling.
        n_steps: T, frames per sample.
        bin_us: frame width in microseconds (paper: 3000).
        download: fetch missing splits with tonic in ``prepare_data``.
        subset: use a seeded random ``subset`` samples per split (order kept); None for all.
        cache_dir: folder for cached frames; ``"auto"`` for ``<data_dir>/frame_cache``; None
            bins on every access.
        stabilize: remove saccade motion with tonic's stabilisation (paper: yes).
        binary: binary frames (paper) instead of event counts.
        paper_bins: reproduce the MATLAB converter's ceil/off-by-one binning.
        val_size: the ``val_size`` training recordings with the largest file ids validate (ids
            follow MNIST's training order, so 10,000 holds out MNIST's own validation digits,
            the last 10,000 of its 60,000); excludes ``val_fraction``. 0: see ``val_fraction``.
        shift: training augmentation: every training recording moved by a random whole-pixel
            offset in ``[-shift, shift]`` per axis, zero filled (:mod:`~.frame_shift`); 0 (the
            paper's pipeline) for none. Validation and test are never shifted.
        more_recordings: folders holding further recordings of the training images in
            ``data_dir``'s layout, file id = image id (e.g. ``bna-zoo emulate --mnist-dir data
            --seed 1 --n-test 0 --out-dir data/emulated_nmnist_seed1``). Each epoch, every
            training image contributes one of its recordings, drawn at random
            (:mod:`~.recordings`), so an epoch keeps its length. Only the training ids are read
            from them: recordings of held-out validation images are never trained on. None (the
            default) for none.

    Batches: ``x`` float32 ``[B, T, 2, 34, 34]`` (channel 0 OFF, 1 ON), ``y`` int64 ``[B]``.
    """

    name = "nmnist"
    classes = list(DATASETS["N-MNIST"].labels)

    def __init__(self, data_dir: str = "data", batch_size: int = 32, num_workers: int = 0,
                 val_fraction: float = 0.0, seed: int = 0, n_steps: int = 30, bin_us: int = 3000,
                 download: bool = True, subset: int | None = None, cache_dir: str | None = None,
                 stabilize: bool = True, binary: bool = True, paper_bins: bool = False,
                 val_size: int = 0, shift: int = 0, more_recordings: list[str] | None = None):
        super().__init__(data_dir, batch_size, num_workers, val_fraction, seed, n_steps, bin_us,
                         download, subset, cache_dir, shift)
        _check_int(val_size, "val_size", "training recordings held out for validation, by "
                   "largest id; 0 for none", 0)
        self.more_recordings = _check_folders(more_recordings)
        if val_size and val_fraction:
            raise ValueError(f"val_size={val_size} and val_fraction={val_fraction} both choose "
                             "a validation set: set one of them to 0")
        self.val_size = val_size
        self.stabilize, self.binary, self.paper_bins = stabilize, binary, paper_bins
        self.save_hyperparameters()

    def _last_by_id(self, full: FrameDataset) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation positions: the ``val_size`` largest file ids validate."""
        refs = full.source.refs
        if self.val_size >= len(refs):
            raise ValueError(f"val_size={self.val_size} leaves none of the {len(refs)} training "
                             "recordings to train on: lower val_size")
        ids = np.array([_file_id(ref) for ref in refs])
        order = np.argsort(ids, kind="stable")
        return np.sort(order[: -self.val_size]), np.sort(order[-self.val_size:])

    def _with_more_recordings(self, train: Dataset) -> Dataset:
        """``train`` (the full training split or its ``Subset``) with each image's further
        recordings from ``more_recordings``, matched by file id (:class:`OneRecordingPerEpoch`)."""
        if not self.more_recordings:
            return train
        base, positions = ((train.dataset, list(train.indices)) if isinstance(train, Subset)
                           else (train, list(range(len(train)))))
        refs = [base.source.refs[i] for i in positions]
        ids = [_file_id(ref) for ref in refs]
        versions: list[Dataset] = [train]
        for folder in self.more_recordings:
            found = nmnist_io.find_split(folder, "train")
            if not found:
                raise DatasetNotFoundError(
                    f"more_recordings: no N-MNIST training recordings in '{folder}' (expected "
                    f"Train/<digit>/<id>.bin there or under NMNIST/). Record the training "
                    f"images again with `bna-zoo emulate --mnist-dir data --seed 1 --n-test 0 "
                    f"--out-dir {folder}`, or drop the folder from more_recordings.")
            where = {_file_id(ref): i for i, ref in enumerate(found)}
            missing = [i for i in ids if i not in where]
            if missing:
                raise ValueError(
                    f"more_recordings: '{folder}' lacks {len(missing)} of the {len(refs)} "
                    f"training recordings (ids {missing[:5]}{' ...' if len(missing) > 5 else ''})"
                    f"; it must hold a recording of every training image (emulate at least as "
                    f"many training images as data_dir holds), or drop it from more_recordings.")
            picked = [found[where[i]] for i in ids]
            wrong = [i for i, r, q in zip(ids, refs, picked, strict=True) if r.label != q.label]
            if wrong:
                raise ValueError(
                    f"more_recordings: '{folder}' files a different digit than data_dir for "
                    f"{len(wrong)} ids (e.g. {wrong[:5]}): they are not recordings of the same "
                    f"images; record them from the same MNIST data_dir.")
            versions.append(FrameDataset(NMNISTSource(picked, self.stabilize), self._spec(),
                                         self.cache_dir, f"{self.name}-train-more",
                                         self.num_workers))
        return OneRecordingPerEpoch(versions, self.seed)

    def _spec(self) -> FrameSpec:
        return FrameSpec(nmnist_io.SENSOR_SIZE, self._n_steps, self.bin_us, self.binary,
                         self.paper_bins, stabilize=self.stabilize)

    def _missing(self, split: str, reason: str) -> str:
        folder = nmnist_io.SPLIT_FOLDERS[split]
        root, alt = nmnist_io.candidate_roots(self.data_dir)
        # Say what *is* there: a lone Train.zip otherwise looks like the whole dataset.
        others = nmnist_io.other_sources(self.data_dir, split)
        found = f"Found only the other split: {'; '.join(others)}.\n" if others else ""
        return missing_dataset_message(
            f"N-MNIST {split} split", root,
            [f"{folder}.zip", f"{folder}/<digit>/<id>.bin  (the extracted archive; either one)"],
            reason,
            f"{found}'{alt.resolve()}' is searched too (emulate_dataset's layout). Source: "
            "https://www.garrickorchard.com/datasets/n-mnist; download=True fetches it with tonic.",
        )

    def _fetch(self, split: str) -> None:
        if nmnist_io.find_split(self.data_dir, split):
            return  # our reader accepts it; tonic would want >= 10,000 files plus train.zip
        import tonic

        try:
            tonic.datasets.NMNIST(save_to=self.data_dir, train=split == "train")
        except Exception as err:  # offline, moved host, bad checksum: say where files go
            raise DatasetNotFoundError(self._missing(split, f"download failed: {err}")) from err

    def _source(self, split: str) -> NMNISTSource:
        refs = nmnist_io.find_split(self.data_dir, split)
        if not refs:
            raise DatasetNotFoundError(self._missing(split, f"download={self.download}"))
        return NMNISTSource(refs, self.stabilize)


class DVSGestureDataModule(_EventDataModule):
    """IBM DVS128 Gesture (Amir et al. 2017) in tonic's preprocessed layout, 11 classes.

    Layout: ``<data_dir>/DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy`` (and
    ``ibmGestureTest``), each an ``[N, 4]`` array ``x, y, p, t_ms``; ``<data_dir>/ibmGesture*``
    is accepted too. Order: user folders by name, then files by label. (tonic's own order
    follows the file system's listing, which differs between machines; the sample set is equal.)

    Args:
        data_dir, batch_size, num_workers, val_fraction, seed, download, subset, cache_dir,
            shift: as ``NMNISTDataModule``.
        n_steps: T, frames per sample (default 30, as the zoo's ``dvsgesture-cnn``).
        bin_us: frame width in microseconds (default 50 ms: 30 frames cover 1.5 s).
        downsample: integer spatial pooling factor: 1 keeps 128x128, 4 gives 32x32.
        binary: binary frames instead of event counts (default counts).
        paper_bins: the off-by-one binning of the N-MNIST converter (off by default).

    Batches: ``x`` float32 ``[B, T, 2, 128/d, 128/d]``, ``y`` int64 ``[B]``.
    """

    name = "dvsgesture"
    classes = list(DATASETS["DVS128 Gesture"].labels)
    folders = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}

    def __init__(self, data_dir: str = "data", batch_size: int = 32, num_workers: int = 0,
                 val_fraction: float = 0.0, seed: int = 0, n_steps: int = 30,
                 bin_us: int = 50_000, download: bool = True, subset: int | None = None,
                 cache_dir: str | None = None, downsample: int = 1, binary: bool = False,
                 paper_bins: bool = False, shift: int = 0):
        super().__init__(data_dir, batch_size, num_workers, val_fraction, seed, n_steps, bin_us,
                         download, subset, cache_dir, shift)
        _check_int(downsample, "downsample", "spatial pooling factor", 1)
        if 128 % downsample:
            raise ValueError(f"downsample must divide 128 (1, 2, 4, 8, ...), got {downsample}")
        self.downsample, self.binary, self.paper_bins = downsample, binary, paper_bins
        self.save_hyperparameters()

    def _spec(self) -> FrameSpec:
        side = 128 // self.downsample
        return FrameSpec((side, side, 2), self._n_steps, self.bin_us, self.binary,
                         self.paper_bins, downsample=self.downsample)

    def _list(self, split: str) -> tuple[list[str], list[int]]:
        for root in (Path(self.data_dir) / "DVSGesture", Path(self.data_dir)):
            folder = root / self.folders[split]
            if folder.is_dir():
                found = sorted(
                    (user.name, int(f.stem), str(f))
                    for user in folder.iterdir() if user.is_dir() and "_" in user.name
                    for f in user.iterdir() if re.fullmatch(r"\d+\.npy", f.name)
                )
                if found:
                    return [f for _, _, f in found], [label for _, label, _ in found]
        return [], []

    def _missing(self, split: str, reason: str) -> str:
        f = self.folders[split]
        return missing_dataset_message(
            f"DVS Gesture {split} split", Path(self.data_dir) / "DVSGesture",
            [f"{f}/user<NN>_<lighting>/<label>.npy  (extract tonic's {f}.tar.gz here)"], reason,
            "download=True fetches it with tonic (figshare).",
        )

    def _fetch(self, split: str) -> None:
        if self._list(split)[0]:
            return
        import tonic

        try:
            tonic.datasets.DVSGesture(save_to=self.data_dir, train=split == "train")
        except Exception as err:
            raise DatasetNotFoundError(self._missing(split, f"download failed: {err}")) from err

    def _source(self, split: str) -> GestureSource:
        files, labels = self._list(split)
        if not files:
            raise DatasetNotFoundError(self._missing(split, f"download={self.download}"))
        if max(labels) >= len(self.classes):
            raise ValueError(f"label {max(labels)} in {split} files; DVS Gesture has 0..10")
        return GestureSource(files, labels, self.downsample)
