"""benchmarks/precision.py runs end to end and compares what it says it compares."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bna_zoo import BNAModel

ROOT = Path(__file__).resolve().parents[1]


def test_precision_script_reports_every_batch_and_parameter_and_bf16_changes_the_gradient():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "precision.py"), "--model", "mnist-cnn",
         "--batches", "2", "--steps", "1", "--threads", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = re.findall(r"^\| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([-\d. ]+) \|$", done.stdout, re.M)
    assert [r[0] for r in rows] == ["0", "1"]
    n_tensors = len(list(BNAModel(name="mnist-cnn").parameters()))
    for _, loss32, loss16, cosines in rows:
        values = [float(c) for c in cosines.split()]
        assert len(values) == n_tensors and all(-1.0 <= c <= 1.0 for c in values)
        assert float(loss32) > 0 and float(loss16) > 0
        # autocast really rounded the matmul inputs: the gradients are close but not equal
        assert min(values) < 0.9999 and max(values) > 0.5
    assert re.search(r"bf16-mixed / 32-true = \d+\.\d\d$", done.stdout, re.M), done.stdout
