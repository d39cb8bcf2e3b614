"""BNAModel.predict's input contract: raw images in every common form, none silently wrong."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from bna_zoo.bna_model import BNAModel


@pytest.fixture(scope="module")
def model() -> BNAModel:
    torch.manual_seed(0)
    return BNAModel("fashionmnist-mlp").eval()


@pytest.fixture(scope="module")
def pixels() -> torch.Tensor:
    """Dark-background uint8 images, like the training data."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (4, 1, 28, 28), generator=g, dtype=torch.uint8)
    return torch.where(torch.rand(4, 1, 28, 28, generator=g) < 0.6, 0, x).to(torch.uint8)


def scores(model: BNAModel, x, **kwargs) -> torch.Tensor:
    return model.predict(x, **kwargs)[1]


def test_uint8_float_unit_int64_numpy_and_pil_images_give_the_same_scores(model, pixels):
    ref = scores(model, pixels)
    assert torch.equal(scores(model, pixels.float() / 255), ref)  # what ToTensor gives
    assert torch.equal(scores(model, pixels.long()), ref)
    assert torch.equal(scores(model, pixels.numpy()), ref)
    pil = [Image.fromarray(p[0].numpy()) for p in pixels]
    assert torch.equal(scores(model, pil), ref)
    assert torch.equal(model.predict(pil[1])[1], ref[1])  # one PIL image = one sample


def test_read_only_arrays_are_scored_without_a_warning(model, pixels):
    frozen = pixels.numpy().copy()
    frozen.flags.writeable = False  # as np.asarray(PIL image) and np.load(..., mmap_mode="r")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(scores(model, frozen), scores(model, pixels))
        scores(model, [Image.fromarray(p[0].numpy()) for p in pixels])


def test_already_normalised_images_pass_through_unchanged(model, pixels):
    normalised = (pixels.float() / 255 - 0.1307) / 0.3081
    assert torch.equal(scores(model, normalised), scores(model, pixels))


def test_images_in_another_range_are_refused_naming_the_expected_ranges(model, pixels):
    minus_one_to_one = pixels.float() / 127.5 - 1
    with pytest.raises(ValueError, match=r"fit neither raw pixels in \[0, 1\].*input_range"):
        model.predict(minus_one_to_one)
    with pytest.raises(ValueError, match="expected 0..255"):
        model.predict(pixels.long() * 4)


def test_stated_input_range_overrides_the_inference(model, pixels):
    unit = pixels.float() / 255
    assert torch.equal(scores(model, unit, input_range="0-1"), scores(model, pixels))
    with pytest.raises(ValueError, match="input_range must be one of"):
        model.predict(unit, input_range="percent")


def test_inverted_images_draw_a_warning(model, pixels):
    with pytest.warns(UserWarning, match="inverted"):
        model.predict(255 - pixels)


def test_non_images_are_refused_clearly(model):
    with pytest.raises(TypeError, match="numbers"):
        model.predict(torch.zeros(2, 1, 28, 28, dtype=torch.bool))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(torch.full((1, 1, 28, 28), float("nan")))
    with pytest.raises(TypeError, match="cannot read"):
        model.predict({"not": "an image"})
    assert np.isfinite(scores(model, np.zeros((1, 28, 28), dtype=np.uint8)).numpy()).all()


def test_predict_reads_a_grey_batch_as_datasets_hold_it():
    # torchvision's MNIST(...).data[:500] is [B, 28, 28] uint8: B images, not one of B channels
    import torch

    from bna_zoo import BNAModel

    model = BNAModel.from_pretrained("fashionmnist-mlp")
    torch.manual_seed(0)
    batch = torch.randint(0, 256, (7, 28, 28), dtype=torch.uint8)
    idx, scores = model.predict(batch)
    assert idx.shape == (7,) and scores.shape == (7, 10)
    idx_c, scores_c = model.predict(batch[:, None])
    assert torch.equal(scores, scores_c)
    one_idx, one_scores = model.predict(batch[:1])  # [1, 28, 28]: still one grey image
    assert one_scores.shape == (10,) and torch.equal(one_scores, scores[0])
