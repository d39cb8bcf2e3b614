"""Run a ``.nir`` file in another library, batched, as that library's own importer builds it.

Shared by ``tests/export/test_nir_targets.py`` and ``tools/nir_targets.py`` (the table in
docs/nir.md). Each runner loads the file with the library's importer (nothing patched), feeds
``x`` step by step (a static image every step, event frames one per step) and returns the output
spikes ``[B, T, classes]``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from pathlib import Path

import torch


def _steps(x: torch.Tensor, n_steps: int) -> list[torch.Tensor]:
    # [B, T, C, H, W] event frames step by step; a static [B, C, H, W] image every step
    return list(x.unbind(1)) if x.dim() == 5 else [x] * n_steps


def run_norse(path: Path, x: torch.Tensor, n_steps: int, dt: float) -> torch.Tensor:
    """Norse 1.1: ``norse.torch.from_nir(graph, dt=dt)``, its state threaded by hand."""
    import nir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Norse calls nirtorch's deprecated loader
        import norse.torch as norse

        step = norse.from_nir(nir.read(str(path)), dt=dt)
    state, out = None, []
    with torch.no_grad():
        for xt in _steps(x, n_steps):
            z, state = step(xt, state)
            out.append(z.flatten(1))
    return torch.stack(out, 1)


def run_snntorch(path: Path, x: torch.Tensor, n_steps: int, dt: float) -> torch.Tensor:
    """snnTorch 1.0: ``import_from_nir(graph)``; hidden state lives in its modules."""
    import nir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from snntorch import utils
        from snntorch.import_nir import import_from_nir

    # it prints a warning when it moves the input gain into the threshold (docs/nir.md §4)
    with contextlib.redirect_stdout(io.StringIO()):
        net = import_from_nir(nir.read(str(path)))
    utils.reset(net)
    out = []
    with torch.no_grad():
        for xt in _steps(x, n_steps):
            z = net(xt)[0]
            out.append(z.flatten(1))
    return torch.stack(out, 1)


def run_bna_zoo(path: Path, x: torch.Tensor, n_steps: int, dt: float) -> torch.Tensor:
    """bna_zoo's reader with the graph run as written (``filter_first=False``), output spikes."""
    from bna_zoo.export import from_nir

    module = from_nir(str(path), filter_first=False)
    with torch.no_grad():
        _, spikes = module.forward_with_trace(x)
    return list(spikes.values())[-1].flatten(2)


RUNNERS: dict[str, Callable[[Path, torch.Tensor, int, float], torch.Tensor]] = {
    "norse": run_norse, "snntorch": run_snntorch, "generic": run_bna_zoo,
    "bna_zoo": run_bna_zoo,
}
