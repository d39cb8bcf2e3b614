"""The real training loop against the bare training step, measured in the same run.

For each net of the registry it times (a) the **bare step**: forward, loss, NA backward,
gradient clip, AdamW and weight clamp on one fixed batch, no Lightning, no data; (b) the **real
loop**: ``Trainer.fit`` of :class:`bna_zoo.BNAModel` on the net's own DataModule with its
recipe's arguments (batch size, event binning, the recipe's augmentation; the progress bar and
CSV logger of the configs), per step
wall time measured between consecutive ``on_train_batch_end`` calls, so data loading,
augmentation, logging and the progress bar are all inside it and startup and validation are not.

With several ``--progress`` values (or ``all``) one invocation times the real loop under each:
``none`` (bar off), ``tqdm`` (Lightning's default bar), ``rich`` (``RichProgressBar``), and
``nolog`` (bar off and no logger, which prices the CSV logging), alternating the variants fit by
fit for ``--rounds`` rounds, and prints each one's ms per step and its overhead against ``none``
(the target: a progress bar costs under 5% of the step).

With ``--fit`` it times the **real command** instead: ``bna-zoo fit --config zoo:<name>`` in a
subprocess (the recipe as shipped: its logger, checkpoints, validation, test after fit and the
CLI's own progress bar, drawn to a pseudo-terminal as in a terminal), once with ``--fit-steps``'
short and once with its long ``--trainer.max_steps``, both inside the first epoch. Start-up,
data loading, validation, checkpoints and the test after fit are the same in both runs, so
``(t_long - t_short) / (steps_long - steps_short)`` is what one more training step costs the
command. Its bare side is not (a) but the command's own steps ``short .. long-1`` run outside
Lightning (``plain_loop.py``: the same model, batches, augmentation and dropout masks, data
loaded beforehand), which end in the long run's weights bit for bit (the table checks). Each
round measures both sides; the table gives the median of the rounds' ratios and their range,
against the target (1.2x for fashionmnist-mlp, 1.05x for the CNNs), with the load average.
The same difference in CPU time (all the command's threads) beside the bare step's CPU time
prices work that a busy machine hides or shows at random in wall time (e.g. a progress bar's
drawing thread on an otherwise idle core).

Usage::

    python benchmarks/train_loop.py                          # every registry net
    python benchmarks/train_loop.py --models nmnist-cnn dvsgesture-cnn --steps 20
    python benchmarks/train_loop.py --models fashionmnist-mlp --steps 100 --progress rich
    python benchmarks/train_loop.py --progress all --rounds 3   # bar off / TQDM / Rich / no log
    python benchmarks/train_loop.py --fit --models fashionmnist-mlp --fit-steps 50 450

Data (``loop_data.py``): Fashion-MNIST under ``--data-dir``; the shipped MNIST digits for
``mnist-cnn``; N-MNIST emulated from them for ``nmnist-cnn``; synthetic files in DVS Gesture's and
CIFAR-10's formats for ``dvsgesture-cnn`` and ``cifar10-cnn`` (no dataset host is reachable here),
all built under ``<data-dir>/bench`` on first use. The bare step runs on a batch of the same data.
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import os
import pty
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import NamedTuple

# Time under the allocator setting the zoo's CLI runs with (bna_zoo/cli): transparent huge
# pages for torch's large CPU tensors. torch reads it once, at import, so it is set here;
# THP_MEM_ALLOC_ENABLE=0 in the environment times without (every implementation alike).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import lightning as L  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import loop_data  # noqa: E402
import plain_loop  # noqa: E402
from train_step import make_step  # noqa: E402

from bna_zoo import BNAModel  # noqa: E402
from bna_zoo.cli.zoo_commands import build_datamodule  # noqa: E402
from bna_zoo.models import get_entry, list_models  # noqa: E402

# glibc keeps freed memory mapped as the CLI does: importing train_step (and bna_zoo.cli) set it
# (bna_zoo/cpu_memory.py; BNA_ZOO_KEEP_MEMORY=0 times without)

#: the recipe's batch size of every registry net (the real loop's and the bare step's)
BATCH = {name: get_entry(name).recipe.batch_size for name in list_models()}
#: batches of data built for nets without real files here (loop_data.py); the loop cycles them
LOOP_BATCHES = 12
#: DataModule arguments set with --data-arg, over the recipe's (e.g. cache_dir=null)
DATA_OVERRIDES: dict = {}
#: What each ``--progress`` variant runs the real loop with.
VARIANTS = {
    "none": "progress bar off, CSV logger on (every 50 steps, as the configs)",
    "tqdm": "Lightning's TQDMProgressBar (its default), CSV logger on",
    "rich": "RichProgressBar, CSV logger on",
    "nolog": "progress bar off and no logger",
}
#: The most a progress bar may add to a training step, relative to the loop without one.
BAR_TARGET = 0.05
#: ``--fit``: the most the command's step may cost against the bare step (issue #23)
FIT_TARGET = {"fashionmnist-mlp": 1.2}
#: ``--fit``: the target of every other net (the CNNs)
FIT_TARGET_CNN = 1.05


class StepTimer(L.Callback):
    """Wall time between consecutive training batch ends (data, step, logging, progress bar)."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_train_batch_end(self, *args, **kwargs) -> None:
        self.ends.append(time.perf_counter())

    def step_ms(self, skip: int) -> float:
        gaps = [b - a for a, b in zip(self.ends[skip:-1], self.ends[skip + 1:], strict=True)]
        return 1e3 * statistics.median(gaps)


