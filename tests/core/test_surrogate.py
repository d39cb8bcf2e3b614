"""Surrogate-gradient backward of the same neuron."""

import torch

from bna_zoo.core import na_lif


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (1 + ctx.slope * x.abs()) ** 2, None


def _autograd_bptt(current, tau_m, tau_s, theta, slope):
    """Plain autograd through a Python time loop with a detached reset."""
    m = torch.zeros_like(current[:, 0])
    syn = torch.zeros_like(current[:, 0])
    out = []
    for t in range(current.shape[1]):
        u = (1 - 1 / tau_m) * m + current[:, t]
        s = _Spike.apply(u - theta, slope)
        m = u * (1 - s.detach())
        syn = (1 - 1 / tau_s) * syn + s / tau_s
        out.append(syn)
    return torch.stack(out, 1)


def test_surrogate_backward_equals_autograd_through_the_time_loop():
    g = torch.Generator().manual_seed(0)
    current = torch.randn(3, 12, 5, generator=g, dtype=torch.float64) * 0.8 + 0.4
    grad = torch.randn(3, 12, 5, generator=g, dtype=torch.float64)
    x1 = current.clone().requires_grad_()
    a1 = na_lif(x1, tau_m=5.0, tau_s=2.0, gradient="surrogate", surrogate_slope=3.0)
    a1.backward(grad)
    x2 = current.clone().requires_grad_()
    a2 = _autograd_bptt(x2, 5.0, 2.0, 1.0, 3.0)
    a2.backward(grad)
    torch.testing.assert_close(a1, a2.detach())
    torch.testing.assert_close(x1.grad, x2.grad)


def test_surrogate_gradient_is_finite_far_below_threshold():
    # snnTorch's sigmoid surrogate overflows to NaN for u far below theta; ours must not.
    x = torch.full((1, 5, 3), -500.0, requires_grad=True)
    na_lif(x, gradient="surrogate", surrogate_slope=25.0).sum().backward()
    assert torch.isfinite(x.grad).all()
