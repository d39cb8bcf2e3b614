"""The paper's training augmentation applied to whole batches, on the device the batch lives on.

Per-sample PIL transforms in the loader cost more than the spiking MLP's whole training step on
2 CPU cores (about 27 ms per batch of 100 against 18 ms), so the image DataModules hand out raw
uint8 batches and this module augments them after the transfer, in one ``grid_sample`` call:

- **random crop with zero padding** (``RandomCrop(size, padding=p)``): an integer shift in
  ``[-p, p]`` per axis, pixels shifted in from outside are 0 (black, before normalisation);
- **horizontal flip** with probability 1/2;
- **rotation** by an angle uniform in ``[-deg, deg]`` about the image centre, nearest neighbour,
  zero fill (``RandomRotation(deg)``);
- **colour jitter** (CIFAR-10): brightness and contrast factors uniform in ``[1 - b, 1 + b]``
  and a hue shift uniform in ``[-h, h]`` turns, applied in that order (torchvision draws a random
  order per sample; a fixed order changes the distribution negligibly).

Crop, flip and rotation are composed into one affine map and resampled once (nearest), where
torchvision resamples after each; both give nearest-neighbour images of the same transform.

Randomness is **counter-based**: every sample's parameters are a hash of ``(seed, epoch, sample
index)`` (:func:`sample_uniforms`), drawn in the loader next to the pixels. A batch is augmented
identically whatever the batch size, worker count or resume point, and without touching any
global RNG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

#: random numbers drawn per sample: crop x, crop y, flip, angle, brightness, contrast, hue
N_UNIFORMS = 7

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection of uint64 whose outputs pass as independent."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def sample_uniforms(epoch_seed: int, indices: np.ndarray, count: int = N_UNIFORMS) -> torch.Tensor:
    """Uniform ``[0, 1)`` numbers that depend only on ``(epoch_seed, sample index, k)``.

    Args:
        epoch_seed: the seed of this epoch (:func:`bna_zoo.data.common.epoch_seed`).
        indices: dataset indices of the samples, ``[B]``.
        count: numbers per sample.

    Returns:
        float32 ``[B, count]``.
    """
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps by design
        idx = np.asarray(indices, dtype=np.uint64)[:, None]
        k = np.arange(count, dtype=np.uint64)[None, :]
        key = _mix64(np.uint64(epoch_seed) * _GOLDEN + idx) + k * _GOLDEN
        bits = _mix64(key) >> np.uint64(40)  # 24 bits: exact in float32
    return torch.from_numpy(bits.astype(np.float32) * np.float32(2.0**-24))


@dataclass(frozen=True)
class BatchAugment:
    """One of the paper's augmentations, for batches of images in ``[0, 1]``.

    Args:
        padding: random-crop padding in pixels (0: no crop).
        hflip: random horizontal flip.
        degrees: maximum rotation angle in degrees (0: no rotation).
        brightness: brightness jitter (0: none).
        contrast: contrast jitter (0: none).
        hue: hue jitter in turns, at most 0.5 (0: none).
    """

    padding: int = 0
    hflip: bool = False
    degrees: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    hue: float = 0.0

    def __post_init__(self) -> None:
        if self.padding < 0 or self.degrees < 0 or self.brightness < 0 or self.contrast < 0:
            raise ValueError(f"augmentation sizes must be >= 0, got {self}")
        if not 0 <= self.hue <= 0.5:
            raise ValueError(f"hue jitter must be in [0, 0.5] turns, got {self.hue}")

    def __call__(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Augment a batch.

        Args:
            x: images ``[B, C, H, W]`` in ``[0, 1]``, float.
            u: uniforms ``[B, N_UNIFORMS]`` (:func:`sample_uniforms`), any device.

        Returns:
            The augmented batch, same shape, dtype and device as ``x``.
        """
        u = u.to(device=x.device, dtype=torch.float32)
        if self.padding or self.hflip or self.degrees:
            x = self._geometric(x, u)
        if self.brightness or self.contrast or self.hue:
            x = self._colour(x, u)
        return x

    def _geometric(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        p = self.padding
        # integer shifts in [-p, p], as a crop of the zero-padded image at offset 0..2p
        dx = torch.clamp(torch.floor(u[:, 0] * (2 * p + 1)), max=2 * p) - p
        dy = torch.clamp(torch.floor(u[:, 1] * (2 * p + 1)), max=2 * p) - p
        flip = torch.where((u[:, 2] < 0.5) & self.hflip, -1.0, 1.0)
        angle = (2 * u[:, 3] - 1) * math.radians(self.degrees)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # Source pixel of output pixel q, in pixels about the centre: flip(R q) + d. In
        # affine_grid's normalised coordinates (x / (w/2)), R becomes S^-1 R S, S = diag(w, h)/2.
        theta = torch.stack([
            torch.stack([flip * cos, flip * -sin * h / w, 2 * dx / w], dim=1),
            torch.stack([sin * w / h, cos, 2 * dy / h], dim=1),
        ], dim=1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)

    def _colour(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        shape = (-1, 1, 1, 1)
        if self.brightness:
            factor = 1 + (2 * u[:, 4] - 1) * self.brightness
            x = (x * factor.view(shape)).clamp(0, 1)
        if self.contrast:
            factor = (1 + (2 * u[:, 5] - 1) * self.contrast).view(shape)
            # torchvision's grey weights, so a factor means what ColorJitter means by it
            grey = x[:, 0]
            if x.shape[1] == 3:
                grey = 0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
            mean = grey.mean(dim=(1, 2)).view(shape)
            x = (factor * x + (1 - factor) * mean).clamp(0, 1)
        if self.hue and x.shape[1] == 3:
            x = shift_hue(x, ((2 * u[:, 6] - 1) * self.hue).view(-1, 1, 1))
        return x


def shift_hue(rgb: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue of RGB images by ``shift`` turns per sample, keeping saturation and value.

    torchvision's ``adjust_hue`` takes one factor per call; this is the same HSV round trip with
    a factor per sample.

    Args:
        rgb: ``[B, 3, H, W]`` in ``[0, 1]``.
        shift: ``[B, 1, 1]`` in turns.

    Returns:
        ``[B, 3, H, W]`` in ``[0, 1]``.
    """
    r, g, b = rgb.unbind(1)
    value, _ = rgb.max(1)
    chroma = value - rgb.min(1).values
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue = torch.where(value == r, ((g - b) / safe) % 6,
                      torch.where(value == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    hue = (hue + shift) % 1.0
    # HSV -> RGB through the standard piecewise-linear channel functions
    k = torch.stack([(5 + hue * 6) % 6, (3 + hue * 6) % 6, (1 + hue * 6) % 6], dim=1)
    ramp = torch.clamp(torch.minimum(k, 4 - k), 0, 1)
    return value.unsqueeze(1) - chroma.unsqueeze(1) * ramp
