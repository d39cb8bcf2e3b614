"""Fused Triton kernels for the LIF/PSC neuron and NA on time-major ``[T, N]`` tensors (CUDA).

Three kernels, one program per block of ``BLOCK`` neurons (columns), each looping over T with the
per-neuron state in registers:

- :func:`lif_forward_triton`: the forward, writing ``u, s, a`` (as the C kernel) or ``a`` alone
  (what the autograd functions keep);
- :func:`na_backward_triton`: the whole NA backward before the layer rescale, as
  ``cpu_kernel.na_backward_c``: forward recompute, reverse filter(s), the exact neighbor
  re-simulation with its early exit, the distance weighting;
- :func:`surrogate_backward_triton`: the whole surrogate-gradient BPTT backward, as
  ``cpu_kernel.surrogate_backward_c``.

Arithmetic: float32 or float64 as the input (other dtypes are computed in float32), one rounding
per operation in the torch/C op order. The kernels are compiled with ``enable_fp_fusion=False``,
so ``m * decay_m + I`` stays a multiply and an add (PTX ``mul.rn``/``add.rn``, no ``fma``) and the
re-simulated neighbors reproduce the original trajectory bit for bit; float32 divisions use
``tl.div_rn`` (Triton's ``/`` is the approximate ``div.full.f32``). The constants travel in a
small tensor of the compute dtype, because Triton passes Python floats as float32.

Scratch without extra memory traffic: the NA kernel keeps the reverse-filtered weight ``E`` in the
output buffer until it overwrites row ``k`` with δ[k] (no later neighbor reads row ``k``); the
surrogate kernel keeps ``u`` in its output buffer the same way. A block barrier separates every
write of such a row from the reads that must precede it, so this holds whatever layout Triton
gives the threads.

Under ``TRITON_INTERPRET=1`` the same kernels run on CPU tensors, for tests. The variable must be
set before ``triton`` is first imported in the process: ``@triton.jit`` reads it when it
decorates a function, and Triton's own library functions (``tl.zeros``, ``tl.sum``...) are
decorated when ``triton.language`` is imported; a process cannot switch modes afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
import triton
import triton.language as tl

if TYPE_CHECKING:  # annotations only: lif imports the kernels, never the other way round
    from ..params import LIFParams

#: Neurons per program and warps of the O(T) kernels (forward, surrogate): memory-bound, so
#: several neurons per thread for wide, coalesced accesses.
STREAM_BLOCK, STREAM_WARPS = 512, 4
#: Neurons per program and warps of the NA kernel: as the C kernel's block (128), so that the
#: early exit skips the same work; one neuron per thread.
NA_BLOCK, NA_WARPS = 128, 4

_FLOATS = (torch.float32, torch.float64)


@triton.jit
def _lif_forward_kernel(
    cur_ptr, u_ptr, s_ptr, a_ptr, consts_ptr, n,
    STEPS: tl.constexpr, BLOCK: tl.constexpr, STORE_STATE: tl.constexpr,
):  # fmt: skip
    """u, s (if STORE_STATE) and a of BLOCK neurons; consts = (decay_m, decay_s, 1/tau_s, theta)."""
    cols = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < n
    stride = tl.cast(n, tl.int64)  # t * n overflows int32 on large layers
    decay_m = tl.load(consts_ptr)
    decay_s = tl.load(consts_ptr + 1)
    inv_tau_s = tl.load(consts_ptr + 2)
    theta = tl.load(consts_ptr + 3)
    zero = tl.zeros([BLOCK], dtype=decay_m.dtype)
    m = zero
    syn = zero
    for t in range(STEPS):
        offs = t * stride + cols
        c = tl.load(cur_ptr + offs, mask=mask, other=0.0)
        u = m * decay_m + c  # two roundings (no FMA): see the module docstring
        spike = u > theta
        st = spike.to(zero.dtype)
        m = tl.where(spike, zero, u)  # = u * (1 - s): u > theta > 0 where it fires
        syn = syn * decay_s + st * inv_tau_s  # st * inv_tau_s is exact
        if STORE_STATE:
            tl.store(u_ptr + offs, u, mask=mask)
            tl.store(s_ptr + offs, st, mask=mask)
        tl.store(a_ptr + offs, syn, mask=mask)


@triton.jit
def _headroom(h_next, c_next, decay_m, inv_decay_m, theta, rel, tiny, lowest):
    """cpu_na_impl.h's headroom_of, in its op order: the largest post-step state from which the
    original currents never reach theta again, checked by stepping it once (-inf: no claim)."""
    c = tl.where(h_next < theta, h_next, theta)
    h = (c - c_next) * inv_decay_m
    v = h * decay_m + c_next
    h2 = h - tl.abs(h) * rel - tiny  # in case h rounded up
    v2 = h2 * decay_m + c_next
    return tl.where(v <= c, h, tl.where(v2 <= c, h2, lowest))


@triton.jit
def _na_backward_kernel(
    cur_ptr, g_ptr, delta_ptr, h_ptr, work_ptr, consts_ptr, n,
    STEPS: tl.constexpr, BLOCK: tl.constexpr, OFFICIAL: tl.constexpr, COUNT_WORK: tl.constexpr,
):  # fmt: skip
    """NA's δ for BLOCK neurons; consts = (decay_m, decay_s, 1/tau_s, theta, clip, 1/decay_m,
    rel, tiny) (the last three: the headroom's, as cpu_na_impl.h rounds them).

    1. forward: the last step at which the original fires (for the early exit);
    2. reverse filter(s): E = rev(g) (paper) or rev(rev(g)) (official), kept in delta, and the
       headroom of the original currents (cpu_na_impl.h: headroom_of) into h;
    3. for each neighbor k: flip step k, re-simulate it and the original side by side from k,
       accumulating E[t] (s_k[t] - s[t]) until every neuron of the block is finished (see
       cpu_na_impl.h: identical state, or, once the original fires no more, below it or below
       the headroom), then δ[k] = weight(u[k]) * ΔL[k] overwrites E[k].
    work_ptr[program] receives the (neighbor, step) pairs simulated, when COUNT_WORK.
    """
    pid = tl.program_id(0)
    cols = pid * BLOCK + tl.arange(0, BLOCK)
    mask = cols < n
    stride = tl.cast(n, tl.int64)
    decay_m = tl.load(consts_ptr)
    decay_s = tl.load(consts_ptr + 1)
    inv_tau_s = tl.load(consts_ptr + 2)
    theta = tl.load(consts_ptr + 3)
    clip = tl.load(consts_ptr + 4)
    inv_decay_m = tl.load(consts_ptr + 5)
    rel = tl.load(consts_ptr + 6)
    tiny = tl.load(consts_ptr + 7)
    zero = tl.zeros([BLOCK], dtype=decay_m.dtype)

    # 1. the original's last spike (-1: never fires)
    m = zero
    last = tl.full([BLOCK], -1, tl.int32)
    for t in range(STEPS):
        c = tl.load(cur_ptr + t * stride + cols, mask=mask, other=0.0, eviction_policy="evict_last")
        u = m * decay_m + c
        spike = u > theta
        m = tl.where(spike, zero, u)
        last = tl.where(spike, t, last)

    # 2. E, as reverse_filter rounds it; g is read once. The headroom, backwards from +inf.
    w = zero
    e = zero
    h = zero + float("inf")
    c_next = zero
    for i in range(STEPS):
        offs = (STEPS - 1 - i) * stride + cols
        g = tl.load(g_ptr + offs, mask=mask, other=0.0, eviction_policy="evict_first")
        if OFFICIAL:
            w = w * decay_s + g
            e = e * decay_s + w
        else:
            e = e * decay_s + g
        tl.store(delta_ptr + offs, e, mask=mask)
        if i > 0:
            h = _headroom(h, c_next, decay_m, inv_decay_m, theta, rel, tiny, zero - float("inf"))
        tl.store(h_ptr + offs, h, mask=mask)
        c_next = tl.load(cur_ptr + offs, mask=mask, other=0.0)
    tl.debug_barrier()  # E and the headroom are complete before any thread reads them

    # 3. neighbors
    mo = zero  # the original's post-step state before step k
    work = tl.full([], 0, tl.int32)
    for k in range(STEPS):
        offs = k * stride + cols
        c = tl.load(cur_ptr + offs, mask=mask, other=0.0)
        e_k = tl.load(delta_ptr + offs, mask=mask, other=0.0)
        u_k = mo * decay_m + c
        spike = u_k > theta
        mo = tl.where(spike, zero, u_k)
        # the flip: potential exactly theta; a removed spike leaves theta (no reset), an added
        # one resets to 0; the loss change starts with E[k] (s_k[k] - s[k]) = E[k] (1 - 2 s[k])
        state = tl.where(spike, zero + theta, zero)
        acc = e_k * (1.0 - 2.0 * spike.to(zero.dtype))
        h_k = tl.load(h_ptr + offs, mask=mask, other=0.0)
        done = (state == mo) | ((k >= last) & (state <= tl.maximum(mo, h_k)))
        live = tl.sum((mask & ~done).to(tl.int32), axis=0)
        orig = mo
        # A for loop whose body is skipped once the block is finished, rather than a while loop
        # on the block reduction: that form crashes Triton's layout pass (3.8, sm_90). A
        # finished neighbor then costs a compare per remaining step instead of a simulation.
        for t in range(k + 1, STEPS):
            if live > 0:
                offs_t = t * stride + cols
                c = tl.load(cur_ptr + offs_t, mask=mask, other=0.0)
                e_t = tl.load(delta_ptr + offs_t, mask=mask, other=0.0)
                uo = orig * decay_m + c
                so = uo > theta
                orig = tl.where(so, zero, uo)
                v = state * decay_m + c
                sk = v > theta
                state = tl.where(sk, zero, v)
                acc = acc + e_t * (sk.to(zero.dtype) - so.to(zero.dtype))  # E * (±1 or 0): exact
                h_t = tl.load(h_ptr + offs_t, mask=mask, other=0.0)
                done = (state == orig) | ((t >= last) & (state <= tl.maximum(orig, h_t)))
                live = tl.sum((mask & ~done).to(tl.int32), axis=0)
                work += 1
        # the weighting, in na_weighting's op order; 1/(theta - u) = +inf at u == theta clamps
        if zero.dtype == tl.float64:
            r = 1.0 / (theta - u_k)  # div.rn.f64
        else:
            r = tl.div_rn(zero + 1.0, theta - u_k)  # "/" would be the approximate div.full.f32
        if OFFICIAL:
            weight = r * r * r
        else:
            weight = r
        weight = tl.where(weight < -clip, -clip, weight)
        weight = tl.where(weight > clip, clip, weight)
        tl.debug_barrier()  # every thread has read E[k] (here and in earlier neighbors)
        tl.store(delta_ptr + offs, weight * (acc * inv_tau_s), mask=mask,
                 eviction_policy="evict_first")  # fmt: skip
    if COUNT_WORK:
        tl.store(work_ptr + pid, work)


@triton.jit
def _surrogate_backward_kernel(
    cur_ptr, g_ptr, grad_ptr, consts_ptr, n, STEPS: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """Surrogate BPTT gradient of BLOCK neurons; consts = (decay_m, decay_s, tau_s, theta, slope).

    The forward writes u into grad (scratch); the backward sweep reads u[t] back and overwrites
    grad[t] with the gradient, in surrogate_chunk's (cpu_lif_impl.h) op order.
    """
    cols = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < n
    stride = tl.cast(n, tl.int64)
    decay_m = tl.load(consts_ptr)
    decay_s = tl.load(consts_ptr + 1)
    tau_s = tl.load(consts_ptr + 2)
    theta = tl.load(consts_ptr + 3)
    slope = tl.load(consts_ptr + 4)
    zero = tl.zeros([BLOCK], dtype=decay_m.dtype)
    one = zero + 1.0
    m = zero
    for t in range(STEPS):
        offs = t * stride + cols
        c = tl.load(cur_ptr + offs, mask=mask, other=0.0)
        u = m * decay_m + c
        m = tl.where(u > theta, zero, u)
        tl.store(grad_ptr + offs, u, mask=mask, eviction_policy="evict_last")
    tl.debug_barrier()  # u is complete before any thread reads it back
    acc_e = zero
    gm = zero
    for i in range(STEPS):
        offs = (STEPS - 1 - i) * stride + cols
        g = tl.load(g_ptr + offs, mask=mask, other=0.0, eviction_policy="evict_first")
        u = tl.load(grad_ptr + offs, mask=mask, other=0.0)
        acc_e = acc_e * decay_s + g  # e[t] = g[t] + decay_s * e[t+1]
        den = one + slope * tl.abs(u - theta)
        if zero.dtype == tl.float64:
            drive = acc_e / tau_s / (den * den)
        else:
            drive = tl.div_rn(tl.div_rn(acc_e, zero + tau_s), den * den)
        keep = tl.where(u > theta, zero, one)
        gu = drive + gm * keep  # gm * keep is exact
        tl.store(grad_ptr + offs, gu, mask=mask)
        gm = gu * decay_m


def _is_interpreted() -> bool:
    """Whether the decorators above made interpreter functions (``TRITON_INTERPRET=1``).

    Raises:
        ImportError: if Triton's own library (``tl.zeros``, ``tl.sum``... are ``@triton.jit``
            functions too, decorated when ``triton.language`` was first imported) was built for
            the other mode: the kernels could neither compile nor be interpreted.
    """
    ours = type(_lif_forward_kernel).__name__ == "InterpretedFunction"
    library = type(tl.zeros).__name__ == "InterpretedFunction"
    if ours != library:
        raise ImportError(
            "TRITON_INTERPRET changed after triton was imported: set it (or unset it) before "
            "the first import of triton in the process"
        )
    return ours


#: The kernels run under Triton's interpreter (on CPU tensors), not compiled for a GPU.
INTERPRETED: bool = _is_interpreted()


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return x.dtype if x.dtype in _FLOATS else torch.float32


def _prepare(first: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Detached, contiguous copies in the compute dtype of ``first`` (float32 for half types)."""
    if first.dim() != 2:
        raise ValueError(f"the Triton kernels take time-major [T, N], got {list(first.shape)}")
    if first.device.type == "cpu" and not INTERPRETED:
        raise RuntimeError(
            "the Triton kernels were compiled for the GPU and got CPU tensors; set "
            "TRITON_INTERPRET=1 before triton is first imported to run them on CPU"
        )
    dtype = _compute_dtype(first)
    out = []
    for x in (first, *others):
        if x.shape != first.shape or x.device != first.device:
            raise ValueError(
                f"tensors of one shape and device expected: {list(first.shape)} on "
                f"{first.device}, got {list(x.shape)} on {x.device}"
            )
        out.append(x.detach().to(dtype).contiguous())
    return tuple(out)