def datamodule(name: str, data_dir: str, workers: int, n_train: int,
               n_test: int) -> L.LightningDataModule:
    """``name``'s own DataModule with its recipe's arguments (batch size, binning, augmentation),
    reading the files ``loop_data.prepare`` provides for it."""
    cfg = get_entry(name).datamodule_config()
    args = {**cfg["init_args"], **loop_data.prepare(name, data_dir, n_train, n_test),
            "num_workers": workers, **DATA_OVERRIDES}
    if "val_size" in args:
        args["val_size"] = 0  # a few batches of data: no held-out split (only steps are timed)
    return build_datamodule(cfg["class_name"], **args)


def real_loop_ms(name: str, data_dir: str, steps: int, progress: str, workers: int) -> float:
    """Median ms per step of ``Trainer.fit`` under the ``progress`` variant (see VARIANTS)."""
    torch.manual_seed(0)
    model = BNAModel(name)
    timer = StepTimer()
    callbacks: list = [timer]
    if progress == "rich":
        callbacks.append(L.pytorch.callbacks.RichProgressBar())
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(
            # epochs of at most LOOP_BATCHES batches, as many as the steps need: the built data
            # stays small; the median step time skips the one epoch-boundary gap in each
            max_epochs=-1, max_steps=steps + 5, limit_val_batches=0,
            enable_progress_bar=progress in ("tqdm", "rich"), enable_checkpointing=False,
            logger=False if progress == "nolog" else L.pytorch.loggers.CSVLogger(tmp),
            log_every_n_steps=50,
            callbacks=callbacks, enable_model_summary=False, default_root_dir=tmp,
        )
        dm = datamodule(name, data_dir, workers, BATCH[name] * LOOP_BATCHES, BATCH[name])
        trainer.fit(model, datamodule=dm)
    return timer.step_ms(skip=3)


def bare_step_ms(name: str, steps: int, data_dir: str = "data") -> float:
    """Median wall ms of ``name``'s bare step (see :func:`bare_step_times`)."""
    return bare_step_times(name, steps, data_dir)[0]


def bare_step_times(name: str, steps: int, data_dir: str = "data") -> tuple[float, float]:
    """Median wall ms and median CPU ms (this process's threads together) of ``steps`` bare
    steps of ``name``, after one untimed step."""
    # the same data as the real loop (a real, normalised test batch): on random images the
    # network spikes, and NA works, far more than on real ones
    dm = datamodule(name, data_dir, 0, BATCH[name], BATCH[name])
    dm.prepare_data()
    dm.setup("test")
    x, y = next(iter(dm.test_dataloader()))
    step, _ = make_step(name, "na", BATCH[name], "cpu", inputs=(x, y))
    step()
    wall, cpu = [], []
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append(1e3 * (time.perf_counter() - t0))
        cpu.append(1e3 * (time.process_time() - c0))
    return statistics.median(wall), statistics.median(cpu)


