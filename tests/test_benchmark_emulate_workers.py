"""benchmarks/emulate_workers.py: one worker against several, files compared bit for bit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "emulate_workers.py"


def test_benchmark_prints_both_rows_the_load_and_that_the_files_match():
    run = subprocess.run([sys.executable, str(SCRIPT), "--images", "6", "--repeats", "1"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "6 recordings, 1 runs each, alternating; load average" in out
    rows = [line for line in out.splitlines() if line.startswith("| 1 |") or
            line.startswith("| 2 |")]
    assert len(rows) == 2 and rows[0].endswith("| 1.00x |")
    assert "files identical bit for bit: yes" in out
