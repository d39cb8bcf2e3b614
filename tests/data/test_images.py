"""Claims about the torchvision image DataModules, checked on tiny files in the real formats."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import SequentialSampler

from bna_zoo.data import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule
from bna_zoo.data.augment import BatchAugment
from bna_zoo.data.common import (
    DatasetFormatError,
    DatasetNotFoundError,
    EpochSeededRandomSampler,
    seeded_split,
)
from bna_zoo.data.image_arrays import is_raw_batch
from bna_zoo.data.image_files import DEBIAN_FASHION_MNIST_DIR, read_idx

MODULES = [MNISTDataModule, FashionMNISTDataModule, CIFAR10DataModule]
IDS = [m.__name__ for m in MODULES]


def make(cls: type, data_dir: Path, **kwargs: object):
    """A module over ``data_dir`` that never downloads; prepared and set up."""
    extra = {"system_dir": None} if cls is FashionMNISTDataModule else {}
    dm = cls(data_dir=str(data_dir), download=False, **{**extra, **kwargs})
    dm.prepare_data()
    dm.setup("fit")
    return dm


def normalised(images: np.ndarray, dm) -> torch.Tensor:
    """What the eval transform must give: ``(pixel/255 - mean)/std``, as ``[N, C, H, W]``."""
    x = torch.from_numpy(images).float() / 255
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    mean, std = torch.tensor(dm.mean).view(1, -1, 1, 1), torch.tensor(dm.std).view(1, -1, 1, 1)
    return (x - mean) / std


def all_x(dataset) -> torch.Tensor:
    return torch.stack([dataset[i][0] for i in range(len(dataset))])


# --------------------------------------------------------------------------- batches


@pytest.mark.parametrize("cls", MODULES, ids=IDS)
def test_batches_are_float32_images_with_int64_labels(cls, image_dir):
    data_dir, _ = image_dir(cls.__name__)
    dm = make(cls, data_dir, batch_size=8)
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        # training batches are augmented after the transfer, by the hook Lightning calls
        x, y = dm.on_after_batch_transfer(next(iter(loader)), 0)
        assert x.shape == (8, *dm.input_shape) and x.dtype == torch.float32
        assert y.shape == (8,) and y.dtype == torch.int64
    assert dm.num_classes == 10 and len(dm.classes) == 10
    assert dm.input_shape == ((3, 32, 32) if cls is CIFAR10DataModule else (1, 28, 28))


@pytest.mark.parametrize("cls", MODULES, ids=IDS)
def test_test_set_is_normalised_pixels_without_augmentation(cls, image_dir):
    data_dir, arrays = image_dir(cls.__name__)
    dm = make(cls, data_dir, augment=True)
    images, labels = arrays["test"]
    torch.testing.assert_close(all_x(dm.test_set), normalised(images, dm), rtol=0, atol=1e-6)
    assert [dm.test_set[i][1] for i in range(len(labels))] == labels.tolist()


def test_normalisation_constants_follow_the_spec():
    assert MNISTDataModule.mean == FashionMNISTDataModule.mean == (0.1307,)
    assert MNISTDataModule.std == FashionMNISTDataModule.std == (0.3081,)
    assert CIFAR10DataModule.mean == (0.4914, 0.4822, 0.4465)
    assert CIFAR10DataModule.std == (0.2023, 0.1994, 0.2010)


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (MNISTDataModule, BatchAugment(padding=4, degrees=15)),
        (FashionMNISTDataModule, BatchAugment(padding=4, hflip=True, degrees=5)),
        (CIFAR10DataModule,
         BatchAugment(padding=4, hflip=True, brightness=0.2, contrast=0.2, hue=0.2)),
    ],
    ids=IDS,
)
def test_train_augmentation_matches_spec_section_3(cls, expected, image_dir):
    assert cls().augmentation() == expected
    data_dir, _ = image_dir(cls.__name__)
    assert make(cls, data_dir, augment=True).train_set.augment == expected
    assert make(cls, data_dir, augment=False).train_set.augment is None


@pytest.mark.parametrize("cls", MODULES, ids=IDS)
def test_crop_padding_and_rotation_replace_only_those_of_the_papers_augmentation(cls, image_dir):
    data_dir, _ = image_dir(cls.__name__)
    paper = cls().augmentation()
    dm = make(cls, data_dir, augment=True, crop_padding=2, rotation=7.5)
    assert dm.train_set.augment == BatchAugment(**{**vars(paper), "padding": 2, "degrees": 7.5})
    assert make(cls, data_dir, augment=True, crop_padding=None).train_set.augment == paper
    assert make(cls, data_dir, augment=False, crop_padding=2).train_set.augment is None


def test_crop_padding_and_rotation_zero_train_mnist_on_normalised_pixels(image_dir):
    """MNIST's augmentation is crop and rotation only: both off leave the pixels untouched."""
    data_dir, arrays = image_dir(MNISTDataModule.__name__)
    dm = make(MNISTDataModule, data_dir, augment=True, crop_padding=0, rotation=0)
    expected = normalised(arrays["train"][0], dm)
    torch.testing.assert_close(all_x(dm.train_set), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"crop_padding": -1}, "crop_padding"), ({"crop_padding": 1.5}, "crop_padding"),
     ({"crop_padding": True}, "crop_padding"), ({"rotation": -3}, "rotation"),
     ({"rotation": 270}, "rotation")],
)
def test_bad_augmentation_sizes_are_refused_by_name(kwargs, named):
    with pytest.raises(ValueError, match=named):
        MNISTDataModule(**kwargs)


