"""benchmarks/plain_loop.py runs the command's own training steps outside Lightning: the same
model, data and arithmetic as ``bna-zoo fit`` (train_loop.py's test checks the weights against a
real run), refusing what it cannot reproduce."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import plain_loop  # noqa: E402
import train_loop  # noqa: E402


def _data_flags(tmp_path: Path) -> list[str]:
    data = train_loop.fit_data_args("mnist-cnn", str(tmp_path), 64 * 3)
    return [i for k, v in data.items() for i in (f"--data.{k}", train_loop.yaml_value(v))]


def test_plain_loop_is_seeded_as_the_command_and_times_every_step(tmp_path: Path) -> None:
    flags = _data_flags(tmp_path)
    a = plain_loop.plain_loop("zoo:mnist-cnn", 2, flags)
    b = plain_loop.plain_loop("zoo:mnist-cnn", 2, flags)
    assert len(a.step_ms) == len(a.step_cpu_ms) == 2 and min(a.step_ms) > 0
    assert all(torch.equal(a.state[k], b.state[k]) for k in a.state)
    # the recipe's seed_everything builds the same initial weights as the command: a different
    # seed gives other ones
    c = plain_loop.plain_loop("zoo:mnist-cnn", 2, [*flags, "--seed_everything", "1"])
    assert not all(torch.equal(a.state[k], c.state[k]) for k in a.state)
    wall, cpu = a.per_step(1)
    assert wall == a.step_ms[1] and cpu == a.step_cpu_ms[1]


def test_plain_loop_refuses_more_steps_than_the_first_epoch_has(tmp_path: Path) -> None:
    # 8,000 shipped training digits at batch 64: 125 batches
    with pytest.raises(ValueError, match="first epoch has 125 batches, fewer than the 130"):
        plain_loop.plain_loop("zoo:mnist-cnn", 130, _data_flags(tmp_path))
