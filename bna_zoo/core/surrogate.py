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

from .kernels import lif_output, surrogate_backward
from .lif import LIFParams


class SurrogateLIF(torch.autograd.Function):
    """LIF/PSC forward with a surrogate-gradient BPTT backward, on time-major ``[T, N]``."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, current: torch.Tensor, p: LIFParams, slope: float, backend: str | None = None
    ) -> torch.Tensor:
        a = lif_output(current, p, backend)
        ctx.save_for_backward(current)
        ctx.cfg = (p, slope, backend)
        return a

    @staticmethod
    def backward(ctx, grad_a: torch.Tensor):  # type: ignore[override]
        (current,) = ctx.saved_tensors
        p, slope, backend = ctx.cfg
        # C and Triton: one fused pass per block of neurons (forward recompute, reverse filter,
        # recursion); torch: the composition in kernels.torch_kernel.surrogate_backward_torch.
        return surrogate_backward(current, grad_a, p, slope, backend), None, None, None
