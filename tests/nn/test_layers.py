"""Spiking layers: gradient routing, pooling, dropout, encoding, bad input."""

import pytest
import torch

from bna_zoo.core import na_lif
from bna_zoo.nn import (
    NeuronConfig,
    PSCEncoder,
    SpikingConv2d,
    SpikingLinear,
    SumPool2d,
    TimeSharedDropout,
)


def _delta_of(current: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    x = current.detach().clone().requires_grad_()
    na_lif(x).backward(grad)
    return x.grad


def test_linear_weight_gradient_is_sum_over_batch_and_time_of_delta_outer_input():
    torch.manual_seed(0)
    layer = SpikingLinear(6, 4, NeuronConfig(rescale=False), weight_scale=2.0).double()
    x = torch.rand(3, 5, 6, dtype=torch.float64)
    grad = torch.randn(3, 5, 4, dtype=torch.float64)
    layer(x).backward(grad)
    delta = _delta_of(layer.linear(x), grad)
    expected = torch.einsum("bto,bti->oi", delta, x)
    torch.testing.assert_close(layer.linear.weight.grad, expected)


def test_conv_weight_gradient_routes_delta_through_the_per_step_convolution():
    torch.manual_seed(1)
    layer = SpikingConv2d(2, 3, 3, NeuronConfig(rescale=False), padding=1,
                          weight_scale=3.0).double()
    x = torch.rand(2, 4, 2, 6, 6, dtype=torch.float64)
    grad = torch.randn(2, 4, 3, 6, 6, dtype=torch.float64)
    layer(x).backward(grad)
    current = layer.conv(x.reshape(8, 2, 6, 6)).reshape(2, 4, 3, 6, 6)
    delta = _delta_of(current, grad)
    w = layer.conv.weight.detach().clone().requires_grad_()
    out = torch.nn.functional.conv2d(x.reshape(8, 2, 6, 6), w, padding=1)
    (expected,) = torch.autograd.grad(out, w, delta.reshape(8, 3, 6, 6))
    torch.testing.assert_close(layer.conv.weight.grad, expected)
    assert layer.conv.bias is None


def test_sum_pool_is_window_sum_times_1_1_and_has_no_parameters():
    pool = SumPool2d(2)
    x = torch.arange(16.0).reshape(1, 1, 1, 4, 4)
    y = pool(x)
    assert y.shape == (1, 1, 1, 2, 2)
    assert y[0, 0, 0, 0, 0].item() == pytest.approx((0 + 1 + 4 + 5) * 1.1)
    assert list(pool.parameters()) == []


def test_dropout_mask_is_shared_across_all_time_steps():
    torch.manual_seed(2)
    drop = TimeSharedDropout(0.5).train()
    y = drop(torch.ones(4, 7, 3, 5, 5))
    assert torch.equal(y, y[:, :1].expand_as(y))
    assert set(y.unique().tolist()) == {0.0, 2.0}


def test_dropout_row_mode_shares_the_mask_across_width_like_the_official_code():
    torch.manual_seed(3)
    y = TimeSharedDropout(0.5, mode="row").train()(torch.ones(4, 3, 2, 5, 6))
    assert torch.equal(y, y[..., :1].expand_as(y))


def test_dropout_is_identity_in_eval_mode():
    x = torch.rand(2, 3, 4)
    assert torch.equal(TimeSharedDropout(0.3).eval()(x), x)


def test_encoder_repeats_a_static_image_over_time_and_filters_it():
    enc = PSCEncoder((1, 2, 2), n_steps=5, tau_s=2.0)
    y = enc(torch.ones(3, 1, 2, 2))
    assert y.shape == (3, 5, 1, 2, 2)
    assert y[0, :, 0, 0, 0].tolist() == pytest.approx([0.5, 0.75, 0.875, 0.9375, 0.96875])


def test_encoder_rejects_wrong_number_of_steps_with_the_expected_layout():
    enc = PSCEncoder((2, 34, 34), n_steps=30, tau_s=4.0)
    with pytest.raises(ValueError, match=r"expected 30 time steps.*\[-1, 30, 2, 34, 34\]"):
        enc(torch.zeros(2, 10, 2, 34, 34))


def test_encoder_rejects_mismatched_sizes():
    enc = PSCEncoder((2, 34, 34), n_steps=30, tau_s=4.0)
    with pytest.raises(ValueError, match=r"expected input \[-1, 30, 2, 34, 34\]"):
        enc(torch.zeros(2, 30, 2, 32, 32))


def test_conv_rejects_missing_time_dimension_and_wrong_channels():
    layer = SpikingConv2d(2, 3, 3, NeuronConfig())
    with pytest.raises(ValueError, match="forget the time dimension"):
        layer(torch.zeros(2, 2, 8, 8))
    with pytest.raises(ValueError, match="expects 2 input channels, got 3"):
        layer(torch.zeros(2, 5, 3, 8, 8))


def test_linear_rejects_wrong_feature_count():
    layer = SpikingLinear(6, 4, NeuronConfig())
    with pytest.raises(ValueError, match="expects 6 input features per step, got 5"):
        layer(torch.zeros(2, 5, 5))


def test_bf16_autocast_keeps_neuron_dynamics_in_float32():
    torch.manual_seed(4)
    layer = SpikingLinear(8, 4, NeuronConfig(), is_output=True)  # the rescale's reference layer
    x = torch.rand(2, 5, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    assert y.dtype == torch.float32
    y.sum().backward()
    assert layer.linear.weight.grad.dtype == torch.float32


@pytest.mark.parametrize("in_channels,steps", [(2, 10), (6, 3)], ids=["per-step", "folded"])
def test_channels_last_convolution_equals_the_default_up_to_rounding(in_channels, steps):
    torch.manual_seed(2)
    layer = SpikingConv2d(in_channels, 8, 3, NeuronConfig(rescale=False), padding=1,
                          weight_scale=4.0)
    x = torch.rand(3, steps, in_channels, 9, 9).requires_grad_()
    grad = torch.randn(3, steps, 8, 9, 9)
    layouts: list[bool] = []  # what the convolution was given
    layer.conv.register_forward_pre_hook(lambda _, args: layouts.append(
        args[0].is_contiguous(memory_format=torch.channels_last) and args[0].shape[1] > 1))
    results = []
    for channels_last in (False, True):
        layer.channels_last = channels_last
        layer.zero_grad()
        x.grad = None
        out = layer(x)
        out.backward(grad)
        results.append((out.detach(), x.grad.clone(), layer.conv.weight.grad.clone()))
    calls = len(layouts) // 2
    assert layouts == [False] * calls + [True] * calls
    (out0, dx0, dw0), (out1, dx1, dw1) = results
    assert out0.abs().sum() > 0  # the neurons fired: the comparison covers spikes
    for a, b in [(out0, out1), (dx0, dx1), (dw0, dw1)]:
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


def test_use_channels_last_sets_every_convolution_and_leaves_the_weights_alone():
    from bna_zoo import BNAModel
    from bna_zoo.nn import use_channels_last

    model = BNAModel("nmnist-cnn")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert use_channels_last(model) == 2
    convs = [m for m in model.modules() if isinstance(m, SpikingConv2d)]
    assert all(c.channels_last for c in convs)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) and after[k].is_contiguous() for k in after)
    assert use_channels_last(model, enabled=False) == 2
    assert not any(c.channels_last for c in convs)
    assert use_channels_last(BNAModel("fashionmnist-mlp")) == 0
