"""Your own images: a folder of image files, or arrays / an ``.npz`` file.

- :class:`ImageFolderDataModule`: torchvision's ``ImageFolder`` layout, one sub-folder per class::

      mydata/train/cat/001.png   mydata/train/dog/002.jpg   ...
      mydata/test/cat/...        (optional: mydata/val/<class>/...)

- :class:`ArrayDataModule`: numpy arrays or tensors in Python
  (``ArrayDataModule(train=(x, y), test=(x, y))``), or from YAML / the command line an ``.npz``
  file with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (and optionally ``x_val``,
  ``y_val``, ``classes``).

Images are held in memory as uint8 and batched like the zoo's own image data (same loaders,
augmentation and normalisation). The normalisation defaults to the model's own statistics when
the DataModule trains a model (fine-tuning keeps the pretrained input statistics), else to the
per-channel statistics of the training images. Files are only read, never downloaded or copied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from .augment import BatchAugment
from .common import DatasetNotFoundError, make_loader
from .image_arrays import ArrayImageDataset, is_raw_batch

SPLIT_FOLDERS = ("train", "val", "test")


def as_uint8_images(x: Any, what: str) -> np.ndarray:
    """Images as uint8 ``[N, H, W]`` or ``[N, H, W, C]``.

    Accepts uint8 pixels, floats in [0, 1], and channel-first ``[N, C, H, W]`` with C of 1 or 3.
    """
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim == 4 and arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(0, 2, 3, 1)  # channel-first, as torch holds images
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or len(arr) == 0:
        raise ValueError(f"{what}: expected images [N, H, W], [N, H, W, C] or [N, C, H, W], "
                         f"got shape {list(arr.shape)}")
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating) and arr.min() >= 0 and arr.max() <= 1:
        return np.rint(arr * 255).astype(np.uint8)
    raise ValueError(f"{what}: pixels must be uint8 (0-255) or floats in [0, 1], got {arr.dtype} "
                     f"in [{arr.min()}, {arr.max()}]; rescale them first")


def as_labels(y: Any, n: int, what: str) -> np.ndarray:
    arr = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0:
        raise ValueError(f"{what}: expected {n} integer class indices >= 0, got "
                         f"{arr.dtype} {list(arr.shape)}")
    return arr.astype(np.int64)


class ArrayDataModule(L.LightningDataModule):
    """Images and labels you already hold, as arrays, tensors or an ``.npz`` file.

    Args:
        npz: an ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (optional
            ``x_val``, ``y_val``, and ``classes``, a string array of class names); or None to
            pass arrays.
        train: ``(images, labels)``; images uint8 or floats in [0, 1], ``[N, H, W]``,
            ``[N, H, W, C]`` or ``[N, C, H, W]``; labels ``[N]`` class indices.
        test: the same for the test split.
        val: the same for a validation split; None holds out the last ``holdout`` training
            images, or (``holdout=0``) validates on the test split.
        classes: class names in index order (default: the file's, else ``"0"``, ``"1"``...).
        dataset_name: how the data is named in the model folder and card.
        batch_size: samples per batch.
        num_workers: DataLoader worker processes.
        holdout: the last ``holdout`` training images validate (when ``val`` is None). Named
            apart from the zoo DataModules' ``val_size`` on purpose: ``--data
            ImageFolderDataModule`` after a zoo recipe would otherwise inherit the recipe's
            10,000.
        seed: seed of the training order and augmentation.
        augment: random crops (padding 2) and rotations up to 10 degrees while training.
        mean, std: per-channel input normalisation; None takes the model's own statistics when
            a Trainer trains one (fine-tuning keeps the pretrained input statistics), else the
            training images' per-channel mean and std.

    Batches: ``x`` float32 ``[B, C, H, W]`` normalised, ``y`` int64 ``[B]``.
    """

    def __init__(self, npz: str | None = None, train: Any = None, test: Any = None,
                 val: Any = None, classes: list[str] | None = None,
                 dataset_name: str = "your data", batch_size: int = 64, num_workers: int = 0,
                 holdout: int = 0, seed: int = 0, augment: bool = False,
                 mean: list[float] | None = None, std: list[float] | None = None) -> None:
        super().__init__()
        if (npz is None) == (train is None):
            raise ValueError("give either npz (a file) or train=(images, labels) and test=..., "
                             "not both and not neither")
        if train is not None and test is None:
            raise ValueError("test=(images, labels) is needed beside train")
        if (mean is None) != (std is None):
            raise ValueError("give mean and std together, or neither (the model's statistics)")
        if isinstance(holdout, bool) or not isinstance(holdout, int) or holdout < 0:
            raise ValueError(f"holdout must be a number of samples >= 0, got {holdout!r}")
        self.npz, self._arrays = npz, {"train": train, "val": val, "test": test}
        self._classes = list(classes) if classes is not None else None
        self.dataset_name, self.data_dir = dataset_name, str(npz or "memory")
        self.batch_size, self.num_workers, self.holdout = batch_size, num_workers, holdout
        self.seed, self.augment, self.mean, self.std = seed, augment, mean, std
        self.save_hyperparameters(ignore=["train", "test", "val"])
        self.train_set: ArrayImageDataset | None = None
        self.val_set: ArrayImageDataset | None = None
        self.test_set: ArrayImageDataset | None = None

    # --- what the data is
    @property
    def classes(self) -> list[str]:
        """Class names in index order."""
        self._ensure_loaded()
        return self._classes

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _read(self) -> dict[str, tuple[np.ndarray, np.ndarray] | None]:
        """``{"train": (x, y), "val": (x, y) or None, "test": (x, y)}`` as given."""
        if self.npz is None:
            return dict(self._arrays)
        path = Path(self.npz)
        if not path.is_file():
            raise DatasetNotFoundError(f"no .npz file at {path.resolve()} (ArrayDataModule npz)")
        with np.load(path, allow_pickle=False) as f:
            need = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
            if need:
                raise ValueError(f"{path}: missing arrays {sorted(need)}; it holds {f.files}")
            if self._classes is None and "classes" in f.files:
                self._classes = [str(c) for c in f["classes"]]
            val = (f["x_val"], f["y_val"]) if "x_val" in f.files else None
            return {"train": (f["x_train"], f["y_train"]), "val": val,
                    "test": (f["x_test"], f["y_test"])}

    def _ensure_loaded(self) -> None:
        if getattr(self, "_loaded", None) is not None:
            return
        raw, loaded = self._read(), {}
        for split, pair in raw.items():
            if pair is None:
                continue
            x = as_uint8_images(pair[0], f"{self.dataset_name} {split} images")
            loaded[split] = (x, as_labels(pair[1], len(x), f"{self.dataset_name} {split} labels"))
        n_classes = 1 + max(int(y.max()) for _, y in loaded.values())
        if self._classes is None:
            self._classes = [str(i) for i in range(n_classes)]
        elif len(self._classes) < n_classes:
            raise ValueError(f"{len(self._classes)} class names for labels up to "
                             f"{n_classes - 1}")
        shapes = {x.shape[1:] for x, _ in loaded.values()}
        if len(shapes) != 1:
            raise ValueError(f"the splits' images differ in shape: {sorted(shapes)}")
        self._loaded = loaded

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one sample."""
        self._ensure_loaded()
        shape = self._loaded["train"][0].shape[1:]
        return (1, *shape) if len(shape) == 2 else (shape[2], shape[0], shape[1])

    def _statistics(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        if self.mean is not None:
            return tuple(self.mean), tuple(self.std)
        module = self.trainer.lightning_module if self.trainer is not None else None
        spec = getattr(module, "input_spec", None)
        if spec is not None and spec.mean is not None:
            return tuple(spec.mean), tuple(spec.std)
        x = self._loaded["train"][0].astype(np.float64) / 255
        axes = (0, 1, 2) if x.ndim == 4 else None
        mean, std = x.mean(axis=axes), x.std(axis=axes)
        return tuple(np.atleast_1d(mean).tolist()), tuple(np.atleast_1d(std).clip(1e-3).tolist())

    # --- Lightning hooks
    def setup(self, stage: str | None = None) -> None:
        if self.test_set is not None:
            return
        self._ensure_loaded()
        stats = self._statistics()
        self.statistics = stats
        (tx, ty), (sx, sy) = self._loaded["train"], self._loaded["test"]
        self.test_set = ArrayImageDataset(sx, sy, *stats)
        train_idx = None
        if "val" in self._loaded:
            self.val_set = ArrayImageDataset(*self._loaded["val"], *stats)
        elif self.holdout:
            if self.holdout >= len(tx):
                raise ValueError(f"holdout={self.holdout} leaves none of the {len(tx)} "
                                 "training images to train on")
            train_idx = np.arange(len(tx) - self.holdout)
            self.val_set = ArrayImageDataset(tx, ty, *stats, None,
                                             np.arange(len(tx) - self.holdout, len(tx)))
        else:
            self.val_set = self.test_set
        augment = BatchAugment(padding=2, degrees=10) if self.augment else None
        self.train_set = ArrayImageDataset(tx, ty, *stats, augment, train_idx, seed=self.seed)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if is_raw_batch(batch):
            return self.train_set.finish_batch(batch)
        return batch

    def _loader(self, dataset, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: call setup() before asking for a loader")
        return make_loader(dataset, self.batch_size, self.num_workers, shuffle, self.seed)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, False)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()


class ImageFolderDataModule(ArrayDataModule):
    """A folder of image files, one sub-folder per class (torchvision's ``ImageFolder``).

    Layout: ``<data_dir>/train/<class>/<image>`` and ``<data_dir>/test/<class>/<image>``, and
    optionally ``<data_dir>/val/<class>/<image>``; any format PIL reads. Class names are the
    sub-folder names, sorted (as ``ImageFolder`` orders them).

    Args:
        data_dir: the folder.
        image_size: ``[H, W]`` every image is resized to; None takes the model's input size when
            a Trainer trains one, else the first image's size.
        channels: 1 (grey) or 3 (RGB); None takes the model's when a Trainer trains one, else 3.
        Others: see :class:`ArrayDataModule`.
    """

    def __init__(self, data_dir: str = "data", image_size: list[int] | None = None,
                 channels: int | None = None, batch_size: int = 64, num_workers: int = 0,
                 holdout: int = 0, seed: int = 0, augment: bool = False,
                 mean: list[float] | None = None, std: list[float] | None = None) -> None:
        if channels not in (None, 1, 3):
            raise ValueError(f"channels must be 1 (grey), 3 (RGB) or None, got {channels!r}")
        super().__init__(npz=str(data_dir), dataset_name=Path(data_dir).name or str(data_dir),
                         batch_size=batch_size, num_workers=num_workers, holdout=holdout,
                         seed=seed, augment=augment, mean=mean, std=std)
        self.data_dir, self.image_size, self.channels = str(data_dir), image_size, channels

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one sample; before ``setup`` only when size and channels are given
        (else they follow the model then)."""
        if getattr(self, "_loaded", None) is None:
            if self.image_size is None or self.channels is None:
                raise AttributeError("the image size follows the model at setup")
            return (self.channels, *self.image_size)
        return super().input_shape

    def _model_shape(self) -> tuple[int, int, int] | None:
        module = self.trainer.lightning_module if self.trainer is not None else None
        net = getattr(module, "net", None)
        return tuple(net.input_shape) if net is not None else None

    def _read(self) -> dict[str, tuple[np.ndarray, np.ndarray] | None]:
        from torchvision.datasets import ImageFolder

        root = Path(self.data_dir)
        missing = [s for s in ("train", "test") if not (root / s).is_dir()]
        if missing:
            raise DatasetNotFoundError(
                f"{root.resolve()} lacks {' and '.join(f'{m}/' for m in missing)}: an image "
                "folder holds train/<class>/<image> and test/<class>/<image> (val/ optional), "
                "one sub-folder per class")
        shape = self._model_shape()
        channels = self.channels or (shape[0] if shape else 3)
        size = tuple(self.image_size) if self.image_size else (tuple(shape[1:]) if shape else None)
        out: dict[str, tuple[np.ndarray, np.ndarray] | None] = {"val": None}
        for split in SPLIT_FOLDERS:
            if not (root / split).is_dir():
                continue
            folder = ImageFolder(str(root / split))
            if self._classes is None:
                self._classes = list(folder.classes)
            elif folder.classes != self._classes[: len(folder.classes)]:
                raise ValueError(f"{root / split}: classes {folder.classes} differ from "
                                 f"train/'s {self._classes}")
            images = []
            for path, _ in folder.samples:
                img = folder.loader(path).convert("L" if channels == 1 else "RGB")
                size = size or (img.height, img.width)
                if (img.height, img.width) != tuple(size):
                    img = img.resize((size[1], size[0]))
                images.append(np.asarray(img, dtype=np.uint8))
            out[split] = (np.stack(images), np.array(folder.targets, dtype=np.int64))
        return out
