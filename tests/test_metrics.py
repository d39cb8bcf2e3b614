"""Cost metrics (bna_zoo.metrics) agree with NeuroBench's own metric classes.

NeuroBench hooks the inputs of every ``nn.Linear``/``nn.Conv2d`` and the outputs of every
activation module of a per-step network. Our layers pass PSC traces, so the *equivalent* network
here applies each layer's weights to the previous layer's spikes (the same current, by
linearity: docs/nir.md), with every sum pooling folded into the next layer (a 2x2 sum pool then
a KxK conv is one 2Kx2K conv of stride 2), and replays the spikes our network fired.
"""

from __future__ import annotations

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


class _Replay(nn.Module):
    """An activation module that emits the spikes our network fired at the current step."""

    def __init__(self) -> None:
        super().__init__()
        self.spikes = None

    def forward(self, t: int) -> torch.Tensor:
        return self.spikes[:, t]


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


class _Equivalent(nn.Module):
    """Per-step network on spikes: connection i takes its source's spikes, then replays."""

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
                acts.append(_Replay())
                acts[-1].spikes = self.spikes[m.name]
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


@pytest.mark.parametrize("input_kind", ["events", "image"])
def test_metrics_agree_with_neurobench_on_an_equivalent_network(input_kind):
    nb_workload = pytest.importorskip(
        "neurobench.metrics.workload",
        reason="neurobench is not installed (pip install --no-deps neurobench snntorch)")
    nb_static = pytest.importorskip("neurobench.metrics.static")
    from neurobench.models import TorchModel

    net, x = _network(input_kind), _input(input_kind)
    y = torch.zeros(x.shape[0], dtype=torch.long)
    ours = measure(net, (x, y))
    assert ours["synops_ac"] > 0 and 0 < ours["activation_sparsity"] < 1  # a live network
    assert (ours["synops_mac"] > 0) == (input_kind == "image")

    model = TorchModel(_Equivalent(net, x))
    model.add_activation_module(_Replay)
    model.register_hooks()
    with torch.no_grad():
        preds = model(x)
        ops = nb_workload.SynapticOperations()(model, preds, (x, y))
        sparsity = nb_workload.ActivationSparsity()(model, preds, (x, y))
    assert ours["synops_ac"] == pytest.approx(ops["Effective_ACs"], rel=1e-12)
    assert ours["synops_mac"] == pytest.approx(ops["Effective_MACs"], rel=1e-12)
    assert ours["synops_dense"] == pytest.approx(ops["Dense"], rel=1e-12)
    assert ours["activation_sparsity"] == pytest.approx(sparsity, rel=1e-12)
    assert ours["footprint_bytes"] == nb_static.Footprint()(TorchModel(net))
    assert round(ours["connection_sparsity"], 4) == nb_static.ConnectionSparsity()(TorchModel(net))


def test_synops_counts_each_spike_times_its_nonzero_fanout():
    # one linear layer from the input: spikes x fan-out can be counted by hand
    net = SpikingNetwork("3", (4,), 2, NeuronConfig(), input_kind="events").eval()
    with torch.no_grad():
        net.layers[0].linear.weight.copy_(torch.tensor(
            [[1.0, 0.0, 2.0, 0.0], [1.0, 0.0, 0.0, 0.0], [1.0, 3.0, 0.0, 0.0]]))
    x = torch.tensor([[[1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]]])  # [B=1, T=2, 4]
    metric = SynapticOperations(net)
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
