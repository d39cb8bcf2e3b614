"""Cost metrics (bna_zoo.metrics) agree with NeuroBench's own metric classes.

NeuroBench hooks the inputs of every ``nn.Linear``/``nn.Conv2d`` and the outputs of every
activation module of a per-step network. Our layers pass PSC traces; the network *as built*
(its NIR graph, docs/nir.md) applies each layer's weights to the previous layer's spikes instead
(the same current, by linearity), with each sum pooling a layer of its own: spikes -> SumPool2d
-> x1.1 -> Conv2d/Linear -> neuron. The default counting (``"neurobench"``) must be what
NeuroBench reports on that network: here run on our own modules step by step, replaying the
spikes our network fired, and on the NIR graph as written. The ``"folded"`` counting must be
what NeuroBench reports with every sum pooling folded into the next layer (a 2x2 sum pool then a
KxK conv is one 2Kx2K conv of stride 2), the count bna_zoo used before.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchmetrics.utilities.data import dim_zero_sum

from bna_zoo.metrics import (
    ActivationSparsity,
    SynapticOperations,
    connection_sparsity,
    footprint,
    measure,
    spike_trace,
)
from bna_zoo.models.network import SpikingNetwork
from bna_zoo.nn import NeuronConfig, SpikingConv2d, SpikingLinear, SumPool2d

ARCH = "6C3p1-P2-8C3-P2-D0.2-16-5"  # conv, pool into conv, pool into linear, dropout, output


def _network(input_kind: str, seed: int = 0) -> SpikingNetwork:
    torch.manual_seed(seed)
    net = SpikingNetwork(ARCH, (2, 12, 12), 6, NeuronConfig(tau_m=5.0, tau_s=2.0),
                         conv_weight_scale=4.0, input_kind=input_kind).eval()
    with torch.no_grad():  # a quarter of the synapses pruned: fan-outs must skip them
        for p in net.parameters():
            p.mul_((torch.rand_like(p) > 0.25).float())
    return net


def _input(input_kind: str, batch: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    if input_kind == "image":
        return torch.randn(batch, 2, 12, 12, generator=g)  # analog: MACs in the first layer
    return (torch.rand(batch, 6, 2, 12, 12, generator=g) < 0.3).float()  # events: ACs


def _neurobench():
    """NeuroBench's workload and static metrics and its ``TorchModel`` (skip without it)."""
    workload = pytest.importorskip(
        "neurobench.metrics.workload",
        reason="neurobench is not installed (pip install --no-deps neurobench snntorch)")
    static = pytest.importorskip("neurobench.metrics.static")
    from neurobench.models import TorchModel

    return workload, static, TorchModel


class _Replay(nn.Module):
    """An activation module that emits the spikes our network fired at the current step."""

    def __init__(self, spikes: torch.Tensor) -> None:
        super().__init__()
        self.spikes = spikes

    def forward(self, t: int) -> torch.Tensor:
        return self.spikes[:, t]


class _AsBuilt(nn.Module):
    """Our network per step as built, on our own modules: at each step every connection takes
    its source's spikes (or the input), runs them through our ``SumPool2d`` modules (sum, x1.1)
    and our layer's own ``nn.Conv2d``/``nn.Linear``, then replays the spikes that layer fired."""

    def __init__(self, net: SpikingNetwork, x: torch.Tensor) -> None:
        super().__init__()
        _, self.spikes = spike_trace(net, x)  # before NeuroBench hooks our layers
        self.static = x.dim() == 1 + len(net.input_shape)
        self.n_steps = net.n_steps
        self.net = net  # NeuroBench finds the conv/linear layers inside our layers
        self.paths, pools, source = [], [], None
        replays = []
        for m in net.layers:
            if isinstance(m, SumPool2d):
                pools.append(m)
            elif isinstance(m, (SpikingConv2d, SpikingLinear)):
                replays.append(_Replay(self.spikes[m.name]))
                self.paths.append((source, pools, m, replays[-1]))
                source, pools = m.name, []
        self.replays = nn.ModuleList(replays)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for t in range(self.n_steps):
            for source, pools, layer, replay in self.paths:
                h = (x if self.static else x[:, t]) if source is None else \
                    self.spikes[source][:, t]
                for pool in pools:  # our pooling module, on a one-step sequence
                    h = pool(h.unsqueeze(1))[:, 0]
                if isinstance(layer, SpikingConv2d):
                    layer.conv(h)
                else:
                    layer.linear(h.flatten(1))
                out = replay(t)
        return out


