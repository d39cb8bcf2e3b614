"""Greedy weight soup of one run lineage's checkpoints, every choice made on validation.

Checkpoints fine-tuned from the same weights usually sit in one basin, where their average can
validate above each of them (Wortsman et al., "Model soups", ICML 2022). This measures every
checkpoint on the entry's validation split, orders them best first, and adds each to the running
average only if the average's validation accuracy does not fall. The test set is never read.
The result is written as a Lightning-style ``.ckpt`` (the first checkpoint's hyperparameters,
the averaged ``state_dict``) that ``tools/ship.py --ckpt`` takes.

Usage (from the folder the run's data lives under)::

    python tools/soup.py mnist-cnn --data-dir data --out soup.ckpt \\
        runs/a/version_0/checkpoints/epoch-*.ckpt runs/b/version_0/checkpoints/best-*.ckpt

``--scores-from-names`` ranks them by the ``val_acc=`` their file names record instead of
measuring each one first.

No library here does this: torch's ``swa_utils.AveragedModel`` averages along one run's steps,
not a chosen subset of checkpoints; the average itself is a few lines.
"""

from __future__ import annotations

import argparse
import glob
import logging
import re
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch

from bna_zoo.bna_model import BNAModel
from bna_zoo.cli.zoo_commands import datamodule_for_entry


def load_weights(path: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """The checkpoint dict (tensors only, ``weights_only``) and its ``state_dict``."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return ckpt, ckpt["state_dict"]


def score_from_name(path: str) -> float:
    """The ``val_acc=0.9932`` a checkpoint's file name records (Lightning's ``filename`` pattern).

    Lightning wrote it from the validation of exactly these weights, so measuring it again only
    costs a validation pass per ingredient.
    """
    found = re.search(r"val_acc=([0-9]*\.?[0-9]+)", Path(path).name)
    if found is None:
        raise SystemExit(f"{path}: no val_acc=<number> in its name; drop --scores-from-names to "
                         "measure every checkpoint on validation instead")
    return float(found.group(1))


def average(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of state dicts with equal keys; float32 sums, in the given order."""
    if any(s.keys() != states[0].keys() for s in states):
        raise SystemExit("the checkpoints hold different tensors: not one network")
    return {k: torch.stack([s[k].float() for s in states]).mean(0).to(states[0][k].dtype)
            for k in states[0]}


def validation_accuracy(model: BNAModel, state: dict[str, torch.Tensor],
                        datamodule: L.LightningDataModule) -> float:
    """``val_acc`` of ``model`` with ``state`` loaded (strict) on the datamodule's val split."""
    model.load_state_dict(state, strict=True)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_model_summary=False,
                        enable_progress_bar=False, accelerator="auto", devices=1)
    (result,) = trainer.validate(model, datamodule=datamodule, verbose=False)
    return float(result["val_acc"])


def greedy_soup(scored: list[tuple[float, str, dict[str, torch.Tensor]]],
                evaluate: Callable[[dict[str, torch.Tensor]], float],
                report: Callable[[str], None] = print) -> tuple[list[str], float]:
    """Greedy soup: best ingredient first, then each one kept only if validation does not fall.

    Args:
        scored: ``(validation accuracy, name, state_dict)`` of every ingredient.
        evaluate: validation accuracy of a state_dict.
        report: where the per-ingredient decisions go.

    Returns:
        The names of the ingredients kept (best first) and the soup's validation accuracy.
    """
    ranked = sorted(scored, key=lambda t: -t[0])  # stable: ties keep the given order
    best_acc, first, state = ranked[0]
    chosen = [(first, state)]
    for _, name, state in ranked[1:]:
        trial_acc = evaluate(average([s for _, s in chosen] + [state]))
        kept = trial_acc >= best_acc
        report(f"{'add ' if kept else 'skip'} {trial_acc:.4f} (soup of {len(chosen) + 1}) {name}")
        if kept:
            chosen.append((name, state))
            best_acc = trial_acc
    return [name for name, _ in chosen], best_acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("ckpts", nargs="+", help="checkpoints (globs allowed)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--scores-from-names", action="store_true",
                        help="rank the checkpoints by the val_acc in their file names instead of "
                             "measuring each (the soups are measured either way)")
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # one line per measurement
    paths = sorted({p for pattern in args.ckpts for p in glob.glob(pattern)})
    if not paths:
        raise SystemExit(f"no checkpoint matches {args.ckpts}")
    # a name without a score fails here, before the data is built and every file read
    named = {p: score_from_name(p) for p in paths} if args.scores_from_names else {}
    dm = datamodule_for_entry(args.name, args.data_dir, batch_size=args.batch_size)
    if getattr(dm, "val_size", 0) <= 0:
        raise SystemExit(f"{args.name}'s data has no held-out validation split to choose on")
    model = BNAModel.from_lightning_checkpoint(paths[0], args.name)
    loaded = {p: load_weights(p) for p in paths}  # read each file once
    scored = []
    for path, (_, state) in loaded.items():
        acc = named[path] if named else validation_accuracy(model, state, dm)
        print(f"ingredient {acc:.4f} {path}", flush=True)
        scored.append((acc, path, state))
    kept, acc = greedy_soup(scored, lambda st: validation_accuracy(model, st, dm),
                            lambda line: print(line, flush=True))
    ckpt = loaded[kept[0]][0]
    torch.save({"state_dict": average([loaded[p][1] for p in kept]),
                "hyper_parameters": ckpt.get("hyper_parameters", {}),
                "soup_of": kept, "soup_val_acc": acc}, args.out)
    print(f"soup of {len(kept)}: validation {acc:.4f} -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
