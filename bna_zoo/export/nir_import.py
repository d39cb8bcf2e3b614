"""Run a NIR graph as a torch module: :func:`from_nir`.

nirtorch's ``nir_to_torch`` wires the graph; this module supplies the per-node torch modules
(:func:`_node_map`) with NIR's semantics discretised by the Euler step of ``docs/nir.md`` (the one
our own LIF update is), and :class:`NIRModule` runs the resulting one-step module over T steps
with the model's own input and output layout.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import nir_rewrite
from ._nir import META_KEY, nir, require_nirtorch


def _t(a: Any) -> torch.Tensor:
    # parameters as float32, the network's dtype, computed from float64 arrays so that e.g.
    # 1 - dt/tau rounds once, exactly as the Python-float leak factor of the zoo's own LIF;
    # a value shared by every neuron becomes a 0-dim tensor (cheaper to broadcast)
    a = np.asarray(a, dtype=np.float64)
    if a.size and np.all(a == a.flat[0]):
        a = np.asarray(a.flat[0])
    return torch.as_tensor(a).float()


#: How a backend may discretise NIR's continuous equations (docs/nir.md §1, "Discretisation"):
#: ``euler`` is the zoo's own update; the other two are what backends choose instead, offered to
#: measure what that choice does to a zoo network.
SCHEMES = ("euler", "euler-membrane-first", "exponential")


def _euler(tau: Any, dt: float, scheme: str = "euler") -> np.ndarray:
    """The per-step gain ``k`` of a leak ``tau``: the decay is ``1 - k``.

    Euler: ``k = dt/tau``. ``exponential`` (the exact solution for an input held constant over
    the step, as backends with exact decay integrate): ``k = 1 - exp(-dt/tau)``.
    """
    k = np.float64(dt) / np.asarray(tau, dtype=np.float64)
    return -np.expm1(-k) if scheme == "exponential" else k


def _divisor(gain: Any) -> np.ndarray:
    # x / (1/gain) instead of x * gain: rounds as the zoo's x / tau_s (a zero gain gives inf)
    with np.errstate(divide="ignore"):
        return 1.0 / np.asarray(gain, dtype=np.float64)


class LIFStep(nn.Module):
    """One Euler step (``dt``) of NIR's ``CubaLIF`` (synapse first, see ``docs/nir.md``) or,
    for a ``LIF`` node, of its membrane alone (``i = x``)::

        i[t] = (1 - dt/tau_syn) i[t-1] + x[t] / (tau_syn / (w_in dt))
        v[t] = (1 - dt/tau_mem) v'[t-1] + (r dt/tau_mem) i[t] + (dt/tau_mem) v_leak
        z[t] = v[t] > v_threshold;   v'[t] = v_reset where z[t] else v[t]

    The input gain is a division, as in the zoo's encoder (``x / tau_s``), so that a filtered
    analog input rounds as there. State: ``(i, v', z)``, each ``[B, *shape]``; ``z`` is kept so
    that traces can read the spikes. ``scheme`` (one of :data:`SCHEMES`): ``euler-membrane-first``
    updates the membrane with the previous step's current ``i[t-1]``; ``exponential`` replaces
    each ``dt/tau`` by ``1 - exp(-dt/tau)``.
    """

    def __init__(self, node: nir.CubaLIF | nir.LIF, dt: float, scheme: str = "euler") -> None:
        super().__init__()
        self.synapse = isinstance(node, nir.CubaLIF)
        self.membrane_first = scheme == "euler-membrane-first"
        if self.synapse:
            k_syn = _euler(node.tau_syn, dt, scheme)
            self.register_buffer("decay_syn", _t(1.0 - k_syn))
            self.register_buffer("div_in", _t(_divisor(k_syn * node.w_in)))
        k_mem = _euler(node.tau_mem if self.synapse else node.tau, dt, scheme)
        self.register_buffer("decay_mem", _t(1.0 - k_mem))
        self.register_buffer("gain_mem", _t(np.asarray(node.r) * k_mem))
        self.register_buffer("leak", _t(np.asarray(node.v_leak) * k_mem))
        self.register_buffer("v_threshold", _t(node.v_threshold))
        self.register_buffer("v_reset", _t(node.v_reset))

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """``x [B, *shape]`` (one step of weighted input) -> spikes ``z``, new state."""
        if state is None:
            i = v = torch.zeros_like(x)
        else:
            i, v, _ = state
        i_new = i * self.decay_syn + x / self.div_in if self.synapse else x
        # membrane first: the current reaches the membrane one step late (a delay per layer)
        i_mem = i if self.membrane_first and self.synapse else i_new
        i = i_new
        v = v * self.decay_mem + i_mem * self.gain_mem + self.leak
        z = (v > self.v_threshold).to(x.dtype)  # strict, as NIR and the zoo's LIF
        v = v * (1.0 - z) + z * self.v_reset
        return z, (i, v, z)


class LIStep(nn.Module):
    """One Euler step of NIR's ``LI``: ``v[t] = (1 - dt/tau) v[t-1] + x[t] / (tau/(r dt)) +
    (dt/tau) v_leak``. With ``tau = tau_s, r = 1`` it is the zoo's PSC filter (the output).
    """

    def __init__(self, node: nir.LI, dt: float, scheme: str = "euler") -> None:
        super().__init__()
        k = _euler(node.tau, dt, scheme)
        self.register_buffer("decay", _t(1.0 - k))
        self.register_buffer("div_in", _t(_divisor(np.asarray(node.r) * k)))
        self.register_buffer("leak", _t(np.asarray(node.v_leak) * k))

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, *shape]`` -> ``v [B, *shape]`` (also the new state)."""
        v = torch.zeros_like(x) if state is None else state
        v = v * self.decay + x / self.div_in + self.leak
        return v, v


class SumPoolStep(nn.Module):
    """NIR ``SumPool2d`` on ``[B, C, H, W]``: average pooling times the window size."""

    def __init__(self, node: nir.SumPool2d) -> None:
        super().__init__()
        self.kernel_size = tuple(int(k) for k in np.broadcast_to(node.kernel_size, 2))
        self.stride = tuple(int(s) for s in np.broadcast_to(node.stride, 2))
        self.padding = tuple(int(p) for p in np.broadcast_to(node.padding, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` -> ``[B, C, H', W']``."""
        kh, kw = self.kernel_size
        y = F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, count_include_pad=True)
        return y * (kh * kw)


class ScaleStep(nn.Module):
    """NIR ``Scale``: elementwise product with a per-neuron factor."""

    def __init__(self, node: nir.Scale) -> None:
        super().__init__()
        self.register_buffer("scale", _t(node.scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, *shape]`` -> same."""
        return x * self.scale


def _conv2d(node: nir.Conv2d) -> nn.Conv2d:
    w = torch.as_tensor(np.asarray(node.weight, dtype=np.float32))
    bias = node.bias is not None and bool(np.any(np.asarray(node.bias) != 0))
    padding = node.padding if isinstance(node.padding, str) else tuple(node.padding)
    conv = nn.Conv2d(w.shape[1] * int(node.groups), w.shape[0], tuple(w.shape[-2:]),
                     stride=tuple(node.stride), padding=padding, dilation=tuple(node.dilation),
                     groups=int(node.groups), bias=bias)
    with torch.no_grad():
        conv.weight.copy_(w)
        if bias:
            conv.bias.copy_(torch.as_tensor(np.asarray(node.bias, dtype=np.float32)))
    return conv


def _linear(node: nir.Linear | nir.Affine) -> nn.Linear:
    w = torch.as_tensor(np.asarray(node.weight, dtype=np.float32))
    bias = getattr(node, "bias", None)
    lin = nn.Linear(w.shape[1], w.shape[0], bias=bias is not None)
    with torch.no_grad():
        lin.weight.copy_(w)
        if bias is not None:
            lin.bias.copy_(torch.as_tensor(np.asarray(bias, dtype=np.float32)))
    return lin


def _flatten(node: nir.Flatten) -> nn.Flatten:
    # NIR's dims exclude the batch (nirtorch's own exporter subtracts one), torch's include it
    # (nirtorch's default importer forgets to add it back, which flattens the batch too).
    end = node.end_dim if node.end_dim < 0 else node.end_dim + 1
    return nn.Flatten(int(node.start_dim) + 1, int(end))


def _node_map(dt: float, scheme: str = "euler") -> dict[type, Any]:
    return {
        nir.CubaLIF: lambda n: LIFStep(n, dt, scheme),
        nir.LIF: lambda n: LIFStep(n, dt, scheme),
        nir.LI: lambda n: LIStep(n, dt, scheme),
        nir.SumPool2d: SumPoolStep,
        nir.Scale: ScaleStep,
        nir.Conv2d: _conv2d,
        nir.Linear: _linear,
        nir.Affine: _linear,
        nir.Flatten: _flatten,
    }


class NIRModule(nn.Module):
    """A NIR graph as a sequence-to-sequence module with the zoo model's input and output.

    Args:
        step: nirtorch's one-step module, ``(x [B, *in], state) -> (y [B, *out], state)``.
        input_shape: per-step input shape.
        n_steps: T, for static inputs (``None`` when the graph does not say).
        input_kind: ``"image"`` (a static input is held for T steps) or ``"events"``.

    Shape:
        input ``[B, *input_shape]`` (static image, ``input_kind="image"``) or
        ``[B, T, *input_shape]``; output ``[B, T, *out]`` (the output PSC for a zoo export).
    """

    def __init__(self, step: nn.Module, input_shape: tuple[int, ...], n_steps: int | None,
                 input_kind: str = "events", mean: tuple[float, ...] | None = None,
                 std: tuple[float, ...] | None = None, raw_input: bool = False) -> None:
        super().__init__()
        self.step = step
        self.input_shape = tuple(input_shape)
        self.n_steps = n_steps
        self.input_kind = input_kind
        self.mean, self.std, self.raw_input = mean, std, raw_input
        self._warned = False

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the recorded normalisation to raw [0, 1] images, or warn when it looks missing."""
        if self.mean is None or self.input_kind != "image":
            return x
        shape = (-1, *([1] * (len(self.input_shape) - 1)))
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(shape)
        if self.raw_input:
            return (x - mean) / std
        if not self._warned and x.numel() and float(x.min()) >= 0:
            # normalised images have negative values (the background); raw ones do not
            warnings.warn(
                "this NIR graph was trained on normalised images, (pixel/255 - mean) / std with "
                f"mean {list(self.mean)} and std {list(self.std)}, and this input has no "
                "negative value, as raw [0, 1] images: load it with from_nir(..., "
                "raw_input=True) to normalise them, or normalise them yourself", stacklevel=3)
            self._warned = True
        return x

    def neuron_names(self) -> list[str]:
        """Names of the spiking (``CubaLIF``/``LIF``) nodes, in graph order."""
        return [n for n, m in self.step.named_children() if isinstance(m, LIFStep)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output ``[B, T, *out]``; see the class docstring for the input."""
        return self.forward_with_trace(x, trace=False)[0]

    def forward_with_trace(
        self, x: torch.Tensor, trace: bool = True
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Output and, by neuron node name, its spikes ``[B, T, *shape]``."""
        n = len(self.input_shape)
        x = self._prepare(x)
        if x.dim() == n + 1 and self.input_kind == "image" and self.n_steps:
            steps = [x] * self.n_steps  # a static image is the same input current every step
        elif x.dim() == n + 2:
            steps = list(x.unbind(1))
        else:
            raise ValueError(f"expected input [B, T, {list(self.input_shape)}]"
                             + (" or a static [B, ...] image" if self.input_kind == "image"
                                else "") + f", got shape {list(x.shape)}")
        names = self.neuron_names() if trace else []
        state = None  # a fresh state dict for every sequence
        outputs, spikes = [], {k: [] for k in names}
        for xt in steps:
            y, state = self.step(xt, state)
            outputs.append(y)
            for k in names:
                spikes[k].append(state[k][2])
        traces = {k: torch.stack(v, 1) for k, v in spikes.items()}
        return torch.stack(outputs, 1), traces


def from_nir(
    graph_or_path: nir.NIRGraph | str | Path, dt: float | None = None, filter_first: bool = True,
    raw_input: bool = False, scheme: str = "euler",
) -> NIRModule:
    """Load a NIR graph (or a ``.nir`` file) as a :class:`NIRModule`.

    Args:
        graph_or_path: a ``nir.NIRGraph`` or the path of a file written by ``nir.write``.
        dt: the time step in the graph's time unit; default: the graph's own
            ``metadata["bna_zoo"]["dt"]`` for a zoo export, else 1.
        filter_first: run each ``CubaLIF`` synapse before the linear nodes feeding it
            (:func:`~bna_zoo.export.nir_rewrite.filter_first`): the same network, in the zoo's
            order of float32 operations, so a zoo export reproduces the model bit for bit.
            ``False`` runs the graph as written, as other NIR consumers do (equal up to
            rounding; a neuron within rounding of its threshold may fire a step apart).
        raw_input: inputs are raw images in [0, 1]: apply the normalisation the graph's
            metadata records (``input_mean``, ``input_std``). False expects normalised input,
            as the graph computes it, and warns once when an input looks raw.
        scheme: how the continuous neuron equations are stepped (:data:`SCHEMES`). ``"euler"``
            (synapse first) is the zoo's own update, the one the export's parameters are
            chosen for; the others run the graph as a backend that discretises differently
            would (docs/nir.md §1 measures what that costs), and imply ``filter_first=False``.

    Returns:
        A module mapping the input of the exported model to its output, ``[B, T, ...]``.
        Supported nodes: ``Input``, ``Output``, ``Linear``, ``Affine``, ``Conv2d``,
        ``Flatten``, ``SumPool2d``, ``Scale``, ``CubaLIF``, ``LIF`` and ``LI``.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {SCHEMES}")
    graph = nir.read(str(graph_or_path)) if isinstance(graph_or_path, (str, Path)) \
        else graph_or_path
    meta = dict(graph.metadata.get(META_KEY, {})) if isinstance(graph.metadata, dict) else {}
    dt = float(dt if dt is not None else meta.get("dt", 1.0))
    inputs = [node for node in graph.nodes.values() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(f"expected a graph with one Input node, found {len(inputs)}")
    input_shape = tuple(int(d) for d in inputs[0].input_type["input"])
    if filter_first and scheme == "euler":
        # the rewrite moves each synapse in front of its weights; only Euler synapse-first is
        # the zoo's order of operations, so another scheme runs the graph as written
        graph = nir_rewrite.filter_first(graph)
    # nirtorch fits: it wires any graph of these nodes into a one-step GraphModule that threads
    # each stateful node's state through a dict, which NIRModule loops over the T steps
    step = require_nirtorch().nir_to_torch(graph, _node_map(dt, scheme))
    n_steps = meta.get("n_steps")
    mean, std = meta.get("input_mean"), meta.get("input_std")
    return NIRModule(step, input_shape, int(n_steps) if n_steps is not None else None,
                     str(meta.get("input_kind", "events")),
                     tuple(np.atleast_1d(mean).tolist()) if mean is not None else None,
                     tuple(np.atleast_1d(std).tolist()) if std is not None else None,
                     raw_input)
