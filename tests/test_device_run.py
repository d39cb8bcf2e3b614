"""The prepared device run (benchmarks/device_run.sh) works end to end in its smoke mode.

Smoke mode runs the very code of the GPU run on CPU: the Triton kernels under the interpreter
against the CPU kernels, a bf16-mixed Lightning step, the kernel and step tables at tiny sizes,
and two training steps of the paper recipe on a synthetic Fashion-MNIST, so the one script that
gets a few minutes on a lent GPU cannot rot unnoticed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "device_run.sh"

pytest.importorskip("triton", reason="the smoke mode runs the Triton kernels' interpreter")


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("device_out")
    env = {k: v for k, v in os.environ.items() if k not in ("BNA_ZOO_KERNEL", "TRITON_INTERPRET")}
    env.update(OUT=str(out), PYTHON=sys.executable)
    done = subprocess.run(
        ["bash", str(SCRIPT), "--smoke"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_smoke_run_returns_at_most_8_files_no_deeper_than_two_folders(smoke_out: Path) -> None:
    files = sorted(p.relative_to(smoke_out) for p in smoke_out.rglob("*") if p.is_file())
    names = {str(p) for p in files}
    assert {"device_run.log", "results.json", "tables.md", "metrics.csv"} <= names
    assert {"weights/config.json", "weights/model.safetensors"} <= names
    assert len(files) <= 8 and all(len(p.parts) <= 3 for p in files)
    assert all(p.stat().st_size < 16 * 2**20 for p in smoke_out.rglob("*") if p.is_file())


def test_smoke_run_checks_pass_and_every_section_reports(smoke_out: Path) -> None:
    results = json.loads((smoke_out / "results.json").read_text())
    assert results["env"]["triton_interpreted"] is True
    assert results["kernel_correctness"]["passed"], results["kernel_correctness"]
    assert results["lightning_steps"]["bf16-mixed"]["passed"]
    kernels = {row["kernel"] for row in results["kernel_table"]["rows"]}
    assert {"forward (u, s, a)", "NA backward official", "surrogate backward"} <= kernels
    assert [row["name"] for row in results["step_table"]["rows"]] == [
        "fashionmnist-cnn", "nmnist-cnn"]  # fmt: skip
    assert results["training"]["global_steps"] == 2
    assert "error" not in json.dumps(results)
    log = (smoke_out / "device_run.log").read_text()
    assert "kernel correctness: PASS" in log and "done in" in log
    assert "| kernel | T | N |" in (smoke_out / "tables.md").read_text()
