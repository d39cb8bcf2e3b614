"""Fused C kernels for CPU tensors: compiled on first use, loaded with ctypes.

The C source (``cpu_lif.c`` and the ``cpu_*_impl.h`` it includes) is built with the system C
compiler into a shared library in a per-user cache, keyed by the sha256 of source, compiler and
flags, and then reused by every process. Only ``torch`` and the standard library are needed;
nothing is built at install time. When no compiler works, a warning is logged once and every
call falls back to the pure-torch kernels, which stay the reference. Whether these kernels run at
all is decided by :mod:`.backend` (``BNA_ZOO_KERNEL``); this module only says which tensors they
take (:func:`accepts`).

Environment:
    ``BNA_ZOO_CACHE``: cache root; the libraries go to ``$BNA_ZOO_CACHE/kernels``. Default
        ``$XDG_CACHE_HOME/bna_zoo/kernels`` or ``~/.cache/bna_zoo/kernels``; a private
        directory under the system temp dir when that is not writable.
    ``CC``: the C compiler command (default ``cc``, then ``gcc``, then ``clang``).

Kernels (time-major ``[T, N]``): the LIF/PSC forward, the reverse filter, the NA neighbor pass,
the whole NA backward (forward recomputation, reverse filters, neighbor pass and distance
weighting fused per block of neurons) and the whole surrogate-gradient backward. They reproduce
the torch path's rounding (no fused multiply-add, one rounding per torch op, same op order), so
the forward outputs, the reverse filter and the surrogate gradient are bitwise identical to it;
the NA loss changes ``ΔL`` are sums taken in another order and agree to rounding, and the fused
NA backward is bitwise identical to composing the C forward, reverse filter and neighbor pass
with ``na.na_weighting``.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # annotations only: the kernels never import lif at run time (lif imports them)
    from ..params import LIFParams

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
_SOURCES = (_HERE / "cpu_lif.c", _HERE / "cpu_lif_impl.h", _HERE / "cpu_na_impl.h",
            _HERE / "cpu_pool_impl.h")
_ABI_VERSION = 10
# -ffp-contract=off: no fused multiply-add, so every update rounds as the torch ops do.
# -fno-trapping-math: lets GCC if-convert the threshold compares (it changes no values).
_BASE_FLAGS = ["-O3", "-ftree-vectorize", "-ffp-contract=off", "-fno-trapping-math", "-fPIC"]
_COMPILE_TIMEOUT_S = 120

_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
_CTYPE = {torch.float32: ctypes.c_float, torch.float64: ctypes.c_double}


def cache_dir() -> Path:
    """Directory holding the compiled libraries (see the module docstring)."""
    root = os.environ.get("BNA_ZOO_CACHE")
    if root:
        return Path(root).expanduser() / "kernels"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "bna_zoo" / "kernels"


def _writable_cache_dir() -> Path:
    """:func:`cache_dir`, or a private temporary directory when that is not writable (e.g. a
    read-only home on a cluster node)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    for path in (cache_dir(), Path(tempfile.gettempdir()) / f"bna_zoo-kernels-{uid}"):
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            continue
        # A shared directory another user could write to would let them plant a library.
        if os.access(path, os.W_OK) and path.stat().st_uid == uid:
            return path
    raise OSError(f"no writable cache directory for the C kernels (tried {cache_dir()})")


def _compiler() -> list[str] | None:
    """The C compiler command: ``$CC`` (may carry arguments, e.g. ``ccache gcc``) or the first
    of ``cc``, ``gcc``, ``clang`` on ``PATH``."""
    cc = os.environ.get("CC")
    if cc:
        cmd = shlex.split(cc)
        return [shutil.which(cmd[0]) or cmd[0], *cmd[1:]] if cmd else None
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return [found]
    return None


def _isa_flags() -> list[str]:
    """Vector ISA flags the running CPU supports (torch already probed it; no -march=native).

    Only x86-64 AVX2 is used: it doubles the vector width over the SSE2 baseline. The flags are
    part of the cache key, so a library built here is never loaded on a CPU without AVX2.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        return []
    return ["-mavx2"] if capability.upper().startswith(("AVX2", "AVX512")) else []


def _flag_sets() -> list[list[str]]:
    """Flag sets to try, best first: with the CPU's vector ISA and OpenMP, then without each."""
    isa = _isa_flags()
    sets = [_BASE_FLAGS + isa + ["-fopenmp"], _BASE_FLAGS + isa]
    if isa:
        sets += [_BASE_FLAGS + ["-fopenmp"], list(_BASE_FLAGS)]
    return sets


