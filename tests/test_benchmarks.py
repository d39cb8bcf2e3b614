"""benchmarks/peers.py works end to end in its smoke mode, and its equality checks pass;
benchmarks/flops.py counts the multiply-adds a hand count gives, and the scripts print its bound.

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
def test_smoke_prints_the_flop_bound_of_our_net(smoke: tuple[str, dict]) -> None:
    stdout, results = smoke
    assert "| NA / fastest surrogate | GMAC/step | bound ms | NA x bound | surrogate x bound |" \
        in stdout
    assert "| GMAC/batch | bound ms | ours x bound |" in stdout
    bound = {r["name"]: r["bound"] for r in results["results"]}
    # smoke-image, 32-D0.2-10 on 1x8x8 at T=5, batch 4: 64*32 + 32*10 MACs per sample and step;
    # backward: the first layer's weight gradient only, the output layer's both gradients
    assert bound["smoke-image"]["gmac_forward"] == pytest.approx(5 * 4 * (64 * 32 + 32 * 10) / 1e9)
    assert bound["smoke-image"]["gmac_backward"] == pytest.approx(
        5 * 4 * (64 * 32 + 2 * 32 * 10) / 1e9)
    for b in bound.values():
        assert 0 < b["forward_ms"] < b["train_ms"] and b["peak_gflops"] > 0
        assert {o["op"] for o in b["ops"]} == {"forward", "weight grad", "input grad"}


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


# ------------------------------------------------------------------------- the FLOP bound
def _flops():
    """benchmarks/flops.py (it sets nothing at import, unlike the two scripts)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import flops
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return flops


def _traced(name: str, batch: int):
    """``flops.trace_layers`` of a seeded ``name`` on a batch of ``batch`` zero inputs."""
    import torch

    from bna_zoo.models import create_model, get_entry

    torch.manual_seed(0)
    entry = get_entry(name)
    shape = (batch, entry.n_steps, *entry.input_shape) if entry.input_kind == "events" \
        else (batch, *entry.input_shape)
    return _flops().trace_layers(create_model(name), torch.zeros(shape))


def test_mlp_macs_equal_the_hand_count() -> None:
    """fashionmnist-mlp, 784-400-400-10 at T=5: forward T*B*(784*400 + 400*400 + 400*10);
    backward 1x the first layer (weight gradient only), 2x the others."""
    t, b = 5, 3
    calls = _traced("fashionmnist-mlp", b)
    assert [(c.kind, c.weight_shape, c.input_grad) for c in calls] == [
        ("linear", (400, 784), False), ("linear", (400, 400), True), ("linear", (10, 400), True)]
    fwd, bwd = _flops().total_macs(calls)
    assert fwd == t * b * (784 * 400 + 400 * 400 + 400 * 10)
    assert bwd == t * b * (784 * 400 + 2 * (400 * 400 + 400 * 10))


def test_conv_net_macs_equal_the_hand_count_with_time_folded_into_the_batch() -> None:
    """mnist-cnn, 15C5-P2-40C5-P2-300-10 on 1x28x28 at T=5: each conv runs once on [T*B, ...]."""
    t, b = 5, 2
    calls = _traced("mnist-cnn", b)
    first, second = calls[0], calls[1]
    assert (first.in_shape, first.out_shape, first.count) == ((t * b, 1, 28, 28),
                                                              (t * b, 15, 24, 24), 1)
    assert first.macs_forward == t * b * (15 * 24 * 24) * (1 * 5 * 5)
    assert first.macs_backward == first.macs_forward  # no input gradient for the data
    assert second.macs_forward == t * b * (40 * 8 * 8) * (15 * 5 * 5)
    assert second.macs_backward == 2 * second.macs_forward
    assert calls[2].macs_forward == t * b * 300 * (40 * 4 * 4)


def test_event_net_first_conv_counts_each_of_its_per_step_calls() -> None:
    """nmnist-cnn convolves its 2-channel input step by step: T calls on [B, 2, 34, 34]."""
    t, b = 30, 2
    first, second = _traced("nmnist-cnn", b)[:2]
    assert (first.in_shape, first.count, first.input_grad) == ((b, 2, 34, 34), t, False)
    assert first.macs_forward == t * b * (12 * 32 * 32) * (2 * 5 * 5)
    assert (second.in_shape, second.count) == ((t * b, 12, 16, 16), 1)


