"""Offline data for the real-loop benchmark, in each registry net's own on-disk format.

The real loop (``train_loop.py``) runs ``Trainer.fit`` on the net's own DataModule, so every
DataModule needs files it can read. This machine reaches no dataset host, so for each net:

- ``fashionmnist-mlp``, ``fashionmnist-cnn``: the real Fashion-MNIST IDX files under
  ``data_dir`` (``FashionMNISTDataModule`` downloads them where a network is reachable).
- ``mnist-cnn``: the 10,000 real MNIST digits shipped with bna_zoo (``shipped_digits``, as the
  shipped weights were trained).
- ``nmnist-cnn``: N-MNIST ``.bin`` recordings emulated from shipped digits
  (``bna_zoo.data.emulate``), the data the shipped weights were trained on.
- ``dvsgesture-cnn``: **synthetic** recordings in tonic's DVS Gesture ``.npy`` layout: a blob
  circling the 128x128 sensor at a label-dependent speed plus uniform noise, ~30k events per
  second (the recorded dataset's order of magnitude) over the 1.5 s the recipe bins. The step
  time depends on how much the network spikes, so read the real/bare *ratio*, which both sides
  measure on the same batches.
- ``cifar10-cnn``: **synthetic** images in CIFAR-10's python-batch format (smooth random colour
  fields), for the same reason: the ratio is the measurement.

Everything is written under ``<data_dir>/bench/`` once and reused (delete it to rebuild).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

#: How each net's data is obtained, for the table's ``data`` column.
SOURCES = {
    "fashionmnist-mlp": "Fashion-MNIST files",
    "fashionmnist-cnn": "Fashion-MNIST files",
    "mnist-cnn": "shipped MNIST digits",
    "nmnist-cnn": "emulated N-MNIST (shipped digits)",
    "dvsgesture-cnn": "synthetic events, tonic layout",
    "cifar10-cnn": "synthetic images, CIFAR-10 format",
}


def _count(folder: Path, pattern: str) -> int:
    return sum(1 for _ in folder.rglob(pattern)) if folder.is_dir() else 0


def _nmnist(root: Path, n_train: int, n_test: int) -> None:
    from bna_zoo.data.digits import load_digits, split_digits
    from bna_zoo.data.emulate import emulate_dataset

    tr_x, tr_y, te_x, te_y = split_digits(*load_digits(), 0.2, 0)
    for split, x, y, n in (("train", tr_x, tr_y, n_train), ("test", te_x, te_y, n_test)):
        if _count(root / split.capitalize(), "*.bin") < n:
            emulate_dataset(x[:n], y[:n], str(root), split, seed=0)


def gesture_events(label: int, seed: int, seconds: float = 1.5,
                   rate_hz: float = 30_000.0) -> np.ndarray:
    """One synthetic recording: ``[N, 4]`` float32 ``x, y, p, t_ms`` on the 128x128 sensor
    (float32 keeps t to 0.1 us over 1.5 s and halves the files).

    80% of the events come from a Gaussian blob (sigma 6 px) circling the centre at
    ``0.5 + 0.25 * label`` turns per second, ON ahead of it and OFF behind; 20% are uniform noise.
    """
    rng = np.random.default_rng([seed, label])
    n = int(rate_hz * seconds)
    t = np.sort(rng.uniform(0.0, seconds, n))
    on_blob = rng.random(n) < 0.8
    phase = 2 * np.pi * (0.5 + 0.25 * label) * t
    cx, cy = 64 + 35 * np.cos(phase), 64 + 35 * np.sin(phase)
    x = np.where(on_blob, cx + rng.normal(0, 6, n), rng.uniform(0, 128, n))
    y = np.where(on_blob, cy + rng.normal(0, 6, n), rng.uniform(0, 128, n))
    # ahead of the blob (along its motion) the scene brightens: ON; behind it, OFF
    ahead = (x - cx) * -np.sin(phase) + (y - cy) * np.cos(phase) > 0
    p = np.where(on_blob, ahead, rng.random(n) < 0.5)
    x, y = np.clip(x, 0, 127).astype(np.int64), np.clip(y, 0, 127).astype(np.int64)
    return np.stack([x, y, p.astype(np.int64), t * 1e3], 1).astype(np.float32)


def _gesture(root: Path, n_train: int, n_test: int) -> None:
    for k, (folder, n) in enumerate((("ibmGestureTrain", n_train), ("ibmGestureTest", n_test))):
        if _count(root / folder, "*.npy") >= n:
            continue
        # tonic's layout: one folder per user and lighting, one file per gesture (labels 0..10)
        for i in range(n):
            user, label = divmod(i, 11)
            path = root / folder / f"user{user + 1:02d}_led" / f"{label}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, gesture_events(label, seed=100_000 * k + i))  # splits never share


def cifar_images(n: int, seed: int) -> np.ndarray:
    """``n`` smooth random colour images, uint8 ``[n, 32, 32, 3]`` (8x8 noise, upsampled)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(n, 8, 8, 3)).astype(np.float32)
    fine = coarse.repeat(4, axis=1).repeat(4, axis=2)
    # a 4-pixel box blur in each direction smooths the block edges
    for axis in (1, 2):
        fine = sum(np.roll(fine, k, axis=axis) for k in range(-2, 2)) / 4
    return fine.clip(0, 255).astype(np.uint8)


def _cifar(root: Path, n_train: int, n_test: int) -> None:
    per_batch = -(-n_train // 5)
    names = [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]
    from bna_zoo.data.image_files import read_cifar_batch  # the DataModule's own (safe) reader

    first, test = root / "data_batch_1", root / "test_batch"
    if first.exists() and test.exists() and len(read_cifar_batch(first)[1]) >= per_batch \
            and len(read_cifar_batch(test)[1]) >= n_test:
        return
    root.mkdir(parents=True, exist_ok=True)
    for i, (name, n) in enumerate(names):
        hwc = cifar_images(n, seed=i)
        entry = {  # the original layout: rows of R, G, B planes of 1024 pixels each
            "batch_label": f"synthetic {name}",
            "data": hwc.transpose(0, 3, 1, 2).reshape(n, 3072),
            "labels": [j % 10 for j in range(n)],
            "filenames": [f"{name}_{j}.png" for j in range(n)],
        }
        (root / name).write_bytes(pickle.dumps(entry, protocol=2))


def prepare(name: str, data_dir: str, n_train: int, n_test: int) -> dict[str, Any]:
    """Make sure ``name``'s DataModule finds at least ``n_train``/``n_test`` samples.

    Returns:
        DataModule arguments to use beyond the recipe's (``data_dir``, ``download``, ...).
    """
    bench = Path(data_dir) / "bench"
    if name.startswith("fashionmnist"):
        return {"data_dir": data_dir}
    if name == "mnist-cnn":
        return {"data_dir": data_dir, "shipped_digits": True, "download": False}
    if name == "nmnist-cnn":
        _nmnist(bench / "emulated_nmnist", n_train, n_test)
        return {"data_dir": str(bench / "emulated_nmnist"), "download": False}
    if name == "dvsgesture-cnn":
        _gesture(bench / "DVSGesture", n_train, n_test)
        return {"data_dir": str(bench), "download": False}
    if name == "cifar10-cnn":
        _cifar(bench / "cifar-10-batches-py", n_train, n_test)
        return {"data_dir": str(bench), "download": False}
    raise ValueError(f"no benchmark data for {name!r}; known: {', '.join(SOURCES)}")
