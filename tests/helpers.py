"""Shared test helpers: a small separable classification task and an in-memory DataModule."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def prototype_task(n: int, seed: int, shape=(1, 28, 28), classes: int = 10, noise: float = 0.7):
    """``n`` noisy copies of ``classes`` fixed random prototypes (images ``[n, *shape]``)."""
    g = torch.Generator().manual_seed(1234)  # the prototypes are the same for every split
    protos = torch.randn(classes, *shape, generator=g)
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = protos[y] + noise * torch.randn(n, *shape, generator=g)
    return x, y


class TensorDataModule(L.LightningDataModule):
    """Train/val/test splits of :func:`prototype_task`; no shuffling (fixed, rank-splittable)."""

    def __init__(self, n_train: int = 256, n_val: int = 128, batch_size: int = 32) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.train = TensorDataset(*prototype_task(n_train, seed=1))
        self.val = TensorDataset(*prototype_task(n_val, seed=2))

    def _loader(self, dataset) -> DataLoader:
        trainer = self.trainer
        if trainer is not None and trainer.world_size > 1:
            # rank r takes samples r, r + W, ...: global batch i holds the same samples as
            # batch i of one process with W times the batch (Lightning's own sampler shuffles)
            sampler = DistributedSampler(dataset, trainer.world_size, trainer.global_rank,
                                         shuffle=False)
            return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.val, batch_size=self.batch_size)


def quiet_trainer(**kwargs) -> L.Trainer:
    """A Trainer without logger, progress bar or summary; ``kwargs`` override."""
    defaults = dict(logger=False, enable_progress_bar=False, enable_model_summary=False,
                    enable_checkpointing=False, accelerator="cpu", devices=1)
    return L.Trainer(**{**defaults, **kwargs})


class Row(NamedTuple):
    """One bad input of a sweep (``tests/*/test_bad_inputs_*.py``): ``call(tmp_path)`` must raise
    ``error`` with a message matching ``match``."""

    what: str
    call: Callable[[Path], object]
    error: type[BaseException]
    match: str
    fixed: bool  # True: unclear error, silent wrong result or hang before issue #12


def check_rows(rows: list[Row], at_least: int) -> None:
    """A sweep's rows have unique descriptions (they are test ids), compiling patterns, and none
    was dropped (``at_least``: the count when the sweep was written)."""
    names = [r.what for r in rows]
    assert len(names) == len(set(names)), "row descriptions are test ids: keep them unique"
    assert len(rows) >= at_least
    assert all(re.compile(r.match) for r in rows)


def sweep_tests(rows: list[Row], at_least: int) -> tuple[Callable, Callable]:
    """The two tests of a sweep file, bound there by name (pytest collects them from it): every
    row raises its error with its message, and :func:`check_rows` holds."""

    @pytest.mark.parametrize("row", rows, ids=[r.what for r in rows])
    def test_bad_input_raises_an_error_that_names_the_problem(row: Row, tmp_path: Path) -> None:
        with pytest.raises(row.error, match=row.match):
            row.call(tmp_path)

    def test_sweep_rows_are_unique_and_their_patterns_compile() -> None:
        check_rows(rows, at_least)

    return (test_bad_input_raises_an_error_that_names_the_problem,
            test_sweep_rows_are_unique_and_their_patterns_compile)
