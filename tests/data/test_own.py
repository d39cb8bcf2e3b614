"""Your own images: an ImageFolder tree or arrays, batched like the zoo's data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from bna_zoo.data.common import DatasetNotFoundError
from bna_zoo.data.own import ArrayDataModule, ImageFolderDataModule


def write_image_folder(root, classes=("cat", "dog", "owl"), per_class=4, size=(28, 28), seed=0):
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / c / f"{i}.png")


def test_image_folder_reads_classes_from_folder_names_as_grey_resized_batches(tmp_path):
    write_image_folder(tmp_path / "pets", size=(40, 30))
    dm = ImageFolderDataModule(str(tmp_path / "pets"), image_size=[28, 28], channels=1,
                               batch_size=5)
    dm.setup("fit")
    assert dm.classes == ["cat", "dog", "owl"] and dm.dataset_name == "pets"
    x, y = next(iter(dm.test_dataloader()))
    assert x.shape == (5, 1, 28, 28) and y.tolist() == [0, 0, 0, 0, 1]
    # no model: the training images' own statistics normalise them
    train_x = torch.cat([b[0] for b in dm.train_dataloader()])
    assert abs(train_x.mean().item()) < 1e-5 and abs(train_x.std().item() - 1) < 1e-2


def test_image_folder_without_its_split_folders_names_the_layout(tmp_path):
    (tmp_path / "pets" / "cat").mkdir(parents=True)
    dm = ImageFolderDataModule(str(tmp_path / "pets"))
    with pytest.raises(DatasetNotFoundError, match=r"train/<class>/<image>"):
        dm.setup("fit")


def test_arrays_in_every_common_form_give_the_same_batches():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(6, 8, 8), dtype=np.uint8)
    labels = np.arange(6) % 2
    forms = [pixels, pixels[..., None], torch.from_numpy(pixels)[:, None],
             pixels.astype(np.float32) / 255]
    batches = []
    for form in forms:
        dm = ArrayDataModule(train=(form, labels), test=(form, labels), mean=[0.5], std=[0.25],
                             batch_size=6)
        dm.setup("fit")
        batches.append(next(iter(dm.test_dataloader()))[0])
    for b in batches[1:]:
        torch.testing.assert_close(b, batches[0])
    expected = (torch.from_numpy(pixels).float()[:, None] / 255 - 0.5) / 0.25
    torch.testing.assert_close(batches[0], expected)


def test_npz_file_with_classes_and_a_held_out_validation_tail(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(10, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "mine.npz", x_train=x, y_train=np.arange(10) % 3, x_test=x[:4],
             y_test=np.arange(4) % 3, classes=np.array(["a", "b", "c"]))
    dm = ArrayDataModule(npz=str(tmp_path / "mine.npz"), holdout=3, batch_size=4)
    dm.setup("fit")
    assert dm.classes == ["a", "b", "c"]
    assert len(dm.train_set) == 7 and dm.val_set.indices.tolist() == [7, 8, 9]


@pytest.mark.parametrize(("bad", "match"), [
    (np.full((2, 8, 8), 300.0), "uint8 .0-255. or floats in .0, 1."),
    (np.zeros((2, 8)), r"expected images \[N, H, W\]"),
])
def test_arrays_out_of_range_or_shape_are_refused_with_the_fix(bad, match):
    dm = ArrayDataModule(train=(bad, [0, 1]), test=(bad, [0, 1]))
    with pytest.raises(ValueError, match=match):
        dm.setup("fit")
