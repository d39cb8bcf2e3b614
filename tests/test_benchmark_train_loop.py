"""benchmarks/train_loop.py covers every registry net offline: the data it builds (loop_data.py)
is read by each net's own DataModule, and the script prints a real/bare row for each net run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

_THP = os.environ.get("THP_MEM_ALLOC_ENABLE")
import loop_data  # noqa: E402
import train_loop  # noqa: E402

# the script sets the allocator variable for its own runs; keep it out of the other tests' children
if _THP is None:
    os.environ.pop("THP_MEM_ALLOC_ENABLE", None)

#: the nets whose benchmark data is built here (the Fashion-MNIST nets read the real files)
BUILT = ("mnist-cnn", "nmnist-cnn", "dvsgesture-cnn", "cifar10-cnn")
#: x of one batch, beyond the batch dimension
SHAPES = {"mnist-cnn": (1, 28, 28), "nmnist-cnn": (30, 2, 34, 34),
          "dvsgesture-cnn": (30, 2, 32, 32), "cifar10-cnn": (3, 32, 32)}


def test_every_registry_net_has_benchmark_data_and_a_batch_size() -> None:
    from bna_zoo.models import list_models

    assert set(loop_data.SOURCES) == set(list_models()) == set(train_loop.BATCH)


@pytest.mark.parametrize("name", BUILT)
def test_built_data_is_read_by_the_nets_own_datamodule(name: str, tmp_path: Path) -> None:
    batch = train_loop.BATCH[name]
    dm = train_loop.datamodule(name, str(tmp_path), 0, batch, batch)
    dm.prepare_data()
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))[:2]  # image batches also carry sample indices
    assert tuple(x.shape) == (batch, *SHAPES[name])
    assert x.isfinite().all() and x.abs().sum() > 0
    assert y.min() >= 0 and y.max() < 11


def test_built_data_is_reused_not_rewritten(tmp_path: Path) -> None:
    loop_data.prepare("cifar10-cnn", str(tmp_path), 10, 5)
    files = sorted((tmp_path / "bench").rglob("*_batch*"))
    stamps = [f.stat().st_mtime_ns for f in files]
    loop_data.prepare("cifar10-cnn", str(tmp_path), 10, 5)
    assert [f.stat().st_mtime_ns for f in files] == stamps
    loop_data.prepare("cifar10-cnn", str(tmp_path), 20, 5)  # more samples asked: rebuilt
    assert [f.stat().st_mtime_ns for f in files] != stamps


def test_synthetic_gesture_events_lie_on_the_sensor_in_time_order() -> None:
    ev = loop_data.gesture_events(label=3, seed=0)
    x, y, p, t = ev.T
    assert ev.dtype == np.float32 and len(ev) == 45_000
    assert x.min() >= 0 and x.max() <= 127 and y.min() >= 0 and y.max() <= 127
    assert set(np.unique(p)) == {0.0, 1.0}
    assert (np.diff(t) >= 0).all() and 0 <= t[0] and t[-1] < 1500
    # the blob moves: its mean position differs between the first and last tenth
    early, late = ev[: len(ev) // 10, :2].mean(0), ev[-len(ev) // 10:, :2].mean(0)
    assert np.abs(early - late).max() > 5


def test_unknown_net_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no benchmark data for 'nope'"):
        loop_data.prepare("nope", str(tmp_path), 1, 1)


def test_script_prints_a_real_over_bare_row_for_each_net_it_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_loop.py"), "--models", "mnist-cnn",
         "dvsgesture-cnn", "--steps", "2", "--bare-steps", "1", "--progress", "none",
         "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines()
            if line.startswith("| ") and "---" not in line and "model" not in line}
    assert set(rows) == {"mnist-cnn", "dvsgesture-cnn"}
    for line in rows.values():
        ratio = float(line.rstrip(" |").rsplit("|", 1)[1])
        assert ratio > 0


def test_fit_command_is_the_recipe_with_steps_root_and_data_flags(tmp_path: Path) -> None:
    data = train_loop.fit_data_args("mnist-cnn", str(tmp_path), 64)
    # built data: no held-out split out of it (the recipe's 10,000 exceeds the 8,000 digits)
    assert data["val_size"] == 0 and data["shipped_digits"] is True
    assert "val_size" not in train_loop.fit_data_args("fashionmnist-mlp", str(tmp_path), 64)
    cmd = train_loop.fit_command("mnist-cnn", 7, "/r", data, ["--trainer.limit_test_batches", "1"])
    assert cmd[1:6] == ["-m", "bna_zoo", "fit", "--config", "zoo:mnist-cnn"]
    flags = dict(zip(cmd[6::2], cmd[7::2], strict=True))
    assert flags["--trainer.max_steps"] == "7" and flags["--trainer.default_root_dir"] == "/r"
    assert flags["--data.shipped_digits"] == "true" and flags["--data.val_size"] == "0"
    assert flags["--data.data_dir"] == str(tmp_path.resolve())
    assert flags["--trainer.limit_test_batches"] == "1"


@pytest.mark.parametrize("terminal", [True, False])
def test_run_timed_gives_the_command_a_terminal_or_a_pipe(terminal: bool, tmp_path: Path) -> None:
    # the child spins ~0.2 s of CPU, which its parent's count of its children's CPU time sees
    code = ("import sys, time; t = time.process_time()\n"
            "while time.process_time() - t < 0.2: pass\n"
            "print('tty', sys.stdout.isatty()); sys.exit(3)")
    timed = train_loop.run_timed([sys.executable, "-c", code], str(tmp_path), dict(os.environ),
                                 terminal)
    assert timed.returncode == 3 and timed.cpu > 0.18 and timed.wall > 0
    assert f"tty {terminal}" in timed.output


def test_fit_runs_must_end_inside_the_first_epoch(tmp_path: Path) -> None:
    import argparse

    # 8,000 shipped training digits at batch 64: an epoch of 125 steps
    args = argparse.Namespace(fit_steps=[10, 200], data_dir=str(tmp_path))
    with pytest.raises(SystemExit, match="first epoch has 125 steps"):
        train_loop.fit_rounds("mnist-cnn", args)


def _ratio(cell: str) -> tuple[float, float, float]:
    """``"1.07 [1.02, 1.11]"`` -> ``(1.07, 1.02, 1.11)``."""
    median, rest = cell.split(" [")
    low, high = rest.rstrip("]").split(", ")
    return float(median), float(low), float(high)


def test_fit_mode_times_the_real_command_beside_its_own_steps_outside_lightning(
        tmp_path: Path) -> None:
    quick = ["--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "1"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_loop.py"), "--fit", "--models",
         "mnist-cnn", "--fit-steps", "1", "3", "--fit-warmup", "0", "--bare-steps", "1",
         "--data-dir", str(tmp_path), *(f"--fit-arg={a}" for a in quick)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| mnist-cnn")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    short, long_ = (float(s) for s in cells[3].split(","))
    assert short > 0 and long_ > 0
    # one round: the median ratio is that round's, its range a single value
    fit_ms, bare_ms, (ratio, low, high) = float(cells[4]), float(cells[5]), _ratio(cells[6])
    assert bare_ms > 0 and abs(ratio - fit_ms / bare_ms) < 0.01 + 0.01 * abs(ratio)
    assert low == ratio == high
    assert cells[7].startswith("<= 1.05: ")
    fit_cpu, bare_cpu, (cpu_ratio, *_) = float(cells[8]), float(cells[9]), _ratio(cells[10])
    assert bare_cpu > 0 and abs(cpu_ratio - fit_cpu / bare_cpu) < 0.01 + 0.01 * abs(cpu_ratio)
    # the bare side repeats the command's arithmetic: its weights after the long run's 3 steps
    # are the long run's last.ckpt, bit for bit
    assert cells[11] == "yes"
    assert "load average" in done.stdout


def test_same_weights_says_yes_only_for_equal_bits_and_names_what_differs() -> None:
    import torch

    a = {"w": torch.ones(3), "v": torch.zeros(2)}
    assert train_loop.same_weights(a, {k: v.clone() for k, v in a.items()}) == "yes"
    b = {"w": torch.ones(3), "v": torch.tensor([0.0, 1e-30])}
    assert train_loop.same_weights(a, b) == "no (1 of 2 tensors differ)"
    assert train_loop.same_weights(None, a) == "no checkpoint"
    assert train_loop.same_weights({"w": a["w"]}, a) == "other tensors"
