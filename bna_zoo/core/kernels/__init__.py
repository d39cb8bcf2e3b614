"""Neighbor re-simulation kernels for the NA backward.

Each kernel computes, for every neuron ``n`` and neighbor index ``k``, the first-order loss change
of flipping the firing status at step ``k``::

    ΔL[k, n] = (1/tau_s) * Σ_{t>=k} E[t, n] * (s_k[t, n] - s[t, n])

where ``s_k`` is the exactly re-simulated spike train of neighbor ``k`` and ``E`` the
reverse-filtered loss weight. All kernels are checked against :mod:`bna_zoo.core.reference`.

Kernels: :mod:`.torch_kernel` (pure torch, any device, the reference fast path) and
:mod:`.cpu_kernel` (fused C compiled on first use, CPU float32/float64; see its docstring for
``BNA_ZOO_KERNEL``). The C kernel is taken when :func:`.cpu_kernel.use_c` allows it.

:func:`na_backward` goes one step further on the C path: the whole NA backward (before the
layer rescale) in one kernel, which ``NALIF.backward`` tries first.
"""

from __future__ import annotations

import torch

from ..lif import LIFParams
from . import cpu_kernel
from .torch_kernel import neighbor_loss_change_torch


def neighbor_loss_change(
    current: torch.Tensor, u: torch.Tensor, s: torch.Tensor, big_e: torch.Tensor, p: LIFParams
) -> torch.Tensor:
    """Dispatch to the fastest available kernel. All tensors are ``[T, N]``; returns ``[T, N]``.

    ``u`` and ``s`` must be :func:`bna_zoo.core.lif.lif_forward`'s output for ``current``.
    """
    if current.dim() == 2 and cpu_kernel.use_c(current, u, s, big_e):
        delta_loss = cpu_kernel.neighbor_loss_change_c(current, u, s, big_e, p)
        if delta_loss is not None:
            return delta_loss
    return neighbor_loss_change_torch(current, u, s, big_e, p)


def active_kernel() -> str:
    """Which neighbor kernel a contiguous CPU float32 tensor gets now: ``"c"`` or ``"torch"``."""
    probe = torch.zeros(2, 4)
    return "c" if cpu_kernel.use_c(probe) and cpu_kernel.load_library() is not None else "torch"


def na_backward(
    current: torch.Tensor, grad_a: torch.Tensor, p: LIFParams, variant: str, clip: float
) -> torch.Tensor | None:
    """The fused NA backward δ (``NALIF.backward`` before the layer rescale), when available.

    Args:
        current: the layer's input current, ``[T, N]``.
        grad_a: ``dL/da``, ``[T, N]``.
        p: neuron constants.
        variant: ``"official"`` (``E`` = ``grad_a`` reverse-filtered twice, weight
            ``clamp((theta - u)^-3, ±clip)``) or ``"paper"`` (once, ``clamp(1/(theta - u),
            ±clip)``).
        clip: the weight's clamp bound (``na.OFFICIAL_CLIP`` for the official variant).

    Returns:
        δ, ``[T, N]``, from the fused C kernel; ``None`` when it does not apply to these tensors
        (not CPU float32/float64 of one shape, autograd recording, ``BNA_ZOO_KERNEL=torch``, no
        C library) or is out of memory: the caller then composes :func:`neighbor_loss_change`
        and the weighting itself.
    """
    if variant not in ("official", "paper"):
        raise ValueError(f"unknown NA variant {variant!r}")
    if current.dim() == 2 and cpu_kernel.use_c(current, grad_a):
        return cpu_kernel.na_backward_c(current, grad_a, p, variant == "official", float(clip))
    return None
