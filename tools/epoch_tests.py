"""Test accuracy of every per-epoch checkpoint of a run, for the cards' reference numbers.

The protocol chooses the epoch on validation; a card also gives the best-on-test and the
final-epoch test numbers, *labelled as reference*. This measures them: each checkpoint in the
order of its epoch, on the entry's test data, one CSV row per epoch. Epochs are counted from 1
(the number of epochs the weights have trained, as curves.py counts them; Lightning's file
names count from 0).

Usage (from the folder the run's data lives under)::

    python tools/epoch_tests.py mnist-cnn \\
        --ckpts "runs/mnist-cnn-s4a/version_0/checkpoints/epoch-*.ckpt" --phase a \\
        --data-dir data >> mnist-test-per-epoch.csv
"""

from __future__ import annotations

import argparse
import glob
import re

from bna_zoo.bna_model import BNAModel
from bna_zoo.cli.zoo_commands import datamodule_for_entry, evaluate

#: the epoch and validation accuracy in the per-epoch checkpoints' names
_NAME = re.compile(r"epoch=(\d+)-val_acc=(\d+\.\d+)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--ckpts", required=True, help="glob of the per-epoch checkpoints")
    parser.add_argument("--phase", default="", help="label of the run in the CSV")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--header", action="store_true", help="print the CSV header first")
    args = parser.parse_args()
    found = []
    for path in glob.glob(args.ckpts):
        match = _NAME.search(path)
        if match is None:
            raise SystemExit(f"{path}: no epoch=..-val_acc=.. in the name")
        found.append((int(match.group(1)), match.group(2), path))
    if not found:
        raise SystemExit(f"no checkpoint matches {args.ckpts}")
    dm = datamodule_for_entry(args.name, args.data_dir, batch_size=200)
    if args.header:
        print("phase,epoch,val_acc,test_acc", flush=True)
    for epoch, val, path in sorted(found):
        model = BNAModel.from_lightning_checkpoint(path, args.name)
        test = evaluate(model, dm)["accuracy"]
        print(f"{args.phase},{epoch + 1},{val},{test:.4f}", flush=True)


if __name__ == "__main__":
    main()
