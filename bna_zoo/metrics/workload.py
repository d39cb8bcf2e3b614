"""Data-dependent cost metrics as torchmetrics ``Metric`` s, with NeuroBench's definitions.

Both metrics take the spike trains of every spiking layer (:func:`spike_trace`), accumulate
integer counts in ``add_state(..., dist_reduce_fx="sum")`` states (so DDP sums them over ranks
before :meth:`compute`) and report per-sample or per-event ratios.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from ..models.network import SpikingNetwork, spikes_from_psc
from .connections import Counting, check_counting, connections


def spike_trace(
    net: SpikingNetwork, x: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Run ``net`` on ``x`` and recover every spiking layer's spikes from its PSC trace.

    Returns:
        ``(output [B, T, classes], {layer name: spikes [B, T, ...] of 0.0/1.0})``.
    """
    out, psc = net.forward_with_trace(x)
    return out, {k: spikes_from_psc(v, net.neuron.tau_s) for k, v in psc.items()}


def _binary_steps(x: torch.Tensor) -> torch.Tensor:
    """``[T]``: whether step ``t`` of ``x [B, T, ...]`` holds only 0 and +-1 over the batch.

    NeuroBench's rule, applied once per call of a layer (one step of a whole batch): an input of
    only 0 and +-1 is spikes, so its operations are accumulates (ACs); anything else costs
    multiply-accumulates (MACs).
    """
    return ((x == 0) | (x == 1) | (x == -1)).transpose(0, 1).flatten(1).all(1)


def _operations_per_step(x: torch.Tensor, fanout: torch.Tensor) -> torch.Tensor:
    """``[T]`` float64: the fan-outs of the non-zero entries of ``x [B, T, *shape]``, summed
    over the batch, one step at a time (a float64 copy of one step, not of all of ``x``)."""
    fan = fanout.to(x.device, torch.float64).flatten()
    return torch.stack([((x[:, t] != 0).flatten(1).to(torch.float64) @ fan).sum()
                        for t in range(x.shape[1])])


class SynapticOperations(Metric):
    """Effective synaptic operations per sample, as NeuroBench's ``SynapticOperations`` counts
    them on the network as built (``counting="neurobench"``, the default) or with every pooling
    folded into the next layer (``counting="folded"``); ``docs/metrics.md``.

    Each non-zero value a conv/linear layer receives costs one operation per non-zero synapse it
    reaches (its fan-out, :mod:`.connections`). Weights act on the spikes and the PSC filter
    after them (equal by linearity), so an event-driven processor does ``events x fan-out``
    operations. As NeuroBench decides per call of a layer, a step of the batch whose values are
    all 0 or +-1 costs ACs, any other step MACs: the analog image into the first layer, and, as
    built, the pooled values times 1.1 into a layer after a sum pool. ``synops_dense`` counts
    every synapse of every layer at every step.

    Args:
        net: the network whose connectivity (zero weights included) is counted.
        counting: ``"neurobench"`` (default) or ``"folded"``.

    ``update(x, spikes)``: ``x`` the network input (``[B, *input_shape]`` static image or
    ``[B, T, *input_shape]``), ``spikes`` from :func:`spike_trace`.
    ``compute()``: ``{"synops", "synops_ac", "synops_mac", "synops_dense"}`` per sample, and
    ``"synops/<layer>"`` per receiving layer.
    """

    full_state_update = False
    higher_is_better = False
    is_differentiable = False

    def __init__(self, net: SpikingNetwork, counting: Counting = "neurobench", **kwargs) -> None:
        super().__init__(**kwargs)
        self.counting = check_counting(counting)
        self.conns = connections(net, counting)
        self.input_rank = len(net.input_shape)
        for i, c in enumerate(self.conns):  # non-persistent: derived from the weights, not state
            self.register_buffer(f"fanout{i}", c.fanout, persistent=False)
        self.dense_per_step = [float(c.fanout_dense.sum()) for c in self.conns]
        n = len(self.conns)
        self.add_state("ac", torch.zeros(n, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("mac", torch.zeros(n, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("dense", torch.zeros(n, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("samples", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    @property
    def targets(self) -> list[str]:
        """The receiving layers' names, in order."""
        return [c.target for c in self.conns]

    def update(self, x: torch.Tensor, spikes: dict[str, torch.Tensor]) -> None:
        """Count one batch (see the class docstring for the shapes)."""
        batch, steps = x.shape[0], next(iter(spikes.values())).shape[1]
        for i, conn in enumerate(self.conns):
            repeat = 1
            if conn.source is None:
                inp = x
                if x.dim() == self.input_rank + 1:  # a static image: the same input each step
                    inp, repeat = x.unsqueeze(1), steps
            else:
                inp = spikes[conn.source]
            counted = conn.counted_input(inp)
            ops = _operations_per_step(counted, getattr(self, f"fanout{i}"))
            binary = _binary_steps(counted).to(ops.device)
            self.ac[i] += (ops[binary].sum() * repeat).round().to(torch.int64).to(self.ac.device)
            self.mac[i] += (ops[~binary].sum() * repeat).round().to(torch.int64).to(self.ac.device)
            self.dense[i] += round(self.dense_per_step[i] * batch * steps)
        self.samples += batch

    def compute(self) -> dict[str, torch.Tensor]:
        """Operations per sample (float64 tensors)."""
        n = self.samples.clamp(min=1).to(torch.float64)
        ac, mac = self.ac.to(torch.float64) / n, self.mac.to(torch.float64) / n
        result = {"synops": (ac + mac).sum(), "synops_ac": ac.sum(), "synops_mac": mac.sum(),
                  "synops_dense": self.dense.to(torch.float64).sum() / n}
        for name, value in zip(self.targets, ac + mac, strict=True):
            result[f"synops/{name}"] = value
        return result


class ActivationSparsity(Metric):
    """Share of neuron-steps without a spike, over all spiking layers (output layer included),
    samples and steps: NeuroBench's ``ActivationSparsity`` (``1 - mean firing rate``).

    ``update(spikes)`` with ``spikes`` from :func:`spike_trace`; ``compute()`` a 0-dim tensor.
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("spikes", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("events", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, spikes: dict[str, torch.Tensor]) -> None:
        """Count the spikes ``{layer: [B, T, ...]}`` of one batch."""
        for s in spikes.values():
            self.spikes += torch.count_nonzero(s).to(self.spikes.device)
            self.events += s.numel()

    def compute(self) -> torch.Tensor:
        """``1 - spikes / neuron-steps`` (float64)."""
        return 1.0 - self.spikes.to(torch.float64) / self.events.clamp(min=1)