def _library_path(compiler: list[str], flags: list[str]) -> Path:
    """Cache path keyed by the sha256 of the sources, compiler command, flags and platform."""
    digest = hashlib.sha256()
    for src in _SOURCES:
        digest.update(src.read_bytes())
    key = "\0".join([*compiler, *flags, platform.machine(), sys.platform, str(_ABI_VERSION)])
    digest.update(key.encode())
    suffix = ".dll" if sys.platform == "win32" else ".so"
    return _writable_cache_dir() / f"bna_cpu_{digest.hexdigest()[:32]}{suffix}"


def _compile(compiler: list[str], flags: list[str], target: Path) -> None:
    """Build into a private temporary file, then rename: concurrent builders never collide."""
    fd, tmp = tempfile.mkstemp(prefix=target.stem + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        cmd = [*compiler, *flags, "-shared", "-o", tmp, str(_SOURCES[0])]
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=_COMPILE_TIMEOUT_S, check=False
        )
        if result.returncode != 0 or os.path.getsize(tmp) == 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _declare(lib: ctypes.CDLL) -> None:
    """Set the ctypes signatures (ctypes releases the GIL during the calls)."""
    p, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    for dtype, suffix in _SUFFIX.items():
        r = _CTYPE[dtype]
        fwd = getattr(lib, f"bna_lif_forward_{suffix}")
        fwd.argtypes = [p, p, p, p, i64, i64, r, r, r, r, i32]
        fwd.restype = i32
        asum = getattr(lib, f"bna_abs_sum_{suffix}")
        asum.argtypes = [p, i64, i32, ctypes.POINTER(ctypes.c_double)]
        asum.restype = i32
        nbr = getattr(lib, f"bna_neighbor_loss_change_{suffix}")
        nbr.argtypes = [p, p, p, p, p, i64, i64, r, r, r, i32, ctypes.POINTER(i64)]
        nbr.restype = i32
        sur = getattr(lib, f"bna_surrogate_backward_{suffix}")
        sur.argtypes = [p, p, p, i64, i64, r, r, r, r, r, i32]
        sur.restype = i32
        rev = getattr(lib, f"bna_reverse_filter_{suffix}")
        rev.argtypes = [p, p, i64, i64, r, i32]
        rev.restype = i32
        nab = getattr(lib, f"bna_na_backward_{suffix}")
        nab.argtypes = [p, p, p, i64, i64, r, r, r, r, i32, r, i32, ctypes.POINTER(i64)]
        nab.restype = i32
        for direction in ("forward", "backward"):
            pool = getattr(lib, f"bna_sum_pool_{direction}_{suffix}")
            pool.argtypes = [p, p, i64, i64, i64, i64, r, i32]
            pool.restype = i32


@functools.cache
def load_library() -> ctypes.CDLL | None:
    """Compile (if not cached) and load the C library once per process.

    Returns:
        The loaded library, or ``None`` (logged once) when no compiler or flag set works.
    """
    compiler = _compiler()
    if compiler is None:
        log.warning("bna_zoo: no C compiler found (set CC); using the pure-torch kernels")
        return None
    errors = []
    for flags in _flag_sets():
        try:
            path = _library_path(compiler, flags)
            if not path.exists():
                _compile(compiler, flags, path)
            try:
                lib = ctypes.CDLL(str(path))
            except OSError:  # a damaged cache entry: rebuild it once
                _compile(compiler, flags, path)
                lib = ctypes.CDLL(str(path))
            if lib.bna_abi_version() != _ABI_VERSION:
                raise RuntimeError(f"{path} has ABI {lib.bna_abi_version()}, want {_ABI_VERSION}")
            _declare(lib)
            log.debug("bna_zoo: loaded %s (flags %s)", path, " ".join(flags))
            return lib
        except (OSError, RuntimeError, subprocess.SubprocessError, AttributeError) as err:
            errors.append(f"{' '.join(flags)}: {err}")
    log.warning(
        "bna_zoo: could not build the C kernels, using the pure-torch kernels.\n%s",
        "\n".join(errors),
    )
    return None


def accepts(*tensors: torch.Tensor) -> bool:
    """Whether the C kernels take these tensors: non-empty CPU float32/float64 tensors of one
    dtype and shape. (Whether they are used is :func:`.backend.resolve`'s decision.)"""
    first = tensors[0]
    if first.dtype not in _SUFFIX or first.numel() == 0:
        return False
    return all(
        x.device.type == "cpu" and x.dtype == first.dtype and x.shape == first.shape
        for x in tensors
    )


def _threads() -> int:
    return max(1, torch.get_num_threads())


