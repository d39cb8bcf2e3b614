"""Claims about the batched augmentation: torchvision's transforms, per sample, on whole batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from bna_zoo.data.augment import N_UNIFORMS, BatchAugment, sample_uniforms


def images(b: int = 6, c: int = 1, size: int = 28, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, c, size, size), generator=g).float() / 255


def neutral(b: int) -> torch.Tensor:
    """Uniforms that draw shift 0, no flip, angle 0 and factor 1 for every sample."""
    u = torch.full((b, N_UNIFORMS), 0.5)
    u[:, 2] = 0.9  # no flip
    return u


def test_neutral_parameters_leave_every_image_unchanged():
    x = images(c=3, size=32)
    aug = BatchAugment(padding=4, hflip=True, degrees=15, brightness=0.2, contrast=0.2, hue=0.2)
    torch.testing.assert_close(aug(x, neutral(len(x))), x, rtol=0, atol=1e-6)


def test_crop_and_flip_match_torchvision_pad_crop_flip_for_the_same_draw():
    x = images()
    u = torch.rand(len(x), N_UNIFORMS, generator=torch.Generator().manual_seed(1))
    u[:, 3] = 0.5  # no rotation: this test is about the crop and the flip
    out = BatchAugment(padding=4, hflip=True)(x, u)
    for k in range(len(x)):
        left, top = int(u[k, 0] * 9), int(u[k, 1] * 9)  # crop offset in the padded image
        want = TF.crop(TF.pad(x[k], [4]), top, left, 28, 28)
        if u[k, 2] < 0.5:
            want = TF.horizontal_flip(want)
        torch.testing.assert_close(out[k], want, rtol=0, atol=0)


def test_rotation_by_a_quarter_turn_is_rot90():
    x = images()
    u = neutral(len(x))
    u[:, 3] = 1.0  # the maximum angle
    out = BatchAugment(degrees=90)(x, u)
    assert torch.equal(out, torch.rot90(x, 1, dims=(-2, -1)))


def test_small_rotation_matches_torchvision_rotate_nearest_on_most_pixels():
    x = images()
    u = neutral(len(x))
    u[:, 3] = 0.75  # +7.5 degrees of 15
    out = BatchAugment(degrees=15)(x, u)
    want = torch.stack([TF.rotate(img, 7.5) for img in x])  # nearest, zero fill
    # the two resamplers round pixel centres that fall on .5 boundaries differently
    assert (out == want).float().mean() > 0.97


@pytest.mark.parametrize(("column", "name"), [(4, "brightness"), (5, "contrast"), (6, "hue")])
def test_colour_jitter_matches_torchvision_for_the_drawn_factor(column, name):
    x = images(c=3, size=8)
    u = neutral(len(x))
    u[:, column] = torch.linspace(0.05, 0.95, len(x))
    out = BatchAugment(**{name: 0.2})(x, u)
    for k in range(len(x)):
        factor = float((2 * u[k, column] - 1) * 0.2)
        adjust = {"brightness": TF.adjust_brightness, "contrast": TF.adjust_contrast,
                  "hue": TF.adjust_hue}[name]
        want = adjust(x[k], factor if name == "hue" else 1 + factor)
        torch.testing.assert_close(out[k], want, rtol=0, atol=2e-5)


def test_uniforms_depend_only_on_seed_sample_and_slot():
    a = sample_uniforms(7, np.array([3, 10, 42]))
    b = sample_uniforms(7, np.array([42, 3]))
    assert torch.equal(a[2], b[0]) and torch.equal(a[0], b[1])  # batch composition is irrelevant
    assert not torch.equal(sample_uniforms(8, np.array([3])), a[:1])
    many = sample_uniforms(0, np.arange(20000))
    assert many.min() >= 0 and many.max() < 1
    assert abs(float(many.mean()) - 0.5) < 0.01
    # the slots of one sample are not copies of each other
    assert float(torch.corrcoef(many.T[:2])[0, 1]) < 0.05


def test_invalid_sizes_are_refused():
    with pytest.raises(ValueError, match="hue"):
        BatchAugment(hue=0.7)
    with pytest.raises(ValueError, match=">= 0"):
        BatchAugment(padding=-1)
