"""Real MNIST digits shipped with bna_zoo, for offline tests, demos and event emulation.

``assets/mnist_digits.npz`` holds the first 10,000 images of the MNIST training set (uint8,
28x28, white digit on black, grouped by label: 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944,
978 per digit). Source and licences are in ``assets/MNIST_DIGITS.md``; nothing here imports the
packages they came from.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

ASSET = "mnist_digits.npz"
# sha256 of images.tobytes() in the shipped file; guards against a truncated or swapped asset.
IMAGES_SHA256 = "0768d16c5adea568dee18fa5e4e1acb117e9ec2c5d6b1dffe5fc29c1e61c1eca"


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Load the shipped MNIST digits.

    Returns:
        ``(images, labels)``: images uint8 ``[10000, 28, 28]`` (0 = background, 255 = ink),
        labels int64 ``[10000]`` in 0..9, grouped by label in ascending order.
    """
    ref = resources.files(__package__).joinpath("assets", ASSET)
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as npz:
        images = np.ascontiguousarray(npz["images"], dtype=np.uint8)
        labels = npz["labels"].astype(np.int64)
    if images.shape != (len(labels), 28, 28):
        raise ValueError(f"{ASSET}: images have shape {images.shape}, expected [N, 28, 28]")
    return images, labels


def source_note() -> str:
    """The provenance string stored inside the asset (packages, versions, licences)."""
    ref = resources.files(__package__).joinpath("assets", ASSET)
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as npz:
        return str(npz["source"])


def split_digits(
    images: np.ndarray, labels: np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded, stratified train/test split (each label keeps the same train:test proportion).

    Stratified because the shipped digits are grouped by label: a plain head/tail cut would put
    whole classes on one side.

    Args:
        images: ``[N, ...]`` array.
        labels: ``[N]`` integer labels.
        test_fraction: share of each label that goes to the test side, in ``(0, 1)``.
        seed: seed of the permutation; the same seed gives the same split.

    Returns:
        ``(train_images, train_labels, test_images, test_labels)``, each side shuffled.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(test_fraction * len(idx)))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))
    return images[train], labels[train], images[test], labels[test]
