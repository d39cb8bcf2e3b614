"""Zoo commands of the ``bna-zoo`` script: ``list``, ``eval``, ``publish`` and ``show``."""

from __future__ import annotations

import argparse
import importlib
import json
from typing import Any

import lightning as L
import torch

from .models import get_spec, list_models


def build_datamodule(class_name: str, **init_args: Any) -> L.LightningDataModule:
    """Instantiate a DataModule of :mod:`bna_zoo.data` by class name (``"NMNISTDataModule"``)."""
    data = importlib.import_module("bna_zoo.data")
    return getattr(data, class_name)(**init_args)


def datamodule_for_entry(name: str, data_dir: str | None, batch_size: int) -> L.LightningDataModule:
    """The test DataModule a pretrained entry was evaluated on (its card's numbers)."""
    from .models.pretrained import get_pretrained

    entry = get_pretrained(name)
    cfg = dict(entry.datamodule)
    args = dict(cfg.get("init_args", {}))
    if data_dir is not None:
        args["data_dir"] = data_dir
    args["batch_size"] = batch_size
    return build_datamodule(cfg["class_name"], **args)


def evaluate(model, datamodule: L.LightningDataModule, limit: int | float | None = None) -> dict:
    """Test ``model`` on ``datamodule``'s test set; returns accuracy, loss and firing rate."""
    trainer = L.Trainer(
        logger=False, enable_checkpointing=False, enable_model_summary=False,
        limit_test_batches=limit if limit is not None else 1.0, accelerator="auto", devices=1,
    )
    (result,) = trainer.test(model, datamodule=datamodule, verbose=False)
    return {"accuracy": float(result["test_acc"]), "loss": float(result["test_loss"]),
            "firing_rate": float(result["test_rate"])}


def _table(rows: list[dict]) -> str:
    head = "| model | test acc | T | params | mean firing rate | reference |"
    lines = [head, "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['name']} | {100 * r['accuracy']:.2f}% | {r['T']} | {r['params']:,} | "
            f"{r['firing_rate']:.4f} | {r['reference']} |"
        )
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> None:
    from .models.pretrained import list_pretrained

    pretrained = set(list_pretrained())
    print("| name | architecture | T | input | reference | pretrained |")
    print("|---|---|---|---|---|---|")
    for name in list_models():
        s = get_spec(name)
        ref = f"{s.reference[0]}: {s.reference[1]}%" if s.reference else "-"
        print(f"| {name} | {s.arch} | {s.n_steps} | {list(s.input_shape)} | {ref} | "
              f"{'yes' if name in pretrained else '-'} |")


def cmd_eval(args: argparse.Namespace) -> None:
    from .model import BNAModel

    rows = []
    for name in args.names:
        model = BNAModel.from_pretrained(name)
        dm = datamodule_for_entry(name, args.data_dir, args.batch_size)
        metrics = evaluate(model, dm, args.limit)
        spec = model.spec
        rows.append({
            "name": name, **metrics, "T": model.net.n_steps,
            "params": sum(p.numel() for p in model.parameters()),
            "reference": f"{spec.reference[0]}: {spec.reference[1]}%" if spec.reference else "-",
        })
    print(_table(rows))
    if args.json:
        print(json.dumps(rows, indent=2))


def cmd_publish(args: argparse.Namespace) -> None:
    from .hub import publish
    from .model import BNAModel

    model = BNAModel.load_from_checkpoint(args.ckpt, map_location="cpu", weights_only=True)
    dm = datamodule_for_entry(args.name, args.data_dir, args.batch_size)
    metrics = evaluate(model, dm)
    print(f"{args.name}: test accuracy {100 * metrics['accuracy']:.2f}%")
    where = publish(args.name, args.ckpt, args.repo_id, metrics=metrics, push=not args.no_push,
                    out_dir=args.out_dir)
    print(f"published: {where}")


def cmd_show(args: argparse.Namespace) -> None:
    from .model import BNAModel
    from .plots import plot_sample

    model = BNAModel.from_pretrained(args.name)
    dm = datamodule_for_entry(args.name, args.data_dir, batch_size=1)
    dm.prepare_data()
    dm.setup("test")
    x, y = dm.test_dataloader().dataset[args.sample]
    x = torch.as_tensor(x)
    out = args.out or f"{args.name}-sample{args.sample}.png"
    plot_sample(model, x, int(y), out)
    print(f"wrote {out}")


def run_zoo_command(argv: list[str]) -> None:
    """Parse and run one zoo command (``argv[0]`` is its name)."""
    parser = argparse.ArgumentParser(prog="bna-zoo")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list architectures and pretrained entries")
    p = sub.add_parser("eval", help="evaluate pretrained entries on their test sets")
    p.add_argument("names", nargs="+")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--limit", type=float, default=None, help="fraction or number of test batches")
    p.add_argument("--json", action="store_true", help="also print the rows as JSON")
    p = sub.add_parser("publish", help="evaluate a checkpoint, render its card and upload it")
    p.add_argument("name")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--repo-id", required=True)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--out-dir", default=None, help="also keep the rendered files here")
    p.add_argument("--no-push", action="store_true", help="render and save only")
    p = sub.add_parser("show", help="PNG of input frames, spike rasters and output PSC")
    p.add_argument("name")
    p.add_argument("--sample", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.command == "eval" and args.limit is not None and args.limit >= 1:
        args.limit = int(args.limit)
    {"list": cmd_list, "eval": cmd_eval, "publish": cmd_publish, "show": cmd_show}[args.command](
        args
    )
