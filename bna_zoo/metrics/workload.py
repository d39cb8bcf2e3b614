"""Data-dependent cost metrics as torchmetrics ``Metric`` s, with NeuroBench's definitions.

Both metrics take the spike trains of every spiking layer (:func:`spike_trace`), accumulate
integer counts in ``add_state(..., dist_reduce_fx="sum")`` states (so DDP sums them over ranks
before :meth:`compute`) and report per-sample or per-event ratios.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from ..models.network import SpikingNetwork, spikes_from_psc
from .connections import connections


def spike_trace(
    net: SpikingNetwork, x: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Run ``net`` on ``x`` and recover every spiking layer's spikes from its PSC trace.

    Returns:
        ``(output [B, T, classes], {layer name: spikes [B, T, ...] of 0.0/1.0})``.
    """
    out, psc = net.forward_with_trace(x)
    return out, {k: spikes_from_psc(v, net.neuron.tau_s) for k, v in psc.items()}


def _is_binary(x: torch.Tensor) -> bool:
    # NeuroBench's rule: an input of only 0 and +-1 is spikes, so its operations are
    # accumulates (ACs); anything else costs multiply-accumulates (MACs)
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


class SynapticOperations(Metric):
    """Effective synaptic operations per sample, as NeuroBench's ``SynapticOperations``.

    Every non-zero input (a spike, or a non-zero input pixel at each step) costs one operation
    per non-zero synapse it reaches (its fan-out, see :mod:`.connections`): weights act on the
    spikes, the PSC filter after them (equal by linearity), so an event-driven processor does
    ``spikes x fan-out`` accumulates. Operations on binary inputs are ACs, on analog inputs
    MACs (the first layer of an image model). ``dense`` counts every synapse at every step.

    Args:
        net: the network whose connectivity (zero weights included) is counted.

    ``update(x, spikes)``: ``x`` the network input (``[B, *input_shape]`` static image or
    ``[B, T, *input_shape]``), ``spikes`` from :func:`spike_trace`.
    ``compute()``: ``{"synops", "synops_ac", "synops_mac", "synops_dense"}`` per sample, and
    ``"synops/<layer>"`` per receiving layer.
    """

    full_state_update = False
    higher_is_better = False
    is_differentiable = False

    def __init__(self, net: SpikingNetwork, **kwargs) -> None:
        super().__init__(**kwargs)
        conns = connections(net)
        self.targets = [c.target for c in conns]
        self.sources = [c.source for c in conns]
        self.n_steps = net.n_steps
        self.input_rank = len(net.input_shape)
        for i, c in enumerate(conns):  # non-persistent: derived from the weights, not state
            self.register_buffer(f"fanout{i}", c.fanout, persistent=False)
        self.dense_per_step = [float(c.fanout_dense.sum()) for c in conns]
        n = len(conns)
        self.add_state("ac", torch.zeros(n, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("mac", torch.zeros(n, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("dense", torch.zeros(n, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("samples", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, x: torch.Tensor, spikes: dict[str, torch.Tensor]) -> None:
        """Count one batch (see the class docstring for the shapes)."""
        batch = x.shape[0]
        for i, source in enumerate(self.sources):
            fan = getattr(self, f"fanout{i}")
            if source is None:
                inp, steps = x, 1
                if x.dim() == self.input_rank + 1:  # a static image: the same input each step
                    steps = self.n_steps
                binary = _is_binary(inp)
            else:
                inp, steps, binary = spikes[source], 1, True
            # sum over inputs of [input != 0] * fan-out, exact in float64
            ops = ((inp != 0).to(torch.float64) * fan.to(inp.device, torch.float64)).sum()
            ops = (ops * steps).round().to(torch.int64)
            (self.ac if binary else self.mac)[i] += ops.to(self.ac.device)
            self.dense[i] += round(self.dense_per_step[i] * batch * self.n_steps)
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

