"""Backpropagated Neighborhood Aggregation (NA) as a ``torch.autograd.Function``.

Forward: the LIF/PSC dynamics of :mod:`bna_zoo.core.lif` over a whole sequence.

Backward (docs/na.md §5): for every neuron and every step ``k`` the neighbor waveform ``u_k`` is
the one whose firing status at ``k`` alone is flipped by the smallest input perturbation
``theta - u[k]``; later steps are re-simulated exactly with the original currents (the chain
effect). The loss change is taken to first order in PSC space, ``ΔL[k] = w · (a_k - a)``, and::

    official (default):  δ[k] = ΔL[k] * clamp((theta - u[k])^-3, -5, 5),  w = e (reverse-filtered g)
    paper:               δ[k] = ΔL[k] * clamp(1/(theta - u[k]), -clip, clip),  w = g

``δ`` is returned as the gradient with respect to the input current; ordinary autograd then
routes it through the linear/conv op that produced the current. No BPTT recursion is applied on
top: the chain effect already lives inside the neighbor simulation (docs/na.md §5).

Efficient form used here: with ``Δs_k = s_k - s`` the neighbor's spike difference,
``w · (a_k - a) = (1/tau_s) Σ_{t>=k} E[t] Δs_k[t]`` where ``E`` is ``w`` reverse-filtered by the
PSC decay, so the neighbor PSC never needs to be tracked (see :mod:`bna_zoo.core.kernels`).

The whole backward (recompute, filters, neighbor pass, weighting) runs as one fused kernel on
the C backend (CPU) and the Triton backend (CUDA), and is composed from torch ops otherwise; the
choice is :mod:`bna_zoo.core.kernels.backend`'s (``backend=`` of :func:`na_lif`, or
``BNA_ZOO_KERNEL``). All are tested against :mod:`bna_zoo.core.reference`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch

from .kernels import lif_output, na_backward
from .kernels.backend import check_backend
from .kernels.torch_kernel import OFFICIAL_CLIP, na_weighting
from .lif import LIFParams, check_current, from_time_major, to_time_major
from .rescale import LayerRescale
from .surrogate import SurrogateLIF

VARIANTS = ("official", "paper")
GRADIENTS = ("na", "surrogate")
__all__ = [
    "GRADIENTS",
    "NALIF",
    "OFFICIAL_CLIP",
    "VARIANTS",
    "check_neuron_args",
    "check_real",
    "na_lif",
    "na_weighting",
]

# name -> (what it is, valid range as text, the range test). Each bound keeps the gradient
# finite: clip = inf lets 1/(theta - u) through at u == theta, and a surrogate slope k <= 0 or
# inf makes 1/(1 + k|u - theta|)^2 blow up, vanish or change sign.
_NEURON_ARGS = {
    "tau_m": ("membrane time constant in steps", ">= 1", lambda v: v >= 1),
    "tau_s": ("synaptic time constant in steps", "> 1", lambda v: v > 1),
    "theta": ("firing threshold", "> 0", lambda v: v > 0),
    "clip": ("clip of the paper variant's 1/(theta - u)", "> 0", lambda v: v > 0),
    "surrogate_slope": ("slope k of the surrogate 1/(1 + k|u - theta|)^2", "> 0",
                        lambda v: v > 0),
}


def check_real(name: str, value: object, meaning: str, bound: str,
               ok: Callable[[float], bool], optional: bool = False) -> None:
    """Refuse a setting that is not a finite real number passing ``ok`` (None too, if optional).

    Raises:
        TypeError: not a real number (bools and strings are refused, not converted), naming
            ``name``, the range ``bound`` and what the setting is.
        ValueError: a NaN, an infinity or a value outside the range.
    """
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        none = " or None" if optional else ""
        raise TypeError(f"{name} must be a real number {bound}{none} ({meaning}), got {value!r} "
                        f"({type(value).__name__})")
    if not (math.isfinite(value) and ok(value)):
        raise ValueError(f"{name} must be {bound} and finite ({meaning}), got {value!r}")


def check_neuron_args(
    tau_m: object, tau_s: object, theta: object, clip: object, surrogate_slope: object
) -> LIFParams:
    """Validate a neuron's numeric settings where they enter (:func:`na_lif`, ``NeuronConfig``).

    Returns:
        The :class:`LIFParams` of ``tau_m``, ``tau_s``, ``theta`` (as floats).

    Raises:
        TypeError: a setting that is not a real number; bools and strings are refused rather
            than converted (``float("5")`` would pass a string silently).
        ValueError: a NaN, an infinity or a value outside its range, naming the setting and
            the range.
    """
    values = dict(tau_m=tau_m, tau_s=tau_s, theta=theta, clip=clip,
                  surrogate_slope=surrogate_slope)
    for name, value in values.items():
        check_real(name, value, *_NEURON_ARGS[name])
    return LIFParams(tau_m=float(tau_m), tau_s=float(tau_s), theta=float(theta))


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
        backend: str | None = None,
    ) -> torch.Tensor:
        a = lif_output(current, p, backend)
        # Only the current is kept: u and s are recomputed in backward in O(T), which costs far
        # less than the O(T^2) neighbor pass and halves the activation memory.
        ctx.save_for_backward(current)
        ctx.cfg = (p, variant, clip, rescale, is_output, name, backend)
        return a

    @staticmethod
    def backward(ctx, grad_a: torch.Tensor):  # type: ignore[override]
        (current,) = ctx.saved_tensors
        p, variant, clip, rescale, is_output, name, backend = ctx.cfg
        # One fused kernel per block of neurons on the C and Triton backends, the torch
        # composition otherwise (see bna_zoo.core.kernels.na_backward).
        delta = na_backward(current, grad_a, p, variant, clip, backend)
        if rescale is not None:
            delta = rescale.apply(delta, is_output, name, backend)
        return delta, None, None, None, None, None, None, None


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
    backend: str | None = None,
) -> torch.Tensor:
    """LIF neuron with PSC output whose gradient is NA's δ (or a surrogate gradient).

    Args:
        current: input current, ``[B, T, ...]`` (batch first, time second, any trailing shape),
            or ``[T, B, ...]`` with ``time_major``.
        tau_m: membrane time constant (>= 1).
        tau_s: synaptic time constant (> 1).
        theta: firing threshold (> 0).
        variant: ``"official"`` (what produced the paper's 91.76%) or ``"paper"``.
        clip: clip of the ``"paper"`` form's inverse distance (finite, > 0); the official form
            uses its fixed clip of 5.
        gradient: ``"na"`` or ``"surrogate"`` (BPTT with a fast-sigmoid surrogate, same forward).
        surrogate_slope: slope ``k`` of the surrogate ``1/(1 + k|u - theta|)^2`` (finite, > 0).
        rescale: the owning model's :class:`LayerRescale`, or ``None`` for no rescale (NA only).
        is_output: whether this is the output layer (the rescale's reference).
        name: layer name recorded by the rescale.
        time_major: ``current`` is ``[T, B, ...]``: the kernels' own layout, so a contiguous
            input goes in and the PSC comes out with no copy (what the spiking layers use).
        check: scan ``current`` for NaN/inf (a full pass). Networks check their input once and
            pass ``False`` here; :func:`bna_zoo.core.set_thorough_checks` turns it back on.
        backend: the kernels that run forward and backward: ``"auto"`` (Triton on CUDA, C on
            CPU, torch otherwise), ``"torch"``, ``"c"`` or ``"triton"``; ``None`` (default)
            takes the process-wide choice, ``BNA_ZOO_KERNEL`` or
            :func:`bna_zoo.core.set_backend` (see :mod:`bna_zoo.core.kernels.backend`).

    Returns:
        The PSC trace ``a``, same shape as ``current``. Under autocast the dynamics still run in
        float32 so that threshold comparisons are exact; the result is float32 then.

    Raises:
        TypeError, ValueError: a bad ``current`` (see :func:`bna_zoo.core.lif.check_current`), an
            unknown ``variant``/``gradient``/``backend``, or a neuron setting that is not a
            finite number in its range (see :func:`check_neuron_args`).
    """
    check_current(current, finite=check)
    if variant not in VARIANTS:
        raise ValueError(f"unknown NA variant {variant!r}; choose one of {VARIANTS}")
    if gradient not in GRADIENTS:
        raise ValueError(f"unknown gradient {gradient!r}; choose one of {GRADIENTS}")
    p = check_neuron_args(tau_m, tau_s, theta, clip, surrogate_slope)
    if backend is not None:
        backend = check_backend(backend)
    return run_lif(current, p, variant=variant, clip=float(clip), gradient=gradient,
                   surrogate_slope=float(surrogate_slope), rescale=rescale, is_output=is_output,
                   name=name, time_major=time_major, backend=backend)


def run_lif(
    current: torch.Tensor,
    p: LIFParams,
    *,
    variant: str,
    clip: float,
    gradient: str,
    surrogate_slope: float,
    rescale: LayerRescale | None,
    is_output: bool,
    name: str,
    time_major: bool,
    backend: str | None,
) -> torch.Tensor:
    """:func:`na_lif` without its checks, for callers that validated their settings once
    (``bna_zoo.nn.Neuron``, whose :class:`NeuronConfig` checks them at construction): the same
    arguments, ``p`` the neuron constants as :func:`check_neuron_args` returns them."""
    shape = current.shape
    with torch.autocast(device_type=current.device.type, enabled=False):
        x = current if current.dtype in (torch.float32, torch.float64) else current.float()
        # [T, N]: a view of a contiguous time-major input, a copy otherwise
        x = x.reshape(shape[0], -1) if time_major else to_time_major(x)
        if gradient == "na":
            a = NALIF.apply(x, p, variant, clip, rescale, bool(is_output), name, backend)
        else:
            a = SurrogateLIF.apply(x, p, surrogate_slope, backend)
    return a.view(shape) if time_major else from_time_major(a, shape)
