"""The synapses of a :class:`~bna_zoo.models.network.SpikingNetwork`, as an event sees them.

A spiking layer's input current is ``W(pool(a))`` with ``a`` the previous layer's PSC trace. The
PSC filter is linear and acts per neuron, so ``W(pool(a)) = filter(W(pool(s)))``: the same
current comes from applying the pooling and the weights to the *spikes* ``s`` and filtering
afterwards, which is the network as built for event-driven hardware, its NIR graph
(``docs/nir.md``): spikes -> ``SumPool2d`` -> ``Scale`` 1.1 -> ``Conv2d``/``Linear`` ->
``CubaLIF``. Every non-zero value a conv/linear layer receives then costs one operation per
non-zero synapse it reaches: its *fan-out*.

Two countings (``docs/metrics.md``):

- ``"neurobench"`` (the network as built, NeuroBench's own counting of it): a sum pool is a layer
  of its own, without synapses. The conv/linear layer after it receives the pooled, scaled
  values, so a fan-out is the layer's own, over its own input; a pooling window counts once
  however many spikes it holds.
- ``"folded"``: every pooling, x1.1 and dropout before a layer is folded into it (a 2x2 sum pool
  then a KxK conv is one 2Kx2K conv of stride 2), so a fan-out is over the unpooled spikes and
  every spike counts through the folded kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from ..models.arch import plan_layers
from ..models.network import SpikingNetwork
from ..nn import SpikingConv2d, SpikingLinear, SumPool2d

#: how synaptic operations are counted: see the module docstring
Counting = Literal["neurobench", "folded"]
COUNTINGS: tuple[str, ...] = get_args(Counting)


def check_counting(counting: object) -> Counting:
    """``counting`` itself when it names a counting.

    Raises:
        ValueError: anything but one of :data:`COUNTINGS`.
    """
    if counting not in COUNTINGS:
        raise ValueError(f"counting must be one of {COUNTINGS}, got {counting!r}")
    return counting  # type: ignore[return-value]


@dataclass
class Connection:
    """The linear map from one neuron layer (or the input) to the next spiking layer.

    Attributes:
        target: name of the receiving spiking layer (``"conv2"``).
        source: name of the sending spiking layer, or ``None`` for the network input.
        counting: ``"neurobench"`` or ``"folded"`` (module docstring).
        pools: the sum poolings between ``source`` and ``target``, in order. Counted as built,
            the target layer receives their output; folded, they are part of ``fanout``.
        fanout: ``[*shape]``, the number of non-zero synapses that each value the connection
            counts reaches (NeuroBench's operations per non-zero input): ``shape`` is the
            target layer's input shape as built (after the pools), the source's shape folded.
        fanout_dense: ``[*shape]``, the same counting zero weights too (NeuroBench's ``Dense``).
    """

    target: str
    source: str | None
    counting: Counting
    pools: tuple[SumPool2d, ...]
    fanout: torch.Tensor
    fanout_dense: torch.Tensor

    def counted_input(self, x: torch.Tensor) -> torch.Tensor:
        """The values whose non-zero entries cost ``fanout`` operations each.

        Args:
            x: what the source sends, ``[B, T, *source_shape]`` (spikes, or the input).

        Returns:
            ``[B, T, *shape]``: as built, the pooled and scaled values the target layer's
            weights receive (computed by the network's own pooling modules, so their values,
            not only their zeros, are the network's); folded, ``x`` itself.
        """
        if self.counting == "folded":
            return x
        for pool in self.pools:
            x = pool(x)
        return x


def _weights(weight: torch.Tensor, binary: bool) -> torch.Tensor:
    w = weight.detach().to("cpu", torch.float64)
    return (w != 0).to(torch.float64) if binary else torch.ones_like(w)


def _path_counts(layers: list[nn.Module], x: torch.Tensor, binary: bool) -> torch.Tensor:
    """Apply ``layers`` to ``x [N, *shape]`` with every weight replaced by 1 where it is non-zero
    (``binary``) or everywhere, and sum pooling without its scale: the result counts the
    synapses (paths) from each input to each output."""
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


def _fanout(layers: list[nn.Module], shape: tuple[int, ...], binary: bool) -> torch.Tensor:
    """``[*shape]``: for each input, the number of (non-zero, if ``binary``) paths through
    ``layers`` to any output."""
    # fan-out = M^T 1 for the path-count matrix M: the gradient of sum(M x), at any x
    x = torch.zeros(1, *shape, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(_path_counts(layers, x, binary).sum(), x)
    return grad[0].round().to(torch.float32)


def connections(net: SpikingNetwork, counting: Counting = "neurobench") -> list[Connection]:
    """Every connection of ``net`` in order, with its per-input fan-out.

    Args:
        net: the network (its weights are read once, on the CPU, in float64).
        counting: ``"neurobench"`` (the network as built) or ``"folded"``.

    Returns:
        One :class:`Connection` per spiking (conv/linear) layer.
    """
    counting = check_counting(counting)
    out: list[Connection] = []
    source, shape, between = None, tuple(net.input_shape), []
    with torch.enable_grad():
        # the plan gives each layer's kind and shapes (models/arch.py): no dispatch on modules
        for plan, layer in zip(plan_layers(net.config), net.layers, strict=True):
            between.append(layer)
            if plan.kind not in ("conv", "linear"):
                continue
            pools = tuple(m for m in between if isinstance(m, SumPool2d))
            # folded: the whole path from the source; as built: the layer alone, on its input
            counted = between if counting == "folded" else [layer]
            counted_shape = shape if counting == "folded" else plan.in_shape
            out.append(Connection(layer.name, source, counting, pools,
                                  _fanout(counted, counted_shape, binary=True),
                                  _fanout(counted, counted_shape, binary=False)))
            source, shape, between = layer.name, plan.out_shape, []
    return out
