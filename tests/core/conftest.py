"""Collection of the core tests: interpreter-only Triton tests run in their own process."""

from __future__ import annotations

import os

import pytest

INTERPRETING = os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "on", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect ``triton_interpreter`` tests unless this process interprets Triton.

    Triton fixes its mode when it is first imported, so those tests run in a child pytest process
    started with ``TRITON_INTERPRET=1`` (see ``test_triton.py``); here they would only repeat as
    skips.
    """
    if INTERPRETING:
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("triton_interpreter") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
