"""Neighbor re-simulation kernels for the NA backward.

Each kernel computes, for every neuron ``n`` and neighbor index ``k``, the first-order loss change
of flipping the firing status at step ``k``::

    ΔL[k, n] = (1/tau_s) * Σ_{t>=k} E[t, n] * (s_k[t, n] - s[t, n])

where ``s_k`` is the exactly re-simulated spike train of neighbor ``k`` and ``E`` the
reverse-filtered loss weight. All kernels are checked against :mod:`bna_zoo.core.reference`.

Kernels: :mod:`.torch_kernel` (pure torch, any device, the reference fast path) and
:mod:`.cpu_kernel` (fused C compiled on first use, CPU float32/float64; see its docstring for
``BNA_ZOO_KERNEL``). The C kernel is taken when :func:`.cpu_kernel.use_c` allows it.
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
