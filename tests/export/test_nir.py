"""NIR export (bna_zoo.export): the mapping of docs/nir.md, round trips and other consumers."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import torch

nir = pytest.importorskip("nir", reason="the nir extra is not installed: pip install '.[nir]'")
pytest.importorskip("nirtorch", reason="the nir extra is not installed: pip install '.[nir]'")

from bna_zoo.bna_model import BNAModel  # noqa: E402
from bna_zoo.export import from_nir, to_nir  # noqa: E402
from bna_zoo.metrics import spike_trace  # noqa: E402

SHIPPED = ["fashionmnist-mlp", "fashionmnist-cnn", "nmnist-cnn"]


@pytest.fixture(scope="module")
def models() -> dict[str, BNAModel]:
    return {name: BNAModel.from_pretrained(name).eval() for name in SHIPPED}


def _inputs(model: BNAModel, n: int = 4) -> torch.Tensor:
    """Realistic inputs: shipped MNIST digits, as normalised images or emulated events."""
    from bna_zoo.data.digits import load_digits

    images, _ = load_digits()
    pick = np.random.default_rng(0).choice(len(images), n, replace=False)
    if model.net.input_kind == "image":
        x = torch.from_numpy(images[pick]).float().unsqueeze(1) / 255
        return (x - 0.1307) / 0.3081
    from bna_zoo.data.emulate import emulate_batch
    from bna_zoo.data.frames import events_to_frames

    recs = emulate_batch(images[pick], [[0, 1, int(i)] for i in pick])
    # the nmnist-cnn entry's binning: 30 binary frames of 3 ms, stabilised, 34x34x2
    return torch.from_numpy(np.stack([
        events_to_frames(r, (34, 34, 2), 30, 3000, True, stabilize=True) for r in recs]))


def _nir_file_round_trip(graph, tmp_path):
    path = tmp_path / "model.nir"
    nir.write(path, graph)
    return nir.read(path)


@pytest.mark.parametrize("name", SHIPPED)
def test_nir_round_trip_reproduces_every_shipped_model(name, models, tmp_path):
    model = models[name]
    imported = from_nir(_nir_file_round_trip(to_nir(model), tmp_path))
    x = _inputs(model)
    with torch.no_grad():
        out, spikes = spike_trace(model.net, x)
        out_nir, spikes_nir = imported.forward_with_trace(x)
    assert sum(s.sum() for s in spikes.values()) > 0
    assert torch.equal(out_nir, out)  # bit for bit, not merely close
    assert list(spikes_nir) == [f"{k}_lif" for k in spikes]
    for k, s in spikes.items():
        assert torch.equal(spikes_nir[f"{k}_lif"], s), k


def test_graph_run_as_written_matches_to_float32_rounding(models):
    # without moving the synapses in front of the weights (what other consumers run), the
    # currents round differently; outputs agree to rounding and spikes all but everywhere
    model = models["nmnist-cnn"]
    x = _inputs(model)
    with torch.no_grad():
        out, spikes = spike_trace(model.net, x)
        out_nir, spikes_nir = from_nir(to_nir(model), filter_first=False).forward_with_trace(x)
    flips = sum(int((spikes_nir[f"{k}_lif"] != s).sum()) for k, s in spikes.items())
    total = sum(s.numel() for s in spikes.values())
    assert flips <= 1e-4 * total
    assert torch.equal(out_nir.sum(1).argmax(-1), out.sum(1).argmax(-1))


def test_export_maps_each_layer_as_the_mapping_table_says(models):
    model = models["nmnist-cnn"]  # tau_m 8, tau_s 4, theta 1; 12C5p1-P2-64C5-P2-D0.2-10
    g = to_nir(model)
    kinds = {k: type(v).__name__ for k, v in g.nodes.items()}
    assert [kinds[b] for _, b in g.edges] == [
        "Conv2d", "CubaLIF", "SumPool2d", "Scale", "Conv2d", "CubaLIF", "SumPool2d", "Scale",
        "Flatten", "Linear", "CubaLIF", "LI", "Output"]  # no node for the dropout
    lif = g.nodes["conv0_lif"]
    assert lif.output_type["output"].tolist() == [12, 32, 32]
    for field, value in {"tau_syn": 4.0, "tau_mem": 8.0, "r": 8.0, "v_leak": 0.0,
                         "v_threshold": 1.0, "v_reset": 0.0, "w_in": 1.0}.items():
        assert np.all(getattr(lif, field) == value), field
    assert np.all(g.nodes["pool1_scale"].scale == np.float32(1.1))
    assert np.all(g.nodes["readout"].tau == 4.0) and np.all(g.nodes["readout"].r == 1.0)
    assert np.array_equal(g.nodes["conv0"].weight, model.net.layers[0].conv.weight.detach().numpy())
    meta = g.metadata["bna_zoo"]
    assert (meta["dt"], meta["n_steps"], meta["input_kind"]) == (1.0, 30, "events")
    # time in seconds: every time constant scales with dt, r = tau_mem / dt does not
    g = to_nir(model, dt=1e-3, fold_scale=True, readout="spikes")
    assert np.allclose(g.nodes["conv0_lif"].tau_mem, 8e-3) and np.all(g.nodes["conv0_lif"].r == 8)
    assert "pool1_scale" not in g.nodes and "readout" not in g.nodes
    w2 = model.net.layers[2].conv.weight.detach().numpy()
    assert np.allclose(g.nodes["conv2"].weight, 1.1 * w2)


def test_static_image_is_held_for_t_steps_by_the_imported_module(models):
    model = models["fashionmnist-mlp"]
    imported = from_nir(to_nir(model))
    x = _inputs(model, 2)
    held = x.unsqueeze(1).expand(-1, model.net.n_steps, -1, -1, -1)
    with torch.no_grad():
        assert torch.equal(imported(x), imported(held))
        assert imported(x).shape == (2, 5, 10)


def _per_sample(step, x: torch.Tensor, n_steps: int, reset) -> torch.Tensor:
    """Run a one-step consumer module sample by sample (see docs/nir.md: their Flatten also
    flattens the batch), holding a static image for T steps; -> output spikes [B, T, ...]."""
    out = []
    for sample in x:
        state = reset()
        zs = []
        for t in range(n_steps):
            xt = sample[t] if x.dim() == 5 else sample
            z, state = step(xt.unsqueeze(0), state)
            zs.append(z.reshape(-1))
        out.append(torch.stack(zs))
    return torch.stack(out)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Norse calls nirtorch.load
@pytest.mark.parametrize("name", ["fashionmnist-mlp", "fashionmnist-cnn"])
def test_norse_runs_an_exported_zoo_model_spike_for_spike(name, models):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        norse = pytest.importorskip("norse.torch", reason="norse is not installed")
    model = models[name]
    # Norse has no Scale or LI node: fold the x1.1 into the weights, read the output spikes
    step = norse.from_nir(to_nir(model, fold_scale=True, readout="spikes"), dt=1.0)
    x = _inputs(model)
    with torch.no_grad():
        ours = spike_trace(model.net, x)[1][model.net.spiking_layers()[-1].name]
        theirs = _per_sample(lambda xt, s: step(xt, s), x, model.net.n_steps, lambda: None)
    assert ours.sum() > 0
    assert torch.equal(theirs, ours)


@pytest.mark.parametrize("name", ["fashionmnist-mlp", "fashionmnist-cnn"])
def test_snntorch_runs_an_exported_zoo_model_spike_for_spike(name, models):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("snntorch", reason="snntorch is not installed")
        from snntorch import utils
        from snntorch.import_nir import import_from_nir
    model = models[name]
    # snnTorch reads time constants in seconds with dt = 1e-4 and rescales the threshold by
    # tau_s instead of the input (it prints a warning saying so)
    with contextlib.redirect_stdout(io.StringIO()):
        net = import_from_nir(to_nir(model, dt=1e-4, fold_scale=True, readout="spikes"))

    def step(xt, state):
        return net(xt)[0], state  # hidden state lives in the modules (init_hidden)

    x = _inputs(model)
    with torch.no_grad():
        ours = spike_trace(model.net, x)[1][model.net.spiking_layers()[-1].name]
        theirs = _per_sample(step, x, model.net.n_steps, lambda: utils.reset(net))
    assert torch.equal(theirs, ours)


def test_bna_zoo_export_writes_a_nir_file_that_loads(tmp_path, models):
    from bna_zoo.cli import main

    out = tmp_path / "mlp.nir"
    main(["export", "fashionmnist-mlp", "--format", "nir", "--out", str(out)])
    model = models["fashionmnist-mlp"]
    x = _inputs(model, 3)
    with torch.no_grad():
        assert torch.equal(from_nir(out)(x), model(x))


def test_bna_zoo_export_to_a_missing_folder_says_which_path_and_what_to_give(tmp_path, capsys):
    from bna_zoo.cli import main

    out = tmp_path / "no-such-folder" / "mlp.nir"
    with pytest.raises(SystemExit) as err:
        main(["export", "fashionmnist-mlp", "--out", str(out)])
    assert err.value.code == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"bna-zoo: error: cannot write the NIR file {out}: ")
    assert "existing, writable folder" in line and "o_flags" not in line
    assert not out.parent.exists()


def test_nir_metadata_carries_the_input_normalisation_and_from_nir_applies_or_warns(tmp_path):
    import warnings

    from bna_zoo import BNAModel
    from bna_zoo.export import from_nir, to_nir

    model = BNAModel.from_pretrained("fashionmnist-mlp")
    path = tmp_path / "m.nir"
    nir.write(str(path), to_nir(model))
    torch.manual_seed(0)
    raw = torch.rand(16, 1, 28, 28)
    spec = model.input_spec
    normalised = (raw - spec.mean[0]) / spec.std[0]
    with torch.no_grad():
        expected = model(normalised).sum(1).argmax(-1)
        applied = from_nir(str(path), raw_input=True)(raw).sum(1).argmax(-1)
        plain = from_nir(str(path))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plain(raw)
    assert torch.equal(applied, expected)
    assert any("raw_input=True" in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # normalised input: no warning
        from_nir(str(path))(normalised)


def test_export_needs_nir_alone_and_from_nir_names_nirtorch_when_missing(tmp_path):
    # a child process where nirtorch cannot be imported, as after `pip install nir` alone
    import subprocess
    import sys

    out = str(tmp_path / "m.nir")
    code = (
        "import sys; sys.modules['nirtorch'] = None\n"
        "from bna_zoo.cli import main\n"
        f"main(['export', 'fashionmnist-mlp', '--format', 'nir', '--out', {out!r}])\n"
        "from bna_zoo.export import from_nir\n"
        "try:\n"
        f"    from_nir({out!r})\n"
        "except ImportError as err:\n"
        "    print('refused:', err)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "m.nir").stat().st_size > 0
    assert "refused: reading a NIR graph back (from_nir) needs the 'nirtorch' package" in run.stdout


def _one_neuron_graph() -> nir.NIRGraph:
    """Input -> CubaLIF (tau_syn 4, tau_mem 8, r = tau_mem, theta 1) -> Output, dt = 1."""
    one = np.ones(1)
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([1])),
               "lif": nir.CubaLIF(tau_syn=4 * one, tau_mem=8 * one, r=8 * one, v_leak=0 * one,
                                  v_threshold=one, v_reset=0 * one, w_in=one),
               "output": nir.Output(output_type=np.array([1]))},
        edges=[("input", "lif"), ("lif", "output")])


def test_membrane_first_euler_fires_one_step_later_than_synapse_first():
    # a constant input of 3: the current after step 0 is 3/4, after step 1 3/4*3/4 + 3/4
    x = torch.full((1, 6, 1), 3.0)
    first = {}
    for scheme in ("euler", "euler-membrane-first"):
        spikes = list(from_nir(_one_neuron_graph(), scheme=scheme).forward_with_trace(x)[1]
                      .values())[0][0, :, 0]
        first[scheme] = int(spikes.nonzero()[0])
    assert first["euler-membrane-first"] == first["euler"] + 1


def test_exponential_scheme_decays_by_exp_of_minus_dt_over_tau():
    from bna_zoo.export.nir_import import LIFStep

    node = _one_neuron_graph().nodes["lif"]
    exact, euler = LIFStep(node, 1.0, "exponential"), LIFStep(node, 1.0)
    assert float(exact.decay_syn) == pytest.approx(np.exp(-1 / 4), rel=1e-7)
    assert float(exact.decay_mem) == pytest.approx(np.exp(-1 / 8), rel=1e-7)
    assert float(euler.decay_syn) == 0.75 and float(euler.decay_mem) == 0.875
    with pytest.raises(ValueError, match="choose one of"):
        from_nir(_one_neuron_graph(), scheme="rk4")