def _fold(layers: list[nn.Module], in_shape: tuple[int, ...]) -> nn.Module:
    """The per-step connection ``pool* -> conv|linear`` on spikes as one torch layer."""
    *pools, layer = [m for m in layers if isinstance(m, (SumPool2d, SpikingConv2d, SpikingLinear))]
    f = 2 ** len(pools)  # every pool here is 2x2, sizes divisible by 2
    for p in pools:
        assert p.kernel_size == 2
    if isinstance(layer, SpikingConv2d):
        c = layer.conv
        out = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size[0] * f, stride=f,
                        padding=c.padding[0] * f, bias=False)
        w = c.weight.repeat_interleave(f, 2).repeat_interleave(f, 3)
    else:
        lin = layer.linear
        out = nn.Linear(int(torch.tensor(in_shape).prod()), lin.out_features, bias=False)
        w = lin.weight
        if pools:
            c, h, wd = in_shape
            w = w.view(-1, c, h // f, wd // f).repeat_interleave(f, 2).repeat_interleave(f, 3)
        w = w.reshape(lin.out_features, -1)
    with torch.no_grad():
        out.weight.copy_(w)  # x1.1 left out: it changes no count
    return out


class _Folded(nn.Module):
    """Per-step network on spikes with every pooling folded into the next layer: connection i
    takes its source's spikes, then replays."""

    def __init__(self, net: SpikingNetwork, x: torch.Tensor) -> None:
        super().__init__()
        _, self.spikes = spike_trace(net, x)
        self.static = x.dim() == 4
        self.n_steps = net.n_steps
        shapes = {None: tuple(net.input_shape)} | {k: tuple(v.shape[2:]) for k, v in
                                                    self.spikes.items()}
        conns, acts, self.sources, between, source = [], [], [], [], None
        for m in net.layers:
            between.append(m)
            if isinstance(m, (SpikingConv2d, SpikingLinear)):
                conns.append(_fold(between, shapes[source]))
                acts.append(_Replay(self.spikes[m.name]))
                self.sources.append(source)
                source, between = m.name, []
        self.conns, self.acts = nn.ModuleList(conns), nn.ModuleList(acts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for t in range(self.n_steps):
            for conn, act, source in zip(self.conns, self.acts, self.sources, strict=True):
                inp = (x if self.static else x[:, t]) if source is None else \
                    self.spikes[source][:, t]
                conn(inp.flatten(1) if isinstance(conn, nn.Linear) else inp)
                out.append(act(t))
        return out[-1]


def _neurobench_counts(network: nn.Module, x: torch.Tensor, activations: bool = True) -> dict:
    """NeuroBench's ``SynapticOperations`` (and ``ActivationSparsity``, over every ``_Replay``)
    on a per-step ``network`` fed ``x``."""
    workload, _, TorchModel = _neurobench()
    model = TorchModel(network)
    if activations:
        model.add_activation_module(_Replay)  # NeuroBench sees no neuron of ours without it
    model.register_hooks()
    y = torch.zeros(x.shape[0], dtype=torch.long)
    with torch.no_grad():
        preds = model(x)
        counts = dict(workload.SynapticOperations()(model, preds, (x, y)))
        if activations:
            counts["sparsity"] = workload.ActivationSparsity()(model, preds, (x, y))
    model.cleanup_hooks()
    return counts


@pytest.mark.parametrize("input_kind", ["events", "image"])
def test_default_metrics_are_neurobenchs_on_the_network_as_built(input_kind):
    _, nb_static, TorchModel = _neurobench()
    net, x = _network(input_kind), _input(input_kind)
    ours = measure(net, (x, torch.zeros(x.shape[0], dtype=torch.long)))  # the default counting
    # as built, the layers after a pool (conv2, linear5) receive pooled spikes x1.1: MACs;
    # the output layer receives spikes: ACs; the first layer ACs on events, MACs on an image
    layer = {k.split("/")[1]: v for k, v in ours.items() if k.startswith("synops/")}
    assert all(v > 0 for v in layer.values()) and 0 < ours["activation_sparsity"] < 1
    macs = layer["conv2"] + layer["linear5"] + (layer["conv0"] if input_kind == "image" else 0)
    assert ours["synops_mac"] == macs
    assert ours["synops_ac"] == ours["synops"] - macs

    nb = _neurobench_counts(_AsBuilt(net, x), x)
    assert ours["synops_ac"] == pytest.approx(nb["Effective_ACs"], rel=1e-12)
    assert ours["synops_mac"] == pytest.approx(nb["Effective_MACs"], rel=1e-12)
    assert ours["synops_dense"] == pytest.approx(nb["Dense"], rel=1e-12)
    assert ours["activation_sparsity"] == pytest.approx(nb["sparsity"], rel=1e-12)
    assert ours["footprint_bytes"] == nb_static.Footprint()(TorchModel(net))
    assert round(ours["connection_sparsity"], 4) == nb_static.ConnectionSparsity()(TorchModel(net))


def _count_on(net: SpikingNetwork, x: torch.Tensor, spikes: dict[str, torch.Tensor],
              counting: str = "neurobench") -> dict[str, float]:
    metric = SynapticOperations(net, counting)
    metric.update(x, spikes)
    return {k: v.item() for k, v in metric.compute().items()}


def _digits(model, n: int) -> torch.Tensor:
    """``n`` shipped MNIST digits (seeded pick) as the model's input: normalised images, or
    N-MNIST-style event frames emulated from them with the model's binning."""
    from bna_zoo.data.digits import load_digits

    images, _ = load_digits()
    pick = np.random.default_rng(0).choice(len(images), n, replace=False)
    if model.net.input_kind == "image":
        x = torch.from_numpy(images[pick]).float().unsqueeze(1) / 255
        return (x - 0.1307) / 0.3081
    from bna_zoo.data.emulate import emulate_batch
    from bna_zoo.data.frames import events_to_frames

    recs = emulate_batch(images[pick], [[0, 1, int(i)] for i in pick])
    return torch.from_numpy(np.stack([  # nmnist-cnn's binning: 30 binary frames of 3 ms
        events_to_frames(r, (34, 34, 2), 30, 3000, True, stabilize=True) for r in recs]))


@pytest.mark.parametrize("name", ["tiny-events", "tiny-image", "fashionmnist-cnn", "nmnist-cnn"])
def test_default_synops_are_neurobenchs_on_the_nir_graph_as_written(name):
    # NeuroBench run on the graph as other NIR consumers run it (each CubaLIF's synapse after
    # its Conv2d/Linear, SumPool2d and Scale nodes of their own), compared with our count of
    # the very spikes that graph fired (it may differ from our network's by a rounding flip)
    pytest.importorskip("nirtorch", reason="the nir extra is not installed: pip install '.[nir]'")
    from bna_zoo.export import from_nir, to_nir

    if name.startswith("tiny"):
        kind = name.split("-")[1]
        net, x = _network(kind), _input(kind, batch=4)
    else:
        from bna_zoo.bna_model import BNAModel

        net = BNAModel.from_pretrained(name).net
        # one sample: NeuroBench sums each call's count in float32, exact only below 2^24
        x = _digits(BNAModel.from_pretrained(name), 1)
    graph = from_nir(to_nir(net), filter_first=False)
    with torch.no_grad():
        _, nir_spikes = graph.forward_with_trace(x)
    spikes = {k.removesuffix("_lif"): v for k, v in nir_spikes.items()}
    assert sum(int(s.sum()) for s in spikes.values()) > 0

    nb = _neurobench_counts(graph, x, activations=False)
    ours = _count_on(net, x, spikes)
    assert ours["synops_mac"] > 0 and nb["Effective_MACs"] > 0  # the pooled layers' inputs
    assert ours["synops_ac"] == pytest.approx(nb["Effective_ACs"], rel=1e-12)
    assert ours["synops_mac"] == pytest.approx(nb["Effective_MACs"], rel=1e-12)
    assert ours["synops_dense"] == pytest.approx(nb["Dense"], rel=1e-12)


@pytest.mark.parametrize("input_kind", ["events", "image"])
def test_folded_metrics_agree_with_neurobench_on_the_folded_network(input_kind):
    _, nb_static, TorchModel = _neurobench()
    net, x = _network(input_kind), _input(input_kind)
    ours = measure(net, (x, torch.zeros(x.shape[0], dtype=torch.long)), counting="folded")
    assert ours["synops_ac"] > 0 and 0 < ours["activation_sparsity"] < 1  # a live network
    assert (ours["synops_mac"] > 0) == (input_kind == "image")  # spikes stay spikes, folded

    nb = _neurobench_counts(_Folded(net, x), x)
    assert ours["synops_ac"] == pytest.approx(nb["Effective_ACs"], rel=1e-12)
    assert ours["synops_mac"] == pytest.approx(nb["Effective_MACs"], rel=1e-12)
    assert ours["synops_dense"] == pytest.approx(nb["Dense"], rel=1e-12)
    assert ours["activation_sparsity"] == pytest.approx(nb["sparsity"], rel=1e-12)
    assert ours["footprint_bytes"] == nb_static.Footprint()(TorchModel(net))
    assert round(ours["connection_sparsity"], 4) == nb_static.ConnectionSparsity()(TorchModel(net))


# measure(net, x) of the counting before NeuroBench's became the default (commit 1a5ea97)
_FOLDED_BEFORE = {
    "image": {"synops_ac": 44817.125, "synops_mac": 65544.0, "synops_dense": 261888.0,
              "synops/conv0": 65544.0, "synops/conv2": 41639.125, "synops/linear5": 3075.375,
              "synops/linear6": 102.625, "activation_sparsity": 0.6818443566962817},
    "events": {"synops_ac": 30296.5, "synops_mac": 0.0, "synops_dense": 261888.0,
               "synops/conv0": 19633.25, "synops/conv2": 9242.25, "synops/linear5": 1326.25,
               "synops/linear6": 94.75, "activation_sparsity": 0.918209114840408},
}


@pytest.mark.parametrize("input_kind", ["events", "image"])
def test_folded_counting_gives_the_numbers_counted_before(input_kind):
    net, x = _network(input_kind), _input(input_kind)
    folded = measure(net, x, counting="folded")
    assert {k: folded[k] for k in _FOLDED_BEFORE[input_kind]} == _FOLDED_BEFORE[input_kind]
    as_built = measure(net, x)
    # the layer fed by the input and the output layer (fed by spikes, no pool) count alike;
    # a layer after a pool counts fewer operations as built, and over fewer synapses
    assert as_built["synops/conv0"] == folded["synops/conv0"]
    assert as_built["synops/linear6"] == folded["synops/linear6"]
    assert as_built["synops/conv2"] < folded["synops/conv2"]
    assert as_built["synops/linear5"] < folded["synops/linear5"]
    assert as_built["synops_dense"] < folded["synops_dense"]


def test_as_built_a_pooling_window_costs_one_fanout_in_macs():
    # events through a 2x2 sum pool into a linear layer: the pooled value of one window
    # (1.1 per spike) reaches the 2 non-zero synapses of that window's one input
    net = SpikingNetwork("P2-3", (1, 2, 2), 2, NeuronConfig(), input_kind="events").eval()
    with torch.no_grad():
        net.layers[1].linear.weight.copy_(torch.tensor([[1.0], [0.0], [2.0]]))
    x = torch.zeros(1, 2, 1, 2, 2)  # [B=1, T=2, C=1, 2, 2]
    x[0, 0, 0, 0, :] = 1.0  # step 0: two events in the window
    x[0, 1, 0, 1, 1] = 1.0  # step 1: one event
    spikes = spike_trace(net, x)[1]
    as_built = _count_on(net, x, spikes)
    assert as_built["synops_mac"] == 2 + 2 and as_built["synops_ac"] == 0  # 2.2, then 1.1
    assert as_built["synops_dense"] == 2 * 3  # one input, 3 synapses, 2 steps
    folded = _count_on(net, x, spikes, "folded")
    assert folded["synops_ac"] == 3 * 2 and folded["synops_mac"] == 0  # every event, 2 each
    assert folded["synops_dense"] == 2 * 4 * 3  # 4 unpooled inputs, 3 synapses each


def test_an_unknown_counting_is_refused_with_the_choices():
    net = _network("events")
    with pytest.raises(ValueError, match="'neurobench', 'folded'"):
        SynapticOperations(net, counting="as-built")
    with pytest.raises(ValueError, match="counting must be one of"):
        measure(net, _input("events"), counting="NeuroBench")


def test_synops_counts_each_spike_times_its_nonzero_fanout():
    # one linear layer from the input: spikes x fan-out can be counted by hand
    net = SpikingNetwork("3", (4,), 2, NeuronConfig(), input_kind="events").eval()
    with torch.no_grad():
        net.layers[0].linear.weight.copy_(torch.tensor(
            [[1.0, 0.0, 2.0, 0.0], [1.0, 0.0, 0.0, 0.0], [1.0, 3.0, 0.0, 0.0]]))
    x = torch.tensor([[[1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]]])  # [B=1, T=2, 4]
    for counting in ("neurobench", "folded"):  # no pool: the two countings agree
        metric = SynapticOperations(net, counting)
        metric.update(x, spike_trace(net, x)[1])
        # fan-outs (3, 1, 1, 0): step 0 -> 3 + 1 + 0, step 1 -> 3 + 1
        assert metric.compute()["synops_ac"].item() == 8
        assert metric.compute()["synops_dense"].item() == 2 * 12


def test_metric_states_are_summed_across_processes():
    # DDP reduces every state with its dist_reduce_fx before compute(): two halves of a batch,
    # merged as the reduction would, give the numbers of the whole batch
    net, x = _network("events"), _input("events")
    whole, halves = SynapticOperations(net), [SynapticOperations(net) for _ in range(2)]
    sparse_whole, sparse_halves = ActivationSparsity(), [ActivationSparsity() for _ in range(2)]
    whole.update(x, spike_trace(net, x)[1])
    sparse_whole.update(spike_trace(net, x)[1])
    for i, part in enumerate(x.chunk(2)):
        halves[i].update(part, spike_trace(net, part)[1])
        sparse_halves[i].update(spike_trace(net, part)[1])
    for metric in (*halves, *sparse_halves):
        assert all(fx is dim_zero_sum for fx in metric._reductions.values())
    halves[0].merge_state(halves[1])
    sparse_halves[0].merge_state(sparse_halves[1])
    assert {k: v.item() for k, v in halves[0].compute().items()} == \
        {k: v.item() for k, v in whole.compute().items()}
    assert sparse_halves[0].compute().item() == sparse_whole.compute().item()


def test_static_metrics_count_bytes_and_zero_weights():
    net = _network("image")
    weights = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert footprint(net) == 4 * sum(w.numel() for w in weights)  # float32, no buffers
    zeros = sum(int((w == 0).sum()) for w in weights)
    assert connection_sparsity(net) == zeros / sum(w.numel() for w in weights)
