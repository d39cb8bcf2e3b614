"""benchmarks/na_phases.py times the fused NA kernel pass by pass: its stopped builds stop where
they say, and the script prints one row per spiking layer whose columns add up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bna_zoo.core.kernels import cpu_kernel
from bna_zoo.core.kernels.torch_kernel import OFFICIAL_CLIP
from bna_zoo.core.lif import LIFParams

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

_THP = os.environ.get("THP_MEM_ALLOC_ENABLE")
import na_phases  # noqa: E402

if _THP is None:  # the script sets it for its own runs; keep it out of other tests' children
    os.environ.pop("THP_MEM_ALLOC_ENABLE", None)


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if cpu_kernel.load_library() is None:
        pytest.skip("no working C compiler: the C kernels are unavailable")
    return na_phases.stopped_libraries(str(tmp_path_factory.mktemp("stopped")))


def _run(lib, current: torch.Tensor, grad: torch.Tensor, p: LIFParams, out: torch.Tensor) -> int:
    steps, n = current.shape
    status = lib.bna_na_backward_f32(current.data_ptr(), grad.data_ptr(), out.data_ptr(), steps,
                                     n, p.decay_m, p.decay_s, 1.0 / p.tau_s, p.theta, 1,
                                     OFFICIAL_CLIP, 2, None)
    return status


def test_stopped_builds_stop_where_they_say_and_the_packages_build_does_not(libs: dict) -> None:
    g = torch.Generator().manual_seed(0)
    p = LIFParams(tau_m=5.0, tau_s=2.0, theta=1.0)
    current = torch.randn(30, 700, generator=g) * 0.6 + 0.3
    grad = torch.randn(30, 700, generator=g)
    whole = cpu_kernel.na_backward_c(current, grad, p, True, OFFICIAL_CLIP)
    assert whole is not None and whole.abs().sum() > 0
    after_forward = torch.full_like(current, 7.0)
    assert _run(libs[1], current, grad, p, after_forward) == 0
    assert (after_forward == 7.0).all()  # the forward pass writes only its scratch
    after_sweep = torch.full_like(current, 7.0)
    assert _run(libs[2], current, grad, p, after_sweep) == 0
    # the sweep writes every neuron's result as if none were busy: final for the idle ones,
    # rewritten for the busy ones by the neighbor pass the package's build goes on to run
    same = torch.isclose(after_sweep, whole, rtol=0, atol=0)
    assert same.any() and not same.all()
    assert (after_sweep != 7.0).all()


def test_mnist_cnn_rows_cover_its_four_spiking_layers_and_add_up(tmp_path: Path) -> None:
    if cpu_kernel.load_library() is None:
        pytest.skip("no working C compiler: the C kernels are unavailable")
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "na_phases.py"), "--models", "mnist-cnn",
         "--reps", "1", "--threads", "1", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, check=True, timeout=600,
    ).stdout
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in out.splitlines() if line.startswith("| mnist-cnn |")]
    layers, total = rows[:-1], rows[-1]
    # 15C5-P2-40C5-P2-300-10 at T=5, batch 64: four spiking layers, in backward order
    assert [r[1] for r in layers] == ["[5, 640]", "[5, 19200]", "[5, 163840]", "[5, 552960]"]
    assert total[1] == "all layers"
    for r in layers:
        forward, sweep, whole, neighbor = map(float, r[2:6])
        assert 0 <= forward and 0 < whole
        assert abs(neighbor - (whole - sweep)) < 0.011  # printed to 2 decimals
        assert int(r[6]) > 0  # the neighbor pass did work at T=5 (no packing below T=12)
    assert float(total[4]) == pytest.approx(sum(float(r[4]) for r in layers), abs=0.03)
