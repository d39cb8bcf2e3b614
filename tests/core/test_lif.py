"""LIF/PSC forward dynamics (docs/na.md §1)."""

import pytest
import torch

from bna_zoo.core import LIFParams, na_lif, psc_filter
from bna_zoo.core.reference import simulate


def test_constant_current_06_fires_every_second_step_as_hand_computed():
    # docs/na.md §1 by hand: I = 0.6, tau_m = 5 -> u = 0.6, 1.08 (spike, reset), 0.6, 1.08, ...
    current = torch.full((1, 6, 1), 0.6, dtype=torch.float64)
    a = na_lif(current, tau_m=5.0, tau_s=2.0, theta=1.0)
    u, s, _ = simulate([0.6] * 6, 5.0, 2.0, 1.0)
    assert u == pytest.approx([0.6, 1.08, 0.6, 1.08, 0.6, 1.08])
    assert s == [0, 1, 0, 1, 0, 1]
    expected = [0.0, 0.5, 0.25, 0.625, 0.3125, 0.65625]
    assert a[0, :, 0].tolist() == pytest.approx(expected)


def test_threshold_is_strict_potential_equal_to_theta_does_not_fire():
    a = na_lif(torch.ones(1, 3, 1, dtype=torch.float64), tau_m=1.0)  # tau_m = 1: no memory
    assert a.abs().max().item() == 0.0


def test_fast_forward_matches_reference_simulation_on_random_currents():
    g = torch.Generator().manual_seed(0)
    current = torch.randn(3, 30, 7, generator=g, dtype=torch.float64) * 0.7 + 0.4
    a = na_lif(current, tau_m=8.0, tau_s=4.0)
    for b in range(3):
        for n in range(7):
            _, _, ref = simulate(current[b, :, n].tolist(), 8.0, 4.0, 1.0)
            assert a[b, :, n].tolist() == pytest.approx(ref, abs=1e-12)


def test_psc_filter_of_constant_pixel_matches_spec_values():
    x = torch.ones(1, 5)
    assert psc_filter(x, 2.0)[0].tolist() == pytest.approx([0.5, 0.75, 0.875, 0.9375, 0.96875])


def test_output_keeps_any_trailing_shape():
    current = torch.randn(2, 5, 3, 4, 5)
    assert na_lif(current).shape == current.shape


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tau_s": 1.0}, "tau_s must be > 1"),
        ({"tau_s": 0.5}, "tau_s must be > 1"),
        ({"theta": 0.0}, "theta must be > 0"),
        ({"theta": -1.0}, "theta must be > 0"),
        ({"tau_m": 0.5}, "tau_m must be >= 1"),
        ({"variant": "bogus"}, "unknown NA variant"),
        ({"gradient": "bptt"}, "unknown gradient"),
    ],
)
def test_invalid_constants_are_rejected_with_the_valid_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        na_lif(torch.zeros(1, 5, 2), **kwargs)


def test_missing_time_dimension_is_rejected_with_the_expected_layout():
    with pytest.raises(ValueError, match=r"\[B, T, \.\.\.\].*forget"):
        na_lif(torch.zeros(4, 10))


def test_non_finite_current_is_rejected():
    x = torch.zeros(1, 5, 2)
    x[0, 2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        na_lif(x)


def test_integer_current_is_rejected():
    with pytest.raises(TypeError, match="floating-point"):
        na_lif(torch.zeros(1, 5, 2, dtype=torch.int64))


def test_lif_params_validates_non_finite_values():
    with pytest.raises(ValueError, match="finite"):
        LIFParams(tau_m=float("inf"))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_all_finite_finds_one_bad_value_anywhere_like_isfinite(dtype, bad):
    from bna_zoo.core.lif import all_finite

    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(4, 7, 33, generator=gen) * 1e3).to(dtype)
    assert all_finite(x) and all_finite(x[:, ::2])  # strided views too
    for flat_index in (0, 17, x.numel() - 1):
        y = x.clone()
        y.view(-1)[flat_index] = bad
        assert not all_finite(y) and not bool(torch.isfinite(y).all())
    assert all_finite(torch.empty(0, 3, dtype=dtype))