def _ptr(x: torch.Tensor) -> int:
    return x.data_ptr()


def lif_forward_c(
    current: torch.Tensor, p: LIFParams, state: bool = True
) -> tuple[torch.Tensor, ...] | None:
    """C version of :func:`bna_zoo.core.lif.lif_forward`; ``current`` ``[T, N]``.

    Args:
        state: also return ``u`` and ``s``; ``False`` writes the PSC alone (what the autograd
            functions keep: one ``[T, N]`` output instead of three, the same ``a`` bit for bit).

    Returns:
        ``(u, s, a)`` (or ``(a,)`` without ``state``), each ``[T, N]``, bitwise equal to the torch
        path; ``None`` if the kernel could not allocate its scratch memory (the caller then takes
        the torch path).
    """
    lib = load_library()
    x = current.detach().contiguous()
    a = torch.empty_like(x)
    u, s = (torch.empty_like(x), torch.empty_like(x)) if state else (None, None)
    steps, n = x.shape
    fn = getattr(lib, f"bna_lif_forward_{_SUFFIX[x.dtype]}")
    u_ptr, s_ptr = (_ptr(u), _ptr(s)) if state else (None, None)  # None: a NULL pointer
    status = fn(_ptr(x), u_ptr, s_ptr, _ptr(a), steps, n, p.decay_m, p.decay_s, 1.0 / p.tau_s,
                p.theta, _threads())  # fmt: skip
    if status != 0:
        return None
    return (u, s, a) if state else (a,)


def neighbor_loss_change_c(
    current: torch.Tensor, u: torch.Tensor, s: torch.Tensor, big_e: torch.Tensor, p: LIFParams
) -> torch.Tensor | None:
    """C version of :func:`bna_zoo.core.kernels.neighbor_loss_change`; all ``[T, N]``.

    ``u`` and ``s`` must come from :func:`bna_zoo.core.lif.lif_forward` on ``current`` (as in
    ``NALIF.backward``): the early exit relies on them following the same arithmetic.

    Returns:
        ``ΔL``, ``[T, N]``, or ``None`` if the kernel could not allocate its scratch memory
        (the caller then takes the torch path).
    """
    return neighbor_loss_change_c_with_work(current, u, s, big_e, p)[0]


def neighbor_loss_change_c_with_work(
    current: torch.Tensor, u: torch.Tensor, s: torch.Tensor, big_e: torch.Tensor, p: LIFParams
) -> tuple[torch.Tensor | None, int]:
    """:func:`neighbor_loss_change_c` plus the work done, for tests and benchmarks.

    Returns:
        ``(ΔL or None, work)``: ``work`` counts the (neuron block, neighbor, step) triples
        simulated, ``ceil(N / block) * T (T - 1) / 2`` when no block exits early, where
        ``block`` is ``load_library().bna_block_size()``.
    """
    lib = load_library()
    x, u, s, e = (t.detach().contiguous() for t in (current, u, s, big_e))
    out = torch.empty_like(x)
    steps, n = x.shape
    work = ctypes.c_int64(0)
    fn = getattr(lib, f"bna_neighbor_loss_change_{_SUFFIX[x.dtype]}")
    status = fn(_ptr(x), _ptr(u), _ptr(s), _ptr(e), _ptr(out), steps, n, p.decay_m,
                1.0 / p.tau_s, p.theta, _threads(), ctypes.byref(work))  # fmt: skip
    return (out if status == 0 else None), work.value


def surrogate_backward_c(
    current: torch.Tensor, grad_a: torch.Tensor, p: LIFParams, slope: float
) -> torch.Tensor | None:
    """C version of ``SurrogateLIF.backward``'s arithmetic; ``current``, ``grad_a`` ``[T, N]``.

    Returns:
        The gradient with respect to the current, ``[T, N]``, or ``None`` if the kernel could
        not allocate its scratch memory (the caller then takes the torch path).
    """
    lib = load_library()
    x, g = (t.detach().contiguous() for t in (current, grad_a))
    grad = torch.empty_like(x)
    steps, n = x.shape
    fn = getattr(lib, f"bna_surrogate_backward_{_SUFFIX[x.dtype]}")
    status = fn(_ptr(x), _ptr(g), _ptr(grad), steps, n, p.decay_m, p.decay_s, p.tau_s, p.theta,
                slope, _threads())  # fmt: skip
    return grad if status == 0 else None


