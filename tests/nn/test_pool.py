"""Sum pooling on the C kernels equals the avg_pool2d composition bit for bit, both ways."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bna_zoo.core.kernels import cpu_kernel
from bna_zoo.core.kernels.backend import use_backend
from bna_zoo.nn import SumPool2d
from bna_zoo.nn.pool import sum_pool2d


@pytest.fixture
def c_kernels() -> None:
    """Skip when this machine cannot build the C kernels (the composition is all there is)."""
    if cpu_kernel.load_library() is None:
        pytest.skip("no working C compiler: the C kernels are unavailable")


def _composition(x: torch.Tensor, k: int, scale: float) -> torch.Tensor:
    return F.avg_pool2d(x, k, divisor_override=1) * scale


def _both_ways(fn, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = x.clone().requires_grad_(True)
    y = fn(leaf)
    (grad,) = torch.autograd.grad(y, leaf, g)
    return y, grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("shape", "k"), [((6, 3, 8, 8), 2), ((4, 2, 7, 9), 2),
                                          ((3, 5, 10, 11), 3), ((2, 1, 4, 4), 1)])
@pytest.mark.parametrize("threads", [1, 2])
def test_c_sum_pool_equals_avg_pool_composition_forward_and_backward(
    c_kernels, dtype: torch.dtype, shape: tuple[int, ...], k: int, threads: int
) -> None:
    """Values spread over many magnitudes, so that any other summation order would round
    differently somewhere; odd sizes leave rows and columns outside every window."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen, dtype=dtype) * 10 ** torch.randint(
        -4, 5, shape, generator=gen).to(dtype)
    out_shape = (*shape[:2], shape[2] // k, shape[3] // k)
    g = torch.randn(out_shape, generator=gen, dtype=dtype)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        y_c, grad_c = _both_ways(lambda t: sum_pool2d(t, k, 1.1), x, g)
    finally:
        torch.set_num_threads(previous)
    y_ref, grad_ref = _both_ways(lambda t: _composition(t, k, 1.1), x, g)
    assert type(y_c.grad_fn).__name__ == "_SumPoolBackward"  # the C path ran
    assert torch.equal(y_c, y_ref)
    assert torch.equal(grad_c, grad_ref)
    assert torch.equal(torch.signbit(grad_c), torch.signbit(grad_ref))  # zeros' signs too


def test_sum_pool_takes_the_composition_on_the_torch_backend_and_in_half_precision() -> None:
    x = torch.rand(2, 3, 4, 4, requires_grad=True)
    with use_backend("torch"):
        assert type(sum_pool2d(x, 2, 1.1).grad_fn).__name__ == "MulBackward0"
    y = sum_pool2d(x.bfloat16(), 2, 1.1)
    assert y.dtype == torch.bfloat16
    assert torch.equal(y, _composition(x.bfloat16(), 2, 1.1))


def test_c_sum_pool_supports_double_backward_like_the_composition(c_kernels) -> None:
    """create_graph=True: the gradient is itself differentiable (computed by torch ops)."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 2, 6, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 2, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    grads = []
    for fn in (lambda t: sum_pool2d(t, 2, 1.1), lambda t: _composition(t, 2, 1.1)):
        (gx,) = torch.autograd.grad(fn(x), x, g, create_graph=True)
        (gg,) = torch.autograd.grad((gx * gx).sum(), g)
        grads.append((gx, gg))
    assert torch.equal(grads[0][0], grads[1][0])
    assert torch.equal(grads[0][1], grads[1][1])


def test_sum_pool_layer_time_major_output_is_the_composition(c_kernels) -> None:
    """SumPool2d runs the C path inside a network's layout: [T, B, C, H, W] in."""
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(5, 3, 4, 12, 12, generator=gen)
    y = SumPool2d(2, 1.1).forward_time_major(x)
    ref = _composition(x.reshape(15, 4, 12, 12), 2, 1.1).view(5, 3, 4, 6, 6)
    assert torch.equal(y, ref)


def test_sum_pool_window_larger_than_input_raises_torchs_error(c_kernels) -> None:
    with pytest.raises(RuntimeError, match="too small"):
        sum_pool2d(torch.rand(1, 1, 3, 3), 4, 1.1)


def test_network_gradients_with_c_pooling_equal_those_with_the_composition(
    c_kernels, monkeypatch
) -> None:
    """A whole registry CNN, NA backward and rescale included: every parameter's gradient is the
    same bits whichever way its two pooling layers run."""
    from bna_zoo.models import create_model
    from bna_zoo.nn import layers

    gen = torch.Generator().manual_seed(3)
    x = torch.rand(2, 1, 28, 28, generator=gen)

    def grads() -> list[torch.Tensor]:
        torch.manual_seed(0)
        net = create_model("mnist-cnn")
        net(x).sum().backward()
        return [p.grad for p in net.parameters()]

    with_c = grads()
    monkeypatch.setattr(layers, "sum_pool2d", lambda t, k, s: _composition(t, k, s))
    composed = grads()
    assert any(g.abs().sum() > 0 for g in with_c)
    assert all(torch.equal(a, b) for a, b in zip(with_c, composed, strict=True))
