"""Cost metrics of zoo networks with NeuroBench's definitions, beside accuracy.

- :class:`SynapticOperations`: effective synaptic operations (ACs on spikes, MACs on analog
  input) per sample, spikes x fan-out (``docs/nir.md`` explains why the weights may act on
  spikes although our layers pass PSC traces).
- :class:`ActivationSparsity`: share of neuron-steps without a spike.
- :func:`footprint`: bytes of parameters and buffers.
- :func:`connection_sparsity`: share of zero weights.
- :func:`measure`: all of them (and accuracy) over a DataLoader or one batch.
"""

from __future__ import annotations

from .connections import Connection, connections
from .measure import measure
from .static import connection_sparsity, footprint
from .workload import ActivationSparsity, SynapticOperations, spike_trace

__all__ = [
    "ActivationSparsity",
    "Connection",
    "SynapticOperations",
    "connection_sparsity",
    "connections",
    "footprint",
    "measure",
    "spike_trace",
]
