"""The synapses of a :class:`~bna_zoo.models.network.SpikingNetwork`, as seen by a spike.

A spiking layer's input current is ``W(pool(a))`` with ``a`` the previous layer's PSC trace. The
PSC filter is linear and acts per neuron, so ``W(pool(a)) = filter(W(pool(s)))``: the same
current comes from applying the weights to the *spikes* ``s`` and filtering afterwards (the NIR
export's ``CubaLIF`` synapse, ``docs/nir.md``). On an event-driven processor every spike is then
delivered to each non-zero synapse it reaches, one accumulate each: its *fan-out* through the
linear map between the two neuron layers (sum pooling, x1.1, dropout at inference and the
conv/linear weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.network import SpikingNetwork
from ..nn import SpikingConv2d, SpikingLinear, SumPool2d


@dataclass
class Connection:
    """The linear map from one neuron layer (or the input) to the next spiking layer.

    Attributes:
        target: name of the receiving spiking layer (``"conv0"``).
        source: name of the sending spiking layer, or ``None`` for the network input.
        fanout: ``[*source_shape]``, the number of non-zero synapses each source neuron reaches
            (NeuroBench's effective operations per non-zero input).
        fanout_dense: ``[*source_shape]``, the same counting zero weights too (NeuroBench's
            ``Dense``).
    """

    target: str
    source: str | None
    fanout: torch.Tensor
    fanout_dense: torch.Tensor


def _weights(weight: torch.Tensor, binary: bool) -> torch.Tensor:
    w = weight.detach().to("cpu", torch.float64)
    return (w != 0).to(torch.float64) if binary else torch.ones_like(w)


def _path_counts(layers: list, x: torch.Tensor, binary: bool) -> torch.Tensor:
    """Apply the connection ``[N, *source] -> [N, *target]`` with every weight replaced by 1
    where it is non-zero (``binary``) or everywhere, and sum pooling without its scale: the
    result counts the synapses (paths) from each input to each output."""
    for layer in layers:
        if isinstance(layer, SumPool2d):
            k = layer.kernel_size
            x = F.avg_pool2d(x, k) * (k * k)
        elif isinstance(layer, SpikingConv2d):
            c = layer.conv
            x = F.conv2d(x, _weights(c.weight, binary), None, c.stride, c.padding, c.dilation,
                         c.groups)
        elif isinstance(layer, SpikingLinear):
            x = F.linear(x.flatten(1), _weights(layer.linear.weight, binary))
        # dropout is the identity at inference; no other layer has synapses
    return x


def _fanout(layers: list, shape: tuple[int, ...], binary: bool) -> tuple[torch.Tensor, tuple]:
    # fan-out = M^T 1 for the path-count matrix M: the gradient of sum(M x), at any x
    x = torch.zeros(1, *shape, dtype=torch.float64, requires_grad=True)
    y = _path_counts(layers, x, binary)
    (grad,) = torch.autograd.grad(y.sum(), x)
    return grad[0].round().to(torch.float32), tuple(y.shape[1:])


def connections(net: SpikingNetwork) -> list[Connection]:
    """Every connection of ``net`` in order, with its per-neuron fan-out.

    Args:
        net: the network (its weights are read once, on the CPU, in float64).

    Returns:
        One :class:`Connection` per spiking (conv/linear) layer.
    """
    out: list[Connection] = []
    source, shape, between = None, tuple(net.input_shape), []
    with torch.enable_grad():
        for layer in net.layers:
            between.append(layer)
            if isinstance(layer, (SpikingConv2d, SpikingLinear)):
                fan, target_shape = _fanout(between, shape, binary=True)
                dense, _ = _fanout(between, shape, binary=False)
                out.append(Connection(layer.name, source, fan, dense))
                source, shape, between = layer.name, target_shape, []
    return out
