"""Independent calls on several processes, results in call order."""

from __future__ import annotations

import math

import pytest

from bna_zoo.data.processes import ordered_map, usable_cpus


def _slow_then_fast(i: int) -> tuple[int, int]:
    import time

    time.sleep(0.3 if i == 0 else 0.0)  # the first call finishes last
    return i, math.factorial(i)


def _fails_on_two(i: int) -> int:
    if i == 2:
        raise KeyError(f"call {i}")
    return i


def test_results_come_in_call_order_whichever_process_finishes_first():
    calls = [(i,) for i in range(6)]
    assert list(ordered_map(_slow_then_fast, calls, workers=2)) == [
        (i, math.factorial(i)) for i in range(6)]


def test_one_worker_runs_in_this_process():
    seen = []
    assert list(ordered_map(seen.append, [(1,), (2,)], workers=1)) == [None, None]
    assert seen == [1, 2]  # a closure's side effect: no other process ran it


def test_an_error_in_a_worker_reaches_the_caller():
    with pytest.raises(KeyError, match="call 2"):
        list(ordered_map(_fails_on_two, [(i,) for i in range(4)], workers=2))


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_workers_must_be_a_positive_integer(workers):
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        list(ordered_map(_fails_on_two, [(0,)], workers=workers))


def test_usable_cpus_is_at_least_one():
    assert usable_cpus() >= 1


def test_the_emulator_imports_neither_torch_nor_tonic_so_its_workers_start_fast():
    import subprocess
    import sys

    code = "import sys, bna_zoo.data.emulate; print(sorted({'torch', 'tonic'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
