"""Spike losses on the output PSC trace and the prediction rule (docs/na.md §4).

Both losses are SUM-reduced over batch, class and time as in the official code; the gradient
therefore scales with the batch size (AdamW and gradient clipping make this mostly harmless).
"""

from __future__ import annotations

import torch
from torch import nn

from ..core import psc_filter


def _check_output(output: torch.Tensor, target: torch.Tensor) -> None:
    if output.dim() != 3:
        raise ValueError(f"loss expects output [B, T, classes], got shape {list(output.shape)}")
    if target.dim() != 1 or target.shape[0] != output.shape[0]:
        raise ValueError(
            f"loss expects labels [B] = [{output.shape[0]}], got shape {list(target.shape)}"
        )
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= output.shape[2]):
        raise ValueError(
            f"labels must lie in [0, {output.shape[2] - 1}], got range "
            f"[{int(target.min())}, {int(target.max())}]"
        )


class KernelLoss(nn.Module):
    """Spike-train kernel loss ``L = Σ_{b,c,t} ½ (a_c[t] - target_c[t])²``.

    The label class's desired train has a spike at every step; the official code filters it
    twice (``psp(psp(1))``), so for tau_s = 2, T = 5 its target is
    ``[0.25, 0.5, 0.6875, 0.8125, 0.890625]``; other classes target 0.

    Args:
        tau_s: synaptic time constant of the output layer.
    """

    def __init__(self, tau_s: float = 2.0) -> None:
        super().__init__()
        self.tau_s = tau_s

    def target_trace(self, n_steps: int, device=None, dtype=torch.float32) -> torch.Tensor:
        """The label class's target ``[T]``: all-ones spike train, PSC-filtered twice."""
        ones = torch.ones(1, n_steps, device=device, dtype=dtype)
        return psc_filter(psc_filter(ones, self.tau_s), self.tau_s)[0]

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Args: output ``[B, T, classes]`` PSC, target ``[B]`` labels. Returns a scalar."""
        _check_output(output, target)
        trace = self.target_trace(output.shape[1], output.device, output.dtype)
        desired = torch.zeros_like(output)
        desired[torch.arange(output.shape[0], device=output.device), :, target] = trace
        return 0.5 * (output - desired).square().sum()


class CountLoss(nn.Module):
    """TSSL-BP's count loss on the PSC sum ``n_c = Σ_t a_c[t]``.

    ``err_c = (n_c - target_c) / T`` with target ``desired`` for the label class and
    ``undesired`` for the others, zeroed once the label class has ``n_c >= desired`` or another
    class ``n_c <= undesired``. ``L = ½ T Σ err²``, so ``dL/da_c[t] = err_c`` at every step,
    which is the gradient the official code passes.

    Args:
        desired: target count for the label class (e.g. 15 at T=30).
        undesired: target count for the other classes (e.g. 3).
    """

    def __init__(self, desired: float = 15.0, undesired: float = 3.0) -> None:
        super().__init__()
        if not desired > undesired:
            raise ValueError(f"desired ({desired}) must exceed undesired ({undesired})")
        self.desired = desired
        self.undesired = undesired

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Args: output ``[B, T, classes]`` PSC, target ``[B]`` labels. Returns a scalar."""
        _check_output(output, target)
        steps = output.shape[1]
        counts = output.sum(1)
        is_label = torch.zeros_like(counts, dtype=torch.bool)
        is_label[torch.arange(counts.shape[0], device=counts.device), target] = True
        goal = torch.where(is_label, self.desired, self.undesired).to(counts.dtype)
        with torch.no_grad():
            done = torch.where(is_label, counts >= self.desired, counts <= self.undesired)
        err = (counts - goal) / steps * (~done).to(counts.dtype)
        return 0.5 * steps * err.square().sum()


def predict_from_output(output: torch.Tensor) -> torch.Tensor:
    """Prediction = argmax of the summed output PSC. ``[B, T, classes]`` -> ``[B]``."""
    return output.sum(1).argmax(-1)


LOSSES = {"kernel": KernelLoss, "count": CountLoss}


def build_loss(name: str, loss_args: dict | None, tau_s: float) -> nn.Module:
    """The loss ``name`` with ``loss_args``; the kernel loss filters its target with ``tau_s``.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}")
    args = dict(loss_args or {})
    if name == "kernel":
        args.setdefault("tau_s", tau_s)
    return LOSSES[name](**args)
