"""Events for the data tests, as structured arrays in the N-MNIST reader's dtype."""

from __future__ import annotations

import numpy as np

from bna_zoo.data.nmnist_io import EVENT_DTYPE


def events(rows: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Hand-made events from ``(x, y, t_us, p)`` rows."""
    return np.array(rows, dtype=EVENT_DTYPE)


def random_events(n: int, seed: int, t_max: int = 120_000, side: int = 34) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, side, n), rng.integers(0, side, n)
    ev["t"], ev["p"] = np.sort(rng.integers(0, t_max, n)), rng.integers(0, 2, n)
    return ev
