"""LIF neuron with a first-order synaptic (PSC) filter: the forward dynamics of NA layers.

Discrete-time model of Yang, Zhang & Li (ICML 2021) and TSSL-BP (docs/na.md §1), per neuron::

    u[t] = (1 - 1/tau_m) * m[t-1] + I[t]          pre-reset membrane potential
    s[t] = H(u[t] - theta)                         strict: a spike iff u > theta
    m[t] = u[t] * (1 - s[t])                       hard reset to 0 after a spike
    a[t] = (1 - 1/tau_s) * a[t-1] + s[t] / tau_s   PSC trace, passed to the next layer

with ``m[-1] = a[-1] = 0``. Everything here works on time-major, flattened tensors ``[T, N]``;
:func:`to_time_major` / :func:`from_time_major` convert from and to the public ``[B, T, ...]``.
"""

from __future__ import annotations

import os

import torch

from . import kernels
from .params import LIFParams  # noqa: F401  (re-exported: callers import it from here)

#: Scan every spiking layer's input for NaN/inf on every call (a full pass over each tensor).
#: Off by default: networks validate their input once, at the encoder. Turn it on while
#: debugging a diverging run with ``BNA_ZOO_CHECKS=thorough`` or :func:`set_thorough_checks`.
_THOROUGH = os.environ.get("BNA_ZOO_CHECKS", "").lower() == "thorough"


def set_thorough_checks(enabled: bool) -> None:
    """Switch the per-layer finiteness scan (debugging aid; costs a pass over every tensor)."""
    global _THOROUGH
    _THOROUGH = bool(enabled)


def thorough_checks() -> bool:
    """Whether every spiking layer scans its input for NaN/inf (see :func:`set_thorough_checks`)."""
    return _THOROUGH


def all_finite(x: torch.Tensor) -> bool:
    """Whether a floating-point tensor holds no NaN or infinity (``True`` when empty).

    One reduction, ``aminmax``, instead of ``isfinite(x).all()``: NaN propagates to both
    results and an infinity shows in one of them, so the answer is the same, without the
    ``isfinite`` mask of ``x``'s size (~30x faster on a batch of event frames on CPU).
    """
    if x.numel() == 0:
        return True
    lo, hi = torch.aminmax(x.detach())
    return bool(torch.isfinite(lo) & torch.isfinite(hi))


def check_current(current: torch.Tensor, what: str = "current", finite: bool = True) -> None:
    """Validate a ``[B, T, ...]`` (or ``[T, B, ...]``) input of a spiking layer.

    Args:
        current: the tensor to check.
        what: its name in error messages.
        finite: also scan every value for NaN/inf (a full pass over the tensor).

    Raises:
        TypeError: if ``current`` is not a floating-point tensor.
        ValueError: if it has fewer than 3 dimensions, an empty batch or time axis, or (with
            ``finite``) non-finite values.
    """
    if not isinstance(current, torch.Tensor) or not current.is_floating_point():
        kind = f"a {current.dtype} tensor" if isinstance(current, torch.Tensor) else type(current)
        raise TypeError(f"{what} must be a floating-point torch.Tensor, got {kind}")
    if current.dim() < 3:
        raise ValueError(
            f"{what} must be [B, T, ...] (batch first, time second, then features), got shape "
            f"{list(current.shape)}: did you forget the batch or the time dimension?"
        )
    if current.shape[0] == 0 or current.shape[1] == 0:
        raise ValueError(f"{what} has an empty batch or time axis: shape {list(current.shape)}")
    if (finite or _THOROUGH) and not all_finite(current):
        raise ValueError(f"{what} contains NaN or inf values; check the input and learning rate")


def to_time_major(x: torch.Tensor) -> torch.Tensor:
    """``[B, T, ...]`` -> contiguous ``[T, N]`` with ``N = B * prod(...)``."""
    b, t = x.shape[:2]
    return x.reshape(b, t, -1).transpose(0, 1).reshape(t, -1).contiguous()


def from_time_major(x: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``[T, N]`` -> contiguous ``shape`` = ``[B, T, ...]`` (inverse of :func:`to_time_major`)."""
    b, t = shape[:2]
    return x.reshape(t, b, -1).transpose(0, 1).reshape(shape).contiguous()


def lif_forward(
    current: torch.Tensor, p: LIFParams, backend: str | None = None
) -> tuple[torch.Tensor, ...]:
    """Run the LIF/PSC dynamics over a whole sequence.

    Args:
        current: input current ``I``, shape ``[T, N]`` (time-major; ``[T, ...]`` is flattened).
        p: neuron constants.
        backend: kernel backend (see :mod:`bna_zoo.core.kernels.backend`); ``None`` for the
            process-wide choice.

    Returns:
        ``(u, s, a)``, each shaped like ``current``: pre-reset potential, spikes (0/1 in
        ``current.dtype``) and PSC trace.
    """
    if current.dim() == 2:
        return kernels.lif_forward(current, p, backend)
    flat = kernels.lif_forward(current.reshape(current.shape[0], -1), p, backend)
    return tuple(x.view(current.shape) for x in flat)


def psc_filter(x: torch.Tensor, tau_s: float, dim: int = 1) -> torch.Tensor:
    """Apply the synaptic filter ``y[t] = (1 - 1/tau_s) y[t-1] + x[t] / tau_s`` along ``dim``.

    Used for the input encoding (docs/na.md §3) and the kernel-loss target (docs/na.md §4).
    Differentiable through ordinary autograd.

    Args:
        x: ``[B, T, ...]`` (``dim=1``) or time-major ``[T, B, ...]`` (``dim=0``).
        tau_s: synaptic time constant (> 1).
        dim: the time axis.

    Returns:
        Tensor of the same shape as ``x``.
    """
    if tau_s <= 1:
        raise ValueError(f"tau_s must be > 1, got {tau_s}")
    decay = 1.0 - 1.0 / tau_s
    out = []
    y = torch.zeros_like(x.select(dim, 0))
    for xt in x.unbind(dim):
        y = decay * y + xt / tau_s
        out.append(y)
    return torch.stack(out, dim=dim)


def reverse_filter(g: torch.Tensor, decay: float, backend: str | None = None) -> torch.Tensor:
    """Anti-causal filter ``e[T-1] = g[T-1]; e[t] = g[t] + decay * e[t+1]`` on ``[T, N]``
    (``[T, ...]`` is flattened; ``backend`` as in :func:`lif_forward`)."""
    if g.dim() == 2:
        return kernels.reverse_filter(g, decay, backend)
    return kernels.reverse_filter(g.reshape(g.shape[0], -1), decay, backend).view(g.shape)