def compare_variants(name: str, args: argparse.Namespace, variants: list[str]) -> dict:
    """Median (over ``args.rounds`` fits each) ms per step of the real loop under each variant;
    the fits alternate between the variants, the order rotating each round."""
    times: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(args.rounds):
        k = r % len(variants)
        for v in variants[k:] + variants[:k]:
            times[v].append(real_loop_ms(name, args.data_dir, args.steps, v, args.workers))
    return {v: statistics.median(ms) for v, ms in times.items()}


def print_comparison(rows: list[tuple[str, float, dict[str, float]]], variants: list[str]) -> None:
    """The per-variant table and, per model, each variant's overhead against ``none``."""
    head = "| model | batch | bare step ms | " + " | ".join(
        f"{v} ms/step" + ("" if v == "none" else f" | {v} vs none") for v in variants) + " |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, bare, ms in rows:
        base = ms.get("none")
        cells = []
        for v in variants:
            cells.append(f"{ms[v]:.1f}")
            if v != "none":
                cells.append("–" if base is None else
                             f"{ms[v] - base:+.2f} ms ({(ms[v] - base) / base:+.1%})")
        print(f"| {name} | {BATCH[name]} | {bare:.1f} | " + " | ".join(cells) + " |", flush=True)
    print()
    for name, _, ms in rows:
        base = ms.get("none")
        if base is None:
            continue
        for v in variants:
            share = (ms[v] - base) / base
            if v in ("tqdm", "rich"):
                verdict = "met" if share < BAR_TARGET else "NOT met"
                print(f"{name}: {v} adds {ms[v] - base:+.2f} ms per step, {share:+.1%} of the "
                      f"step without a bar (target < {BAR_TARGET:.0%}: {verdict})")
            elif v == "nolog":
                print(f"{name}: the CSV logger costs {base - ms[v]:+.2f} ms per step "
                      f"({-share / (1 + share):+.1%} of the step without it)")


def fit_data_args(name: str, data_dir: str, n_train: int) -> dict:
    """DataModule arguments of ``--fit``'s command beyond the recipe's: where the benchmark data
    is (``loop_data.prepare``, at least ``n_train`` training samples), no held-out split out of
    built data (the recipe's 10,000 would exceed it), and ``--data-arg``."""
    args = loop_data.prepare(name, os.path.abspath(data_dir), n_train, BATCH[name])
    if "val_size" in get_entry(name).datamodule_config()["init_args"] and \
            not name.startswith("fashionmnist"):
        args["val_size"] = 0  # validate on the built test split
    return {**args, **DATA_OVERRIDES}


def yaml_value(value: object) -> str:
    """``value`` as a command-line value LightningCLI parses back to it (``true``, ``0``)."""
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("...\n").strip()


def fit_command(name: str, steps: int, root: str, data_args: dict, extra: list[str]) -> list[str]:
    """``bna-zoo fit`` of ``name``'s recipe for ``steps`` steps, its runs under ``root``."""
    cmd = [sys.executable, "-m", "bna_zoo", "fit", "--config", f"zoo:{name}",
           "--trainer.max_steps", str(steps), "--trainer.default_root_dir", root]
    for key, value in data_args.items():
        cmd += [f"--data.{key}", yaml_value(value)]
    return cmd + extra


def epoch_steps(name: str, data_args: dict) -> int:
    """Training batches in one epoch of ``name``'s recipe on ``data_args``' data."""
    cfg = get_entry(name).datamodule_config()
    dm = build_datamodule(cfg["class_name"], **{**cfg["init_args"], **data_args})
    dm.prepare_data()
    dm.setup("fit")
    return len(dm.train_dataloader())


