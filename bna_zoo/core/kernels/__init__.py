"""The neuron's kernels, behind one dispatch: every operation asks :func:`.backend.resolve`
(see :mod:`.backend` for the backends and ``BNA_ZOO_KERNEL``).

Operations (all tensors time-major ``[T, N]``):

- :func:`lif_forward`: the LIF/PSC forward, ``(u, s, a)``; :func:`lif_output`: ``a`` alone;
- :func:`reverse_filter`: the anti-causal PSC filter of gradients;
- :func:`neighbor_loss_change`: NA's neighbor pass, for every neuron ``n`` and neighbor ``k``
  the first-order loss change of flipping the firing status at step ``k``::

      ΔL[k, n] = (1/tau_s) * Σ_{t>=k} E[t, n] * (s_k[t, n] - s[t, n])

  where ``s_k`` is the exactly re-simulated spike train of neighbor ``k`` and ``E`` the
  reverse-filtered loss weight;
- :func:`na_backward`: the whole NA backward before the layer rescale (recompute, filters,
  neighbor pass, distance weighting), fused into one kernel on the C and Triton backends;
- :func:`surrogate_backward`: the whole surrogate-gradient BPTT backward.

Implementations: :mod:`.torch_kernel` (any device), :mod:`.cpu_kernel` (C, CPU float32/float64)
and :mod:`.triton_kernel` (CUDA, imported only when chosen). A fused kernel that returns ``None``
(the C kernels when out of scratch memory) falls back to the torch composition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from . import cpu_kernel
from .backend import describe, resolve, triton_kernels
from .torch_kernel import (
    OFFICIAL_CLIP,
    lif_forward_torch,
    na_weighting,
    neighbor_loss_change_torch,
    reverse_filter_torch,
    surrogate_backward_torch,
)

if TYPE_CHECKING:  # annotations only: lif imports this package, never the other way round
    from ..params import LIFParams

VARIANTS = ("official", "paper")


def lif_forward(
    current: torch.Tensor, p: LIFParams, backend: str | None = None
) -> tuple[torch.Tensor, ...]:
    """``(u, s, a)``, each ``[T, N]``, of the LIF/PSC dynamics driven by ``current`` ``[T, N]``."""
    kind = resolve(backend, current)
    if kind == "triton":
        return triton_kernels().lif_forward_triton(current, p)
    if kind == "c":
        outputs = cpu_kernel.lif_forward_c(current, p)
        if outputs is not None:
            return outputs
    return lif_forward_torch(current, p)


def lif_output(current: torch.Tensor, p: LIFParams, backend: str | None = None) -> torch.Tensor:
    """The PSC trace ``a`` ``[T, N]`` alone, what the autograd functions keep (the Triton and C
    kernels then write one ``[T, N]`` output instead of three)."""
    kind = resolve(backend, current)
    if kind == "triton":
        return triton_kernels().lif_forward_triton(current, p, state=False)[0]
    if kind == "c":
        outputs = cpu_kernel.lif_forward_c(current, p, state=False)
        if outputs is not None:
            return outputs[0]
    return lif_forward(current, p, kind)[2]


def reverse_filter(g: torch.Tensor, decay: float, backend: str | None = None) -> torch.Tensor:
    """``e[T-1] = g[T-1]; e[t] = g[t] + decay * e[t+1]`` on ``[T, N]`` (Triton: the torch loop,
    whose per-step ops already run as GPU kernels; the fused backward never needs it)."""
    if resolve(backend, g) == "c":
        e = cpu_kernel.reverse_filter_c(g, decay)
        if e is not None:
            return e
    return reverse_filter_torch(g, decay)


def abs_sum(x: torch.Tensor, backend: str | None = None) -> torch.Tensor:
    """``sum(|x|)`` as a 0-dim tensor on ``x``'s device: the layer rescale's mean |δ| numerator.

    On the C backend one read pass accumulated in double (float64 result); otherwise
    ``torch.linalg.vector_norm(x, 1)`` (``x``'s dtype), which on CPU is several times slower
    than a plain sum (about 3 ms for a 25 MB δ on two cores).
    """
    if resolve(backend, x) == "c":
        total = cpu_kernel.abs_sum_c(x)
        if total is not None:
            return torch.tensor(total, dtype=torch.float64)
    return torch.linalg.vector_norm(x, 1)


def neighbor_loss_change(
    current: torch.Tensor,
    u: torch.Tensor,
    s: torch.Tensor,
    big_e: torch.Tensor,
    p: LIFParams,
    backend: str | None = None,
) -> torch.Tensor:
    """NA's ``ΔL`` ``[T, N]``; ``u`` and ``s`` must be :func:`lif_forward`'s for ``current``.

    The C backend has a kernel of its own for this pass; the Triton backend fuses it into
    :func:`na_backward` only, so it takes the torch kernel here.
    """
    if resolve(backend, current, u, s, big_e) == "c":
        delta_loss = cpu_kernel.neighbor_loss_change_c(current, u, s, big_e, p)
        if delta_loss is not None:
            return delta_loss
    return neighbor_loss_change_torch(current, u, s, big_e, p)


def na_backward(
    current: torch.Tensor,
    grad_a: torch.Tensor,
    p: LIFParams,
    variant: str,
    clip: float,
    backend: str | None = None,
) -> torch.Tensor:
    """NA's δ ``[T, N]`` before the layer rescale (``NALIF.backward``'s arithmetic).

    Args:
        current: the layer's input current, ``[T, N]``.
        grad_a: ``dL/da``, ``[T, N]``.
        p: neuron constants.
        variant: ``"official"`` (``E`` = ``grad_a`` reverse-filtered twice, weight
            ``clamp((theta - u)^-3, ±OFFICIAL_CLIP)``) or ``"paper"`` (once, ``clamp(1/(theta -
            u), ±clip)``).
        clip: the paper form's clamp bound (the official form always uses ``OFFICIAL_CLIP``).
        backend: a backend name (:data:`.backend.BACKENDS`), or ``None`` for the process-wide
            choice.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown NA variant {variant!r}; choose one of {VARIANTS}")
    official = variant == "official"
    bound = OFFICIAL_CLIP if official else float(clip)
    kind = resolve(backend, current, grad_a)
    if kind == "triton":
        return triton_kernels().na_backward_triton(current, grad_a, p, official, bound)
    if kind == "c":
        delta = cpu_kernel.na_backward_c(current, grad_a, p, official, bound)
        if delta is not None:
            return delta
        kind = "torch"  # out of scratch memory: compose below, without the C pieces
    u, s, _ = lif_forward(current, p, kind)
    w = reverse_filter(grad_a, p.decay_s, kind) if official else grad_a
    big_e = reverse_filter(w, p.decay_s, kind)
    loss_change = neighbor_loss_change(current, u, s, big_e, p, kind)
    return na_weighting(loss_change, u, p.theta, variant, clip)


def surrogate_backward(
    current: torch.Tensor,
    grad_a: torch.Tensor,
    p: LIFParams,
    slope: float,
    backend: str | None = None,
) -> torch.Tensor:
    """The surrogate-gradient BPTT gradient with respect to ``current``, ``[T, N]``."""
    kind = resolve(backend, current, grad_a)
    if kind == "triton":
        return triton_kernels().surrogate_backward_triton(current, grad_a, p, slope)
    if kind == "c":
        grad = cpu_kernel.surrogate_backward_c(current, grad_a, p, slope)
        if grad is not None:
            return grad
    return surrogate_backward_torch(current, grad_a, p, slope)


def active_kernel(device: str | torch.device = "cpu") -> str:
    """The backend a float32 ``[T, N]`` tensor on ``device`` gets now (for logs and benchmarks)."""
    return describe(device)
