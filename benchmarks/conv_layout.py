"""Training steps with channels-last convolutions against the default layout, per CNN.

``--trainer.callbacks+=bna_zoo.callbacks.ChannelsLast`` runs a model's spiking convolutions on
channels-last inputs (``bna_zoo.nn.use_channels_last``). This prices it on the command's own
first training steps (``plain_loop.py``: the recipe's model, data and optimizer, batches loaded
before the timing), the two layouts alternating round by round in one process, and prints per
net the median ratio channels-last / default with its range, and how far the two runs' weights
are apart after the last step (the layouts round differently, so not bit for bit).

    python benchmarks/conv_layout.py --models nmnist-cnn mnist-cnn --steps 12 --rounds 3

Times are wall ms per step over steps ``--skip`` .. ``--steps``-1 (the first ones warm up).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import train_loop  # noqa: E402

from bna_zoo.models import get_entry, list_models  # noqa: E402

#: the zoo's nets with a convolution (a ``<channels>C<kernel>`` layer in paper notation)
CNNS = [n for n in list_models() if any("C" in layer for layer in get_entry(n).net.arch.split("-"))]


def layout_rounds(name: str, steps: int, skip: int, rounds: int,
                  data_dir: str) -> tuple[list[float], list[float], float]:
    """Alternate ``rounds`` plain loops per layout (the order flips every round).

    Returns:
        default and channels-last ms per step of every round, and the largest absolute weight
        difference between the two layouts' runs after ``steps`` steps.
    """
    data_args = train_loop.fit_data_args(name, data_dir, train_loop.BATCH[name] * (steps + 1))
    times: dict[bool, list[float]] = {False: [], True: []}
    states = {}
    for r in range(rounds):
        for channels_last in ((False, True) if r % 2 == 0 else (True, False)):
            run = train_loop.plain_steps(name, steps, data_args, channels_last)
            times[channels_last].append(run.per_step(skip)[0])
            states[channels_last] = run.state
    diff = max((states[True][k] - v).abs().max().item() for k, v in states[False].items())
    return times[False], times[True], diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=CNNS)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--skip", type=int, default=2, help="warm-up steps left out")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()
    if not 0 <= args.skip < args.steps:
        parser.error(f"--skip must be in [0, --steps), got {args.skip} with --steps {args.steps}")
    unknown = sorted(set(args.models) - set(CNNS))
    if unknown:
        parser.error(f"no convolution in {unknown}; choose from {CNNS}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print("| net | default ms/step | channels-last ms/step | channels-last/default median "
          "[range] | max abs weight difference |")
    print("|---|---|---|---|---|")
    for name in args.models:
        base, cl, diff = layout_rounds(name, args.steps, args.skip, args.rounds, args.data_dir)
        ratios = [c / b for b, c in zip(base, cl, strict=True)]
        print(f"| {name} | {statistics.median(base):.1f} | {statistics.median(cl):.1f} | "
              f"{statistics.median(ratios):.3f} [{min(ratios):.3f}, {max(ratios):.3f}] | "
              f"{diff:.1e} |", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
