"""The data an emulated card was measured on, made again offline.

nmnist-cnn's cards are measured on N-MNIST-style recordings emulated with seed 0, from the 2,000
held-out shipped digits or from MNIST's 10,000 test images. Emulation is deterministic per
recording (its seed is ``(seed, split, id)``), so ``eval`` and ``show`` in an empty folder make
those recordings again, the same bit for bit: ``eval`` the whole test split, ``show`` only the
one recording it draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..models import get_entry

if TYPE_CHECKING:
    import lightning as L

#: what each emulated card dataset is made from, as the commands say it: measured_on_id -> words
EMULATED_CARD_DATA = {
    "bna-zoo/emulated-nmnist-test": "the 2,000 held-out shipped MNIST digits (seed 0)",
    "bna-zoo/emulated-nmnist-mnist-test": "MNIST's 10,000 test images (seed 0; MNIST prepared "
                                          "by `bna-zoo prepare mnist` into data/)",
}


def _card_images(card_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The images ``[N, 28, 28]`` uint8 and labels ``[N]`` a card's test recordings are of, in
    id order (recording ``i`` is image ``i``)."""
    if card_id == "bna-zoo/emulated-nmnist-test":  # as emulate_digits(n_test=2000, seed=0)
        from ..data.emulate import shipped_digit_splits

        _, _, images, labels = shipped_digit_splits(0)
        return images[:2000], labels[:2000]
    from ..data.image_files import read_idx_split  # as emulate_mnist(seed=0)
    from ..data.mnist_pickle import prepare_mnist

    prepare_mnist("data")
    return read_idx_split(Path("data") / "MNIST" / "raw", "test")


def is_missing(name: str, datamodule: L.LightningDataModule) -> bool:
    """Whether ``name``'s card data is emulated and its test split is not in the DataModule's
    folder (so the commands would make it again)."""
    if get_entry(name).results.measured_on_id not in EMULATED_CARD_DATA:
        return False
    from ..data import nmnist_io

    return not nmnist_io.find_split(datamodule.data_dir, "test")


def ensure_measurement_data(name: str, datamodule: L.LightningDataModule) -> str | None:
    """Emulate the whole test split a card was measured on where it is missing; what was done."""
    if not is_missing(name, datamodule):
        return None
    from ..data.emulate import emulate_dataset

    card_id = get_entry(name).results.measured_on_id
    emulate_dataset(*_card_images(card_id), datamodule.data_dir, "test", seed=0)
    return (f"{name}: no test recordings in {datamodule.data_dir}: emulated them from "
            f"{EMULATED_CARD_DATA[card_id]}, the data its card was measured on")


def listed_position_to_id(labels: np.ndarray, position: int) -> int:
    """The id of the recording an N-MNIST folder reader lists at ``position``: readers (tonic,
    ``nmnist_io.list_folder``) order by digit folder, then by file name ``<id:05d>.bin``."""
    order = np.lexsort((np.arange(len(labels)), np.asarray(labels)))
    return int(order[position])


def emulate_one(images: np.ndarray, labels: np.ndarray, position: int, out_dir: str,
                seed: int = 0) -> int:
    """Emulate, alone, the recording listed at ``position`` of the split of all ``images``.

    Writes the file the whole split would hold at that place, byte for byte, into a test split
    of ``out_dir`` holding it alone.

    Returns:
        its id (the image's index).
    """
    from ..data.emulate import emulate_dataset

    i = listed_position_to_id(labels, position)
    emulate_dataset(images[i:i + 1], labels[i:i + 1], out_dir, "test", seed, first_id=i)
    return i


def emulate_card_sample(name: str, position: int, out_dir: str, missing_from: str) -> str:
    """Emulate test sample ``position`` of ``name``'s card data alone into ``out_dir``; what was
    done, in words (``missing_from``: the folder the card data was looked for in).

    Raises:
        ValueError: ``position`` is not a sample of that test set.
    """
    card_id = get_entry(name).results.measured_on_id
    images, labels = _card_images(card_id)
    if not 0 <= position < len(images):
        raise ValueError(f"--sample {position} is out of range: the test set of {name} has "
                         f"samples 0..{len(images) - 1}")
    i = emulate_one(images, labels, position, out_dir)
    return (f"{name}: no test recordings in {missing_from}: emulated test sample {position} "
            f"alone, recording {i} of {EMULATED_CARD_DATA[card_id]}, the data its card was "
            "measured on")
