"""Cost metrics of zoo networks as NeuroBench defines and counts them, beside accuracy.

- :class:`SynapticOperations`: effective synaptic operations per sample, ACs on spikes and MACs
  on non-binary input, each non-zero input times its non-zero fan-out. By default
  (``counting="neurobench"``) as NeuroBench counts them on the network as built for
  event-driven hardware, its NIR graph: spikes -> sum pool -> x1.1 -> conv/linear -> neuron,
  so a layer after a sum pool receives pooled values (MACs, one fan-out per pooling window).
  ``counting="folded"`` folds each pooling into the next layer instead and counts every spike
  through the folded kernel (bna_zoo's earlier count). ``docs/metrics.md`` compares them, and
  explains why weights may act on spikes although our layers pass PSC traces.
- :class:`ActivationSparsity`: share of neuron-steps without a spike.
- :func:`footprint`: bytes of parameters and buffers.
- :func:`connection_sparsity`: share of zero weights.
- :func:`measure`: all of them (and accuracy) over a DataLoader or one batch.

NeuroBench itself is not needed: ``tests/metrics/test_metrics.py`` checks these numbers against its
metric classes run on the equivalent per-step networks.
"""

from __future__ import annotations

from .connections import COUNTINGS, Connection, Counting, connections
from .measure import measure
from .static import connection_sparsity, footprint
from .workload import ActivationSparsity, SynapticOperations, spike_trace

__all__ = [
    "COUNTINGS",
    "ActivationSparsity",
    "Connection",
    "Counting",
    "SynapticOperations",
    "connection_sparsity",
    "connections",
    "footprint",
    "measure",
    "spike_trace",
]
