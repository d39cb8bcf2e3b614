"""Backpropagated Neighborhood Aggregation (NA) as a ``torch.autograd.Function``.

Forward: the LIF/PSC dynamics of :mod:`bna_zoo.core.lif` over a whole sequence.

Backward (spec §2.4–2.5): for every neuron and every step ``k`` the neighbor waveform ``u_k`` is
the one whose firing status at ``k`` alone is flipped by the smallest input perturbation
``theta - u[k]``; later steps are re-simulated exactly with the original currents (the chain
effect). The loss change is taken to first order in PSC space, ``ΔL[k] = w · (a_k - a)``, and::

    official (default):  δ[k] = ΔL[k] * clamp((theta - u[k])^-3, -5, 5),  w = e (reverse-filtered g)
    paper:               δ[k] = ΔL[k] * clamp(1/(theta - u[k]), -clip, clip),  w = g

``δ`` is returned as the gradient with respect to the input current; ordinary autograd then
routes it through the linear/conv op that produced the current. No BPTT recursion is applied on
top: the chain effect already lives inside the neighbor simulation (spec §6.1.5).

Efficient form used here: with ``Δs_k = s_k - s`` the neighbor's spike difference,
``w · (a_k - a) = (1/tau_s) Σ_{t>=k} E[t] Δs_k[t]`` where ``E`` is ``w`` reverse-filtered by the
PSC decay, so the neighbor PSC never needs to be tracked (see :mod:`bna_zoo.core.kernels`).

On CPU the whole backward (recompute, filters, neighbor pass, weighting) runs as one fused C
kernel when available; elsewhere it is composed from torch ops. Both are tested against
:mod:`bna_zoo.core.reference`.
"""

from __future__ import annotations

import torch

from .kernels import na_backward, neighbor_loss_change
from .lif import (
    LIFParams,
    check_current,
    from_time_major,
    lif_forward,
    reverse_filter,
    to_time_major,
)
from .rescale import LayerRescale
from .surrogate import SurrogateLIF

VARIANTS = ("official", "paper")
GRADIENTS = ("na", "surrogate")
OFFICIAL_CLIP = 5.0


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


class NALIF(torch.autograd.Function):
    """LIF/PSC forward with the NA backward, on time-major ``[T, N]`` currents."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        current: torch.Tensor,
        p: LIFParams,
        variant: str,
        clip: float,
        rescale: LayerRescale | None,
        is_output: bool,
        name: str,
    ) -> torch.Tensor:
        _, _, a = lif_forward(current, p)
        # Only the current is kept: u and s are recomputed in backward in O(T), which costs far
        # less than the O(T^2) neighbor pass and halves the activation memory.
        ctx.save_for_backward(current)
        ctx.cfg = (p, variant, clip, rescale, is_output, name)
        return a

    @staticmethod
    def backward(ctx, grad_a: torch.Tensor):  # type: ignore[override]
        (current,) = ctx.saved_tensors
        p, variant, clip, rescale, is_output, name = ctx.cfg
        # The fused C kernel when it applies (CPU float32/float64): the same arithmetic in one
        # pass per block of neurons, writing only δ. Otherwise the composition below.
        bound = OFFICIAL_CLIP if variant == "official" else clip
        delta = na_backward(current, grad_a, p, variant, bound)
        if delta is None:
            u, s, _ = lif_forward(current, p)
            w = reverse_filter(grad_a, p.decay_s) if variant == "official" else grad_a
            big_e = reverse_filter(w, p.decay_s)
            loss_change = neighbor_loss_change(current, u, s, big_e, p)
            delta = na_weighting(loss_change, u, p.theta, variant, clip)
        if rescale is not None:
            delta = rescale.apply(delta, is_output, name)
        return delta, None, None, None, None, None, None


def na_lif(
    current: torch.Tensor,
    *,
    tau_m: float = 5.0,
    tau_s: float = 2.0,
    theta: float = 1.0,
    variant: str = "official",
    clip: float = 10.0,
    gradient: str = "na",
    surrogate_slope: float = 5.0,
    rescale: LayerRescale | None = None,
    is_output: bool = False,
    name: str = "",
    time_major: bool = False,
    check: bool = True,
) -> torch.Tensor:
    """LIF neuron with PSC output whose gradient is NA's δ (or a surrogate gradient).

    Args:
        current: input current, ``[B, T, ...]`` (batch first, time second, any trailing shape),
            or ``[T, B, ...]`` with ``time_major``.
        tau_m: membrane time constant (>= 1).
        tau_s: synaptic time constant (> 1).
        theta: firing threshold (> 0).
        variant: ``"official"`` (what produced the paper's 91.76%) or ``"paper"``.
        clip: clip of the ``"paper"`` form's inverse distance; the official form uses its fixed
            clip of 5.
        gradient: ``"na"`` or ``"surrogate"`` (BPTT with a fast-sigmoid surrogate, same forward).
        surrogate_slope: slope ``k`` of the surrogate ``1/(1 + k|u - theta|)^2``.
        rescale: the owning model's :class:`LayerRescale`, or ``None`` for no rescale (NA only).
        is_output: whether this is the output layer (the rescale's reference).
        name: layer name recorded by the rescale.
        time_major: ``current`` is ``[T, B, ...]``: the kernels' own layout, so a contiguous
            input goes in and the PSC comes out with no copy (what the spiking layers use).
        check: scan ``current`` for NaN/inf (a full pass). Networks check their input once and
            pass ``False`` here; :func:`bna_zoo.core.set_thorough_checks` turns it back on.

    Returns:
        The PSC trace ``a``, same shape as ``current``. Under autocast the dynamics still run in
        float32 so that threshold comparisons are exact; the result is float32 then.
    """
    check_current(current, finite=check)
    if variant not in VARIANTS:
        raise ValueError(f"unknown NA variant {variant!r}; choose one of {VARIANTS}")
    if gradient not in GRADIENTS:
        raise ValueError(f"unknown gradient {gradient!r}; choose one of {GRADIENTS}")
    if not clip > 0:
        raise ValueError(f"clip must be > 0, got {clip}")
    p = LIFParams(tau_m=float(tau_m), tau_s=float(tau_s), theta=float(theta))
    shape = current.shape
    with torch.autocast(device_type=current.device.type, enabled=False):
        x = current if current.dtype in (torch.float32, torch.float64) else current.float()
        # [T, N]: a view of a contiguous time-major input, a copy otherwise
        x = x.reshape(shape[0], -1) if time_major else to_time_major(x)
        if gradient == "na":
            a = NALIF.apply(x, p, variant, float(clip), rescale, bool(is_output), name)
        else:
            a = SurrogateLIF.apply(x, p, float(surrogate_slope))
    return a.view(shape) if time_major else from_time_major(a, shape)
