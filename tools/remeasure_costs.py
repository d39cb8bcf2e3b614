"""Measure a shipped model's cost metrics again and rewrite its card, weights untouched.

Usage (in a source checkout)::

    python tools/remeasure_costs.py fashionmnist-cnn [--data-dir DIR]
    python tools/remeasure_costs.py fashionmnist-cnn --compare 300   # prints, writes nothing

It measures ``bna_zoo/weights/NAME/`` on its entry's test data as ``tools/ship.py`` does
(``datamodule_for_entry``, then ``bna_zoo.metrics.measure`` with its default counting, NeuroBench's
on the network as built: ``docs/metrics.md``), replaces the cost metrics in ``config.json``
(``synops``, ``activation_sparsity``, ``footprint_bytes``, ``connection_sparsity``, and any other
of ``measure``'s numbers the config already holds, such as ``synops_ac``), and saves the folder
again with ``save_pretrained`` and ``register_shipped``, so the card is rendered from the new
config. Before anything is replaced it checks that the data is the card's (the test accuracy
``measure`` finds is the one recorded), that ``model.safetensors`` comes out byte for byte the
same, and that nothing in ``config.json`` but its metrics changed.

``--compare N`` instead prints, on the first N test samples, the folded count (bna_zoo's
earlier one), the default count, and NeuroBench's own ``SynapticOperations`` run on the model's
NIR graph as written (``from_nir(to_nir(model), filter_first=False)``), beside our count of the
spikes that graph fired. It needs ``neurobench`` and ``nirtorch`` (``pip install -e .[dev]``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from bna_zoo.bna_model import BNAModel
from bna_zoo.cli.card_data import ensure_measurement_data
from bna_zoo.cli.zoo_commands import datamodule_for_entry
from bna_zoo.hub import register_shipped
from bna_zoo.metrics import SynapticOperations, measure, spike_trace
from bna_zoo.models import get_entry

#: the cost metrics tools/ship.py records in config.json
SHIPPED_COSTS = ("synops", "activation_sparsity", "footprint_bytes", "connection_sparsity")


def card_test_loader(name: str, data_dir: str | None,
                     batch_size: int) -> torch.utils.data.DataLoader:
    """The test DataLoader of the data ``name``'s card was measured on (made again where it is
    emulated and missing), as ``bna-zoo eval`` reads it."""
    dm = datamodule_for_entry(name, data_dir, batch_size)
    if data_dir is None and (note := ensure_measurement_data(name, dm)):
        print(note, flush=True)
    prepare = dm.prepare_data
    prepare("test") if "stage" in inspect.signature(prepare).parameters else prepare()
    dm.setup("test")
    return dm.test_dataloader()


def new_metrics(old: dict[str, float], costs: dict[str, Any]) -> dict[str, float]:
    """``old`` with every cost ship.py records, and every other number of ``costs`` that
    ``old`` already holds, replaced by the one in ``costs``."""
    keys = [k for k in costs if k in SHIPPED_COSTS or (k in old and k != "accuracy")]
    return {**old, **{k: float(costs[k]) for k in keys}}


def check_accuracy(recorded: float, measured: float, samples: int) -> None:
    """Refuse data other than the card's: the same test set gives the same accuracy.

    Raises:
        SystemExit: the two differ by half a sample or more.
    """
    if abs(recorded - measured) * samples >= 0.5:
        raise SystemExit(f"measured {100 * measured:.2f}% on {samples} samples, the card records "
                         f"{100 * recorded:.2f}%: not the data the card was measured on "
                         "(--data-dir?)")


def rewrite(name: str, model: BNAModel, config: dict[str, Any],
            metrics: dict[str, float]) -> None:
    """Save ``model`` with ``metrics`` in a temporary folder, check that only the metrics and the
    card changed, and ship it over ``bna_zoo/weights/<name>/``.

    Raises:
        SystemExit: the weights' bytes or another part of ``config.json`` would change.
    """
    shipped = get_entry(name).shipped_dir
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save_pretrained(Path(tmp) / name, metrics=metrics,
                                       dataset=config.get("dataset"),
                                       **(config.get("training") or {}))
        weights = (folder / "model.safetensors").read_bytes()
        if weights != (shipped / "model.safetensors").read_bytes():
            raise SystemExit(f"{name}: model.safetensors would change; nothing written")
        saved = json.loads((folder / "config.json").read_text())
        changed = sorted(k for k in {*saved, *config} if k != "metrics"
                         and saved.get(k) != config.get(k))
        if changed:
            raise SystemExit(f"{name}: config.json would change beyond its metrics ({changed}); "
                             "nothing written")
        register_shipped(name, folder)
    after = (shipped / "model.safetensors").read_bytes()
    assert after == weights, "register_shipped changed the weights"


def remeasure(name: str, data_dir: str | None, batch_size: int) -> None:
    """Measure ``name``'s shipped folder again and rewrite its config.json and card."""
    shipped = get_entry(name).shipped_dir
    config = json.loads((shipped / "config.json").read_text())
    model = BNAModel.from_pretrained(f"local-dir:{shipped}")
    costs = measure(model, card_test_loader(name, data_dir, batch_size))
    old = config.get("metrics") or {}
    if old.get("accuracy") is not None:
        check_accuracy(old["accuracy"], costs["accuracy"], costs["samples"])
    metrics = new_metrics(old, costs)
    rewrite(name, model, config, metrics)
    print(f"{name}: {costs['samples']:,} test samples, NeuroBench's counting on the network as "
          f"built (SynOps {costs['synops_ac']:,.0f} AC + {costs['synops_mac']:,.0f} MAC, dense "
          f"{costs['synops_dense']:,.0f})")
    for key in sorted(k for k in metrics if metrics[k] != old.get(k)):
        print(f"  {key}: {old.get(key)} -> {metrics[key]}")


