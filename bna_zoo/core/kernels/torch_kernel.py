"""Pure-torch kernels: any device, any dtype, autograd-friendly; the reference fast path.

All tensors are time-major ``[T, N]``. The fused C and Triton kernels reproduce these loops'
rounding (one rounding per op, no fused multiply-add) and are tested against them.

The neighbor pass is vectorised over the live neighbors (docs/na.md §9): neighbor ``k``'s membrane
state and loss-change accumulator are one row of ``m`` and ``acc`` (``[live, N]``). One pass over
``t`` (``T`` sequential steps) advances all live neighbors at once and starts neighbor ``t``: its
potential is set to exactly ``theta`` with the firing status flipped, so its post-step state is
``theta`` when a spike was removed (no reset) and ``0`` when one was added. Each neighbor
accumulates its spike difference to the original train, as the C kernel does::

    ΔL[k] = (1/tau_s) * ( E[k](1 - 2 s[k]) + Σ_{t>k} E[t] (s_k[t] - s[t]) )

Early exit (two of the C kernel's three tests; ``cpu_na_impl.h``, ``neighbor_pass``, which also
finishes a neighbor below the headroom of the original currents): neighbor ``k`` of a neuron is
finished at step ``t`` when (a) its post-step state equals the original's, so its future is the
original's, or (b) its state is <= the original's and the original never fires after ``t``, so
neither fires again. Both persist, and every later term of a finished neighbor is an exact zero,
so a neighbor is retired once all ``N`` neurons have finished it, at the next sweep (every
:data:`RETIRE_EVERY` steps; a sweep reads a flag back to the host, a device sync), with the same
result as at the step it finished. Neighbors usually re-merge with the original within tens of
steps, so the work is ``O(T * live * N)`` with ``live << T`` (T = 100,000 takes seconds, not the
minutes of the former all-pairs pass); when neighbors do not re-merge it stays ``O(T^2 N)``, and a
warning (once per process) names the expected time and the faster options.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # annotations only: lif imports the kernels, never the other way round
    from ..params import LIFParams

#: The official variant's clamp of its cubed inverse distance (docs/na.md §5).
OFFICIAL_CLIP = 5.0


def lif_forward_torch(current: torch.Tensor, p: LIFParams) -> tuple[torch.Tensor, ...]:
    """``(u, s, a)``, each ``[T, N]``, of :func:`bna_zoo.core.lif.lif_forward`."""
    steps = current.shape[0]
    u = torch.empty_like(current)
    s = torch.empty_like(current)
    a = torch.empty_like(current)
    m = torch.zeros_like(current[0])
    syn = torch.zeros_like(current[0])
    for t in range(steps):
        ut = u[t]
        # m * decay_m, then + I: two roundings, as in the neighbor kernels and reference.py
        # (torch.add(..., alpha=) would fuse them into one FMA on AVX2 CPUs and CUDA, so the
        # re-simulated neighbors would not reproduce the original trajectory bit for bit).
        torch.mul(m, p.decay_m, out=ut)
        ut.add_(current[t])
        st = s[t]
        torch.gt(ut, p.theta, out=st)  # float output: arithmetic on bool is slow on CPU
        torch.mul(ut, 1.0 - st, out=m)
        syn.mul_(p.decay_s).add_(st, alpha=1.0 / p.tau_s)
        a[t] = syn
    return u, s, a


def reverse_filter_torch(g: torch.Tensor, decay: float) -> torch.Tensor:
    """``e[T-1] = g[T-1]; e[t] = g[t] + decay * e[t+1]`` on ``[T, N]``."""
    e = torch.empty_like(g)
    acc = torch.zeros_like(g[0])
    for t in range(g.shape[0] - 1, -1, -1):
        acc.mul_(decay).add_(g[t])
        e[t] = acc
    return e


#: Steps between two sweeps that retire finished neighbors of the neighbor pass.
RETIRE_EVERY = 32
#: Rough throughput used only for the long-run warning: neuron-steps of neighbor simulation per
#: second (CPU, other devices), and the fixed cost of one time step (a few op launches).
_RATE = {"cpu": 2e8, "other": 2e10}
_STEP_COST_S = 50e-6
#: Warn when the neighbor pass still has more than this many seconds to go. The estimate counts
#: only the neighbors live now (a lower bound), so a pass that merely started slowly never warns.
LONG_RUN_S = 60.0
_warned = False


def _warn_long_run(seconds: float, live: int, n: int, t: int, steps: int, device: str) -> None:
    """One warning per process: the torch neighbor pass is about to run for ``seconds``."""
    global _warned
    if _warned:
        return
    _warned = True
    warnings.warn(
        f"NA backward on the pure-torch kernel: at least ~{seconds:.0f} s more for this layer "
        f"({live} neighbors x {n} neurons still live at step {t} of T={steps}, on {device}): the "
        "neighbor pass is O(T^2) when neighbors do not re-merge. Use a fused backend (C for CPU "
        "float32/float64, Triton for CUDA: BNA_ZOO_KERNEL=auto or na_lif(backend=...)), a "
        "shorter T, or gradient='surrogate' (O(T))",
        RuntimeWarning,
        stacklevel=2,
    )


def neighbor_loss_change_torch(
    current: torch.Tensor, u: torch.Tensor, s: torch.Tensor, big_e: torch.Tensor, p: LIFParams
) -> torch.Tensor:
    """See :func:`bna_zoo.core.kernels.neighbor_loss_change`; all tensors ``[T, N]``."""
    return _neighbor_pass(current, u, s, big_e, p)[0]


def _neighbor_pass(
    current: torch.Tensor, u: torch.Tensor, s: torch.Tensor, big_e: torch.Tensor, p: LIFParams
) -> tuple[torch.Tensor, int]:
    """The neighbor pass; returns ``(ΔL [T, N], work)`` with ``work`` the number of
    (neighbor, step) pairs simulated (``T (T - 1) / 2`` without early exits; tests use it)."""
    steps, n = current.shape
    device = current.device
    out = torch.empty_like(current)
    # What a neighbor adds at a step, E (s_k - s): E (1 - s) where it fires, -E s where not.
    # The products are exact, so each step's sum rounds once, as in the C kernel, and the
    # results agree with it bit for bit. flip_term is neighbor k's own term at k, E (1 - 2 s).
    fire_term, rest_term = big_e * (1.0 - s), -(big_e * s)
    flip_term = big_e * (1.0 - 2.0 * s)
    mo = last = None  # the sweeps' references, made at the first sweep (none when T is short)
    inv_tau_s = 1.0 / p.tau_s
    cap = min(steps, 2 * RETIRE_EVERY)  # rows of m/acc; doubled when full
    m, acc = current.new_empty(cap, n), current.new_empty(cap, n)
    # Neighbor index of each row, on the host: rows from len(ids) on were started at steps
    # next_id, next_id + 1, ... (recorded at the sweeps, not with a host write every step).
    ids, next_id = torch.empty(0, dtype=torch.long), 0
    live = work = 0
    rate = _RATE["cpu" if device.type == "cpu" else "other"]
    for t in range(steps):
        if live:
            mk, ak = m[:live], acc[:live]
            mk.mul_(p.decay_m).add_(current[t])
            spk = torch.gt(mk, p.theta)
            mk.masked_fill_(spk, 0.0)  # the hard reset; equals mk * (1 - s_k) as v > theta > 0
            ak.add_(torch.where(spk, fire_term[t], rest_term[t]))
            work += live
        if live == cap:
            cap = min(steps, 2 * cap)
            m = torch.cat([m, m.new_empty(cap - live, n)])
            acc = torch.cat([acc, acc.new_empty(cap - live, n)])
        torch.mul(s[t], p.theta, out=m[live])  # theta with the spike removed, 0 with one added
        acc[live] = flip_term[t]
        live += 1
        if (t + 1) % RETIRE_EVERY == 0 and t + 1 < steps:
            if mo is None:
                mo = u * (1.0 - s)  # the original's post-step state: test (a)
                fired = s != 0
                # Last step at which the original fires, -1 if never: test (b) holds after it.
                flipped_first = fired.flip(0).to(torch.uint8).argmax(0)
                last = torch.where(fired.any(0), steps - 1 - flipped_first, -1)
            ids, next_id = torch.cat([ids, torch.arange(next_id, t + 1)]), t + 1
            below = torch.where(last <= t, mo[t], -torch.inf)
            mk = m[:live]
            done = ((mk == mo[t]) | (mk <= below)).all(1).cpu()
            if bool(done.any()):
                out.index_copy_(0, ids[done].to(device), acc[:live][done.to(device)] * inv_tau_s)
                keep = ~done
                kept = int(keep.sum())
                keep_dev = keep.to(device)
                m[:kept] = mk[keep_dev]  # the gather copies first: overlapping rows are safe
                acc[:kept] = acc[:live][keep_dev]
                ids, live = ids[keep], kept
            left = steps - 1 - t
            seconds = live * n * left / rate + left * _STEP_COST_S
            if seconds > LONG_RUN_S:
                _warn_long_run(seconds, live, n, t, steps, str(device))
    ids = torch.cat([ids, torch.arange(next_id, steps)])
    out.index_copy_(0, ids.to(device), acc[:live] * inv_tau_s)
    return out, work


def na_weighting(
    delta_loss: torch.Tensor, u: torch.Tensor, theta: float, variant: str, clip: float
) -> torch.Tensor:
    """Turn loss changes ``ΔL[k]`` into δ[k] by the variant's distance weighting.

    Args:
        delta_loss: ``ΔL``, shape ``[T, N]``.
        u: pre-reset potentials, ``[T, N]``.
        theta: threshold.
        variant: ``"official"`` (cubed distance, clip 5) or ``"paper"`` (power 1, ``clip``).
        clip: clip of the paper form.

    Returns:
        δ, ``[T, N]``. At ``u == theta`` the inverse distance is ±inf and clamps to the clip.
    """
    # in place on two buffers: this runs on every NA layer's [T, N] in every backward
    inv = u.neg().add_(theta).reciprocal_()  # 1 / (theta - u); ±inf at u == theta
    if variant == "official":
        weight = inv.square().mul_(inv).clamp_(-OFFICIAL_CLIP, OFFICIAL_CLIP)
    else:
        weight = inv.clamp_(-clip, clip)
    return weight.mul_(delta_loss)


def surrogate_backward_torch(
    current: torch.Tensor, grad_a: torch.Tensor, p: LIFParams, slope: float
) -> torch.Tensor:
    """The surrogate-gradient BPTT backward (:mod:`bna_zoo.core.surrogate`); ``[T, N]`` in/out."""
    u, s, _ = lif_forward_torch(current, p)
    e = reverse_filter_torch(grad_a, p.decay_s)
    # σ'(u) e / tau_s for all steps at once; only the membrane recursion is sequential.
    drive = e / p.tau_s / (1.0 + slope * (u - p.theta).abs()).square()
    keep = 1.0 - s
    grad = torch.empty_like(current)
    gm = torch.zeros_like(current[0])
    for t in range(current.shape[0] - 1, -1, -1):
        gu = torch.addcmul(drive[t], gm, keep[t])
        grad[t] = gu
        gm = gu * p.decay_m
    return grad
