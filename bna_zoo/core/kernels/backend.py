"""Which kernels run the neuron: the one place where the choice is made.

Backends (every one computes the same numbers, tested against :mod:`bna_zoo.core.reference`):

- ``"torch"``: pure torch ops (:mod:`.torch_kernel`), any device and dtype; the reference fast
  path and the fallback of the others.
- ``"c"``: fused C kernels (:mod:`.cpu_kernel`), compiled on first use; CPU float32/float64.
- ``"triton"``: fused Triton kernels (:mod:`.triton_kernel`); CUDA tensors, or CPU tensors under
  Triton's interpreter (``TRITON_INTERPRET=1`` set before ``triton`` is first imported; tests).
- ``"auto"``: ``"triton"`` for CUDA tensors when Triton is installed, ``"c"`` for CPU
  float32/float64 tensors when the C library builds, ``"torch"`` otherwise.

The process-wide choice comes from the environment variable ``BNA_ZOO_KERNEL`` (one of the four
names; default ``auto``), read once when this module is first imported; :func:`set_backend`
changes it at run time and ``na_lif(..., backend=...)`` overrides it for one call. Whatever the
choice, tensors that need an autograd graph, empty tensors, and tensors a kernel does not take
(``"c"`` with CUDA or half-precision tensors, say) go to ``"torch"``, which keeps autograd's
semantics. A backend named explicitly that cannot run at all raises instead of falling back:
``"c"`` without a working C compiler, ``"triton"`` without Triton or on CPU without the
interpreter.

Nothing here imports Triton: :func:`triton_kernels` does, on first use.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from types import ModuleType

import torch

from . import cpu_kernel

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "c", "triton")
ENV_VAR = "BNA_ZOO_KERNEL"
_TRITON_MODULE = f"{__package__}.triton_kernel"
_TRUE = ("1", "true", "on", "yes")  # how Triton reads TRITON_INTERPRET


def check_backend(name: object, what: str = "backend") -> str:
    """Validate a backend name (case-insensitive).

    Returns:
        The lower-cased name, one of :data:`BACKENDS`.

    Raises:
        ValueError: naming the valid choices, if ``name`` is not one of them.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in BACKENDS:
        raise ValueError(f"unknown {what} {name!r}; choose one of {', '.join(BACKENDS)}")
    return key


# Read once, at import: the choice must not change under a running model because some code
# touched os.environ (it did with the former per-call read). An invalid value fails loudly here.
_default = check_backend(os.environ.get(ENV_VAR, "").strip() or "auto", ENV_VAR)


def get_backend() -> str:
    """The process-wide backend (``BNA_ZOO_KERNEL`` at import, or the last :func:`set_backend`)."""
    return _default


def set_backend(name: str) -> str:
    """Set the process-wide backend used when a call passes ``backend=None``.

    Args:
        name: one of :data:`BACKENDS`.

    Returns:
        The previous setting, so that callers (tests) can restore it.
    """
    global _default
    previous, _default = _default, check_backend(name)
    return previous


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager: :func:`set_backend` for the duration of a ``with`` block."""
    previous = set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def triton_installed() -> bool:
    """Whether the ``triton`` package is importable (checked without importing it)."""
    try:
        return importlib.util.find_spec("triton") is not None
    except (ImportError, ValueError):  # a broken or blocked installation
        return False


def triton_interpreting() -> bool:
    """Whether the Triton kernels run (or will run, once imported) under the interpreter.

    Triton decides per ``@triton.jit`` decoration, its own library's when ``triton.language``
    is first imported: so once that happened, its record counts; before, ``TRITON_INTERPRET``.
    """
    module = sys.modules.get(_TRITON_MODULE)
    if module is not None:
        return bool(module.INTERPRETED)
    language = sys.modules.get("triton.language")
    if language is not None:
        return type(language.zeros).__name__ == "InterpretedFunction"
    return os.environ.get("TRITON_INTERPRET", "").strip().lower() in _TRUE


def triton_kernels() -> ModuleType:
    """Import and return :mod:`.triton_kernel` (which imports Triton)."""
    return importlib.import_module(_TRITON_MODULE)


def _needs_graph(tensors: tuple[torch.Tensor, ...]) -> bool:
    # The fused kernels build no autograd graph; torch's ops keep autograd's semantics.
    return torch.is_grad_enabled() and any(x.requires_grad for x in tensors)


@functools.cache
def _triton_import_error() -> str | None:
    """Why the Triton kernels cannot be imported, or ``None``; tried once per process."""
    if not triton_installed():
        return "backend 'triton' needs the triton package, which is not installed"
    try:
        triton_kernels()
    except Exception as err:  # noqa: BLE001 - any failure of a broken install means "no Triton"
        return f"backend 'triton': importing Triton failed: {type(err).__name__}: {err}"
    return None


def _triton_error(device: torch.device) -> str | None:
    """Why the Triton kernels cannot take tensors on ``device``, or ``None`` if they can."""
    if device.type != "cuda" and not (device.type == "cpu" and triton_interpreting()):
        return (
            f"backend 'triton' runs on CUDA tensors, got {device.type} tensors; on CPU only "
            "under Triton's interpreter (TRITON_INTERPRET=1 set before triton is first "
            "imported). Use backend='auto' (C kernels on CPU) or 'torch'."
        )
    return _triton_import_error()


@functools.cache
def _warn_once(message: str) -> None:
    log.warning("bna_zoo: %s", message)


def resolve(requested: str | None, *tensors: torch.Tensor) -> str:
    """The kernel that runs an operation on ``tensors``: ``"torch"``, ``"c"`` or ``"triton"``.

    Args:
        requested: a name of :data:`BACKENDS`, or ``None`` for :func:`get_backend`.
        tensors: the operation's tensor inputs (time-major ``[T, N]``); the first decides the
            device.

    Raises:
        ValueError: unknown backend name.
        RuntimeError: ``"c"`` named but the C library cannot be built; ``"triton"`` named but
            Triton is missing or the tensors are on CPU without the interpreter.
    """
    name = _default if requested is None else check_backend(requested)
    first = tensors[0]
    if name == "torch" or first.numel() == 0 or _needs_graph(tensors):
        return "torch"
    if name == "triton":
        error = _triton_error(first.device)
        if error is not None:
            raise RuntimeError(error)
        return "triton" if all(x.device == first.device for x in tensors) else "torch"
    takes_c = cpu_kernel.accepts(*tensors)
    if name == "c":
        if takes_c and cpu_kernel.load_library() is None:
            raise RuntimeError(
                "backend 'c' was asked for but the C kernels could not be built (see the log); "
                "use 'auto' or 'torch'"
            )
        return "c" if takes_c else "torch"
    # auto
    if first.device.type == "cuda":
        error = _triton_error(first.device)
        if error is None:
            return "triton" if all(x.device == first.device for x in tensors) else "torch"
        _warn_once(f"{error}; using the torch kernels on CUDA")
    if takes_c and cpu_kernel.load_library() is not None:
        return "c"
    return "torch"


def describe(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> str:
    """The backend a ``[T, N]`` tensor of this device and dtype gets now (for logs)."""
    probe = torch.zeros(2, 4, dtype=dtype, device=device)
    with torch.no_grad():
        return resolve(None, probe)
