"""Random translation of event frames, the training augmentation of the event DataModules.

tonic's ``SpatialJitter``/``RandomCrop`` act on events before binning; our frames are binned once
and cached (:mod:`bna_zoo.data.frames`), so the shift is applied to the cached frames instead.
Every frame of a recording moves by the same whole-pixel offset (a digit seen a few pixels off
centre, as the sensor's saccades and tonic's stabilisation leave it), and events pushed past the
border are dropped, as a sensor of that size would not have seen them.

Randomness is counter-based, as the image augmentation's (:func:`~.augment.sample_uniforms`):
a sample's offset is a hash of ``(seed, epoch, sample index)``, so a resumed run, another batch
size or another worker count shifts every sample the same way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .augment import sample_uniforms
from .common import epoch_seed


def shift_frames(frames: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``frames`` moved by ``dy`` rows down and ``dx`` columns right, zero filled.

    Args:
        frames: ``[..., H, W]``.
        dy: rows to move down (negative: up).
        dx: columns to move right (negative: left).

    Returns:
        Same shape and dtype as ``frames``.
    """
    p = max(abs(dy), abs(dx))
    if p == 0:
        return frames
    h, w = frames.shape[-2:]
    padded = F.pad(frames, (p, p, p, p))
    return padded[..., p - dy:p - dy + h, p - dx:p - dx + w]


def offsets(seed: int, epoch: int, index: int, max_shift: int) -> tuple[int, int]:
    """The ``(dy, dx)`` of sample ``index`` in ``epoch``, each uniform in ``[-max_shift,
    max_shift]``."""
    u = sample_uniforms(epoch_seed(seed, epoch), [index], 2)[0]
    steps = 2 * max_shift + 1
    dy, dx = (min(int(v * steps), steps - 1) - max_shift for v in u.tolist())
    return dy, dx


class ShiftedFrames(Dataset):
    """A frame dataset whose samples are randomly translated, per sample and epoch.

    Args:
        dataset: returns ``(frames [T, P, H, W], label)`` per index.
        max_shift: largest offset in pixels per axis (>= 1).
        seed: base seed of the offsets.
    """

    def __init__(self, dataset: Dataset, max_shift: int, seed: int) -> None:
        if max_shift < 1:
            raise ValueError(f"max_shift must be >= 1 pixel, got {max_shift}")
        self.dataset, self.max_shift, self.seed = dataset, max_shift, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the offsets of ``epoch`` from now on (called by the epoch-seeded sampler), and
        tell the wrapped dataset if it draws per epoch too (``OneRecordingPerEpoch``)."""
        self.epoch = epoch
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        frames, label = self.dataset[i]
        dy, dx = offsets(self.seed, self.epoch, i, self.max_shift)
        return shift_frames(frames, dy, dx), label
