"""Slow, obviously-correct loop versions of the LIF dynamics and of NA, for tests.

Everything is written per neuron with Python scalars, straight from the spec's equations, and
shares no code with the fast path: the neighbor is produced by a full re-simulation of the
neuron with the firing status at step ``k`` forced, and the loss change is taken in PSC space
(``w · (a_k - a)``) rather than in the fast path's spike-difference form.
"""

from __future__ import annotations

import math

import torch


def simulate(
    current: list[float], tau_m: float, tau_s: float, theta: float, flip_at: int | None = None
) -> tuple[list[float], list[float], list[float]]:
    """Simulate one neuron; optionally flip its firing status at step ``flip_at``.

    At the flipped step the potential is set to ``theta`` (the smallest perturbation that flips
    the status): a spike there is removed (no reset, state ``theta``) or added (reset to 0).

    Returns:
        ``(u, s, a)`` as lists of length T.
    """
    dm, ds = 1.0 - 1.0 / tau_m, 1.0 - 1.0 / tau_s
    m, syn = 0.0, 0.0
    u_out, s_out, a_out = [], [], []
    for t, cur in enumerate(current):
        u = dm * m + cur
        spike = 1.0 if u > theta else 0.0
        if t == flip_at:
            u, spike = theta, 1.0 - spike
        m = 0.0 if spike else u
        syn = ds * syn + spike / tau_s
        u_out.append(u)
        s_out.append(spike)
        a_out.append(syn)
    return u_out, s_out, a_out


def na_reference(
    current: torch.Tensor,
    grad_a: torch.Tensor,
    tau_m: float = 5.0,
    tau_s: float = 2.0,
    theta: float = 1.0,
    variant: str = "official",
    clip: float = 10.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PSC output and NA's δ by explicit loops over neurons, neighbors and steps.

    Args:
        current: ``[B, T, ...]`` input current.
        grad_a: ``[B, T, ...]`` upstream gradient ``dL/da``.
        variant: ``"official"`` (``e``, cubed distance, clip 5) or ``"paper"`` (``g``, power 1).

    Returns:
        ``(a, delta)``, both shaped like ``current``, in float64.
    """
    b, steps = current.shape[:2]
    cur = current.detach().double().reshape(b, steps, -1)
    g = grad_a.detach().double().reshape(b, steps, -1)
    a_out = torch.zeros_like(cur)
    d_out = torch.zeros_like(cur)
    ds = 1.0 - 1.0 / tau_s
    for i in range(b):
        for n in range(cur.shape[2]):
            seq = cur[i, :, n].tolist()
            gs = g[i, :, n].tolist()
            u, _, a = simulate(seq, tau_m, tau_s, theta)
            if variant == "official":
                w = [0.0] * steps
                acc = 0.0
                for t in reversed(range(steps)):
                    acc = gs[t] + ds * acc
                    w[t] = acc
            else:
                w = gs
            for k in range(steps):
                _, _, a_k = simulate(seq, tau_m, tau_s, theta, flip_at=k)
                loss_change = sum(w[t] * (a_k[t] - a[t]) for t in range(steps))
                dist = theta - u[k]
                if variant == "official":
                    inv = math.copysign(math.inf, dist) if dist == 0 else dist**-3
                    weight = max(-5.0, min(5.0, inv))
                else:
                    inv = math.copysign(math.inf, dist) if dist == 0 else 1.0 / dist
                    weight = max(-clip, min(clip, inv))
                d_out[i, k, n] = loss_change * weight
            a_out[i, :, n] = torch.tensor(a, dtype=torch.float64)
    return a_out.reshape(current.shape), d_out.reshape(current.shape)