@pytest.mark.parametrize("cls", MODULES, ids=IDS)
def test_augment_false_trains_on_normalised_pixels(cls, image_dir):
    data_dir, arrays = image_dir(cls.__name__)
    dm = make(cls, data_dir, augment=False)
    expected = normalised(arrays["train"][0], dm)
    torch.testing.assert_close(all_x(dm.train_set), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cls", MODULES, ids=IDS)
def test_augment_true_changes_training_samples(cls, image_dir):
    data_dir, arrays = image_dir(cls.__name__)
    dm = make(cls, data_dir, augment=True)
    torch.manual_seed(0)
    assert not torch.allclose(all_x(dm.train_set), normalised(arrays["train"][0], dm))


# --------------------------------------------------------------------------- splits and subset


def test_val_fraction_zero_validates_on_the_test_set(mnist_dir):
    data_dir, arrays = mnist_dir
    dm = make(MNISTDataModule, data_dir, val_fraction=0.0, batch_size=100)
    assert dm.val_set is dm.test_set
    assert len(dm.train_set) == len(arrays["train"][1])  # nothing held out of training
    (xv, yv), (xt, yt) = next(iter(dm.val_dataloader())), next(iter(dm.test_dataloader()))
    assert torch.equal(xv, xt) and torch.equal(yv, yt)


def test_val_split_is_seeded_disjoint_and_not_augmented(mnist_dir):
    data_dir, arrays = mnist_dir
    a = make(MNISTDataModule, data_dir, val_fraction=0.25, seed=3)
    b = make(MNISTDataModule, data_dir, val_fraction=0.25, seed=3)
    c = make(MNISTDataModule, data_dir, val_fraction=0.25, seed=4)
    assert np.array_equal(a.val_set.indices, b.val_set.indices)
    assert not np.array_equal(a.val_set.indices, c.val_set.indices)
    assert len(a.val_set) == 15 and len(a.train_set) == 45
    assert set(a.val_set.indices).isdisjoint(a.train_set.indices)
    assert sorted([*a.val_set.indices, *a.train_set.indices]) == list(range(60))
    expected = normalised(arrays["train"][0][a.val_set.indices], a)
    torch.testing.assert_close(all_x(a.val_set), expected, rtol=0, atol=1e-6)
    assert len(a.test_set) == 20  # the test set stays whole and separate


def test_seeded_split_rounds_and_refuses_an_empty_training_part():
    train, val = seeded_split(10, 0.25, seed=0)
    assert len(val) == 2 and len(train) == 8  # round(2.5) = 2
    assert list(val) == sorted(val) and list(train) == sorted(train)
    assert len(seeded_split(10, 0.01, seed=0)[1]) == 1  # at least one validation sample
    with pytest.raises(ValueError, match="no training sample"):
        seeded_split(1, 0.5, seed=0)


def test_subset_keeps_first_n_train_and_n_over_6_test_samples(mnist_dir):
    data_dir, arrays = mnist_dir
    dm = make(MNISTDataModule, data_dir, subset=30, augment=False)
    assert len(dm.train_set) == 30 and len(dm.test_set) == 5
    expected = normalised(arrays["train"][0][:30], dm)
    torch.testing.assert_close(all_x(dm.train_set), expected, rtol=0, atol=1e-6)
    assert len(make(MNISTDataModule, data_dir, subset=3).test_set) == 1  # never empty


@pytest.mark.parametrize(
    "kwargs", [{"val_fraction": 1.0}, {"val_fraction": -0.1}, {"subset": 0}, {"batch_size": 0}]
)
def test_invalid_arguments_are_rejected_at_construction(kwargs):
    with pytest.raises(ValueError):
        MNISTDataModule(**kwargs)


# --------------------------------------------------------------------------- loaders


def labels_in_order(dm, epoch: int) -> list[int]:
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)
    return torch.cat([batch[1] for batch in loader]).tolist()


