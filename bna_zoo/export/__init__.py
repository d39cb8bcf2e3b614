"""Export zoo networks to interchange formats and load them back.

- :func:`to_nir` / :func:`from_nir`: the Neuromorphic Intermediate Representation (NIR), the
  format neuromorphic hardware and simulators read; :func:`export_nir` writes the variant a
  named consumer (Norse, snnTorch, any backend) runs as written. The mapping of our discrete
  LIF/PSC dynamics onto NIR's ``CubaLIF`` is written down in ``docs/nir.md``.

Writing needs ``nir``; reading back (:func:`from_nir`) also ``nirtorch``: both come with the
``nir`` extra (``pip install "bna_zoo[nir]"``).
"""

from __future__ import annotations

from ._nir import nir
from .nir_export import to_nir
from .nir_import import NIRModule, from_nir
from .targets import TARGETS, export_nir

__all__ = ["TARGETS", "NIRModule", "export_nir", "from_nir", "nir", "to_nir"]
