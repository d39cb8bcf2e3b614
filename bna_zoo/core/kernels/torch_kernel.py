"""Pure-torch neighbor kernel, vectorised over the neighbor index (spec §2.9).

Neighbor ``k``'s membrane state lives in row ``k`` of ``m`` ``[T, N]``. One pass over ``t``
advances all neighbors ``k < t`` at once (``O(T)`` sequential steps, ``O(T^2 N)`` work) and starts
neighbor ``t``: its potential is set to exactly ``theta`` with the firing status flipped, so its
post-step state is ``theta`` when a spike was removed (no reset) and ``0`` when one was added.

Only the neighbors' own spikes are accumulated; the original train's share is a suffix sum::

    ΔL[k] = (1/tau_s) * ( E[k](1 - 2 s[k]) + Σ_{t>k} E[t] s_k[t] - Σ_{t>k} E[t] s[t] )
"""

from __future__ import annotations

import torch

from ..lif import LIFParams


def neighbor_loss_change_torch(
    current: torch.Tensor, u: torch.Tensor, s: torch.Tensor, big_e: torch.Tensor, p: LIFParams
) -> torch.Tensor:
    """See :func:`bna_zoo.core.kernels.neighbor_loss_change`; all tensors ``[T, N]``."""
    del u  # the flip sets the neighbor's potential to theta exactly; u is not needed here
    steps = current.shape[0]
    es = big_e * s
    # suffix[k] = Σ_{t>k} E[t] s[t]
    suffix = torch.zeros_like(big_e)
    if steps > 1:
        suffix[:-1] = es.flip(0).cumsum(0).flip(0)[1:]
    acc = big_e * (1.0 - 2.0 * s) - suffix
    m = torch.empty_like(current)
    for t in range(steps):
        if t > 0:
            mk = m[:t]
            mk.mul_(p.decay_m).add_(current[t])
            spk = torch.gt(mk, p.theta).to(mk.dtype)
            mk.mul_(1.0 - spk)
            acc[:t].addcmul_(spk, big_e[t])
        m[t] = s[t] * p.theta
    return acc.mul_(1.0 / p.tau_s)
