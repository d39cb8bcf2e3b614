"""The paper's architecture notation: parsing it and planning the layers it describes.

``"15C5-P2-40C5-P2-300-10"`` reads as in the paper: ``15C5`` = conv with 15 channels and 5x5
kernel (``p1`` appended = padding 1), ``P2`` = 2x2 sum pooling x1.1, ``D0.2`` = time-shared
dropout, a bare number = linear layer. The last token must be the linear output layer.

:func:`plan_layers` turns a :class:`~bna_zoo.models.config.NetConfig` into one
:class:`LayerPlan` per token (kind, name, sizes, input and output shapes), checked before
anything is built; the network builder, the NIR export and the cost metrics all read it instead
of dispatching on the layers again.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import NetConfig

_CONV = re.compile(r"^(\d+)C(\d+)(?:p(\d+))?$")
_CONV_NO_PAD = re.compile(r"^(\d+)C(\d+)p$")  # what '8C3p-1' leaves after the split at '-'
_POOL = re.compile(r"^P(\d+)$")
_DROP = re.compile(r"^D(\d*\.?\d*)$")  # the value is checked against [0, 1) below
_LINEAR = re.compile(r"^(\d+)$")
_GRAMMAR = (
    "tokens are '<C>C<k>[p<pad>]' (conv), 'P<k>' (sum pool), 'D<p>' (dropout) or '<n>' "
    "(linear), joined by '-'"
)
DROPOUT_MODES = ("neuron", "row")  # TimeSharedDropout's modes
#: Most weights one layer may have (2^31: 8 GiB of float32). More is a typo in the architecture,
#: and refusing it here beats an allocator error (or minutes of swapping) at construction.
MAX_LAYER_WEIGHTS = 2**31


def _bad_layer(token: str, arch: str, rule: str) -> ValueError:
    return ValueError(f"bad layer {token!r} in architecture {arch!r}: {rule}")


def _parse_token(token: str, arch: str) -> tuple:
    """One token of :func:`parse_arch`, with its sizes checked."""
    if m := _CONV.match(token):
        channels, kernel, pad = int(m[1]), int(m[2]), int(m[3] or 0)
        if channels < 1:
            raise _bad_layer(token, arch, "a conv layer needs >= 1 output channels")
        if kernel < 1:
            raise _bad_layer(token, arch, "the conv kernel size must be >= 1")
        return ("conv", channels, kernel, pad)
    if _CONV_NO_PAD.match(token):
        raise _bad_layer(
            token, arch, "no padding after 'p'; the padding must be a non-negative integer "
            "('-' separates layers, so a negative padding such as 'p-1' cannot be written)"
        )
    if m := _POOL.match(token):
        if int(m[1]) < 1:
            raise _bad_layer(token, arch, "the pool size must be >= 1 ('P1' keeps the size)")
        return ("pool", int(m[1]))
    if (m := _DROP.match(token)) and m[1] not in ("", "."):
        p = float(m[1])
        if not 0.0 <= p < 1.0:
            raise _bad_layer(token, arch, f"the dropout probability must be in [0, 1), got {p}")
        return ("drop", p)
    if m := _LINEAR.match(token):
        if int(m[1]) < 1:
            raise _bad_layer(token, arch, "a linear layer needs >= 1 units")
        return ("linear", int(m[1]))
    if not token:
        raise _bad_layer(token, arch, f"empty (two '-' in a row, or one at an end); {_GRAMMAR}")
    raise _bad_layer(token, arch, _GRAMMAR)


def parse_arch(arch: str) -> list[tuple]:
    """Parse the notation into a list of layer tuples.

    Returns ``("conv", channels, kernel, pad)``, ``("pool", k)``, ``("drop", p)`` or
    ``("linear", n)`` per token.

    Raises:
        TypeError: if ``arch`` is not a string.
        ValueError: naming the bad token and the rule it breaks (the grammar, a size < 1, a
            dropout probability outside ``[0, 1)``), or a missing linear output layer.
    """
    if not isinstance(arch, str):
        raise TypeError(
            f"architecture must be a string in paper notation such as '12C5-P2-64C5-P2-10', got "
            f"{type(arch).__name__}"
        )
    layers = [_parse_token(token, arch) for token in arch.split("-")]
    if layers[-1][0] != "linear":
        raise ValueError(f"architecture {arch!r} must end with the linear output layer, e.g. '-10'")
    return layers


def _check_int(value: object, name: str, rule: str) -> int:
    """``value`` as an int >= 1; bools, floats and strings are refused, not converted."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive integer ({rule}), got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive integer ({rule}), got {value!r}")
    return int(value)


