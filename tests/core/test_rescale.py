"""Layer-wise log-ratio rescale (docs/na.md §6) kept per model."""

import math

import pytest
import torch

from bna_zoo.core import LayerRescale, na_lif


def test_output_layer_factor_is_about_0844_and_hidden_layers_use_its_post_scale_mean():
    r = LayerRescale()
    out = r.apply(torch.full((4, 5), 0.5), is_output=True, name="out")
    assert r.last_factors["out"] == pytest.approx(1.2 * math.log(0.5 / (0.5 + 1e-5) + 1.02))
    assert r.reference == round(0.5 * r.last_factors["out"], 3)
    hidden = torch.full((4, 5), 0.05)
    scaled = r.apply(hidden.clone(), is_output=False, name="h")  # apply scales in place
    expected = 1.2 * math.log(r.reference / (0.05 + 1e-5) + 1.02)
    torch.testing.assert_close(scaled, hidden * expected)
    assert out.mean().item() == pytest.approx(0.5 * r.last_factors["out"])


def test_tiny_output_gradient_collapses_factors_when_rounding_like_the_official_code():
    r = LayerRescale(round_digits=3)
    r.apply(torch.full((3,), 1e-4), is_output=True)
    assert r.reference == 0.0
    r.apply(torch.full((3,), 1.0), is_output=False, name="h")
    assert r.last_factors["h"] == pytest.approx(1.2 * math.log(1.02))
    exact = LayerRescale(round_digits=None)
    exact.apply(torch.full((3,), 1e-4), is_output=True)
    assert exact.reference > 0


def test_hidden_layer_before_output_is_an_error():
    with pytest.raises(RuntimeError, match="output layer"):
        LayerRescale().apply(torch.ones(2), is_output=False)


def test_two_models_keep_separate_rescale_state():
    r1, r2 = LayerRescale(), LayerRescale()
    x = torch.randn(2, 5, 3, requires_grad=True)
    na_lif(x, rescale=r1, is_output=True).sum().backward()
    assert r1.reference is not None and r2.reference is None
