"""Sum pooling times a scale, ``F.avg_pool2d(x, k, divisor_override=1) * scale``, with one-pass
C kernels on CPU.

Why not the composition everywhere: on CPU it is four passes over a layer's largest tensor and
a zero fill, and torch's NCHW pooling loop runs far below memory speed (docs in
``cpu_pool_impl.h``). The C kernels round exactly as the composition does, so outputs and
gradients are equal bit for bit; elsewhere (CUDA, half precision, the ``torch`` backend, double
backward) the composition runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.kernels import cpu_kernel
from ..core.kernels.backend import resolve


def sum_pool2d(x: torch.Tensor, k: int, scale: float) -> torch.Tensor:
    """Every ``k x k`` window (stride ``k``, floor) summed, times ``scale``.

    Args:
        x: ``[M, C, H, W]``.
        k: window size and stride.
        scale: factor on each window sum.

    Returns:
        ``[M, C, H // k, W // k]``, equal bit for bit to
        ``F.avg_pool2d(x, k, divisor_override=1) * scale``, with the same gradient.
    """
    # resolve() on a detached view: it answers "torch" for tensors that need a graph, which is
    # what autograd Functions see inside forward, not here. A window larger than the input
    # goes to the composition, which raises torch's own error.
    fits = x.dim() == 4 and min(x.shape[-2:]) >= k
    if fits and resolve(None, x.detach()) == "c":
        return _SumPool.apply(x, k, scale)
    return F.avg_pool2d(x, k, divisor_override=1) * scale


class _SumPool(torch.autograd.Function):
    """:func:`sum_pool2d` on the C kernels (CPU float32/float64)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, k: int, scale: float) -> torch.Tensor:  # type: ignore[override]
        ctx.meta = (x.shape, x.dtype, k, scale)
        return cpu_kernel.sum_pool_forward_c(x, k, scale)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):  # type: ignore[override]
        shape, dtype, k, scale = ctx.meta
        if torch.is_grad_enabled():  # create_graph: differentiable ops, as the composition runs
            like = torch.empty(shape, dtype=dtype, device=grad_y.device)
            grad_x = torch.ops.aten.avg_pool2d_backward(grad_y * scale, like, [k, k], [k, k],
                                                        [0, 0], False, True, 1)
        else:
            grad_x = cpu_kernel.sum_pool_backward_c(grad_y, shape[-2], shape[-1], k, scale)
        return grad_x, None, None