class Timed(NamedTuple):
    """One finished command: wall and CPU seconds (its threads and children), exit status and
    the tail of its output."""

    wall: float
    cpu: float
    returncode: int
    output: str


def _children_cpu() -> float:
    """CPU seconds of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(cmd: list[str], cwd: str, env: dict, terminal: bool) -> Timed:
    """Run ``cmd`` to its end and time it.

    With ``terminal`` its stdout and stderr are a pseudo-terminal of 120 columns (progress bars
    draw as in a terminal), read here as it writes; else a pipe.
    """
    t0, c0 = time.perf_counter(), _children_cpu()
    if not terminal:
        done = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return Timed(time.perf_counter() - t0, _children_cpu() - c0, done.returncode,
                     done.stdout[-8000:].decode(errors="replace"))
    tail: collections.deque[bytes] = collections.deque(maxlen=64)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave)
    os.close(slave)
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its terminal
            break
        if not chunk:
            break
        tail.append(chunk)
    rc = proc.wait()
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    os.close(master)
    return Timed(wall, cpu, rc, b"".join(tail)[-8000:].decode(errors="replace"))


class FitRound(NamedTuple):
    """One round of ``--fit``: the command's per-step wall and CPU ms (long run minus short
    run), the bare step's (the same steps outside Lightning, just before), and the two runs'
    wall seconds."""

    fit_ms: float
    fit_cpu_ms: float
    bare_ms: float
    bare_cpu_ms: float
    walls: tuple[float, float]


class FitTimes(NamedTuple):
    """:func:`fit_rounds`' result: every round, the first long run's final weights (None where
    it saved no checkpoint) and the bare loop's after the same steps."""

    rounds: list[FitRound]
    state: dict[str, torch.Tensor] | None
    bare_state: dict[str, torch.Tensor]

    def median(self, field: str) -> float:
        """Median over the rounds of one :class:`FitRound` field."""
        return statistics.median(getattr(r, field) for r in self.rounds)

    def ratios(self, cpu: bool = False) -> list[float]:
        """Each round's command/bare per-step ratio (wall, or CPU with ``cpu``)."""
        if cpu:
            return [r.fit_cpu_ms / r.bare_cpu_ms for r in self.rounds]
        return [r.fit_ms / r.bare_ms for r in self.rounds]


def fit_rounds(name: str, args: argparse.Namespace) -> FitTimes:
    """``--fit-rounds`` rounds, each: the bare steps (:func:`plain_steps`), then the command's
    short and long runs (order alternating). Per round the command's per-step time is
    ``(t_long - t_short) / (steps_long - steps_short)`` in wall and CPU time (the command's
    threads together); the bare side is the same steps' mean. A round's ratio compares
    measurements a minute apart, so a machine whose speed drifts over minutes (this 2-core
    one: the bare steps alone scatter by 15% from one run to the next) moves both sides."""
    short, long_ = args.fit_steps
    data_args = fit_data_args(name, args.data_dir, BATCH[name] * (long_ + 1))
    epoch = epoch_steps(name, data_args)
    if long_ >= epoch:
        raise SystemExit(f"--fit-steps {short} {long_}: {name}'s first epoch has {epoch} steps "
                         "here; both runs must end inside it (validation and checkpoints at an "
                         "epoch's end would not cancel)")
    env = dict(os.environ)
    env.setdefault("TERM", "xterm-256color")
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    terminal = args.fit_output == "pty"
    for _ in range(args.fit_warmup):  # untimed: a first run also pays cold file caches
        with tempfile.TemporaryDirectory() as tmp:
            run_timed(fit_command(name, short, tmp, data_args, args.fit_arg), tmp, env, terminal)
    rounds, state, bare = [], None, None
    for r in range(args.fit_rounds):
        bare = plain_steps(name, long_, data_args)
        bare_ms, bare_cpu = bare.per_step(short)
        runs: dict[int, Timed] = {}
        for steps in ((short, long_) if r % 2 == 0 else (long_, short)):
            with tempfile.TemporaryDirectory() as tmp:
                cmd = fit_command(name, steps, tmp, data_args, args.fit_arg)
                runs[steps] = run_timed(cmd, tmp, env, terminal)
                if runs[steps].returncode != 0:
                    raise SystemExit(f"{' '.join(cmd)}\nexited with {runs[steps].returncode}:\n"
                                     f"{runs[steps].output}")
                if steps == long_ and state is None:
                    state = final_weights(Path(tmp))
        rounds.append(FitRound(
            1e3 * (runs[long_].wall - runs[short].wall) / (long_ - short),
            1e3 * (runs[long_].cpu - runs[short].cpu) / (long_ - short),
            bare_ms, bare_cpu, (runs[short].wall, runs[long_].wall)))
    return FitTimes(rounds, state, bare.state)