def test_training_order_depends_only_on_seed_and_epoch(mnist_dir):
    data_dir, _ = mnist_dir
    a = make(MNISTDataModule, data_dir, seed=1, batch_size=7)
    b = make(MNISTDataModule, data_dir, seed=1, batch_size=7)
    c = make(MNISTDataModule, data_dir, seed=2, batch_size=7)
    assert labels_in_order(a, 0) == labels_in_order(b, 0)
    assert labels_in_order(a, 0) != labels_in_order(c, 0)
    assert labels_in_order(a, 1) != labels_in_order(a, 0)  # each epoch reshuffles
    # a fresh loader jumped to epoch 1 (a resumed run) repeats the uninterrupted epoch 1
    assert labels_in_order(b, 1) == labels_in_order(a, 1)
    assert sorted(labels_in_order(a, 0)) == sorted(labels_in_order(a, 1))


def test_loader_settings_follow_the_contract(mnist_dir):
    data_dir, _ = mnist_dir
    dm = make(MNISTDataModule, data_dir, num_workers=2)
    train, val = dm.train_dataloader(), dm.val_dataloader()
    assert isinstance(train.sampler, EpochSeededRandomSampler)
    assert isinstance(val.sampler, SequentialSampler)
    # workers are re-created every epoch so they see the dataset's epoch (seeded augmentation)
    assert not train.persistent_workers and train.num_workers == 2
    assert train.pin_memory == torch.cuda.is_available()


def test_augmentation_is_a_function_of_seed_epoch_and_sample_once_the_sampler_sets_the_epoch(
    mnist_dir,
):
    data_dir, _ = mnist_dir
    dm = make(MNISTDataModule, data_dir, augment=True)
    loader = dm.train_dataloader()
    sampler, ds = loader.sampler, dm.train_set
    sampler.set_epoch(3)
    first = ds[0][0]
    torch.rand(100)  # unrelated draws from the global RNG change nothing
    assert torch.equal(ds[0][0], first)
    sampler.set_epoch(4)
    assert not torch.equal(ds[0][0], first)


def test_loader_before_setup_says_to_call_setup():
    with pytest.raises(RuntimeError, match="setup"):
        MNISTDataModule().train_dataloader()


