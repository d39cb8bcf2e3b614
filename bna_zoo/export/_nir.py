"""Import ``nir`` and ``nirtorch`` with an install hint (the ``nir`` extra)."""

from __future__ import annotations

try:
    import nir
    import nirtorch
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "NIR export needs the 'nir' and 'nirtorch' packages: pip install 'bna_zoo[nir]'"
    ) from err

#: ``graph.metadata`` key holding our own settings (time step, T, input kind, ...).
META_KEY = "bna_zoo"

__all__ = ["META_KEY", "nir", "nirtorch"]