def _check_scale(value: object, name: str) -> float:
    """``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite number > 0, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0 (it multiplies the initial "
                         f"weights), got {value!r}")
    return float(value)


def _conv_out(size: int, kernel: int, padding: int) -> int:
    return size + 2 * padding - kernel + 1  # stride 1, as every conv of the notation


@dataclass(frozen=True)
class LayerPlan:
    """One layer of an architecture, with its shapes.

    Attributes:
        kind: ``"conv"``, ``"pool"``, ``"drop"`` or ``"linear"``.
        name: ``f"{kind}{index}"`` (the layer's name in traces, NIR graphs and metrics).
        token: its token in the notation.
        args: ``(channels, kernel, pad)``, ``(k,)``, ``(p,)`` or ``(units,)``.
        in_shape, out_shape: per-step shapes (no batch, no time).
        is_output: the last linear layer.
    """

    kind: str
    name: str
    token: str
    args: tuple
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    is_output: bool = False

    @property
    def weights(self) -> int:
        """Number of weights (0 for pool and dropout)."""
        if self.kind == "conv":
            ch, k, _ = self.args
            return self.in_shape[0] * ch * k * k
        if self.kind == "linear":
            return math.prod(self.in_shape) * self.args[0]
        return 0


def check_input_shape(input_shape: object) -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive ints, ``(C, H, W)`` or ``(F,)``."""
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise TypeError(f"input_shape must be a sequence of positive ints, [C, H, W] or [F], "
                        f"got {input_shape!r}")
    if len(input_shape) not in (1, 3):
        raise ValueError(f"input_shape must be [C, H, W] (images, event frames) or [F] "
                         f"(vectors), got {list(input_shape)}")
    return tuple(_check_int(d, "every input_shape entry", f"in {list(input_shape)}")
                 for d in input_shape)


def plan_layers(config: NetConfig) -> list[LayerPlan]:
    """Every layer of ``config.arch`` on ``config.input_shape``, in order, with its shapes.

    Raises:
        TypeError, ValueError: a bad architecture or input shape; a conv/pool after a linear
            layer; a layer that shrinks its input below one pixel or has more than
            :data:`MAX_LAYER_WEIGHTS` weights. All before any layer is built.
    """
    arch = config.arch
    spec = parse_arch(arch)
    shape = check_input_shape(config.input_shape)
    tokens = arch.split("-")
    last_linear = max(i for i, s in enumerate(spec) if s[0] == "linear")
    plans = []
    for i, (kind, *args) in enumerate(spec):
        name, token = f"{kind}{i}", tokens[i]
        if kind in ("conv", "pool") and len(shape) != 3:
            raise ValueError(f"{kind} layer {token!r} ({name}) needs a [C, H, W] input, got "
                             f"{list(shape)}: conv and pool layers come before the linear ones")
        if kind == "conv":
            ch, k, pad = args
            out = (ch, _conv_out(shape[1], k, pad), _conv_out(shape[2], k, pad))
        elif kind == "pool":
            out = (shape[0], shape[1] // args[0], shape[2] // args[0])
        elif kind == "drop":
            out = shape
        else:
            out = (args[0],)
        plan = LayerPlan(kind, name, token, tuple(args), shape, out, i == last_linear)
        if min(out) < 1:
            raise ValueError(
                f"layer {token!r} ({name}) of architecture {arch!r} shrinks its input "
                f"{list(shape)} to {list(out)} (input_shape {list(config.input_shape)}): use a "
                "smaller kernel or pool, more padding, or a larger input")
        if plan.weights > MAX_LAYER_WEIGHTS:
            raise ValueError(
                f"layer {token!r} ({name}) of architecture {arch!r} would have "
                f"{plan.weights:.3g} weights (input {list(shape)}), more than "
                f"{MAX_LAYER_WEIGHTS:.3g} (8 GiB): is a size in the architecture a typo?")
        plans.append(plan)
        shape = out
    return plans
