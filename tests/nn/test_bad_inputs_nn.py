"""A table-driven sweep (issue #12): every bad input to the neuron settings gets a clear error.

Each row is one bad or unusual input, the error it must raise and a pattern its message must match:
the message names the parameter or the file and the rule it breaks. Rows that already behaved are
here too, so that they cannot regress; ``fixed`` marks the rows that gave an unclear error, a silent
wrong result or a hang before #12. (The other packages' rows sit beside their tests.)
"""

from __future__ import annotations

from bna_zoo.nn import NeuronConfig
from tests.helpers import Row, sweep_tests

INF, NAN = float("inf"), float("nan")




ROWS = [
    # --- neuron settings: a bad config fails at construction ------------------------------
    Row("NeuronConfig clip inf", lambda _: NeuronConfig(variant="paper", clip=INF),
        ValueError, r"clip must be > 0 and finite", True),
    Row("NeuronConfig surrogate slope negative",
        lambda _: NeuronConfig(gradient="surrogate", surrogate_slope=-1.0),
        ValueError, r"surrogate_slope must be > 0 and finite", True),
    Row("NeuronConfig surrogate slope zero", lambda _: NeuronConfig(surrogate_slope=0),
        ValueError, r"surrogate_slope must be > 0 and finite", True),
    Row("NeuronConfig tau_m bool", lambda _: NeuronConfig(tau_m=True),
        TypeError, r"tau_m must be .*got True \(bool\)", True),
    Row("NeuronConfig theta bool", lambda _: NeuronConfig(theta=True),
        TypeError, r"theta must be .*got True \(bool\)", True),
    Row("NeuronConfig tau_s string", lambda _: NeuronConfig(tau_s="2"),
        TypeError, r"tau_s must be a real number > 1", False),
    Row("NeuronConfig tau_s nan", lambda _: NeuronConfig(tau_s=NAN),
        ValueError, r"tau_s must be > 1 and finite", False),
    Row("NeuronConfig rescale string", lambda _: NeuronConfig(rescale="no"),
        TypeError, r"rescale must be True or False, got 'no'", True),
    Row("NeuronConfig unknown gradient", lambda _: NeuronConfig(gradient="sg"),
        ValueError, r"unknown gradient 'sg'", False),
]


(test_bad_input_raises_an_error_that_names_the_problem,
 test_sweep_rows_are_unique_and_their_patterns_compile) = sweep_tests(ROWS, at_least=9)
