"""Data-independent metrics of a network: NeuroBench's ``Footprint`` and ``ConnectionSparsity``.

Plain functions, not torchmetrics ``Metric`` s: they read the weights, which every DDP rank
holds identically, so there is nothing to accumulate over batches or to reduce over ranks.
"""

from __future__ import annotations

from torch import nn


def footprint(module: nn.Module) -> int:
    """Bytes of every parameter and buffer of ``module`` (NeuroBench's ``Footprint``).

    Pass the network (``BNAModel.net``): a ``BNAModel`` also holds its metrics and loss.
    """
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def connection_sparsity(module: nn.Module) -> float:
    """Share of zero weights over every ``Linear`` and ``Conv1d/2d/3d`` layer of ``module``
    (NeuroBench's ``ConnectionSparsity``, which rounds to 4 decimals; this does not round).
    Biases do not count."""
    zeros = total = 0
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            zeros += int((m.weight == 0).sum())
            total += m.weight.numel()
    return zeros / total if total else 0.0
