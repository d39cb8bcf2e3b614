"""Import ``nir`` (writing NIR) and, only where a graph is read back, ``nirtorch``.

Writing a graph needs ``nir`` alone; :func:`~bna_zoo.export.from_nir` also needs ``nirtorch``.
Both come with the ``nir`` extra (``pip install 'bna_zoo[nir]'``).
"""

from __future__ import annotations

from types import ModuleType

try:
    import nir
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "NIR export needs the 'nir' package: pip install nir (or pip install 'bna_zoo[nir]')"
    ) from err

#: ``graph.metadata`` key holding our own settings (time step, T, input kind, ...).
META_KEY = "bna_zoo"


def require_nirtorch() -> ModuleType:
    """``nirtorch``, which reading a graph back into torch needs (writing does not)."""
    try:
        import nirtorch
    except ImportError as err:
        raise ImportError("reading a NIR graph back (from_nir) needs the 'nirtorch' package: "
                          "pip install nirtorch (or pip install 'bna_zoo[nir]')") from err
    return nirtorch


__all__ = ["META_KEY", "nir", "require_nirtorch"]
