"""NIR export per consumer: which variant of the graph each NIR backend runs as written.

The graph :func:`~bna_zoo.export.to_nir` writes is one network in several spellings (a ``Scale``
node or the factor folded into the weights, an ``LI`` readout or the output spikes, ``Flatten`` +
``Linear`` or a whole-input ``Conv2d``, time constants in steps or in seconds). Each backend's
importer reads some spellings and not others; a *target* names the spelling that a backend runs
correctly, measured spike for spike in ``tests/export/test_nir_targets.py`` (docs/nir.md §4).

Time: NIR's time constants are physical (seconds). The zoo's neurons are discrete, so the export
picks the duration ``dt`` of one step and writes every time constant as ``tau_steps * dt``; a
backend must step its Euler update with the same ``dt`` (recorded in the graph's metadata).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ._nir import META_KEY, nir
from .nir_export import to_nir


@dataclass(frozen=True)
class NIRTarget:
    """How to write the graph for one consumer.

    Attributes:
        name: the ``--target`` value.
        fold_scale: fold each pooling's x1.1 into the next weights (no ``Scale`` node).
        readout: ``"psc"`` (an ``LI`` node gives the model's output) or ``"spikes"``.
        linear_as_conv: linear layers as whole-input ``Conv2d`` (no ``Flatten``).
        default_dt: seconds per step when ``--dt`` is not given.
        fixed_dt: the only ``dt`` the consumer reads correctly, if it has one.
        time_unit: what ``dt`` is measured in: ``"s"`` (NIR's convention) or ``"steps"``.
        load: how to load the file there (printed by ``bna-zoo export``), ``{path}``/``{dt}``
            filled in.
    """

    name: str
    fold_scale: bool
    readout: str
    linear_as_conv: bool
    default_dt: float
    fixed_dt: float | None
    load: str
    time_unit: str = "s"


TARGETS: dict[str, NIRTarget] = {t.name: t for t in (
    # NIR primitives only, the model's own output (LI readout), Flatten as the spec defines it;
    # the x1.1 folded because a Scale node is the one primitive the consumers we ran lack
    NIRTarget("generic", fold_scale=True, readout="psc", linear_as_conv=False,
              default_dt=1e-3, fixed_dt=None,
              load="any NIR backend; in Python: bna_zoo.export.from_nir('{path}')"),
    # Norse 1.1: no Scale, drops an LI readout silently, Flatten(0) flattens the batch
    NIRTarget("norse", fold_scale=True, readout="spikes", linear_as_conv=True,
              default_dt=1e-3, fixed_dt=None,
              load="norse.torch.from_nir(nir.read('{path}'), dt={dt})"),
    # snnTorch 1.0: reads time constants with its own dt = 1e-4 s, no Scale, no LI
    NIRTarget("snntorch", fold_scale=True, readout="spikes", linear_as_conv=True,
              default_dt=1e-4, fixed_dt=1e-4,
              load="snntorch.import_nir.import_from_nir(nir.read('{path}'))"),
    # bna_zoo's own reader, bit for bit: the x1.1 kept as a Scale node, time in steps
    NIRTarget("bna_zoo", fold_scale=False, readout="psc", linear_as_conv=False,
              default_dt=1.0, fixed_dt=None,
              load="bna_zoo.export.from_nir('{path}')", time_unit="steps"),
)}


def export_nir(model: nn.Module, target: str = "generic", dt: float | None = None
               ) -> tuple[nir.NIRGraph, NIRTarget, float]:
    """The graph of ``model`` in the spelling ``target`` runs (see :data:`TARGETS`).

    Args:
        model: a :class:`~bna_zoo.bna_model.BNAModel` or ``SpikingNetwork``.
        target: a key of :data:`TARGETS`.
        dt: seconds per time step (the target's default when None). The graph's time
            constants are ``tau_steps * dt``; the consumer must step with this ``dt``.

    Returns:
        ``(graph, target, dt)``; ``graph.metadata["bna_zoo"]`` also records ``target``.

    Raises:
        ValueError: an unknown target, ``dt <= 0``, or a ``dt`` the target cannot read.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown NIR target {target!r}; choose one of {sorted(TARGETS)}")
    spec = TARGETS[target]
    dt = spec.default_dt if dt is None else float(dt)
    if not dt > 0:
        raise ValueError(f"dt must be a positive number of seconds per step, got {dt}")
    if spec.fixed_dt is not None and dt != spec.fixed_dt:
        raise ValueError(f"the {target} importer assumes dt = {spec.fixed_dt:g} s per step and "
                         f"cannot read another; leave --dt out for --target {target}")
    graph = to_nir(model, dt=dt, fold_scale=spec.fold_scale, readout=spec.readout,
                   linear_as_conv=spec.linear_as_conv)
    graph.metadata[META_KEY]["target"] = target
    return graph, spec, dt


__all__ = ["TARGETS", "NIRTarget", "export_nir"]
