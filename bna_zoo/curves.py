"""Training curves of runs: ``bna-zoo plot RUN_FOLDER...`` (and ``tools/curves.py`` for docs/).

A run folder is what ``bna-zoo fit`` writes (``runs/<name>/version_N``), or any folder with
CSVLogger ``metrics.csv`` files below it (a resumed run may have several versions; a later
version's value for an epoch wins). The plot shows each run's training accuracy (per epoch, on
the batches as trained, augmented if augmentation was on) and validation accuracy; where the
run validated on its test split (the paper's protocol), the legend says so.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import yaml


def _version_key(path: Path) -> tuple[int, int | str]:
    # version_2 before version_10; named runs (--run_name) after them, by name
    suffix = path.parent.name.rsplit("_", 1)[-1]
    return (0, int(suffix)) if suffix.isdigit() else (1, path.parent.name)


def read_metrics(folder: Path, start: int = 0) -> dict[str, dict[int, float]]:
    """``{"val_acc": {epoch: %}, "train_acc": {epoch: %}}`` of one run.

    Args:
        folder: the run folder (its ``metrics.csv``, or those of the versions below it).
        start: epochs its starting weights had already trained; its first epoch is counted as
            ``start + 1``, so runs that continue one another share one epoch axis.
    """
    if not folder.is_dir():
        raise SystemExit(f"run folder {folder} does not exist")
    files = sorted(folder.rglob("metrics.csv"), key=_version_key)
    if not files:
        raise SystemExit(f"{folder} holds no metrics.csv: not a run folder of bna-zoo fit")
    out: dict[str, dict[int, float]] = {"val_acc": {}, "train_acc": {}}
    for path in files:
        with path.open() as f:
            for row in csv.DictReader(f):
                if not row.get("epoch"):
                    continue  # e.g. LearningRateMonitor's rows carry a step only
                epoch = start + int(row["epoch"]) + 1
                for key, column in (("val_acc", "val_acc"), ("train_acc", "train_acc_epoch")):
                    if row.get(column):
                        out[key][epoch] = 100 * float(row[column])
    return out


def curve(folder: Path, start: int = 0) -> dict[int, float]:
    """``{epoch: validation accuracy %}`` of one run (see :func:`read_metrics`)."""
    return read_metrics(folder, start)["val_acc"]


def validates_on_test(folder: Path) -> bool:
    """Whether the run's config says its validation set was its test split."""
    for path in folder.rglob("config.yaml"):
        args = ((yaml.safe_load(path.read_text()) or {}).get("data") or {}).get("init_args", {})
        return not any(args.get(k) for k in ("val_size", "val_fraction", "holdout", "val"))
    return False


def plot_runs(runs: dict[str, Path], out: Path, reference: tuple[float, str] | None = None,
              title: str = "") -> Path:
    """Draw the training and validation accuracy of ``{label: run folder}`` into ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (label, folder) in enumerate(runs.items()):
        metrics, colour = read_metrics(folder), f"C{i}"
        val = metrics["val_acc"]
        if val:
            what = "validation (= its test split)" if validates_on_test(folder) else "validation"
            xs = sorted(val)
            ax.plot(xs, [val[x] for x in xs], color=colour,
                    label=f"{label}: {what}, best {max(val.values()):.2f}%")
        train = metrics["train_acc"]
        if train:
            xs = sorted(train)
            ax.plot(xs, [train[x] for x in xs], color=colour, ls=":", label=f"{label}: training")
    if reference:
        ax.axhline(reference[0], color="grey", ls="--", label=f"{reference[1]} {reference[0]:.2f}%")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def add_plot_command(sub: argparse._SubParsersAction) -> None:
    """``bna-zoo plot``: curves of one or several runs into one PNG."""
    p = sub.add_parser("plot", help="draw the training/validation curves of run folders (PNG)")
    p.add_argument("runs", nargs="+", help="run folders (runs/<name>/version_N) or LABEL=FOLDER")
    p.add_argument("--out", default="curves.png", help="the PNG to write (default: curves.png)")
    p.add_argument("--reference", nargs=2, metavar=("PERCENT", "WHO"),
                   help="a published number to draw as a line, e.g. 89.92 TSSL-BP")
    p.add_argument("--title", default="")
    p.set_defaults(run=_cmd_plot)


def _cmd_plot(args: argparse.Namespace) -> None:
    runs = {}
    for spec in args.runs:
        label, sep, folder = spec.partition("=")
        path = Path(folder if sep else spec)
        runs[label if sep else str(path)] = path
    reference = (float(args.reference[0]), args.reference[1]) if args.reference else None
    print(f"wrote {plot_runs(runs, Path(args.out), reference, args.title)}")