@pytest.mark.filterwarnings("ignore:You passed in a `val_dataloader`")
def test_trainer_reshuffles_each_epoch_through_set_epoch(mnist_dir):
    import lightning as L

    class Probe(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(28 * 28, 10)
            self.seen: list[list[int]] = []

        def on_train_epoch_start(self) -> None:
            self.seen.append([])

        def training_step(self, batch, batch_idx):
            x, y = batch
            self.seen[-1] += y.tolist()
            return torch.nn.functional.cross_entropy(self.layer(x.flatten(1)), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    data_dir, _ = mnist_dir
    dm = MNISTDataModule(data_dir=str(data_dir), download=False, batch_size=20, seed=5)
    probe = Probe()
    trainer = L.Trainer(
        max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(probe, datamodule=dm)
    assert trainer.train_dataloader.sampler.epoch == 1
    fresh = MNISTDataModule(data_dir=str(data_dir), download=False, batch_size=20, seed=5)
    fresh.setup()
    assert probe.seen == [labels_in_order(fresh, 0), labels_in_order(fresh, 1)]


# --------------------------------------------------------------------------- offline behaviour


def test_data_on_disk_is_used_without_calling_download(mnist_dir, monkeypatch):
    data_dir, _ = mnist_dir
    dm = MNISTDataModule(data_dir=str(data_dir), download=True)
    monkeypatch.setattr(dm, "_download", lambda: pytest.fail("download was attempted"))
    dm.prepare_data()
    dm.setup()
    assert len(dm.train_set) == 60


@pytest.mark.parametrize("cls", MODULES, ids=IDS)
def test_missing_dataset_without_download_names_the_folder_and_files(cls, tmp_path):
    extra = {"system_dir": None} if cls is FashionMNISTDataModule else {}
    dm = cls(data_dir=str(tmp_path), download=False, **extra)
    with pytest.raises(DatasetNotFoundError) as info:
        dm.prepare_data()
    message = str(info.value)
    folder = {
        MNISTDataModule: tmp_path / "MNIST" / "raw",
        FashionMNISTDataModule: tmp_path / "FashionMNIST" / "raw",
        CIFAR10DataModule: tmp_path / "cifar-10-batches-py",
    }[cls]
    assert str(folder.resolve()) in message and "download=False" in message
    for name in dm.required_files():
        assert name in message
    with pytest.raises(DatasetNotFoundError, match="prepare_data"):
        dm.setup()


@pytest.mark.parametrize("cls", MODULES, ids=IDS)
def test_failed_download_offline_raises_dataset_not_found(cls, tmp_path):
    extra = {"system_dir": None} if cls is FashionMNISTDataModule else {}
    dm = cls(data_dir=str(tmp_path), download=True, **extra)
    with pytest.raises(DatasetNotFoundError, match="download failed"):
        dm.prepare_data()  # the no_network fixture makes every connection fail


def test_gz_files_in_the_raw_folder_are_decompressed_without_network(tmp_path, fake):
    arrays = fake.write_idx_dataset(tmp_path / "MNIST" / "raw", 12, 6, gz=True)
    dm = make(MNISTDataModule, tmp_path, augment=False)
    assert (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    torch.testing.assert_close(
        all_x(dm.train_set), normalised(arrays["train"][0], dm), rtol=0, atol=1e-6
    )


def test_fashion_mnist_is_imported_from_a_system_copy(tmp_path, fake):
    # a full-size (60000/10000) copy: the import insists on the real counts
    system = tmp_path / "system"
    fake.write_idx_dataset(system, 60000, 10000, gz=True, blank=True)
    data_dir = tmp_path / "data"
    dm = FashionMNISTDataModule(
        data_dir=str(data_dir), download=False, system_dir=str(system), subset=60
    )
    dm.prepare_data()
    raw = data_dir / "FashionMNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(n for pair in fake.IDX_NAMES.values() for n in pair)
    assert read_idx(raw / "train-images-idx3-ubyte", 3, 60000).shape == (60000, 28, 28)
    dm.setup()
    assert len(dm.train_set) == 60 and len(dm.test_set) == 10


def test_system_copy_with_wrong_counts_is_rejected_naming_the_file(tmp_path, fake):
    system = tmp_path / "system"
    fake.write_idx_dataset(system, 12, 6, gz=True)
    dm = FashionMNISTDataModule(data_dir=str(tmp_path / "data"), system_dir=str(system))
    with pytest.raises(DatasetFormatError, match=r"train-images-idx3-ubyte.*expected 60000"):
        dm.prepare_data()
    assert not list((tmp_path / "data" / "FashionMNIST" / "raw").iterdir())  # no half files


@pytest.mark.skipif(
    not Path(DEBIAN_FASHION_MNIST_DIR).is_dir(),
    reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN_FASHION_MNIST_DIR} missing; "
    "apt-get install dataset-fashion-mnist)",
)
def test_debian_fashion_mnist_package_provides_the_full_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default data folder, "data", is the one it fills
    dm = FashionMNISTDataModule(download=False, subset=600, batch_size=32)
    dm.prepare_data()
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    labels = read_idx(raw / "train-labels-idx1-ubyte", 1, 60000)
    assert np.bincount(labels).tolist() == [6000] * 10  # Fashion-MNIST is exactly balanced
    assert read_idx(raw / "t10k-images-idx3-ubyte", 3, 10000).shape == (10000, 28, 28)
    dm.setup()
    x, y = next(iter(dm.test_dataloader()))
    assert x.shape == (32, 1, 28, 28) and y.dtype == torch.int64
    assert -0.5 < x.mean().item() < 0.5  # MNIST stats roughly centre Fashion-MNIST too


def test_a_data_dir_the_user_named_is_never_filled_from_the_system_copy(tmp_path):
    system = tmp_path / "system"
    system.mkdir()
    (system / "train-images-idx3-ubyte.gz").write_bytes(b"")  # presence is enough to tempt it
    dm = FashionMNISTDataModule(data_dir=str(tmp_path / "mydata"), download=False)
    dm.system_dir = str(system)  # as if Debian's default
    import bna_zoo.data.images as images

    images_default = images.DEBIAN_FASHION_MNIST_DIR
    try:
        images.DEBIAN_FASHION_MNIST_DIR = str(system)
        with pytest.raises(DatasetNotFoundError, match="mydata"):
            dm.prepare_data()
    finally:
        images.DEBIAN_FASHION_MNIST_DIR = images_default
    assert not (tmp_path / "mydata" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()


# --------------------------------------------------------------------------- corrupted files


@pytest.mark.parametrize(
    ("corrupt", "match"),
    [
        (lambda b: (0x0901).to_bytes(4, "big") + b[4:], "magic number"),
        (lambda b: b[:-100], "truncated"),
        (lambda b: b[:10], "too short"),
    ],
    ids=["wrong-magic", "truncated", "no-header"],
)
def test_corrupted_idx_fails_naming_the_file(mnist_dir, corrupt, match):
    data_dir, _ = mnist_dir
    path = data_dir / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(corrupt(path.read_bytes()))
    dm = MNISTDataModule(data_dir=str(data_dir), download=False)
    dm.prepare_data()  # the file is present, so nothing to fetch
    with pytest.raises(DatasetFormatError, match=match) as info:
        dm.setup()
    assert str(path) in str(info.value)


def test_idx_labels_out_of_range_are_rejected(mnist_dir, fake):
    data_dir, _ = mnist_dir
    path = data_dir / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    path.write_bytes(fake.idx_bytes(np.full(60, 11, dtype=np.uint8)))
    with pytest.raises(DatasetFormatError, match="labels outside"):
        make(MNISTDataModule, data_dir)


def test_truncated_cifar_batch_fails_naming_the_file(cifar_dir):
    data_dir, _ = cifar_dir
    path = data_dir / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DatasetFormatError, match="not a CIFAR-10 python batch") as info:
        make(CIFAR10DataModule, data_dir)
    assert str(path) in str(info.value)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_cifar_reader_refuses_pickles_that_would_run_code(cifar_dir, monkeypatch):
    data_dir, _ = cifar_dir
    monkeypatch.chdir(data_dir)
    path = data_dir / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(pickle.dumps({"data": _Exploit(), "labels": []}, protocol=2))
    with pytest.raises(DatasetFormatError, match="refusing to load"):
        make(CIFAR10DataModule, data_dir)
    assert not (data_dir / "pwned").exists()


# --------------------------------------------------------------------------- configuration


def test_init_args_build_the_module_from_yaml_and_are_json_able(tmp_path):
    from jsonargparse import ArgumentParser

    parser = ArgumentParser()
    parser.add_class_arguments(FashionMNISTDataModule, "data")
    cfg = parser.parse_string(
        f"data:\n  data_dir: {tmp_path}\n  val_fraction: 0.1\n  subset: 120\n  system_dir: null\n"
    )
    dm = FashionMNISTDataModule(**cfg.data.as_dict())
    assert dm.subset == 120 and dm.val_fraction == 0.1 and dm.system_dir is None
    assert json.loads(json.dumps(dict(dm.hparams)))["subset"] == 120


def test_lazy_package_exports_are_the_image_modules():
    import bna_zoo.data as data
    from bna_zoo.data import images

    assert data.MNISTDataModule is images.MNISTDataModule
    assert data.CIFAR10DataModule is images.CIFAR10DataModule


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_augmented_run_killed_mid_epoch_resumes_to_the_uninterrupted_weights(fashion_dir, tmp_path):
    """Exact resume with the batched augmentation: it is a function of (seed, epoch, sample)."""
    import lightning as L
    from lightning.pytorch.callbacks import Callback, ModelCheckpoint

    from bna_zoo import BNAModel

    class Crash(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.current_epoch == 1 and batch_idx == 3:
                raise RuntimeError("simulated crash")

    data_dir, _ = fashion_dir

    def run(tag: str, crash: bool = False, ckpt: str | None = None) -> BNAModel:
        L.seed_everything(0)
        model = BNAModel("fashionmnist-mlp", arch_overrides={"arch": "D0.3-64-10"}, lr=2e-3)
        dm = FashionMNISTDataModule(str(data_dir), batch_size=10, system_dir=None, download=False)
        callbacks = [ModelCheckpoint(dirpath=tmp_path / tag, save_last=True)]
        trainer = L.Trainer(max_epochs=2, limit_val_batches=1, logger=False, callbacks=callbacks
                            + ([Crash()] if crash else []), enable_progress_bar=False,
                            enable_model_summary=False, accelerator="cpu")
        trainer.fit(model, dm, ckpt_path=ckpt)
        return model

    full = run("full")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run("cut", crash=True)
    resumed = run("cut", ckpt="last")
    for a, b in zip(full.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_raw_training_batches_are_finished_by_the_transfer_hook_only(fashion_dir):
    data_dir, _ = fashion_dir
    dm = make(FashionMNISTDataModule, data_dir, augment=True, batch_size=8)
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(0)
    raw = next(iter(loader))
    assert is_raw_batch(raw) and raw[0].dtype == torch.uint8 and raw[2].shape == (8, 7)
    x, y = dm.on_after_batch_transfer(raw, 0)
    assert x.dtype == torch.float32 and torch.equal(y, raw[1])
    # the same samples indexed one by one give the same augmented images
    first = loader.sampler.__iter__().__next__()
    torch.testing.assert_close(dm.train_set[first][0], x[0], rtol=0, atol=0)
    val = next(iter(dm.val_dataloader()))
    assert not is_raw_batch(val) and dm.on_after_batch_transfer(val, 0) is val


def test_shipped_digits_are_the_emulated_nmnist_split_and_need_no_files(tmp_path):
    from bna_zoo.data.digits import load_digits, split_digits

    dm = MNISTDataModule(str(tmp_path), shipped_digits=True, download=False, augment=False)
    dm.prepare_data()
    dm.setup("fit")
    tr_x, _, te_x, te_y = split_digits(*load_digits(), 0.2, 0)  # what `bna-zoo emulate` uses
    assert len(dm.train_set) == len(tr_x) == 8000 and len(dm.test_set) == len(te_x) == 2000
    assert torch.equal(dm.test_set.images[:, 0], torch.from_numpy(te_x))
    assert torch.equal(dm.test_set.labels, torch.from_numpy(te_y))
    assert not list(tmp_path.iterdir())  # nothing downloaded or written