@functools.lru_cache(maxsize=64)
def _consts(values: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The kernel constants as a tensor of the compute dtype (cached: no copy per call)."""
    return torch.tensor(values, dtype=dtype, device=device)


def _headroom_consts(p: LIFParams, dtype: torch.dtype) -> tuple[float, float, float]:
    """1/decay_m rounded in ``dtype`` (as the C kernel divides), 8 ulps of 1, and float32's
    smallest normal: the headroom's constants, so that both kernels bound alike."""
    one = torch.tensor(1.0, dtype=dtype)
    inv = float(one / torch.tensor(p.decay_m, dtype=dtype))
    return inv, 8 * float(torch.finfo(dtype).eps), float(torch.finfo(torch.float32).tiny)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The interpreter computes with numpy, which warns on 1/0 = inf (clamped on purpose)."""
    if not INTERPRETED:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _check_block(block: int, num_warps: int) -> None:
    # At least one neuron per thread, so no layout replicates a column over threads; the
    # barriers make the scratch reuse safe anyway, this keeps every thread busy.
    if block <= 0 or block & (block - 1) or block < 32 * num_warps:
        raise ValueError(
            f"block must be a power of two >= 32 * num_warps, got {block} with {num_warps} warps"
        )


def lif_forward_triton(
    current: torch.Tensor, p: LIFParams, *, state: bool = True
) -> tuple[torch.Tensor, ...]:
    """The LIF/PSC forward of :func:`bna_zoo.core.lif.lif_forward`.

    Args:
        current: input current, ``[T, N]``.
        p: neuron constants.
        state: also write ``u`` and ``s``; without, only ``a`` (one output instead of three).

    Returns:
        ``(u, s, a)``, each ``[T, N]``, or ``(a,)`` without ``state``; in ``current``'s dtype,
        float32 for half types.
    """
    (x,) = _prepare(current)
    steps, n = x.shape
    a = torch.empty_like(x)
    u, s = (torch.empty_like(x), torch.empty_like(x)) if state else (a, a)
    consts = _consts((p.decay_m, p.decay_s, 1.0 / p.tau_s, p.theta), x.dtype, x.device)
    grid = (triton.cdiv(n, STREAM_BLOCK),)
    with _quiet():
        _lif_forward_kernel[grid](
            x, u, s, a, consts, n, STEPS=steps, BLOCK=STREAM_BLOCK, STORE_STATE=state,
            num_warps=STREAM_WARPS, enable_fp_fusion=False,
        )  # fmt: skip
    return (u, s, a) if state else (a,)


def na_backward_triton(
    current: torch.Tensor,
    grad_a: torch.Tensor,
    p: LIFParams,
    official: bool,
    clip: float,
    *,
    block: int = NA_BLOCK,
    num_warps: int = NA_WARPS,
) -> torch.Tensor:
    """NA's δ before the layer rescale, as ``cpu_kernel.na_backward_c``.

    Args:
        current: the layer's input current, ``[T, N]``.
        grad_a: ``dL/da``, ``[T, N]``.
        p: neuron constants.
        official: the official variant (``E`` from the twice-filtered gradient, cubed inverse
            distance) rather than the paper's (once-filtered, power 1).
        clip: the weight's clamp bound (``OFFICIAL_CLIP`` for the official variant).
        block, num_warps: launch shape (benchmarks).

    Returns:
        δ, ``[T, N]``, in ``current``'s compute dtype.
    """
    return na_backward_triton_with_work(
        current, grad_a, p, official, clip, block=block, num_warps=num_warps
    )[0]


def na_backward_triton_with_work(
    current: torch.Tensor,
    grad_a: torch.Tensor,
    p: LIFParams,
    official: bool,
    clip: float,
    *,
    block: int = NA_BLOCK,
    num_warps: int = NA_WARPS,
    count_work: bool = False,
) -> tuple[torch.Tensor, int]:
    """:func:`na_backward_triton` plus, with ``count_work``, the neighbor pass's work: the
    (block, neighbor, step) triples simulated, as ``cpu_kernel.na_backward_c_with_work`` counts
    them for blocks of ``block`` neurons (0 without ``count_work``)."""
    _check_block(block, num_warps)
    x, g = _prepare(current, grad_a)
    steps, n = x.shape
    delta = torch.empty_like(x)
    headroom = torch.empty_like(x)  # [T, N] scratch: the exit test reads it at every step
    grid = (triton.cdiv(n, block),)
    work = torch.zeros(grid[0] if count_work else 1, dtype=torch.int32, device=x.device)
    values = (p.decay_m, p.decay_s, 1.0 / p.tau_s, p.theta, float(clip),
              *_headroom_consts(p, x.dtype))
    consts = _consts(values, x.dtype, x.device)
    with _quiet():
        _na_backward_kernel[grid](
            x, g, delta, headroom, work, consts, n, STEPS=steps, BLOCK=block,
            OFFICIAL=bool(official), COUNT_WORK=count_work, num_warps=num_warps,
            enable_fp_fusion=False,
        )  # fmt: skip
    return delta, int(work.sum()) if count_work else 0


def surrogate_backward_triton(
    current: torch.Tensor, grad_a: torch.Tensor, p: LIFParams, slope: float
) -> torch.Tensor:
    """The surrogate-gradient BPTT gradient with respect to ``current`` (``[T, N]`` in/out), as
    ``cpu_kernel.surrogate_backward_c``."""
    x, g = _prepare(current, grad_a)
    steps, n = x.shape
    grad = torch.empty_like(x)
    values = (p.decay_m, p.decay_s, p.tau_s, p.theta, float(slope))
    consts = _consts(values, x.dtype, x.device)
    grid = (triton.cdiv(n, STREAM_BLOCK),)
    with _quiet():
        _surrogate_backward_kernel[grid](
            x, g, grad, consts, n, STEPS=steps, BLOCK=STREAM_BLOCK, num_warps=STREAM_WARPS,
            enable_fp_fusion=False,
        )  # fmt: skip
    return grad
