"""The real training loop against the bare training step, measured in the same run.

For each image net of the registry it times (a) the **bare step**: forward, loss, NA backward,
gradient clip, AdamW and weight clamp on one fixed batch, no Lightning, no data; (b) the **real
loop**: ``Trainer.fit`` of :class:`bna_zoo.BNAModel` on the net's own DataModule (real
Fashion-MNIST files, augmentation on, the progress bar and CSV logger of the configs), per step
wall time measured between consecutive ``on_train_batch_end`` calls, so data loading,
augmentation, logging and the progress bar are all inside it and startup and validation are not.

Usage::

    python benchmarks/train_loop.py                          # fashionmnist-mlp and -cnn
    python benchmarks/train_loop.py --models fashionmnist-mlp --steps 100 --progress rich

Data: Fashion-MNIST under ``--data-dir`` (or Debian's ``dataset-fashion-mnist``); ``mnist-cnn``
runs on the same IDX files placed as MNIST (same format and size, so its timing is MNIST's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_step import make_step  # noqa: E402

from bna_zoo import BNAModel  # noqa: E402
from bna_zoo.data.images import FashionMNISTDataModule, MNISTDataModule  # noqa: E402

BATCH = {"fashionmnist-mlp": 100, "fashionmnist-cnn": 50, "mnist-cnn": 64}


class StepTimer(L.Callback):
    """Wall time between consecutive training batch ends (data, step, logging, progress bar)."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_train_batch_end(self, *args, **kwargs) -> None:
        self.ends.append(time.perf_counter())

    def step_ms(self, skip: int) -> float:
        gaps = [b - a for a, b in zip(self.ends[skip:-1], self.ends[skip + 1:], strict=True)]
        return 1e3 * statistics.median(gaps)


def datamodule(name: str, data_dir: str, batch: int, workers: int) -> L.LightningDataModule:
    if name == "mnist-cnn":
        # MNIST cannot be downloaded here: the Fashion-MNIST files have MNIST's exact format
        src = FashionMNISTDataModule(data_dir, batch_size=batch)
        src.prepare_data()
        mnist_root = Path(data_dir) / "MNIST" / "raw"
        mnist_root.mkdir(parents=True, exist_ok=True)
        for f in src.required_files():
            if not (mnist_root / f).exists():
                shutil.copy(src.root / f, mnist_root / f)
        return MNISTDataModule(data_dir, batch_size=batch, num_workers=workers, download=False)
    return FashionMNISTDataModule(data_dir, batch_size=batch, num_workers=workers)


def real_loop_ms(name: str, data_dir: str, steps: int, progress: str, workers: int) -> float:
    torch.manual_seed(0)
    model = BNAModel(name)
    timer = StepTimer()
    callbacks: list = [timer]
    if progress == "rich":
        callbacks.append(L.pytorch.callbacks.RichProgressBar())
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(
            max_epochs=1, limit_train_batches=steps + 5, limit_val_batches=0,
            enable_progress_bar=progress != "none", enable_checkpointing=False,
            logger=L.pytorch.loggers.CSVLogger(tmp), log_every_n_steps=50,
            callbacks=callbacks, enable_model_summary=False, default_root_dir=tmp,
        )
        trainer.fit(model, datamodule=datamodule(name, data_dir, BATCH[name], workers))
    return timer.step_ms(skip=3)


def bare_step_ms(name: str, steps: int) -> float:
    step, _ = make_step(name, "na", BATCH[name], "cpu")
    step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=["fashionmnist-mlp", "fashionmnist-cnn"])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--bare-steps", type=int, default=20)
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--progress", choices=("tqdm", "rich", "none"), default="tqdm")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"{torch.get_num_threads()} threads, torch {torch.__version__}, progress bar "
          f"{args.progress}, {args.workers} workers, load average {load:.2f} at start\n")
    print("| model | batch | bare step ms | real loop ms/step | real/bare |")
    print("|---|---|---|---|---|")
    for name in args.models:
        bare = bare_step_ms(name, args.bare_steps)
        real = real_loop_ms(name, args.data_dir, args.steps, args.progress, args.workers)
        print(f"| {name} | {BATCH[name]} | {bare:.1f} | {real:.1f} | {real / bare:.2f} |",
              flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
