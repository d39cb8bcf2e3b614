"""Move each ``CubaLIF`` synapse in front of the linear nodes that feed it (NIR to NIR).

A ``CubaLIF`` filters the current that its weights deliver: ``i = filter(W pool(s))``. The zoo's
layers compute the same current as ``W pool(filter(s))``, filtering the spikes first (docs/na.md
§1). The filter is linear, per neuron, and time-invariant, so both orders are one network; in
float32 they round differently, and a neuron whose potential lands within a rounding error of the
threshold then fires one step apart. :func:`filter_first` rewrites the graph to the zoo's order, so
that running it repeats the zoo's arithmetic operation for operation:

S -> [Linear|Conv2d|SumPool2d|Scale|Flatten ...] -> CubaLIF becomes S -> LI(tau_syn, r = w_in) ->
[the same linear nodes] -> LIF(tau_mem, r, v_leak, ...)

It applies only where that is exact in real arithmetic: every node of the chain is linear without
bias and has one input and one output, and ``tau_syn`` and ``w_in`` are the same for all neurons
(the filter then acts identically on every source neuron). Other neurons stay as they are.
"""

from __future__ import annotations

import numpy as np

from ._nir import nir

_LINEAR = (nir.Linear, nir.Conv2d, nir.SumPool2d, nir.AvgPool2d, nir.Scale, nir.Flatten)


def _uniform(a: np.ndarray) -> float | None:
    a = np.asarray(a, dtype=np.float64)
    return float(a.flat[0]) if a.size and np.all(a == a.flat[0]) else None


def _bias_free(node: nir.NIRNode) -> bool:
    bias = getattr(node, "bias", None)
    return bias is None or not np.any(np.asarray(bias) != 0)


def filter_first(graph: nir.NIRGraph) -> nir.NIRGraph:
    """An equivalent graph with every eligible ``CubaLIF`` split as described above.

    The ``LIF`` keeps the ``CubaLIF``'s name (so spike traces keep their keys); the new ``LI``
    is ``<name>_syn``. Returns a new, untype-checked graph; ``graph`` is not changed.
    """
    nodes = dict(graph.nodes)
    edges = list(graph.edges)

    def preds(name: str) -> list[str]:
        return [a for a, b in edges if b == name]

    def succs(name: str) -> list[str]:
        return [b for a, b in edges if a == name]

    for name, node in graph.nodes.items():
        if not isinstance(node, nir.CubaLIF):
            continue
        tau_syn, w_in = _uniform(node.tau_syn), _uniform(node.w_in)
        if tau_syn is None or w_in is None or len(preds(name)) != 1:
            continue
        first, source = name, preds(name)[0]
        while (isinstance(nodes[source], _LINEAR) and _bias_free(nodes[source])
               and len(preds(source)) == 1 and len(succs(source)) == 1):
            first, source = source, preds(source)[0]
        syn = f"{name}_syn"
        nodes[syn] = nir.LI(tau=np.array(tau_syn), r=np.array(w_in), v_leak=np.array(0.0))
        edges[edges.index((source, first))] = (source, syn)
        edges.append((syn, first))
        nodes[name] = nir.LIF(tau=node.tau_mem, r=node.r, v_leak=node.v_leak,
                              v_threshold=node.v_threshold, v_reset=node.v_reset)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=graph.metadata, type_check=False)
