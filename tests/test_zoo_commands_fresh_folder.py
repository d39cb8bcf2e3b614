"""The zoo commands as a new user runs them: the installed command, in an empty folder, offline.

Nothing is downloaded (HF_HUB_OFFLINE=1; no dataset host reachable): each shipped model is
measured and drawn from what travels with the package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

from bna_zoo.cli.card_data import EMULATED_CARD_DATA  # noqa: E402
from bna_zoo.models import get_entry  # noqa: E402

#: what nmnist-cnn's card data is emulated from, as eval and show say it
CARD_DATA = EMULATED_CARD_DATA[get_entry("nmnist-cnn").results.measured_on_id]


def bna_zoo(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("BNA_ZOO_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "bna_zoo", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def test_eval_of_nmnist_cnn_in_an_empty_folder_reproduces_its_card_exactly_and_says_so(tmp_path):
    # also the exact-reproduction check of nmnist-cnn's shipped weights (test_zoo_weights.py
    # leaves the emulated cards to this test: one emulation of 10,000 recordings, not two)
    run = bna_zoo(tmp_path, "eval", "nmnist-cnn", "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert f"emulated them from {CARD_DATA}" in out
    assert "[1/1] measuring nmnist-cnn ..." in out
    row = next(line for line in out.splitlines() if line.startswith("| nmnist-cnn"))
    # the card's number, re-measured on the re-emulated recordings (bit-identical data)
    card = get_entry("nmnist-cnn").results.accuracy
    assert f"{100 * card:.2f}%" in row
    (measured,) = json.loads(out[out.index("\n[\n") + 1:])
    assert measured["accuracy"] == card and measured["samples"] == 10_000
    # no train split asked for, no Lightning banner or tip, no third-party deprecation
    data_dir = get_entry("nmnist-cnn").results.data_args["data_dir"]
    assert not (tmp_path / data_dir / "Train").exists()
    for noise in ("GPU available", "Tip:", "LeafSpec", "train split"):
        assert noise not in out + run.stderr, noise


def test_show_nmnist_cnn_in_an_empty_folder_emulates_only_the_sample_it_draws(tmp_path):
    run = bna_zoo(tmp_path, "show", "nmnist-cnn", "--sample", "3")
    assert run.returncode == 0, run.stderr[-3000:]
    png = tmp_path / "nmnist-cnn-sample3.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "emulated test sample 3 alone, recording " in run.stdout
    assert f"of {CARD_DATA}, the data its card was measured on" in run.stdout
    # no one-recording test split left behind for a later `eval` to take as the card's data
    data_dir = get_entry("nmnist-cnn").results.data_args["data_dir"]
    assert not (tmp_path / data_dir).exists()


def test_show_of_a_sample_past_the_card_data_says_the_range(tmp_path):
    run = bna_zoo(tmp_path, "show", "nmnist-cnn", "--sample", "10000")
    assert run.returncode != 0
    assert "--sample 10000 is out of range: the test set of nmnist-cnn has samples 0..9999" in (
        run.stdout + run.stderr)


def test_eval_on_other_data_in_the_cards_place_says_your_data_and_compares_nothing(tmp_path):
    # 50 emulated test digits where the card's 2,000 would be (made so that `show` works)
    data_dir = get_entry("nmnist-cnn").results.data_args["data_dir"]
    made = bna_zoo(tmp_path, "emulate", "--n-train", "0", "--n-test", "50", "--out-dir", data_dir)
    assert made.returncode == 0, made.stderr[-2000:]
    run = bna_zoo(tmp_path, "eval", "nmnist-cnn")
    assert run.returncode == 0, run.stderr[-3000:]
    row = next(line for line in run.stdout.splitlines() if line.startswith("| nmnist-cnn"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "50"
    assert cells[3] == f"your data (50 samples, N-MNIST format, in {data_dir})"
    assert cells[5] == "-"  # no difference to a published number for 50 samples
    assert "emulated" not in run.stdout.split("| model")[0]  # nothing re-emulated over it