def _neurobench_on_nir(model: BNAModel, x: torch.Tensor) -> tuple[dict, dict[str, torch.Tensor]]:
    """NeuroBench's ``SynapticOperations`` on the model's NIR graph as written, one sample at a
    time (NeuroBench sums each layer call's count in float32: exact below 2^24 only), and the
    spikes that graph fired, by layer name (``[N, T, ...]``)."""
    from neurobench.metrics.workload import SynapticOperations as NeuroBenchSynOps
    from neurobench.models import TorchModel

    from bna_zoo.export import from_nir, to_nir

    graph = from_nir(to_nir(model), filter_first=False)
    nb_model = TorchModel(graph)
    nb_model.register_hooks()
    counter, spikes = NeuroBenchSynOps(), []
    with torch.no_grad():
        for xi in x.split(1):
            _, trace = graph.forward_with_trace(xi)
            for hook in nb_model.connection_hooks:  # count the next call only
                hook.reset()
            preds = nb_model(xi)
            counts = counter(nb_model, preds, (xi, None))
            spikes.append({k.removesuffix("_lif"): v for k, v in trace.items()})
    nb_model.cleanup_hooks()
    return counts, {k: torch.cat([s[k] for s in spikes]) for k in spikes[0]}


def compare(name: str, data_dir: str | None, n: int) -> None:
    """Print the folded, default and NeuroBench counts on the first ``n`` test samples."""
    model = BNAModel.from_pretrained(f"local-dir:{get_entry(name).shipped_dir}")
    x, y = next(iter(card_test_loader(name, data_dir, n)))
    folded = measure(model, (x, y), counting="folded")
    ours = measure(model, (x, y))
    nb, nir_spikes = _neurobench_on_nir(model, x.float())
    on_nir = SynapticOperations(model.net)
    on_nir.update(x.float(), nir_spikes)
    on_nir = {k: float(v) for k, v in on_nir.compute().items()}
    with torch.no_grad():
        spikes = spike_trace(model.net, x.float())[1]
    flips = sum(int((nir_spikes[k] != s).sum()) for k, s in spikes.items())
    print(f"{name}, first {len(x)} test samples (accuracy {100 * ours['accuracy']:.2f}%); "
          "SynOps per sample as total (AC + MAC), dense")
    rows = [("folded (bna_zoo's earlier count)", folded),
            ("as built (the default), our network's spikes", ours),
            ("as built, the NIR graph's spikes", on_nir),
            ("NeuroBench on the NIR graph as written", {
                "synops": nb["Effective_ACs"] + nb["Effective_MACs"],
                "synops_ac": nb["Effective_ACs"], "synops_mac": nb["Effective_MACs"],
                "synops_dense": nb["Dense"]})]
    for label, m in rows:
        print(f"| {label} | {m['synops']:,.1f} ({m['synops_ac']:,.1f} + {m['synops_mac']:,.1f}) "
              f"| {m['synops_dense']:,.1f} |")
    print(f"as built / folded: {ours['synops'] / folded['synops']:.3f} (dense "
          f"{ours['synops_dense'] / folded['synops_dense']:.3f}); activation sparsity "
          f"{ours['activation_sparsity']:.4f}; spikes of the NIR graph unlike ours: {flips}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--data-dir", default=None,
                        help="the card's data folder, when not the entry's default")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--compare", type=int, default=None, metavar="N",
                        help="print the countings and NeuroBench's on N test samples instead")
    args = parser.parse_args()
    get_entry(args.name)  # an unknown name fails here, with the zoo's names
    if args.compare is not None:
        compare(args.name, args.data_dir, args.compare)
    else:
        remeasure(args.name, args.data_dir, args.batch_size)


if __name__ == "__main__":
    main()
