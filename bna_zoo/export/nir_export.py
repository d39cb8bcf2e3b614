"""Export a :class:`~bna_zoo.models.network.SpikingNetwork` as a NIR graph.

Each spiking layer ``W -> LIF -> PSC`` becomes ``Linear|Conv2d -> CubaLIF`` (see ``docs/nir.md``):
our weights act on the PSC trace, NIR's on spikes, and because the PSC filter is linear the two
are the same network once the filter moves behind the weights, into the ``CubaLIF`` synapse
(``tau_syn = tau_s``). The encoder's PSC filter of the input becomes the first layer's synapse
the same way, so the graph input is the raw per-step input (an image held for T steps).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..models.arch import LayerPlan, plan_layers
from ..models.network import SpikingNetwork
from ..nn import SumPool2d
from ._nir import META_KEY, nir

_READOUTS = ("psc", "spikes")


def _network(model: nn.Module) -> SpikingNetwork:
    net = getattr(model, "net", model)  # a BNAModel wraps its network in .net
    if not isinstance(net, SpikingNetwork):
        raise TypeError(f"to_nir expects a BNAModel or SpikingNetwork, got {type(model).__name__}")
    return net


def _full(shape: tuple[int, ...], value: float) -> np.ndarray:
    # float64: tau * dt and r survive the round trip exactly, so an importer recomputes the
    # very leak factors 1 - 1/tau that the network used.
    return np.full(shape, value, dtype=np.float64)


def _cuba_lif(net: SpikingNetwork, shape: tuple[int, ...], dt: float) -> nir.CubaLIF:
    """The NIR neuron of one spiking layer: Euler with step ``dt`` reproduces our update."""
    n = net.neuron
    return nir.CubaLIF(
        tau_syn=_full(shape, n.tau_s * dt),
        tau_mem=_full(shape, n.tau_m * dt),
        r=_full(shape, n.tau_m),  # r * dt / tau_mem = 1: the membrane adds the whole current
        v_leak=_full(shape, 0.0),
        v_threshold=_full(shape, n.theta),
        v_reset=_full(shape, 0.0),  # hard reset to 0
        w_in=_full(shape, 1.0),  # w_in * dt / tau_syn = 1/tau_s: the PSC filter's input gain
    )


def _weight(module: nn.Module, scale: float) -> np.ndarray:
    w = module.weight.detach().to("cpu", torch.float32)
    if scale != 1.0:
        w = w * scale  # a folded pooling scale
    return w.numpy().copy()


def _linear_as_conv(w: np.ndarray, shape: tuple[int, ...]) -> nir.Conv2d:
    """A linear layer on a ``(C, H, W)`` input as the convolution whose kernel covers it all.

    ``y = W x.flatten()`` equals a ``Conv2d`` with kernel ``W.reshape(out, C, H, W)`` and no
    padding, whose output is ``(out, 1, 1)``: the same sums without a ``Flatten`` node (C-order
    flattening, as torch's). Consumers that turn NIR's ``Flatten(start_dim=0)`` into
    ``torch.nn.Flatten(0)`` flatten the batch too; this form runs batched in every one of them.
    """
    c, h, width = shape
    return nir.Conv2d(input_shape=(h, width), weight=w.reshape(w.shape[0], c, h, width),
                      stride=1, padding=0, dilation=1, groups=1,
                      bias=np.zeros(w.shape[0], np.float32))


class _Chain:
    """The graph under construction: nodes in a line, and the per-step shape at its end."""

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        self.nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array(input_shape))}
        self.edges: list[tuple[str, str]] = []
        self.last, self.shape = "input", tuple(input_shape)

    def add(self, name: str, node: nir.NIRNode, shape: tuple[int, ...]) -> None:
        """Append ``node`` after the last one; ``shape``: its per-step output shape."""
        self.nodes[name] = node
        self.edges.append((self.last, name))
        self.last, self.shape = name, tuple(int(d) for d in shape)


def _conv(chain: _Chain, plan: LayerPlan, conv: nn.Conv2d, w: np.ndarray) -> None:
    bias = np.zeros(w.shape[0], np.float32) if conv.bias is None \
        else conv.bias.detach().cpu().numpy().copy()
    chain.add(plan.name, nir.Conv2d(input_shape=plan.in_shape[1:], weight=w, stride=conv.stride,
                                    padding=conv.padding, dilation=conv.dilation,
                                    groups=conv.groups, bias=bias), plan.out_shape)


def _linear(chain: _Chain, plan: LayerPlan, lin: nn.Linear, w: np.ndarray) -> None:
    if len(plan.in_shape) > 1:  # NIR's dims exclude the batch: flatten from dim 0
        n = int(np.prod(plan.in_shape))
        index = plan.name.removeprefix("linear")
        chain.add(f"flatten{index}", nir.Flatten(input_type=np.array(plan.in_shape),
                                                 start_dim=0), (n,))
    node = nir.Linear(weight=w) if lin.bias is None else \
        nir.Affine(weight=w, bias=lin.bias.detach().cpu().numpy().copy())
    chain.add(plan.name, node, plan.out_shape)


def _pool(chain: _Chain, plan: LayerPlan, pool: SumPool2d, pending: float, fold: bool) -> float:
    """The sum pooling and its x1.1: a ``Scale`` node, or (``fold``) a factor for the next
    layer's weights. Returns the factor still to fold."""
    k = plan.args[0]
    chain.add(plan.name, nir.SumPool2d(kernel_size=np.array([k, k]), stride=np.array([k, k]),
                                       padding=np.array([0, 0])), plan.out_shape)
    if fold:
        return pending * pool.scale
    chain.add(f"{plan.name}_scale",
              nir.Scale(scale=np.full(plan.out_shape, pool.scale, np.float32)), plan.out_shape)
    return 1.0


def to_nir(
    model: nn.Module, *, dt: float = 1.0, fold_scale: bool = False, readout: str = "psc",
    linear_as_conv: bool = False,
) -> nir.NIRGraph:
    """Export a network as a NIR graph (inference only: dropout has no node).

    Args:
        model: a :class:`~bna_zoo.bna_model.BNAModel` or :class:`SpikingNetwork`.
        dt: the duration of one time step in the graph's time unit. Time constants are written
            as ``tau * dt``; ``dt = 1`` measures time in steps. snnTorch's importer assumes
            ``dt = 1e-4`` s.
        fold_scale: multiply the x1.1 of each sum pooling into the next layer's weights instead
            of writing a ``Scale`` node (for consumers without ``Scale``, e.g. Norse and
            snnTorch; equal in exact arithmetic, not bit for bit).
        readout: ``"psc"`` ends with an ``LI`` node that turns the output spikes into the
            output PSC, the model's own output; ``"spikes"`` ends at the output spikes (for
            consumers without ``LI``).
        linear_as_conv: write every linear layer as a ``Conv2d`` (its kernel the whole
            ``(C, H, W)`` input, then 1x1), so the graph has no ``Flatten`` and its per-step
            output is ``(classes, 1, 1)``: batch-safe in consumers whose ``Flatten`` also
            flattens the batch (Norse, snnTorch; docs/nir.md section 4).

    Returns:
        A type-checked ``nir.NIRGraph``. Per-step shapes exclude batch and time; the graph's
        ``metadata["bna_zoo"]`` records ``dt``, ``n_steps``, ``input_kind``, ``readout``, the
        architecture and, for image models, the input normalisation ``input_mean`` and
        ``input_std`` (the graph's input is ``(pixel / 255 - mean) / std``), which
        :func:`~bna_zoo.export.from_nir` reads.
    """
    net = _network(model)
    if readout not in _READOUTS:
        raise ValueError(f"readout must be one of {_READOUTS}, got {readout!r}")
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    chain = _Chain(tuple(net.input_shape))
    pending_scale = 1.0  # a pooling's x1.1 waiting to be folded into the next weights
    for plan, layer in zip(plan_layers(net.config), net.layers, strict=True):
        if plan.kind == "drop":
            continue  # identity at inference
        if plan.kind == "pool":
            pending_scale = _pool(chain, plan, layer, pending_scale, fold_scale)
            continue
        w = _weight(layer.conv if plan.kind == "conv" else layer.linear, pending_scale)
        if plan.kind == "conv":
            _conv(chain, plan, layer.conv, w)
        elif linear_as_conv and len(chain.shape) == 3:  # after a conv, or (n, 1, 1) already
            if layer.linear.bias is not None:
                raise ValueError(f"linear_as_conv: layer {plan.name} has a bias; export it with "
                                 "linear_as_conv=False")
            chain.add(plan.name, _linear_as_conv(w, chain.shape), (w.shape[0], 1, 1))
        else:
            _linear(chain, plan, layer.linear, w)
        chain.add(f"{plan.name}_lif", _cuba_lif(net, chain.shape, dt), chain.shape)
        pending_scale = 1.0
    shape = chain.shape
    if readout == "psc":
        # the output layer's PSC, a[t] = (1 - 1/tau_s) a[t-1] + s[t]/tau_s, is NIR's leaky
        # integrator with tau = tau_s and r = 1 under the same Euler step
        chain.add("readout", nir.LI(tau=_full(shape, net.neuron.tau_s * dt),
                                    r=_full(shape, 1.0), v_leak=_full(shape, 0.0)), shape)
    nodes, edges = chain.nodes, chain.edges
    nodes["output"] = nir.Output(output_type=np.array(shape))
    edges.append((chain.last, "output"))
    meta = {
        "version": __version__, "dt": float(dt), "n_steps": int(net.n_steps),
        "input_kind": net.input_kind, "input_shape": np.array(net.input_shape),
        "readout": readout, "arch": net.arch, "fold_scale": int(fold_scale),
        "linear_as_conv": int(linear_as_conv),
    }
    # the input normalisation the weights were trained with: the graph's input is the
    # normalised image, (pixel / 255 - mean) / std per channel, which a consumer must apply
    spec = getattr(model, "input_spec", None)
    if spec is not None and spec.mean is not None:
        meta["input_mean"] = np.array(spec.mean, dtype=np.float64)
        meta["input_std"] = np.array(spec.std, dtype=np.float64)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={META_KEY: meta})
