"""``bna-zoo export --target``: each consumer runs the file written for it, batched, exactly.

The files are written by the command line and loaded with each library's own importer (Norse
1.1, snnTorch 1.0; both in the ``dev`` extra), never patched (``tests/export/nir_consumers.py``).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

nir = pytest.importorskip("nir", reason="the nir extra is not installed: pip install '.[nir]'")
pytest.importorskip("nirtorch", reason="the nir extra is not installed: pip install '.[nir]'")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pytest.importorskip("norse.torch", reason="norse is not installed (pip install '.[dev]')")
    pytest.importorskip("snntorch", reason="snntorch is not installed (pip install '.[dev]')")

from bna_zoo.bna_model import BNAModel  # noqa: E402
from bna_zoo.cli import main  # noqa: E402
from bna_zoo.export import TARGETS, export_nir, from_nir  # noqa: E402
from bna_zoo.metrics import spike_trace  # noqa: E402
from tests.export.nir_consumers import RUNNERS, run_norse, run_snntorch  # noqa: E402

SHIPPED = ["fashionmnist-mlp", "fashionmnist-cnn", "mnist-cnn", "nmnist-cnn"]


@pytest.fixture(scope="module")
def models() -> dict[str, BNAModel]:
    return {name: BNAModel.from_pretrained(name).eval() for name in SHIPPED}


@pytest.fixture(scope="module")
def inputs(models) -> dict[str, torch.Tensor]:
    """8 shipped MNIST digits per model: normalised images, or emulated N-MNIST frames."""
    from bna_zoo.data.digits import load_digits
    from bna_zoo.data.emulate import emulate_batch
    from bna_zoo.data.frames import events_to_frames

    images, _ = load_digits()
    pick = np.random.default_rng(0).choice(len(images), 8, replace=False)
    digits = torch.from_numpy(images[pick]).float().unsqueeze(1) / 255
    recs = emulate_batch(images[pick], [[0, 1, int(i)] for i in pick])
    frames = torch.from_numpy(np.stack([
        events_to_frames(r, (34, 34, 2), 30, 3000, True, stabilize=True) for r in recs]))
    return {name: frames if models[name].net.input_kind == "events"
            else (digits - 0.1307) / 0.3081 for name in SHIPPED}


def _output_spikes(model: BNAModel, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return spike_trace(model.net, x)[1][model.net.spiking_layers()[-1].name]


def _export(name: str, target: str, path: Path, *extra: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        main(["export", name, "--format", "nir", "--target", target, "--out", str(path), *extra])


@pytest.mark.parametrize("target", ["generic", "norse", "snntorch"])
@pytest.mark.parametrize("name", SHIPPED)
def test_each_consumer_runs_the_file_written_for_it_batched_spike_for_spike(
        name, target, models, inputs, tmp_path):
    path = tmp_path / f"{name}.nir"
    _export(name, target, path)
    x = inputs[name]
    ours = _output_spikes(models[name], x)
    theirs = RUNNERS[target](path, x, models[name].net.n_steps, TARGETS[target].default_dt)
    assert ours.sum() > 0
    assert theirs.shape == ours.shape  # all 8 samples in one batch
    assert torch.equal(theirs, ours)


def test_generic_file_ends_in_the_models_own_output_and_norse_file_in_its_spikes(
        models, inputs, tmp_path):
    model, x = models["fashionmnist-cnn"], inputs["fashionmnist-cnn"]
    _export("fashionmnist-cnn", "generic", tmp_path / "g.nir")
    graph = nir.read(str(tmp_path / "g.nir"))
    kinds = [type(graph.nodes[b]).__name__ for _, b in graph.edges]
    assert "Scale" not in kinds and kinds[-2:] == ["LI", "Output"]
    assert graph.metadata["bna_zoo"]["dt"] == 1e-3
    assert np.allclose(graph.nodes["conv0_lif"].tau_mem, 5e-3)  # tau_m = 5 steps of 1 ms
    with torch.no_grad():
        out = from_nir(tmp_path / "g.nir")(x)
        expected = model(x)
    # the x1.1 folded into the weights rounds differently from a Scale node; same network
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.equal(out.sum(1).argmax(-1), expected.sum(1).argmax(-1))
    _export("fashionmnist-cnn", "norse", tmp_path / "n.nir")
    kinds = [type(v).__name__ for v in nir.read(str(tmp_path / "n.nir")).nodes.values()]
    assert "Flatten" not in kinds and "LI" not in kinds and "Scale" not in kinds


def test_the_bna_zoo_target_reproduces_the_model_bit_for_bit(models, inputs, tmp_path):
    model, x = models["nmnist-cnn"], inputs["nmnist-cnn"]
    _export("nmnist-cnn", "bna_zoo", tmp_path / "b.nir")
    with torch.no_grad():
        assert torch.equal(from_nir(tmp_path / "b.nir")(x), model(x))


def test_dt_writes_seconds_and_norse_stepping_with_that_dt_runs_it(models, inputs, tmp_path):
    # one step of nmnist-cnn is one 3 ms bin of the recording
    path = tmp_path / "n3.nir"
    _export("nmnist-cnn", "norse", path, "--dt", "0.003")
    graph = nir.read(str(path))
    assert np.allclose(graph.nodes["conv0_lif"].tau_syn, 4 * 0.003)
    assert np.allclose(graph.nodes["conv0_lif"].tau_mem, 8 * 0.003)
    x = inputs["nmnist-cnn"]
    ours = _output_spikes(models["nmnist-cnn"], x)
    assert torch.equal(run_norse(path, x, 30, dt=0.003), ours)
    # Norse's default dt (1 ms) on a file written in 3 ms steps: every decay is a third as
    # fast and every input gain a third as large; the network falls silent
    assert run_norse(path, x, 30, dt=1e-3).sum() < 0.1 * ours.sum()


def test_export_refuses_a_dt_the_target_cannot_read(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(["export", "mnist-cnn", "--target", "snntorch", "--dt", "0.001",
              "--out", str(tmp_path / "s.nir")])
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert "assumes dt = 0.0001 s" in message and "leave --dt out" in message
    assert not (tmp_path / "s.nir").exists()
    with pytest.raises(ValueError, match="positive number of seconds"):
        export_nir(BNAModel.from_pretrained("mnist-cnn"), "generic", dt=0.0)
    with pytest.raises(ValueError, match="choose one of"):
        export_nir(BNAModel.from_pretrained("mnist-cnn"), "rockpool")


def test_export_prints_how_to_load_the_file_in_its_consumer(tmp_path, capsys):
    path = tmp_path / "m.nir"
    main(["export", "mnist-cnn", "--target", "norse", "--dt", "0.002", "--out", str(path)])
    out = capsys.readouterr().out
    assert "one step = 0.002 s" in out
    assert f"norse.torch.from_nir(nir.read('{path}'), dt=0.002)" in out


# What the targets route around, as the libraries behave today. If one of these fails, the
# library changed: the target may no longer be needed (update docs/nir.md section 4).

def test_snntorch_refuses_a_graph_in_any_dt_but_its_own(models, tmp_path):
    path = tmp_path / "g.nir"
    nir.write(str(path), export_nir(models["mnist-cnn"], "generic")[0])
    with pytest.raises(AssertionError, match="r not supported in CubaLIF"):
        run_snntorch(path, torch.zeros(1, 1, 28, 28), 5, 1e-3)


def test_norse_flatten_node_flattens_the_batch_so_its_target_has_none(models, inputs, tmp_path):
    graph, _, _ = export_nir(models["fashionmnist-mlp"], "generic")
    path = tmp_path / "g.nir"
    nir.write(str(path), graph)
    with pytest.raises(RuntimeError):  # [B, 784] flattened to [B * 784] meets Linear(784)
        run_norse(path, inputs["fashionmnist-mlp"], 5, 1e-3)
