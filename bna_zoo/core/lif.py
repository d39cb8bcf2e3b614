"""LIF neuron with a first-order synaptic (PSC) filter: the forward dynamics of NA layers.

Discrete-time model of Yang, Zhang & Li (ICML 2021) and TSSL-BP (spec §1.1), per neuron::

    u[t] = (1 - 1/tau_m) * m[t-1] + I[t]          pre-reset membrane potential
    s[t] = H(u[t] - theta)                         strict: a spike iff u > theta
    m[t] = u[t] * (1 - s[t])                       hard reset to 0 after a spike
    a[t] = (1 - 1/tau_s) * a[t-1] + s[t] / tau_s   PSC trace, passed to the next layer

with ``m[-1] = a[-1] = 0``. Everything here works on time-major, flattened tensors ``[T, N]``;
:func:`to_time_major` / :func:`from_time_major` convert from and to the public ``[B, T, ...]``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LIFParams:
    """Neuron constants of one spiking layer.

    Args:
        tau_m: membrane time constant in steps; the leak per step is ``1 - 1/tau_m``.
        tau_s: synaptic time constant in steps; must exceed 1 so the PSC filter decays.
        theta: firing threshold (> 0).
    """

    tau_m: float = 5.0
    tau_s: float = 2.0
    theta: float = 1.0

    def __post_init__(self) -> None:
        for name in ("tau_m", "tau_s", "theta"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.tau_m < 1:
            raise ValueError(
                f"tau_m must be >= 1 (leak factor 1 - 1/tau_m in [0, 1)), got {self.tau_m}"
            )
        if self.tau_s <= 1:
            raise ValueError(
                f"tau_s must be > 1 (PSC decay 1 - 1/tau_s in (0, 1)), got {self.tau_s}"
            )
        if self.theta <= 0:
            raise ValueError(f"theta must be > 0 (a positive firing threshold), got {self.theta}")

    @property
    def decay_m(self) -> float:
        """Membrane leak factor ``1 - 1/tau_m``."""
        return 1.0 - 1.0 / self.tau_m

    @property
    def decay_s(self) -> float:
        """PSC decay factor ``1 - 1/tau_s``."""
        return 1.0 - 1.0 / self.tau_s


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
    if (finite or _THOROUGH) and not bool(torch.isfinite(current).all()):
        raise ValueError(f"{what} contains NaN or inf values; check the input and learning rate")


def to_time_major(x: torch.Tensor) -> torch.Tensor:
    """``[B, T, ...]`` -> contiguous ``[T, N]`` with ``N = B * prod(...)``."""
    b, t = x.shape[:2]
    return x.reshape(b, t, -1).transpose(0, 1).reshape(t, -1).contiguous()


def from_time_major(x: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``[T, N]`` -> contiguous ``shape`` = ``[B, T, ...]`` (inverse of :func:`to_time_major`)."""
    b, t = shape[:2]
    return x.reshape(t, b, -1).transpose(0, 1).reshape(shape).contiguous()


def lif_forward(current: torch.Tensor, p: LIFParams) -> tuple[torch.Tensor, ...]:
    """Run the LIF/PSC dynamics over a whole sequence.

    Args:
        current: input current ``I``, shape ``[T, N]`` (time-major).
        p: neuron constants.

    Returns:
        ``(u, s, a)``, each ``[T, N]``: pre-reset potential, spikes (0/1 in ``current.dtype``)
        and PSC trace.
    """
    from .kernels import cpu_kernel  # lazy: the kernels package imports this module

    if current.dim() == 2 and cpu_kernel.use_c(current):
        outputs = cpu_kernel.lif_forward_c(current, p)
        if outputs is not None:
            return outputs
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


def psc_filter(x: torch.Tensor, tau_s: float, dim: int = 1) -> torch.Tensor:
    """Apply the synaptic filter ``y[t] = (1 - 1/tau_s) y[t-1] + x[t] / tau_s`` along ``dim``.

    Used for the input encoding (spec §1.3) and the kernel-loss target (spec §1.4).
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


def reverse_filter(g: torch.Tensor, decay: float) -> torch.Tensor:
    """Anti-causal filter ``e[T-1] = g[T-1]; e[t] = g[t] + decay * e[t+1]`` on ``[T, N]``."""
    from .kernels import cpu_kernel  # lazy: the kernels package imports this module

    if g.dim() == 2 and cpu_kernel.use_c(g):
        e = cpu_kernel.reverse_filter_c(g, decay)
        if e is not None:
            return e
    e = torch.empty_like(g)
    acc = torch.zeros_like(g[0])
    for t in range(g.shape[0] - 1, -1, -1):
        acc.mul_(decay).add_(g[t])
        e[t] = acc
    return e
