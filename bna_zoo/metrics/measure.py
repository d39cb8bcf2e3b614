"""``measure``: accuracy and every cost metric of a network over some data, in one pass."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from ..models.network import SpikingNetwork
from ..nn import predict_from_output
from .connections import Counting
from .static import connection_sparsity, footprint
from .workload import ActivationSparsity, SynapticOperations, spike_trace

Batch = torch.Tensor | tuple | list


def _network(model: nn.Module) -> SpikingNetwork:
    net = getattr(model, "net", model)  # a BNAModel keeps its network in .net
    if not isinstance(net, SpikingNetwork):
        raise TypeError(f"expected a BNAModel or SpikingNetwork, got {type(model).__name__}")
    return net


def _batches(data: Iterable | Batch) -> Iterable:
    """A single batch (``x`` or ``(x, y)``) as a one-batch iterable; a DataLoader as is."""
    if isinstance(data, torch.Tensor):
        return [(data,)]
    if isinstance(data, (tuple, list)) and data and isinstance(data[0], torch.Tensor) \
            and data[0].dim() >= 2:
        return [data]
    return data


@torch.no_grad()
def measure(
    model: nn.Module, data: Iterable | Batch, max_batches: int | None = None,
    counting: Counting = "neurobench",
) -> dict[str, Any]:
    """Accuracy (when labels are given) and NeuroBench's costs of ``model`` on ``data``.

    Args:
        model: a :class:`~bna_zoo.bna_model.BNAModel` or :class:`SpikingNetwork` (run in eval
            mode on its own device, restored afterwards).
        data: a DataLoader of ``(x, y)`` batches, one ``(x, y)`` batch, or a bare input ``x``
            (``[B, *input_shape]`` static images or ``[B, T, *input_shape]`` frames).
        max_batches: stop after this many batches.
        counting: how synaptic operations are counted: ``"neurobench"`` (default), as
            NeuroBench counts them on the network as built (each sum pool a layer of its own,
            the pooled values times 1.1 MACs into the next layer); ``"folded"``, every spike
            through the pooling folded into the next layer (bna_zoo's earlier count;
            ``docs/metrics.md`` compares them).

    Returns:
        ``samples``; ``accuracy`` (if labelled); ``synops``, ``synops_ac``, ``synops_mac``,
        ``synops_dense`` (per sample) and ``synops/<layer>``; ``activation_sparsity``;
        ``footprint_bytes`` and ``connection_sparsity`` of the network; ``params``.
        Numbers are Python floats and ints.

    Raises:
        ValueError: an unknown ``counting``.
    """
    net = _network(model)
    device = next(net.parameters()).device
    synops = SynapticOperations(net, counting).to(device)
    sparsity = ActivationSparsity().to(device)
    accuracy = MulticlassAccuracy(net.num_classes, average="micro").to(device)
    labelled = False
    was_training = net.training
    net.eval()
    try:
        for i, batch in enumerate(_batches(data)):
            if max_batches is not None and i >= max_batches:
                break
            x = batch[0].to(device, torch.float32)
            out, spikes = spike_trace(net, x)
            synops.update(x, spikes)
            sparsity.update(spikes)
            if len(batch) > 1:
                labelled = True
                accuracy.update(predict_from_output(out), batch[1].to(device))
    finally:
        net.train(was_training)
    result: dict[str, Any] = {"samples": int(synops.samples)}
    if labelled:
        result["accuracy"] = float(accuracy.compute())
    result.update({k: float(v) for k, v in synops.compute().items()})
    result["activation_sparsity"] = float(sparsity.compute())
    result["footprint_bytes"] = footprint(net)
    result["connection_sparsity"] = connection_sparsity(net)
    result["params"] = sum(p.numel() for p in net.parameters())
    return result
