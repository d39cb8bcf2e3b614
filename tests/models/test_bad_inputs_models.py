"""Issue #12's sweep: every bad input to architectures, networks and BNAModel, a clear error.

Each row is one bad or unusual input, the error it must raise and a pattern its message must match:
the message names the parameter or the file and the rule it breaks. Rows that already behaved are
here too, so that they cannot regress; ``fixed`` marks the rows that gave an unclear error, a silent
wrong result or a hang before #12. (The other packages' rows sit beside their tests.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bna_zoo.bna_model import BNAModel
from bna_zoo.models import SpikingNetwork, parse_arch
from bna_zoo.nn import NeuronConfig
from tests.helpers import Row, sweep_tests

INF, NAN = float("inf"), float("nan")


def _net(**overrides: object) -> SpikingNetwork:
    args = dict(arch="4C3-P2-10", input_shape=(1, 12, 12), n_steps=4, neuron=NeuronConfig())
    return SpikingNetwork(**{**args, **overrides})

def _forward(x: object) -> torch.Tensor:
    return _net()(x)


ROWS = [
    # --- architecture strings: the token and the rule, before any layer is built ----------
    Row("arch pool size zero", lambda _: parse_arch("P0-10"),
        ValueError, r"'P0'.*pool size must be >= 1", True),
    Row("arch conv kernel zero", lambda _: parse_arch("8C0-10"),
        ValueError, r"'8C0'.*kernel size must be >= 1", True),
    Row("arch conv channels zero", lambda _: parse_arch("0C3-10"),
        ValueError, r"'0C3'.*>= 1 output channels", True),
    Row("arch linear width zero", lambda _: parse_arch("8C3-0"),
        ValueError, r"bad layer '0'.*linear layer needs >= 1 units", True),
    Row("arch dropout one", lambda _: parse_arch("8C3-D1.0-10"),
        ValueError, r"'D1.0'.*dropout probability must be in \[0, 1\), got 1.0", True),
    Row("arch negative padding", lambda _: parse_arch("8C3p-1-10"),
        ValueError, r"'8C3p'.*padding must be a non-negative integer", True),
    Row("arch empty token", lambda _: parse_arch("8C3--10"),
        ValueError, r"bad layer ''.*two '-' in a row", True),
    Row("arch empty string", lambda _: parse_arch(""),
        ValueError, r"bad layer ''", False),
    Row("arch not a string", lambda _: parse_arch(123),
        TypeError, r"architecture must be a string", True),
    Row("arch unknown token", lambda _: parse_arch("12C5-X3-10"),
        ValueError, r"bad layer 'X3'.*conv", False),
    Row("arch without output layer", lambda _: parse_arch("12C5-P2"),
        ValueError, r"must end with the linear output layer", False),
    Row("network pool larger than input", lambda _: _net(arch="P64-10"),
        ValueError, r"'P64'.*shrinks its input \[1, 12, 12\] to \[1, 0, 0\]", False),
    Row("network kernel larger than input", lambda _: _net(arch="4C30-10"),
        ValueError, r"'4C30'.*shrinks its input", False),
    Row("network absurd linear width", lambda _: _net(arch="4C3-99999999999"),
        ValueError, r"'99999999999'.*weights.*typo", True),
    Row("network conv after linear", lambda _: _net(arch="20-4C3-10"),
        ValueError, r"conv layer '4C3'.*needs a \[C, H, W\] input", False),
    Row("network n_steps zero", lambda _: _net(n_steps=0),
        ValueError, r"n_steps must be a positive integer \(time steps T\), got 0", False),
    Row("network n_steps float", lambda _: _net(n_steps=5.0),
        TypeError, r"n_steps must be a positive integer .*got 5.0 \(float\)", True),
    Row("network n_steps string", lambda _: _net(n_steps="5"),
        TypeError, r"n_steps must be a positive integer .*got '5'", True),
    Row("network n_steps bool", lambda _: _net(n_steps=True),
        TypeError, r"n_steps must be a positive integer .*\(bool\)", True),
    Row("network input_shape zero", lambda _: _net(input_shape=(1, 0, 12)),
        ValueError, r"input_shape entry must be a positive integer .*got 0", True),
    Row("network input_shape float", lambda _: _net(input_shape=(1, 12.5, 12)),
        TypeError, r"input_shape entry must be a positive integer .*12.5", True),
    Row("network input_shape rank two", lambda _: _net(input_shape=(12, 12)),
        ValueError, r"input_shape must be \[C, H, W\].*or \[F\]", False),
    Row("network neuron dict", lambda _: _net(neuron={"tau_m": 5.0}),
        TypeError, r"neuron must be a NeuronConfig, got dict", True),
    Row("network conv weight scale nan", lambda _: _net(conv_weight_scale=NAN),
        ValueError, r"conv_weight_scale must be a finite number > 0", True),
    Row("network dropout mode without dropout", lambda _: _net(dropout_mode="rows"),
        ValueError, r"dropout_mode must be one of \('neuron', 'row'\), got 'rows'", True),
    Row("network unknown input kind", lambda _: _net(input_kind="video"),
        ValueError, r"input_kind must be 'image' or 'events'", False),
    # --- the network forward ----------------------------------------------------------------
    Row("forward numpy input", lambda _: _forward(np.zeros((2, 1, 12, 12), np.float32)),
        TypeError, r"input must be a torch.Tensor, got ndarray; convert with torch.as_tensor",
        False),
    Row("BNAModel lr nan", lambda _: BNAModel("fashionmnist-mlp", lr=NAN),
        ValueError, r"lr must be > 0 and finite \(AdamW learning rate\), got nan", True),
    Row("BNAModel lr string", lambda _: BNAModel("fashionmnist-mlp", lr="0.1"),
        TypeError, r"lr must be a real number > 0 .*got '0.1' \(str\)", True),
    Row("BNAModel weight decay negative",
        lambda _: BNAModel("fashionmnist-mlp", weight_decay=-0.1),
        ValueError, r"weight_decay must be >= 0", True),
    Row("BNAModel lr_gamma zero", lambda _: BNAModel("fashionmnist-mlp", lr_gamma=0.0),
        ValueError, r"lr_gamma must be in \(0, 1\] .*None keeps the rate constant", True),
    Row("BNAModel grad_clip zero", lambda _: BNAModel("fashionmnist-mlp", grad_clip=0.0),
        ValueError, r"grad_clip must be > 0 .*None disables it", True),
    Row("BNAModel weight_clamp negative",
        lambda _: BNAModel("fashionmnist-mlp", weight_clamp=-4.0),
        ValueError, r"weight_clamp must be > 0", True),
    Row("BNAModel forward numpy input",
        lambda _: BNAModel("fashionmnist-mlp")(np.zeros((2, 1, 28, 28), np.float32)),
        TypeError, r"input must be a torch.Tensor, got ndarray", False),
    Row("forward empty batch", lambda _: _forward(torch.zeros(0, 1, 12, 12)),
        ValueError, r"empty batch", False),
    Row("forward integer input", lambda _: _forward(torch.zeros(2, 1, 12, 12, dtype=torch.uint8)),
        TypeError, r"floating-point tensor, got torch.uint8", False),
    Row("forward wrong number of steps", lambda _: _forward(torch.zeros(2, 7, 1, 12, 12)),
        ValueError, r"expected 4 time steps .*got 7", False),
    Row("forward wrong image shape", lambda _: _forward(torch.zeros(2, 3, 12, 12)),
        ValueError, r"expected input \[-1, 4, 1, 12, 12\]", False),
    Row("forward nan input", lambda _: _forward(torch.full((2, 1, 12, 12), NAN)),
        ValueError, r"NaN or inf", False),
]


(test_bad_input_raises_an_error_that_names_the_problem,
 test_sweep_rows_are_unique_and_their_patterns_compile) = sweep_tests(ROWS, at_least=39)


@pytest.mark.parametrize("arch", ["P1-10", "4C3p1-D0-10", "4C3-D.5-10", "4C3p0-P2-D0.2-10"])
def test_valid_edge_architectures_still_build(arch: str) -> None:
    net = _net(arch=arch)
    assert net(torch.rand(2, 1, 12, 12)).shape == (2, 4, 10)
