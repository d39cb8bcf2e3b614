"""Surrogate-gradient BPTT for the same LIF/PSC neuron, for like-for-like comparisons with NA.

The forward is identical to NA's (:func:`bna_zoo.core.lif.lif_forward`). The backward is
ordinary backpropagation through time where the Heaviside derivative is replaced by the
fast-sigmoid surrogate ``1 / (1 + k |u - theta|)^2`` (SuperSpike-style, numerically stable for any
``u``) and the reset path is detached (``∂m/∂s`` treated as 0), the usual stable choice::

    e[t]  = g[t] + (1 - 1/tau_s) e[t+1]                       gradient w.r.t. a[t]
    gu[t] = e[t] / tau_s * σ'(u[t]) + gm[t] * (1 - s[t])       gradient w.r.t. u[t]
    gm[t-1] = (1 - 1/tau_m) gu[t]                              gI[t] = gu[t]
"""

from __future__ import annotations

import torch

from .kernels import cpu_kernel
from .lif import LIFParams, lif_forward, reverse_filter


class SurrogateLIF(torch.autograd.Function):
    """LIF/PSC forward with a surrogate-gradient BPTT backward, on time-major ``[T, N]``."""

    @staticmethod
    def forward(ctx, current: torch.Tensor, p: LIFParams, slope: float) -> torch.Tensor:  # type: ignore[override]
        _, _, a = lif_forward(current, p)
        ctx.save_for_backward(current)
        ctx.cfg = (p, slope)
        return a

    @staticmethod
    def backward(ctx, grad_a: torch.Tensor):  # type: ignore[override]
        (current,) = ctx.saved_tensors
        p, slope = ctx.cfg
        if cpu_kernel.use_c(current, grad_a):
            # One fused pass per neuron block: forward recompute, reverse filter, recursion.
            grad = cpu_kernel.surrogate_backward_c(current, grad_a, p, slope)
            if grad is not None:
                return grad, None, None
        u, s, _ = lif_forward(current, p)
        e = reverse_filter(grad_a, p.decay_s)
        # σ'(u) e / tau_s for all steps at once; only the membrane recursion is sequential.
        drive = e / p.tau_s / (1.0 + slope * (u - p.theta).abs()).square()
        keep = 1.0 - s
        grad = torch.empty_like(current)
        gm = torch.zeros_like(current[0])
        for t in range(current.shape[0] - 1, -1, -1):
            gu = torch.addcmul(drive[t], gm, keep[t])
            grad[t] = gu
            gm = gu * p.decay_m
        return grad, None, None
