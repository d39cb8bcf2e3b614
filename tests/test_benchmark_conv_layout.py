"""benchmarks/conv_layout.py times the command's own steps in both convolution layouts and
reports how far their weights drift apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import conv_layout  # noqa: E402


def test_layout_rounds_alternate_both_layouts_and_end_near_each_other(tmp_path: Path) -> None:
    base, cl, diff = conv_layout.layout_rounds("mnist-cnn", 3, 1, 2, str(tmp_path))
    assert len(base) == len(cl) == 2 and min(base + cl) > 0
    # the same steps on the same batches: the weights differ by rounding only
    assert diff < 1e-4


def test_conv_layout_refuses_a_network_without_convolutions() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "conv_layout.py"),
                          "--models", "fashionmnist-mlp"], capture_output=True, text=True)
    assert out.returncode == 2 and "no convolution in ['fashionmnist-mlp']" in out.stderr