@pytest.mark.parametrize("kind", ["conv", "linear"])
def test_timed_ops_compute_autograds_gradients(kind: str) -> None:
    """The bound times the ops autograd runs: the same output and gradients, for the shapes of
    a traced call (a padded conv on [T*B, ...], a linear layer on [T, B, in])."""
    import torch

    flops = _flops()
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False) if kind == "conv" \
        else torch.nn.Linear(6, 5, bias=False)
    x = torch.randn((6, 3, 7, 7) if kind == "conv" else (2, 3, 6), requires_grad=True)
    calls = flops.trace_layers(torch.nn.Sequential(torch.nn.Identity(), layer), x)
    out = layer(x)
    g = torch.randn_like(out)
    out.backward(g)
    ops = flops.library_ops(calls[0], x.detach(), layer.weight.detach(), g)
    torch.testing.assert_close(ops["forward"](), out.detach())
    torch.testing.assert_close(ops["weight grad"](), layer.weight.grad)
    torch.testing.assert_close(ops["input grad"](), x.grad)


def test_bound_times_each_op_the_backward_needs() -> None:
    calls = _traced("mnist-cnn", 1)
    bound = _flops().measure_bound(calls, reps=1, warmup=1)
    ops = [(o.layer, o.op) for o in bound.ops]
    assert ops[:2] == [("layers.0.conv", "forward"), ("layers.0.conv", "weight grad")]
    assert len(ops) == 2 + 3 * (len(calls) - 1)  # the first layer has no input gradient
    assert 0 < bound.forward_ms < bound.train_ms
    assert bound.gmac_step == pytest.approx(sum(c.macs_forward + c.macs_backward
                                                for c in calls) / 1e9)
    assert bound.peak.gflops == max(o.gflops for o in bound.ops) > 0
    inference = _flops().measure_bound(calls, training=False, reps=1)
    assert {o.op for o in inference.ops} == {"forward"}


def _train_step(*args: str) -> str:
    """Run benchmarks/train_step.py on fashionmnist-mlp for one step; returns its stdout."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_step.py"), "--models",
         "fashionmnist-mlp", "--steps", "1", "--warmup", "0", "--threads", "1", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_train_step_table_has_the_bound_columns() -> None:
    stdout = _train_step("--bound-reps", "1", "--bound-ops")
    header = next(line for line in stdout.splitlines() if line.startswith("| model |"))
    assert header.endswith("| NA saved MB | surrogate saved MB | GMAC/step | bound ms | "
                           "NA x bound | surrogate x bound |")
    row = next(line for line in stdout.splitlines() if line.startswith("| fashionmnist-mlp |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == header.count("|") - 1
    # batch 64, T=5: (784*400 + 400*400 + 400*10) * 320 forward, (313600 + 2 * 164000) * 320
    # backward = 0.358 GMAC
    assert cells[8] == "0.358"
    bound_ms, na_x, sg_x = (float(c) for c in cells[9:12])
    na_ms, sg_ms = float(cells[3]), float(cells[4])
    assert na_x == pytest.approx(na_ms / bound_ms, rel=0.02, abs=0.01)
    assert sg_x == pytest.approx(sg_ms / bound_ms, rel=0.02, abs=0.01)
    assert "peak: " in stdout and "GFLOP/s" in stdout
    assert "| layers.0.linear | weight grad |" in stdout  # --bound-ops
    assert "| layers.0.linear | input grad |" not in stdout


def test_train_step_no_bound_keeps_the_old_table() -> None:
    stdout = _train_step("--no-bound")
    assert "| NA saved MB | surrogate saved MB |\n" in stdout
    assert "GMAC" not in stdout and "peak:" not in stdout


def test_readme_mac_table_is_what_flops_py_prints() -> None:
    """benchmarks/README.md's multiply-adds per registry net are flops.py's (cifar10-cnn left out:
    its traced forward alone takes seconds)."""
    names = ["dvsgesture-cnn", "fashionmnist-cnn", "fashionmnist-mlp", "mnist-cnn", "nmnist-cnn"]
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "flops.py"), *names],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    assert [r.split(" | ")[0][2:] for r in rows] == names
    readme = (ROOT / "benchmarks" / "README.md").read_text()
    for row in rows:
        assert row in readme, row
