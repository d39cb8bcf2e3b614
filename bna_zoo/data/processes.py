"""Run independent CPU-bound calls on several cores, results in call order.

Emulating N-MNIST is single-threaded numpy: one core per process. ``concurrent.futures`` does the
pooling; this module adds only what every caller needs around it: the in-process path for one
worker (no start-up cost, plain tracebacks), the ``spawn`` start method (a forked child of a
process whose torch/OpenMP threads already run can hang), and cancelling the calls not yet
started when the consumer stops early (an error, Ctrl-C) instead of finishing them all.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def ordered_map(fn: Callable[..., Any], calls: Sequence[tuple], workers: int) -> Iterator[Any]:
    """Yield ``fn(*args)`` for each ``args`` in ``calls``, in that order.

    Args:
        fn: a module-level function (worker processes import it by name).
        calls: the argument tuples, each picklable.
        workers: processes to use; 1 (or a single call) runs everything in this process.

    Raises:
        ValueError: ``workers`` is not an integer >= 1.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if workers == 1 or len(calls) <= 1:
        for args in calls:
            yield fn(*args)
        return
    pool = ProcessPoolExecutor(min(workers, len(calls)),
                               mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(fn, *args) for args in calls]
        for future in futures:
            yield future.result()
    finally:
        # waits only for the calls already running; the queued ones are dropped
        pool.shutdown(wait=True, cancel_futures=True)
