"""benchmarks/peers.py works end to end in its smoke mode, and its equality checks pass.

The smoke mode runs the script's very code on two tiny nets (every layer kind, both encoders, a
power-of-two and a non-power-of-two tau_m) for one round on CPU: our network against the plain
PyTorch step and layer loops, snnTorch and SpikingJelly, each PSC compared bit for bit. A peer
framework that is not installed is reported, not failed, so this runs with or without them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "peers.py"
#: the implementations whose forward must equal ours bit for bit on every smoke net
ALWAYS_IDENTICAL = ("bna_zoo surrogate", "plain step loop", "plain layer loop")


def _run(args: list[str], tmp_path: Path, prelude: str = "pass") -> tuple[str, dict]:
    """Run peers.py (after ``prelude``, in a fresh interpreter); returns stdout and its JSON."""
    out = tmp_path / "peers.json"
    argv = [str(SCRIPT), *args, "--json", str(out)]
    code = (f"import sys, runpy; {prelude}; sys.argv = {argv!r}; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, json.loads(out.read_text())


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    return _run(["--smoke"], tmp_path_factory.mktemp("peers"))


@pytest.mark.slow
def test_smoke_equality_checks_pass_for_every_installed_peer(smoke: tuple[str, dict]) -> None:
    stdout, results = smoke
    assert results["passed"] and "equality checks: PASS" in stdout
    assert [r["name"] for r in results["results"]] == ["smoke-events", "smoke-image"]
    ran = {label: label not in results["missing"] for label in ("snnTorch", "SpikingJelly")}
    for r in results["results"]:
        checks = {c["label"]: c for c in r["checks"]}
        for label in ALWAYS_IDENTICAL:
            assert checks[label]["identical"], (r["name"], checks[label])
        for label in ("plain step loop", "plain layer loop"):
            assert checks[label]["grad_rel_dev"] < 1e-3, (r["name"], checks[label])
        if ran["snnTorch"]:
            assert checks["snnTorch"]["identical"], (r["name"], checks["snnTorch"])
        sj = checks["SpikingJelly"]
        if ran["SpikingJelly"] and sj["expected_identical"]:
            assert sj["identical"], (r["name"], sj)
        # the check is not vacuous: every spiking layer fires
        assert all(n > 0 for n in checks["plain step loop"]["spikes"]), r["name"]


@pytest.mark.slow
def test_smoke_prints_every_table_and_the_machine_load(smoke: tuple[str, dict]) -> None:
    stdout, results = smoke
    assert "load average at start:" in stdout and "load average at end:" in stdout
    assert len(results["load_start"]) == 3 and len(results["load_end"]) == 3
    assert "| model | T | batch | bna_zoo NA | bna_zoo surrogate |" in stdout
    assert "NA / fastest surrogate |" in stdout and "ours / plain layer loop" in stdout
    for r in results["results"]:
        assert set(r["train_ms"]) >= {"bna_zoo NA", "bna_zoo surrogate", "plain step loop"}
        assert all(v > 0 for v in r["train_ms"].values())
        assert all(v > 0 for v in r["infer_sps"].values())


@pytest.mark.slow
def test_smoke_reports_a_missing_peer_instead_of_failing(tmp_path: Path) -> None:
    # snnTorch made unimportable, SpikingJelly left out: both columns say why, the rest runs
    stdout, results = _run(["--smoke", "--models", "smoke-image", "--skip", "spikingjelly"],
                           tmp_path, prelude="sys.modules['snntorch'] = None")
    assert results["passed"]
    assert "| not installed |" in stdout and "| left out |" in stdout
    assert results["missing"]["snnTorch"].startswith("not installed")
    assert "snnTorch" not in results["results"][0]["train_ms"]
    assert "plain layer loop" in results["results"][0]["train_ms"]


def test_spikingjelly_gradient_net_fires_exactly_where_spikingjelly_does() -> None:
    """The gradient check's SpikingJelly net swaps in our derivative; its forward must stay
    SpikingJelly's ``x >= 0`` on ``x = v - v_threshold``: a strict ``>`` missed potentials exactly
    at the threshold and made the check compare gradients of different spikes."""
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import peer_nets  # the peer nets alone: importing peers.py would set THP for the session
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    x = torch.tensor([-1e-6, -0.0, 0.0, 1e-30, 0.5], requires_grad=True)
    spikes = peer_nets.ExactSurrogate(5.0)(x)
    assert spikes.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    spikes.sum().backward()
    torch.testing.assert_close(x.grad, 1 / (1 + 5 * x.detach().abs()) ** 2)
    surrogate = pytest.importorskip("spikingjelly.activation_based.surrogate")
    theirs = surrogate.SoftSign(alpha=5.0)(x.detach())
    assert torch.equal(spikes.detach(), theirs)
