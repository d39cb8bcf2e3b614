"""Per-epoch test-accuracy curves of training runs: a CSV and a PNG, for docs/.

Usage::

    python tools/curves.py --run NA=runs/mlp-na/version_0 --run surrogate=runs/mlp-sg/version_0 \\
        --out docs/fashionmnist-mlp-na-vs-surrogate --reference 89.92 "TSSL-BP"

Reads every ``metrics.csv`` under each log folder (``bna_zoo.curves.curve``; ``bna-zoo plot``
draws the same curves for users) (a resumed run has several versions; a later
version's value for an epoch wins) and writes ``<out>.csv`` (epoch, one column per run) and
``<out>.png``. A run continued from weights trained for N epochs is given as
``LABEL=FOLDER@N``: its epochs are then counted from N + 1, so runs that continue one another
share one epoch axis.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from bna_zoo.curves import curve  # the package's reader: one for bna-zoo plot, ship and docs


def parse_run(spec: str) -> tuple[str, Path, int]:
    """``LABEL=FOLDER`` or ``LABEL=FOLDER@N`` -> (label, folder, N)."""
    label, sep, rest = spec.partition("=")
    if not sep or not label or not rest:
        raise SystemExit(f"curves: --run {spec!r} must be LABEL=FOLDER or LABEL=FOLDER@N")
    folder, sep, start = rest.rpartition("@")
    if not sep:
        return label, Path(rest), 0
    if not start.isdigit():
        raise SystemExit(f"curves: --run {spec!r}: the epochs after '@' must be a whole number")
    return label, Path(folder), int(start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True,
                        help="LABEL=LOG_FOLDER[@EPOCHS_BEFORE]")
    parser.add_argument("--out", required=True)
    parser.add_argument("--reference", nargs=2, metavar=("PERCENT", "WHO"))
    parser.add_argument("--title", default="")
    parser.add_argument("--split", default="test", choices=["test", "validation"],
                        help="what the runs' val_acc measured: the test set (the paper's "
                             "protocol, the default) or a held-out validation split")
    args = parser.parse_args()
    runs = {label: curve(folder, start) for label, folder, start in map(parse_run, args.run)}
    epochs = sorted({e for c in runs.values() for e in c})
    out = Path(args.out)
    with out.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.writer(f)
        short = "val" if args.split == "validation" else "test"
        writer.writerow(["epoch", *(f"{label} {short} acc %" for label in runs)])
        for e in epochs:
            writer.writerow([e, *(f"{c[e]:.2f}" if e in c else "" for c in runs.values())])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, c in runs.items():
        xs = sorted(c)
        best = max(c.values())
        ax.plot(xs, [c[x] for x in xs], label=f"{label} (best {best:.2f}%)")
    if args.reference:
        ax.axhline(float(args.reference[0]), color="grey", ls="--",
                   label=f"{args.reference[1]} {float(args.reference[0]):.2f}%")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{args.split} accuracy (%)")
    ax.set_title(args.title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