def final_weights(root: Path) -> dict[str, torch.Tensor] | None:
    """The weights in the ``last.ckpt`` a run under ``root`` wrote at its end, if any."""
    found = sorted(root.rglob("last.ckpt"))
    if not found:
        return None
    return torch.load(found[0], map_location="cpu", weights_only=False)["state_dict"]


def plain_steps(name: str, steps: int, data_args: dict,
                channels_last: bool = False) -> plain_loop.PlainLoop:
    """The command's own first ``steps`` steps outside Lightning (``plain_loop.py``), on
    ``data_args``, the DataModule arguments of :func:`fit_rounds`' runs (``channels_last``:
    ``conv_layout.py``'s other layout)."""
    flags = [item for key, value in data_args.items()
             for item in (f"--data.{key}", yaml_value(value))]
    return plain_loop.plain_loop(f"zoo:{name}", steps, flags, channels_last)


def same_weights(a: dict[str, torch.Tensor] | None, b: dict[str, torch.Tensor]) -> str:
    """``yes`` where the two runs' weights are equal bit for bit, else what differs."""
    if a is None:
        return "no checkpoint"
    if a.keys() != b.keys():
        return "other tensors"
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    return "yes" if not differ else f"no ({len(differ)} of {len(a)} tensors differ)"


def print_fit_table(args: argparse.Namespace) -> None:
    """``--fit``: per model the command's per-step time, the bare step, ratio and verdict."""
    short, long_ = args.fit_steps
    print(f"bna-zoo fit of each recipe, {short} and {long_} steps, output to a "
          f"{'pseudo-terminal' if args.fit_output == 'pty' else 'pipe'}, "
          f"{args.fit_warmup} untimed warm-up run(s), {args.fit_rounds} round(s); per step = "
          f"(t_long - t_short) / {long_ - short}; bare step: the command's own steps "
          f"{short}-{long_ - 1} outside Lightning (plain_loop.py), their mean, measured at the "
          "start of each round; ms columns: medians over the rounds; fit/bare: the median of "
          "the rounds' ratios [lowest, highest]; same weights: the bare loop's after "
          f"{long_} steps against the long run's last.ckpt\n")
    print("| model | data | batch | fit s (short, long) | fit ms/step | bare step ms | fit/bare "
          "| target | fit CPU ms/step | bare CPU ms/step | CPU fit/bare | same weights |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.models:
        fit = fit_rounds(name, args)
        ratios, cpu = fit.ratios(), fit.ratios(cpu=True)
        ratio = statistics.median(ratios)
        target = FIT_TARGET.get(name, FIT_TARGET_CNN)
        runs = "; ".join(f"{r.walls[0]:.1f}, {r.walls[1]:.1f}" for r in fit.rounds)
        verdict = ("noise (fit/bare <= 0: more steps or rounds)" if ratio <= 0 else
                   "met" if ratio <= target else "NOT met")
        print(f"| {name} | {loop_data.SOURCES[name]} | {BATCH[name]} | {runs} | "
              f"{fit.median('fit_ms'):.1f} | {fit.median('bare_ms'):.1f} | {ratio:.2f} "
              f"[{min(ratios):.2f}, {max(ratios):.2f}] | <= {target:.2f}: {verdict} | "
              f"{fit.median('fit_cpu_ms'):.1f} | {fit.median('bare_cpu_ms'):.1f} | "
              f"{statistics.median(cpu):.2f} [{min(cpu):.2f}, {max(cpu):.2f}] | "
              f"{same_weights(fit.state, fit.bare_state)} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", choices=list_models(), default=list_models())
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--bare-steps", type=int, default=20,
                        help="steps of the fixed-batch bare step (not --fit's: see plain_loop.py)")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--progress", nargs="+", choices=(*VARIANTS, "all"), default=["tqdm"],
                        help="progress bar of the real loop; several values (or 'all': "
                             f"{', '.join(VARIANTS)}) time each and print its overhead against "
                             "'none'")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with several --progress values: fits per variant (median)")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--data-arg", nargs="*", default=[], metavar="KEY=VALUE",
                        help="DataModule arguments over the recipe's, values in YAML "
                             "(cache_dir=null times event nets binning on every access)")
    parser.add_argument("--fit", action="store_true",
                        help="time the real command, bna-zoo fit, by a short and a long run "
                             "(see --fit-steps) against the bare step")
    parser.add_argument("--fit-steps", nargs=2, type=int, default=[20, 120],
                        metavar=("SHORT", "LONG"),
                        help="--fit: --trainer.max_steps of the short and the long run (both "
                             "inside the first epoch)")
    parser.add_argument("--fit-rounds", type=int, default=1,
                        help="--fit: short/long pairs per model (median of their per-step time)")
    parser.add_argument("--fit-warmup", type=int, default=1,
                        help="--fit: untimed short runs per model first")
    parser.add_argument("--fit-output", choices=("pty", "pipe"), default="pty",
                        help="--fit: where the command writes (pty: as in a terminal)")
    parser.add_argument("--fit-arg", action="append", default=[], metavar="ARG",
                        help="--fit: one more argument of the command (repeat it), e.g. "
                             "--fit-arg=--trainer.limit_test_batches --fit-arg=2")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of the bare step and (OMP_NUM_THREADS) of the "
                             "command; default torch's")
    args = parser.parse_args()
    if args.fit and not 0 < args.fit_steps[0] < args.fit_steps[1]:
        parser.error("--fit-steps takes SHORT LONG with 0 < SHORT < LONG")
    if args.threads:
        torch.set_num_threads(args.threads)
    for item in args.data_arg:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--data-arg takes KEY=VALUE, got {item!r}")
        DATA_OVERRIDES[key] = yaml.safe_load(value)
    variants = list(VARIANTS) if "all" in args.progress else list(dict.fromkeys(args.progress))
    load = os.getloadavg()[0]
    data = ", ".join(f"{k}={v!r}" for k, v in DATA_OVERRIDES.items()) or "as the recipes"
    print(f"{torch.get_num_threads()} threads, torch {torch.__version__}, {args.workers} "
          f"workers, data arguments {data}, load average {load:.2f} at start")
    if args.fit:
        print_fit_table(args)
    elif len(variants) == 1:
        print(f"progress bar {variants[0]}\n")
        print("| model | data | batch | bare step ms | real loop ms/step | real/bare |")
        print("|---|---|---|---|---|---|")
        for name in args.models:
            bare = bare_step_ms(name, args.bare_steps, args.data_dir)
            real = real_loop_ms(name, args.data_dir, args.steps, variants[0], args.workers)
            print(f"| {name} | {loop_data.SOURCES[name]} | {BATCH[name]} | {bare:.1f} | "
                  f"{real:.1f} | {real / bare:.2f} |",
                  flush=True)
    else:
        print(f"{args.steps} steps per fit (median), {args.rounds} fit(s) per variant (median)")
        for v in variants:
            print(f"  {v}: {VARIANTS[v]}")
        print()
        rows = []
        for name in args.models:
            bare = bare_step_ms(name, args.bare_steps, args.data_dir)
            rows.append((name, bare, compare_variants(name, args, variants)))
        print_comparison(rows, variants)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