def abs_sum_c(x: torch.Tensor) -> float | None:
    """``sum(|x|)`` of a CPU float32/float64 tensor, accumulated in double, in one read pass
    (no ``|x|`` temporary; independent of the thread count); ``None`` if out of memory."""
    lib = load_library()
    flat = x.detach().contiguous()
    out = ctypes.c_double(0.0)
    fn = getattr(lib, f"bna_abs_sum_{_SUFFIX[flat.dtype]}")
    status = fn(_ptr(flat), flat.numel(), _threads(), ctypes.byref(out))
    return out.value if status == 0 else None


def reverse_filter_c(g: torch.Tensor, decay: float) -> torch.Tensor | None:
    """C version of :func:`bna_zoo.core.lif.reverse_filter`; ``g`` ``[T, N]``, bitwise equal.

    Returns:
        ``e``, ``[T, N]``, or ``None`` if the kernel could not allocate its scratch memory.
    """
    lib = load_library()
    x = g.detach().contiguous()
    e = torch.empty_like(x)
    steps, n = x.shape
    fn = getattr(lib, f"bna_reverse_filter_{_SUFFIX[x.dtype]}")
    status = fn(_ptr(x), _ptr(e), steps, n, decay, _threads())
    return e if status == 0 else None


def na_backward_c(
    current: torch.Tensor, grad_a: torch.Tensor, p: LIFParams, official: bool, clip: float
) -> torch.Tensor | None:
    """C version of ``NALIF.backward`` before the layer rescale; ``current``, ``grad_a`` ``[T, N]``.

    Per block of neurons it recomputes ``u`` and ``s``, reverse-filters ``grad_a`` once (paper)
    or twice (official), runs the neighbor pass and applies the distance weighting, writing only
    δ: one ``[T, N]`` allocation, everything else in per-thread scratch.

    Args:
        official: the official variant (``E`` from the twice-filtered gradient, cubed inverse
            distance) rather than the paper's (``E`` from the once-filtered gradient, power 1).
        clip: the weight's clamp bound (the official variant's is ``na.OFFICIAL_CLIP``).

    Returns:
        δ, ``[T, N]``, or ``None`` if the kernel could not allocate its scratch memory (the
        caller then takes the unfused path).
    """
    return na_backward_c_with_work(current, grad_a, p, official, clip)[0]


def na_backward_c_with_work(
    current: torch.Tensor, grad_a: torch.Tensor, p: LIFParams, official: bool, clip: float
) -> tuple[torch.Tensor | None, int]:
    """:func:`na_backward_c` plus the neighbor pass's work (as
    :func:`neighbor_loss_change_c_with_work`), for tests and benchmarks."""
    lib = load_library()
    x, g = (t.detach().contiguous() for t in (current, grad_a))
    delta = torch.empty_like(x)
    steps, n = x.shape
    work = ctypes.c_int64(0)
    fn = getattr(lib, f"bna_na_backward_{_SUFFIX[x.dtype]}")
    status = fn(_ptr(x), _ptr(g), _ptr(delta), steps, n, p.decay_m, p.decay_s, 1.0 / p.tau_s,
                p.theta, int(official), clip, _threads(), ctypes.byref(work))  # fmt: skip
    return (delta if status == 0 else None), work.value


def sum_pool_forward_c(x: torch.Tensor, k: int, scale: float) -> torch.Tensor:
    """``F.avg_pool2d(x, k, divisor_override=1) * scale``, bit for bit, in one pass.

    Args:
        x: ``[..., H, W]`` CPU float32/float64 (made contiguous).
        k: window and stride.
        scale: the factor on every window sum.

    Returns:
        ``[..., H // k, W // k]``.
    """
    lib = load_library()
    x = x.detach().contiguous()
    h, w = x.shape[-2:]
    y = x.new_empty((*x.shape[:-2], h // k, w // k))
    fn = getattr(lib, f"bna_sum_pool_forward_{_SUFFIX[x.dtype]}")
    fn(_ptr(x), _ptr(y), x.numel() // max(1, h * w), h, w, k, scale, _threads())
    return y


def sum_pool_backward_c(gy: torch.Tensor, h: int, w: int, k: int, scale: float) -> torch.Tensor:
    """The gradient of :func:`sum_pool_forward_c` with respect to its ``[..., h, w]`` input, as
    autograd computes it for the composition (bit for bit); ``gy`` ``[..., h // k, w // k]``."""
    lib = load_library()
    gy = gy.detach().contiguous()
    gx = gy.new_empty((*gy.shape[:-2], h, w))
    fn = getattr(lib, f"bna_sum_pool_backward_{_SUFFIX[gy.dtype]}")
    fn(_ptr(gy), _ptr(gx), gx.numel() // max(1, h * w), h, w, k, scale, _threads())
    return gx
