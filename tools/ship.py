"""Ship a training run's best checkpoint inside the package, with its measured card.

Usage (in a source checkout)::

    python tools/ship.py fashionmnist-mlp \\
        --ckpt runs/fashionmnist-mlp/version_0/checkpoints/best-*.ckpt \\
        --logs runs/fashionmnist-mlp/version_0 \\
        --command "bna-zoo fit --config zoo:fashionmnist-mlp" \\
        --wall-time "52 min for 100 epochs" --hardware "x86_64, 2 CPU cores, no GPU"

It measures the checkpoint on the entry's test data (``Trainer.test``: accuracy, loss, firing
rate; ``bna_zoo.metrics.measure``: NeuroBench-style costs), reads the best and final validation
accuracy from the run's CSV log, saves the folder with its card, copies it to
``bna_zoo/weights/<name>/`` (``register_shipped``) and prints the entry lines to paste into
``bna_zoo/models/entries.py``; then ``python -m bna_zoo.cli.generate`` refreshes the derived files.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

# tools/ is sys.path[0] when run as `python tools/ship.py`: one reader of the CSV logs
from curves import curve

from bna_zoo.bna_model import BNAModel
from bna_zoo.cli.zoo_commands import datamodule_for_entry, evaluate
from bna_zoo.hub import register_shipped
from bna_zoo.metrics import measure
from bna_zoo.models import get_entry


def history(logs: Path) -> tuple[str, int]:
    """``"best X% after epoch i of n; final epoch Y%"`` and ``n`` from CSV logs (all versions)."""
    by_epoch = curve(logs)  # a later log version wins, versions in numeric order (10 after 9)
    if not by_epoch:
        raise SystemExit(f"no val_acc in {logs}")
    best = max(by_epoch, key=by_epoch.get)
    last = max(by_epoch)
    return (f"best {by_epoch[best]:.2f}% after epoch {best} of {last}; final "
            f"epoch {by_epoch[last]:.2f}%"), last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--logs", required=True, type=Path)
    parser.add_argument("--command", required=True)
    parser.add_argument("--wall-time", required=True)
    parser.add_argument("--hardware", required=True)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--note", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--history", default=None,
                        help="the run's history in words, instead of the one read from --logs "
                             "(several phases, or test numbers beside validation)")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()

    entry = get_entry(args.name)
    model = BNAModel.from_lightning_checkpoint(args.ckpt, args.name)
    dm = datamodule_for_entry(args.name, args.data_dir, batch_size=200)
    metrics = evaluate(model, dm)
    costs = measure(model, dm.test_dataloader(), counting="neurobench")  # as built: docs/metrics.md
    metrics.update({k: costs[k] for k in ("synops", "activation_sparsity", "footprint_bytes",
                                          "connection_sparsity")})
    text, epochs = history(args.logs)
    text, epochs = args.history or text, args.epochs or epochs
    r = entry.results
    fields = {"command": args.command, "eval_command": f"bna-zoo eval {args.name}",
              "hardware": args.hardware, "wall_time": args.wall_time, "epochs": epochs,
              "seed": args.seed, "history": text, "note": args.note,
              "measured_on": r.measured_on, "measured_on_id": r.measured_on_id,
              "split": r.split if r.split != "test" else None}
    print(f"{args.name}: {100 * metrics['accuracy']:.2f}% ({text})")
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save_pretrained(Path(tmp) / args.name, metrics=metrics,
                                       **{k: v for k, v in fields.items() if v is not None})
        register_shipped(args.name, folder)


if __name__ == "__main__":
    main()
