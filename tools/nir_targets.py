"""Measure the tables of docs/nir.md §4-5: each NIR target in its library, each discretisation.

For every shipped model, on the first ``--samples`` samples of the test set its card was measured
on: the files ``bna-zoo export --target T`` writes, run in the target's own library, batched
(``tests/export/nir_consumers.py``); output spikes that differ from ours and the accuracy read
from the output spike counts. Then the generic file run with the discretisations a backend may
choose instead (``from_nir(..., scheme=...)``) and with a mismatched time step.

Usage::

    python tools/nir_targets.py --samples 1000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.export.nir_consumers

from bna_zoo.bna_model import BNAModel  # noqa: E402
from bna_zoo.cli.card_data import ensure_measurement_data
from bna_zoo.cli.zoo_commands import datamodule_for_entry  # noqa: E402
from bna_zoo.export import (  # noqa: E402
    export_nir,
    from_nir,
    nir,  # noqa: E402
)
from bna_zoo.metrics import spike_trace  # noqa: E402
from tests.export.nir_consumers import RUNNERS  # noqa: E402

SHIPPED = ["fashionmnist-mlp", "fashionmnist-cnn", "mnist-cnn", "nmnist-cnn"]
TARGETS = ["generic", "norse", "snntorch"]
SCHEMES = ["euler", "euler-membrane-first", "exponential"]


def _batches(name: str, n: int, batch: int = 250):
    """``(x, y)`` test batches of the card's data, ``n`` samples in all."""
    dm = datamodule_for_entry(name, None, batch)
    note = ensure_measurement_data(name, dm)
    if note:
        print(note, file=sys.stderr)
    dm.prepare_data()
    dm.setup("test")
    seen = 0
    for x, y in dm.test_dataloader():
        x, y = x[: n - seen], y[: n - seen]
        seen += len(y)
        yield x, y
        if seen >= n:
            return


def _acc(counts: torch.Tensor, y: torch.Tensor) -> int:
    """Correct predictions read from ``[B, T, classes]`` (spikes or PSC) summed over time."""
    return int((counts.sum(1).argmax(-1) == y).sum())


def measure(name: str, n: int, folder: Path) -> dict[str, tuple[int, int, int]]:
    """``{column: (differing output spikes, our output spikes, correct)}`` for one model."""
    model = BNAModel.from_pretrained(name).eval()
    files = {}
    for target in TARGETS + ["bna_zoo"]:
        graph, spec, dt = export_nir(model, target)
        files[target] = (folder / f"{name}-{target}.nir", dt)
        nir.write(str(files[target][0]), graph)
    generic = files["generic"][0]
    schemes = {s: from_nir(generic, scheme=s) for s in SCHEMES}
    # a file written in steps (dt = 1) stepped with Norse's default of 1 ms
    schemes["dt 1 ms on a file in steps"] = from_nir(files["bna_zoo"][0], dt=1e-3)
    readout = from_nir(generic)  # the generic file's LI readout: the model's output PSC
    totals: dict[str, list[int]] = {}
    correct = {"model (summed output PSC)": 0, "generic file, its LI readout": 0}
    seen = 0
    for x, y in _batches(name, n):
        seen += len(y)
        with torch.no_grad():
            _, trace = spike_trace(model.net, x)
            ours = trace[model.net.spiking_layers()[-1].name]
            correct["model (summed output PSC)"] += _acc(model(x), y)
            correct["generic file, its LI readout"] += _acc(readout(x), y)
            rows = {"ours (spike count)": ours}
            for target in TARGETS:
                path, dt = files[target]
                rows[target] = RUNNERS[target](path, x, model.net.n_steps, dt)
            for label, module in schemes.items():
                rows[label] = list(module.forward_with_trace(x)[1].values())[-1].flatten(2)
        for label, z in rows.items():
            t = totals.setdefault(label, [0, 0, 0])
            t[0] += int((z != ours).sum())
            t[1] += int(ours.sum())
            t[2] += _acc(z, y)
    print(f"{name}: {seen} samples, " + ", ".join(
        f"{k} {100 * v / seen:.2f}%" for k, v in correct.items()), file=sys.stderr)
    return {k: (v[0], v[1], v[2], seen) for k, v in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--models", nargs="+", default=SHIPPED)
    args = parser.parse_args()
    torch.set_num_threads(2)
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: measure(name, args.samples, Path(tmp)) for name in args.models}
    columns = list(next(iter(results.values())))
    print("accuracy by output spike count (differing output spike entries / our output spikes)")
    print("| model | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, r in results.items():
        cells = [f"{100 * c / s:.2f}% ({d:,} / {o:,})" for d, o, c, s in r.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"({time.time() - start:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
