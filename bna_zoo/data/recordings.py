"""Several recordings of each training image, one drawn per epoch.

N-MNIST holds one recording per MNIST image. Where recordings are emulated
(:mod:`bna_zoo.data.emulate`), another seed records the same images again with other sensor
noise: other per-pixel thresholds, another starting memory in every pixel's dead band, other
background events. :class:`OneRecordingPerEpoch` trains on such sets together without making an
epoch longer: every epoch, each image contributes one of its recordings, drawn at random.

The draw is counter-based, as the shift's (:mod:`~.frame_shift`): recording ``k`` of sample
``index`` in ``epoch`` is a function of ``(seed, epoch, index)`` only, so a resumed run, another
batch size or another worker count draws the same recordings.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from .augment import sample_uniforms
from .common import epoch_seed

#: which of the per-sample uniforms (see sample_uniforms) the draw uses: the shift uses 0 and 1
_UNIFORM = 2


def recording_choice(seed: int, epoch: int, index: int, n: int) -> int:
    """Which of ``n`` recordings sample ``index`` uses in ``epoch`` (uniform in ``[0, n)``)."""
    u = float(sample_uniforms(epoch_seed(seed, epoch), [index], _UNIFORM + 1)[0, _UNIFORM])
    return min(int(u * n), n - 1)


class OneRecordingPerEpoch(Dataset):
    """Samples with several recordings each; every epoch, one recording per sample.

    Args:
        versions: ``versions[k][i]`` is sample ``i``'s ``k``-th recording, ``(frames [T, P, H,
            W], label)``; all of one length, and every version's sample ``i`` of one label.
        seed: base seed of the draw.

    Raises:
        ValueError: no versions, or versions of different lengths.
    """

    def __init__(self, versions: Sequence[Dataset], seed: int) -> None:
        if not versions:
            raise ValueError("OneRecordingPerEpoch needs at least one set of recordings")
        lengths = {len(v) for v in versions}  # type: ignore[arg-type]
        if len(lengths) != 1:
            raise ValueError(f"every set of recordings must hold the same samples, got lengths "
                             f"{sorted(lengths)}")
        self.versions, self.seed = list(versions), seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the recordings of ``epoch`` from now on (called by the epoch-seeded sampler)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.versions[0])  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        k = recording_choice(self.seed, self.epoch, i, len(self.versions))
        return self.versions[k][i]
