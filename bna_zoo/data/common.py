"""Helpers shared by the DataModules: dataset errors, the seeded split, and reproducible loaders.

Reproducibility contract (resumable runs rely on it):

- the train/validation split depends only on ``seed`` and the number of samples;
- the training order of epoch ``e`` depends only on ``(seed, e)``, not on how many epochs ran in
  this process, so a run resumed at epoch ``e`` sees the same order as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from .errors import DatasetFormatError, DatasetNotFoundError  # noqa: F401 (re-exported)


def missing_dataset_message(
    name: str, folder: str | Path, files: Sequence[str], reason: str, extra: str = ""
) -> str:
    """The text of a :class:`DatasetNotFoundError`: what is missing, why, and where files must go.

    Args:
        name: human name of the dataset, e.g. ``"Fashion-MNIST"``.
        folder: the folder the files must be placed in (made absolute in the message).
        files: the file names expected inside ``folder``.
        reason: why nothing was fetched, e.g. ``"download=False"`` or the download error.
        extra: further ways to obtain the data (one paragraph), optional.

    Returns:
        A multi-line message.
    """
    listing = "\n".join(f"  {Path(folder).resolve() / f}" for f in files)
    message = (
        f"{name} not found and not downloaded ({reason}).\n"
        f"Place these files in the folder '{Path(folder).resolve()}':\n{listing}"
    )
    return f"{message}\n{extra}" if extra else message


def seeded_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into train and validation indices, reproducibly for a given seed.

    ``round(n * val_fraction)`` samples (at least one) go to validation. Both index arrays are
    sorted, so reading them stays sequential on disk and in memory.

    Args:
        n: number of samples to split.
        val_fraction: share of samples for validation, in ``(0, 1)``.
        seed: seed of the permutation; the same ``(n, val_fraction, seed)`` gives the same split.

    Returns:
        ``(train_idx, val_idx)``, int64 arrays that together cover ``range(n)`` exactly once.

    Raises:
        ValueError: if ``val_fraction`` is outside ``(0, 1)`` or leaves no training sample.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1) to split, got {val_fraction}")
    n_val = max(1, round(n * val_fraction))
    if n_val >= n:
        raise ValueError(
            f"val_fraction={val_fraction} of {n} samples leaves no training sample: "
            "lower val_fraction or raise subset"
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 32-bit seed for ``(seed, epoch)``.

    ``seed + epoch`` (as DistributedSampler does) would make epoch 1 of seed 0 equal epoch 0 of
    seed 1, and the first epoch would reuse the stream of :func:`seeded_split`; hashing avoids both.
    """
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class EpochSeededRandomSampler(DistributedSampler):
    """Shuffles with a ``torch.Generator`` seeded from ``(seed, epoch)``, one rank's share of it.

    Lightning's fit loop calls :meth:`set_epoch` at the start of every epoch, so every epoch has its
    own order and a resumed run repeats the order of an uninterrupted one.

    Under DDP every rank draws the same permutation and takes every ``num_replicas``-th position
    of it, starting at its rank. Step ``k`` of rank ``r`` then holds positions
    ``k*B*W + r + W*j`` (``j < B``), so the ranks' batches together are exactly the global batch
    ``k`` of one process with batch ``B*W``: a multi-GPU run trains on the same samples, in the
    same steps, as one process would. It is a ``DistributedSampler`` so that Lightning keeps it
    instead of swapping in its own (whose order would not match one process's).

    Args:
        data_source: the dataset to sample from (only its length is used, and its
            ``set_epoch`` if it has one).
        seed: base seed of the order.
        num_replicas: number of ranks; ``None`` reads the initialised process group (1 without).
        rank: this rank; ``None`` reads the initialised process group (0 without).
    """

    def __init__(self, data_source: Sequence | Dataset, seed: int = 0,
                 num_replicas: int | None = None, rank: int | None = None) -> None:
        distributed = dist.is_available() and dist.is_initialized()
        if num_replicas is None:
            num_replicas = dist.get_world_size() if distributed else 1
        if rank is None:
            rank = dist.get_rank() if distributed else 0
        super().__init__(data_source, num_replicas=num_replicas, rank=rank, shuffle=True,
                         seed=seed, drop_last=False)
        self.data_source = data_source

    def set_epoch(self, epoch: int) -> None:
        """Select the order of ``epoch`` (called by Lightning before each training epoch).

        Datasets with a ``set_epoch`` of their own (seeded augmentation) are told too.
        """
        self.epoch = epoch
        if hasattr(self.data_source, "set_epoch"):
            self.data_source.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
        order = torch.randperm(len(self.data_source), generator=generator).tolist()
        if self.num_replicas == 1:
            yield from order
            return
        # as DistributedSampler: repeat the head so every rank gets the same number of samples
        order += order[: self.total_size - len(order)]
        yield from order[self.rank : self.total_size : self.num_replicas]

    def __len__(self) -> int:
        return self.num_samples


def _already_batched(batch):
    """Collate for datasets whose ``__getitems__`` builds the whole batch itself."""
    return batch


def make_loader(
    dataset: Dataset, batch_size: int, num_workers: int, shuffle: bool, seed: int
) -> DataLoader:
    """A DataLoader with the zoo's defaults.

    Args:
        dataset: a map-style dataset.
        batch_size: samples per batch.
        num_workers: worker processes. They are re-created every epoch (not persistent) so
            that each sees the dataset's current epoch for seeded augmentation.
        shuffle: shuffle with :class:`EpochSeededRandomSampler` (training) or keep file order.
        seed: seed of the order and of the workers' base seed (so per-worker augmentation
            randomness is reproducible too).

    Returns:
        The loader; ``pin_memory`` is on only when CUDA is available (it only costs on CPU).
        A dataset with ``__getitems__`` returns finished batches, which are not collated again.
    """
    sampler = EpochSeededRandomSampler(dataset, seed) if shuffle else None
    # a Subset has __getitems__ too, which batches only when the dataset below it does
    inner = dataset
    while isinstance(inner, Subset):
        inner = inner.dataset
    batched = getattr(inner, "__getitems__", None) is not None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        # not persistent: workers re-created each epoch get the dataset's current epoch
        persistent_workers=False,
        pin_memory=torch.cuda.is_available(),
        collate_fn=_already_batched if batched else None,
        generator=torch.Generator().manual_seed(seed),
    )
