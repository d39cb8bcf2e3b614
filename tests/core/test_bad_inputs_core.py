"""A table-driven sweep (issue #12): every bad input to the NA core gets a clear error.

Each row is one bad or unusual input, the error it must raise and a pattern its message must match:
the message names the parameter or the file and the rule it breaks. Rows that already behaved are
here too, so that they cannot regress; ``fixed`` marks the rows that gave an unclear error, a silent
wrong result or a hang before #12. (The other packages' rows sit beside their tests.)
"""

from __future__ import annotations

import torch

from bna_zoo.core import na_lif
from tests.helpers import Row, sweep_tests

INF, NAN = float("inf"), float("nan")


def _current() -> torch.Tensor:
    return torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0))


ROWS = [
    # --- the NA core: non-finite gradients, settings refused where they enter -------------
    Row("na_lif paper clip inf", lambda _: na_lif(_current(), variant="paper", clip=INF),
        ValueError, r"clip must be > 0 and finite .*got inf", True),
    Row("na_lif clip nan", lambda _: na_lif(_current(), clip=NAN),
        ValueError, r"clip must be > 0 and finite", False),
    Row("na_lif clip zero", lambda _: na_lif(_current(), variant="paper", clip=0.0),
        ValueError, r"clip must be > 0 and finite .*got 0", False),
    Row("na_lif clip negative", lambda _: na_lif(_current(), clip=-1.0),
        ValueError, r"clip must be .*> 0", False),
    Row("na_lif surrogate slope negative",
        lambda _: na_lif(_current(), gradient="surrogate", surrogate_slope=-2.0),
        ValueError, r"surrogate_slope must be > 0 and finite .*got -2", True),
    Row("na_lif surrogate slope zero",
        lambda _: na_lif(_current(), gradient="surrogate", surrogate_slope=0.0),
        ValueError, r"surrogate_slope must be > 0 and finite", True),
    Row("na_lif surrogate slope inf",
        lambda _: na_lif(_current(), gradient="surrogate", surrogate_slope=INF),
        ValueError, r"surrogate_slope must be > 0 and finite", True),
    Row("na_lif surrogate slope nan",
        lambda _: na_lif(_current(), gradient="surrogate", surrogate_slope=NAN),
        ValueError, r"surrogate_slope must be > 0 and finite .*got nan", True),
    Row("na_lif tau_m bool", lambda _: na_lif(_current(), tau_m=True),
        TypeError, r"tau_m must be a real number >= 1 .*got True \(bool\)", True),
    Row("na_lif tau_m string", lambda _: na_lif(_current(), tau_m="5"),
        TypeError, r"tau_m must be a real number >= 1 .*got '5' \(str\)", True),
    Row("na_lif tau_m below one", lambda _: na_lif(_current(), tau_m=0.5),
        ValueError, r"tau_m must be >= 1 and finite .*got 0.5", False),
    Row("na_lif tau_s one", lambda _: na_lif(_current(), tau_s=1.0),
        ValueError, r"tau_s must be > 1 and finite", False),
    Row("na_lif tau_s inf", lambda _: na_lif(_current(), tau_s=INF),
        ValueError, r"tau_s must be > 1 and finite", False),
    Row("na_lif theta zero", lambda _: na_lif(_current(), theta=0.0),
        ValueError, r"theta must be > 0 and finite \(firing threshold\)", False),
    Row("na_lif theta string", lambda _: na_lif(_current(), theta="1"),
        TypeError, r"theta must be a real number > 0 .*\(str\)", True),
    Row("na_lif unknown variant", lambda _: na_lif(_current(), variant="offical"),
        ValueError, r"unknown NA variant 'offical'; choose one of", False),
    Row("na_lif unknown gradient", lambda _: na_lif(_current(), gradient="bptt"),
        ValueError, r"unknown gradient 'bptt'; choose one of", False),
    Row("na_lif numpy current", lambda _: na_lif(_current().numpy()),
        TypeError, r"current must be a floating-point torch.Tensor", False),
    Row("na_lif integer current", lambda _: na_lif(torch.ones(2, 5, 3, dtype=torch.long)),
        TypeError, r"current must be a floating-point torch.Tensor, got a torch.int64", False),
    Row("na_lif current without time axis", lambda _: na_lif(torch.randn(2, 5)),
        ValueError, r"\[B, T, \.\.\.\].*forget the batch or the time", False),
    Row("na_lif empty batch", lambda _: na_lif(torch.randn(0, 5, 3)),
        ValueError, r"empty batch or time axis", False),
    Row("na_lif zero time steps", lambda _: na_lif(torch.randn(2, 0, 3)),
        ValueError, r"empty batch or time axis", False),
    Row("na_lif nan current", lambda _: na_lif(torch.full((2, 5, 3), NAN)),
        ValueError, r"NaN or inf", False),
]


(test_bad_input_raises_an_error_that_names_the_problem,
 test_sweep_rows_are_unique_and_their_patterns_compile) = sweep_tests(ROWS, at_least=23)
