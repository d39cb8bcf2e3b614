"""The fused C kernels agree with the pure-torch kernels and the reference loops, and fall back."""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Iterator

import pytest
import torch

from bna_zoo.core import LIFParams, na_lif
from bna_zoo.core.kernels import cpu_kernel, na_backward, neighbor_loss_change
from bna_zoo.core.kernels.backend import get_backend, resolve, set_backend, use_backend
from bna_zoo.core.kernels.torch_kernel import neighbor_loss_change_torch
from bna_zoo.core.lif import lif_forward, reverse_filter
from bna_zoo.core.na import OFFICIAL_CLIP, na_weighting
from bna_zoo.core.reference import na_reference, simulate

PARAMS = [
    LIFParams(tau_m=5.0, tau_s=2.0, theta=1.0),  # MNIST/CIFAR10 constants
    LIFParams(tau_m=8.0, tau_s=4.0, theta=1.0),  # N-MNIST constants
    LIFParams(tau_m=3.0, tau_s=3.0, theta=0.7),  # decays and theta not exact in binary
]


@pytest.fixture
def c_kernels() -> None:
    """Skip when this machine cannot build the C kernels (the torch path is then all there is)."""
    if cpu_kernel.load_library() is None:
        pytest.skip("no working C compiler: the C kernels are unavailable")


@pytest.fixture(autouse=True)
def _restore_backend() -> Iterator[None]:
    """Each test leaves the process-wide backend as it found it."""
    with use_backend(get_backend()):
        yield


def _mode(mode: str) -> None:
    set_backend(mode)


def _currents(steps: int, n: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Random currents firing ~20% of the time, plus some strongly negative (silent) ones."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, n, generator=gen, dtype=torch.float64) * 0.6 + 0.35
    x[:, ::7] -= 2.0
    return x.to(dtype)


def _regular_currents(steps: int, n: int, seed: int) -> torch.Tensor:
    """Constant supra-threshold drive per neuron: regular firing, so neighbors re-merge."""
    gen = torch.Generator().manual_seed(seed)
    level = 0.3 + 1.4 * torch.rand(1, n, generator=gen)
    x = level.expand(steps, n).clone()
    # The first 128 columns (one C block) fire purely regularly, so the whole block exits
    # early; the rest is jittered slightly.
    jitter = 0.05 * torch.randn(steps, n, generator=gen)
    x[:, 128:] += jitter[:, 128:]
    return x


def _grads_both(
    current: torch.Tensor,
    grad: torch.Tensor,
    modes: tuple[str, ...] = ("torch", "c"),
    **kwargs,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``na_lif``'s output and input gradient under each process-wide backend."""
    out = {}
    for mode in modes:
        _mode(mode)
        x = current.clone().requires_grad_(True)
        a = na_lif(x, **kwargs)
        (g,) = torch.autograd.grad(a, x, grad)
        out[mode] = (a.detach(), g)
    return out


def _assert_close_scaled(actual: torch.Tensor, expected: torch.Tensor, rtol: float) -> None:
    """Equal up to ``rtol`` of the tensor's scale (sums in another order differ by rounding)."""
    scale = float(expected.abs().max()) or 1.0
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("steps", [5, 30])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", PARAMS)
def test_c_forward_is_bitwise_equal_to_torch_forward(
    c_kernels, steps: int, dtype: torch.dtype, p: LIFParams
) -> None:
    gen = torch.Generator().manual_seed(steps)
    n = int(torch.randint(1, 10_000, (1,), generator=gen))
    current = _currents(steps, n, seed=n, dtype=dtype)
    _mode("torch")
    expected = lif_forward(current, p)
    _mode("c")
    actual = lif_forward(current, p)
    for name, e, a in zip("usa", expected, actual, strict=True):
        assert torch.equal(a, e), f"{name} differs between the C and the torch forward"


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", PARAMS)
def test_c_psc_only_kernel_is_bitwise_the_full_forwards_psc(
    c_kernels, p: LIFParams, dtype: torch.dtype, threads: int
) -> None:
    """``lif_output`` on the C backend writes the PSC alone; it must be the same ``a`` bit for bit
    (two chunks of 4096 columns plus a partial one, with 1 and 2 threads)."""
    from bna_zoo.core.kernels import lif_output

    current = _currents(30, 2 * 4096 + 777, seed=11, dtype=dtype)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        a_only = cpu_kernel.lif_forward_c(current, p, state=False)
        _mode("c")
        via_output = lif_output(current, p)
        _mode("torch")
        expected = lif_forward(current, p)[2]
    finally:
        torch.set_num_threads(before)
    assert a_only is not None and len(a_only) == 1
    a_only = a_only[0]
    assert torch.equal(a_only, expected)
    assert torch.equal(via_output, expected)
    assert a_only.shape == current.shape and a_only.dtype == dtype


def test_na_and_surrogate_forwards_do_not_compute_the_discarded_u_and_s(
    c_kernels, monkeypatch
) -> None:
    """The autograd functions keep only ``a``: on the C backend neither forward may run the
    three-output kernel (two extra ``[T, N]`` tensors written and thrown away every step)."""

    real = cpu_kernel.lif_forward_c
    psc_only_calls = []

    def psc_only(current: torch.Tensor, p: LIFParams, state: bool = True):
        if state:
            raise AssertionError("the forward wrote u and s it does not use")
        psc_only_calls.append(current.shape)
        return real(current, p, state=False)

    monkeypatch.setattr(cpu_kernel, "lif_forward_c", psc_only)
    _mode("c")
    x = _currents(5, 300, seed=3)[None].clone().requires_grad_(True)  # [B=1, T, N]
    for gradient in ("na", "surrogate"):
        a = na_lif(x, gradient=gradient)
        assert a.shape == x.shape and a.requires_grad
    assert len(psc_only_calls) == 2  # both forwards ran the C kernel, writing a alone


def test_c_forward_equals_reference_simulation_in_float64(c_kernels) -> None:
    _mode("c")
    p = PARAMS[2]
    current = _currents(30, 40, seed=1, dtype=torch.float64)
    u, s, a = lif_forward(current, p)
    for n in range(current.shape[1]):
        ref = simulate(current[:, n].tolist(), p.tau_m, p.tau_s, p.theta)
        assert u[:, n].tolist() == ref[0]
        assert s[:, n].tolist() == ref[1]
        torch.testing.assert_close(a[:, n], torch.tensor(ref[2], dtype=torch.float64))


@pytest.mark.parametrize("steps", [5, 30])
@pytest.mark.parametrize("p", PARAMS)
@pytest.mark.parametrize("regular", [False, True], ids=["random", "regular-firing"])
def test_c_neighbor_pass_matches_torch_kernel(
    c_kernels, steps: int, p: LIFParams, regular: bool
) -> None:
    # N not a multiple of the 64-neuron block: the partial last block is covered too.
    n = 64 * 9 + 37
    current = _regular_currents(steps, n, seed=steps) if regular else _currents(steps, n, seed=3)
    u, s, _ = lif_forward(current, p)
    big_e = torch.randn(steps, n, generator=torch.Generator().manual_seed(4))
    expected = neighbor_loss_change_torch(current, u, s, big_e, p)
    actual = cpu_kernel.neighbor_loss_change_c(current, u, s, big_e, p)
    _assert_close_scaled(actual, expected, rtol=1e-5)


def test_early_exit_skips_exactly_the_finished_neighbors(c_kernels) -> None:
    """One C block per firing pattern: the work done shows which neighbors exited and when,
    and the result equals the torch kernel (which never exits) and closed forms."""
    p = LIFParams(tau_m=5.0, tau_s=2.0, theta=1.0)
    steps = 30
    block = cpu_kernel.load_library().bna_block_size()
    # 1.5: fires every step; a removed spike leaves theta, 0.8 + 1.5 fires and resets: merged
    #      after one step (work T - 1 for the block).
    # 0.1: never fires, u > 0; an added spike resets to 0 <= u below a silent original:
    #      finished before any step (work 0).
    # 0.6: fires every 2nd step (0.6, 1.08, ...); any flip shifts the phase for good: never
    #      finished (work T (T - 1) / 2).
    # -0.5: never fires, u < 0; an added spike resets to 0 > u, and the two states would only
    #      approach each other by decay_m per step; but 0 is below the headroom of these
    #      currents (from 0 the neuron never reaches theta): finished before any step (work 0).
    levels = torch.tensor([1.5, 0.1, 0.6, -0.5], dtype=torch.float64)
    current = levels.repeat_interleave(block).expand(steps, -1).contiguous()
    u, s, _ = lif_forward(current, p)
    assert s[:, 0].all() and not s[:, block].any() and s[:, 2 * block].sum() == steps // 2
    gen = torch.Generator().manual_seed(5)
    big_e = torch.randn(current.shape, dtype=torch.float64, generator=gen)
    actual, work = cpu_kernel.neighbor_loss_change_c_with_work(current, u, s, big_e, p)
    full = steps * (steps - 1) // 2
    assert work == (steps - 1) + 0 + full + 0
    expected = neighbor_loss_change_torch(current, u, s, big_e, p)
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)

    flip = big_e * (1 - 2 * s)  # E[t] (s_k[t] - s[t]) where s_k[t] = 1 - s[t]
    only_k = flip / p.tau_s  # the status flipped at step k alone
    phase_shift = flip.flip(0).cumsum(0).flip(0) / p.tau_s  # flipped at every t >= k
    closed = torch.cat(
        [only_k[:, : 2 * block], phase_shift[:, 2 * block : 3 * block], only_k[:, 3 * block :]],
        dim=1,
    )
    torch.testing.assert_close(actual, closed, rtol=1e-12, atol=1e-12)


def test_headroom_exit_keeps_a_neighbor_that_fires_where_a_silent_original_does_not(
        c_kernels) -> None:
    # Negative drive, then a last current that lifts the original to theta minus 1e-12: the
    # original never fires, but a neighbor whose added spike reset it to 0 (above the negative
    # original) is pushed over theta at the last step if its spike was late enough (by step
    # ~10 the 0.75 lead has decayed below 1e-9, decay_m = 1/3). The headroom must not finish
    # those neighbors early; the torch kernel never exits.
    p = LIFParams(tau_m=1.5, tau_s=2.0, theta=1.0)
    steps, block = 30, cpu_kernel.load_library().bna_block_size()
    current = torch.full((steps, block), -0.5, dtype=torch.float64)
    u, _, _ = lif_forward(current, p)
    current[-1] = p.theta - 1e-9 - u[-2] * p.decay_m
    u, s, _ = lif_forward(current, p)
    assert not s.any() and (p.theta - u[-1]).abs().max() < 2e-9
    big_e = torch.randn(current.shape, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(6))
    actual, work = cpu_kernel.neighbor_loss_change_c_with_work(current, u, s, big_e, p)
    expected = neighbor_loss_change_torch(current, u, s, big_e, p)
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)
    late = (actual[:-1] - big_e[:-1] / p.tau_s).abs().amax(dim=1) > 1e-9  # fired at T-1 too
    assert late[-3:].all() and not late[:5].any()  # late flips reach theta, early ones decay
    assert 0 < work < steps * (steps - 1) // 2  # early neighbors finished, late ones ran


def test_early_exit_saves_work_on_regular_firing(c_kernels) -> None:
    p = LIFParams(tau_m=5.0, tau_s=2.0, theta=1.0)
    steps, n = 30, 2048
    gen = torch.Generator().manual_seed(12)
    current = (1.2 + 0.3 * torch.rand(1, n, generator=gen)).expand(steps, n).contiguous()
    u, s, _ = lif_forward(current, p)
    big_e = torch.randn(steps, n, generator=gen)
    actual, work = cpu_kernel.neighbor_loss_change_c_with_work(current, u, s, big_e, p)
    blocks = -(-n // cpu_kernel.load_library().bna_block_size())
    assert work < 0.2 * blocks * steps * (steps - 1) // 2
    expected = neighbor_loss_change_torch(current, u, s, big_e, p)
    _assert_close_scaled(actual, expected, rtol=1e-5)


@pytest.mark.parametrize("steps", [5, 30])
@pytest.mark.parametrize("variant", ["official", "paper"])
def test_na_lif_gradient_is_the_same_with_c_and_torch_kernels(
    c_kernels, steps: int, variant: str
) -> None:
    gen = torch.Generator().manual_seed(steps)
    shape = (3, steps, 5, 7, int(torch.randint(2, 30, (1,), generator=gen)))
    current = torch.randn(shape, generator=gen) * 0.6 + 0.35
    grad = torch.randn(shape, generator=gen)
    res = _grads_both(current, grad, variant=variant, tau_m=8.0, tau_s=4.0)
    assert torch.equal(res["c"][0], res["torch"][0])
    _assert_close_scaled(res["c"][1], res["torch"][1], rtol=1e-5)


@pytest.mark.parametrize("steps", [5, 30])
@pytest.mark.parametrize("variant", ["official", "paper"])
def test_na_lif_with_c_kernels_matches_reference_loops(
    c_kernels, steps: int, variant: str
) -> None:
    _mode("c")
    gen = torch.Generator().manual_seed(10 + steps)
    shape = (2, steps, 3, 2)
    current = torch.randn(shape, generator=gen, dtype=torch.float64) * 0.6 + 0.35
    grad = torch.randn(shape, generator=gen, dtype=torch.float64)
    x = current.clone().requires_grad_(True)
    a = na_lif(x, variant=variant, clip=2.0)
    (delta,) = torch.autograd.grad(a, x, grad)
    a_ref, delta_ref = na_reference(current, grad, variant=variant, clip=2.0)
    torch.testing.assert_close(a.detach(), a_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(delta, delta_ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("steps", [5, 30])
def test_c_surrogate_backward_is_bitwise_equal_to_torch(c_kernels, steps: int) -> None:
    gen = torch.Generator().manual_seed(20 + steps)
    shape = (4, steps, 3, 161)  # N = 1932: more than one surrogate chunk at T = 30
    current = torch.randn(shape, generator=gen) * 0.6 + 0.35
    grad = torch.randn(shape, generator=gen)
    res = _grads_both(current, grad, gradient="surrogate", theta=0.7, tau_m=3.0)
    assert torch.equal(res["c"][0], res["torch"][0])
    # Same ops in the same order, one rounding each: bitwise equal, not just close.
    assert torch.equal(res["c"][1], res["torch"][1])


def test_c_reverse_filter_is_bitwise_equal_to_torch(c_kernels) -> None:
    g = torch.randn(30, 1000, generator=torch.Generator().manual_seed(6))
    _mode("torch")
    expected = reverse_filter(g, 0.75)
    _mode("c")
    assert torch.equal(reverse_filter(g, 0.75), expected)


def test_c_results_do_not_depend_on_the_thread_count(c_kernels) -> None:
    """Several chunks of every kernel (4096 columns for the O(T) ones) plus a partial one."""
    _mode("c")
    p = PARAMS[1]
    current = _currents(30, 2 * 4096 + 777, seed=7)
    big_e = torch.randn(current.shape, generator=torch.Generator().manual_seed(8))
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            u, s, a = lif_forward(current, p)
            x = current[None].clone().requires_grad_(True)  # [B=1, T, N]
            a_surr = na_lif(x, gradient="surrogate", tau_m=p.tau_m, tau_s=p.tau_s)
            (surrogate,) = torch.autograd.grad(a_surr, x, big_e[None])
            delta_loss = neighbor_loss_change(current, u, s, big_e, p)
            results.append((u, s, a, reverse_filter(big_e, 0.5), surrogate, delta_loss))
    finally:
        torch.set_num_threads(before)
    for other in results[1:]:
        assert all(torch.equal(r, r0) for r, r0 in zip(other, results[0], strict=True))

    _mode("torch")
    expected = lif_forward(current, p)
    assert all(torch.equal(r, r0) for r, r0 in zip(results[0][:3], expected, strict=True))


def test_torch_backend_gives_the_same_results_as_the_default(c_kernels) -> None:
    gen = torch.Generator().manual_seed(9)
    current = torch.randn(2, 5, 300, generator=gen) * 0.6 + 0.35
    grad = torch.randn(2, 5, 300, generator=gen)
    res = _grads_both(current, grad, modes=("auto", "torch"))
    assert torch.equal(res["auto"][0], res["torch"][0])
    _assert_close_scaled(res["auto"][1], res["torch"][1], rtol=1e-5)


def test_unsupported_tensors_take_the_torch_path(c_kernels) -> None:
    x = torch.randn(5, 10)
    assert resolve("c", x) == "c"
    assert resolve("c", x.half()) == "torch"
    assert resolve("c", x, x.double()) == "torch"
    assert resolve("c", torch.empty(5, 0)) == "torch"
    with torch.enable_grad():  # C builds no graph: leave autograd semantics to torch
        assert resolve("c", x.clone().requires_grad_(True)) == "torch"


def _na_unfused(
    current: torch.Tensor, grad: torch.Tensor, p: LIFParams, variant: str, clip: float
) -> torch.Tensor:
    """``NALIF.backward``'s composition (before the rescale) under the current kernel mode."""
    u, s, _ = lif_forward(current, p)
    w = reverse_filter(grad, p.decay_s) if variant == "official" else grad
    loss_change = neighbor_loss_change(current, u, s, reverse_filter(w, p.decay_s), p)
    return na_weighting(loss_change, u, p.theta, variant, clip)


def _na_fused(
    current: torch.Tensor, grad: torch.Tensor, p: LIFParams, variant: str, clip: float
) -> torch.Tensor:
    bound = OFFICIAL_CLIP if variant == "official" else clip
    assert resolve(None, current, grad) == "c", "the fused kernel should apply to these tensors"
    return cpu_kernel.na_backward_c(current, grad, p, variant == "official", bound)


def _work_on_busy_neurons(
    current: torch.Tensor, u: torch.Tensor, s: torch.Tensor, big_e: torch.Tensor, p: LIFParams
) -> int:
    """The unfused neighbor pass's work on the neurons that need any simulation, side by side
    (one chunk: the fused kernel's chunks are wider than these layers)."""
    def work(cols: list[int]) -> int:
        args = (x[:, cols].contiguous() for x in (current, u, s, big_e))
        return cpu_kernel.neighbor_loss_change_c_with_work(*args, p)[1]

    busy = [j for j in range(current.shape[1]) if work([j]) > 0]
    return work(busy) if busy else 0


# N: one neuron, one block minus one, several blocks plus a partial one (blocks of 128).
@pytest.mark.parametrize("n", [1, 127, 3 * 128 + 37])
@pytest.mark.parametrize("steps", [1, 5, 30])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("variant", ["official", "paper"])
def test_fused_na_backward_equals_unfused_composition(
    c_kernels, variant: str, dtype: torch.dtype, steps: int, n: int
) -> None:
    _mode("c")
    for i, p in enumerate(PARAMS):
        current = _currents(steps, n, seed=100 * steps + n + i, dtype=dtype)
        current[:, 1::11] = p.theta  # u == theta exactly at t = 0 and after every spike
        grad = torch.randn(steps, n, generator=torch.Generator().manual_seed(i), dtype=dtype)
        fused = _na_fused(current, grad, p, variant, clip=2.0)
        # Same arithmetic in the same order as the C composition: bitwise, float32 included.
        assert torch.equal(fused, _na_unfused(current, grad, p, variant, clip=2.0))
        # From NA_PACK_MIN_STEPS on, the fused kernel simulates only the busy neurons (one of
        # whose neighbors outlives its start), packed into blocks of their own: exactly the
        # unfused pass's work on them; below it, the unfused pass's work.
        u, s, _ = lif_forward(current, p)
        w = reverse_filter(grad, p.decay_s) if variant == "official" else grad
        big_e = reverse_filter(w, p.decay_s)
        _, work = cpu_kernel.neighbor_loss_change_c_with_work(current, u, s, big_e, p)
        bound = OFFICIAL_CLIP if variant == "official" else 2.0
        _, fused_work = cpu_kernel.na_backward_c_with_work(
            current, grad, p, variant == "official", bound
        )
        if steps >= cpu_kernel.load_library().bna_na_pack_min_steps():
            assert fused_work == _work_on_busy_neurons(current, u, s, big_e, p) <= work
        else:
            assert fused_work == work
        # Against the pure-torch composition the ΔL sums run in another order.
        _mode("torch")
        torch_path = _na_unfused(current, grad, p, variant, clip=2.0)
        _mode("c")
        rtol = 1e-5 if dtype == torch.float32 else 1e-12
        _assert_close_scaled(fused, torch_path, rtol=rtol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_packed_na_backward_over_several_chunks_equals_the_unfused_composition(
    c_kernels, dtype: torch.dtype
) -> None:
    """T=30 over more neurons than three chunks hold (chunks of 512-1,024 at T=30): busy neurons
    are packed per chunk, and the result is still the unfused one, with less neighbor work."""
    _mode("c")
    p, steps, n = PARAMS[0], 30, 3 * 1024 + 77
    current = _currents(steps, n, seed=11, dtype=dtype)
    current[:, 2::5] -= 1.5  # mostly silent neurons, so that busy and idle ones interleave
    grad = torch.randn(steps, n, generator=torch.Generator().manual_seed(12), dtype=dtype)
    fused, fused_work = cpu_kernel.na_backward_c_with_work(current, grad, p, True, OFFICIAL_CLIP)
    assert torch.equal(fused, _na_unfused(current, grad, p, "official", clip=OFFICIAL_CLIP))
    u, s, _ = lif_forward(current, p)
    big_e = reverse_filter(reverse_filter(grad, p.decay_s), p.decay_s)
    _, work = cpu_kernel.neighbor_loss_change_c_with_work(current, u, s, big_e, p)
    assert 0 < fused_work < work


@pytest.mark.parametrize(("steps", "n"), [(1, 130), (5, 130), (30, 131)])
@pytest.mark.parametrize("variant", ["official", "paper"])
def test_fused_na_backward_matches_reference_loops_in_float64(
    c_kernels, variant: str, steps: int, n: int
) -> None:
    _mode("c")
    p = PARAMS[2]
    current = _currents(steps, n, seed=steps, dtype=torch.float64)
    grad = torch.randn(steps, n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    delta = _na_fused(current, grad, p, variant, clip=3.0)
    # reference loops on [B = 1, T, N]
    _, delta_ref = na_reference(
        current[None], grad[None], p.tau_m, p.tau_s, p.theta, variant, clip=3.0
    )
    torch.testing.assert_close(delta, delta_ref[0], rtol=1e-10, atol=1e-10)
    assert delta.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("variant", ["official", "paper"])
def test_fused_na_backward_clamps_at_u_equal_theta(
    c_kernels, variant: str, dtype: torch.dtype
) -> None:
    _mode("c")
    p = LIFParams(tau_m=5.0, tau_s=2.0, theta=1.0)
    # u = theta at t = 0 (from rest) and t = 2 (after the reset of t = 1's spike)
    current = torch.tensor([[1.0, 0.2], [1.5, 0.3], [1.0, -0.4], [0.4, 0.9]], dtype=dtype)
    grad = torch.tensor([[0.5, -1.0], [-2.0, 0.7], [1.5, 0.3], [0.8, -0.6]], dtype=dtype)
    u, s, _ = lif_forward(current, p)
    at_theta = u == p.theta
    assert at_theta[0, 0] and at_theta[2, 0] and at_theta.sum() == 2
    clip = 3.0
    bound = OFFICIAL_CLIP if variant == "official" else clip
    delta = _na_fused(current, grad, p, variant, clip)
    assert torch.isfinite(delta).all()
    w = reverse_filter(grad, p.decay_s) if variant == "official" else grad
    loss_change = neighbor_loss_change(current, u, s, reverse_filter(w, p.decay_s), p)
    # theta - u == +0: the inverse distance is +inf and clamps to +bound
    assert torch.equal(delta[at_theta], loss_change[at_theta] * bound)
    assert (loss_change[at_theta] != 0).all()
    assert torch.equal(delta, _na_unfused(current, grad, p, variant, clip))


def test_fused_na_backward_does_not_depend_on_the_thread_count(c_kernels) -> None:
    _mode("c")
    p = PARAMS[1]
    current = _currents(30, 9 * 128 + 5, seed=13)
    grad = torch.randn(current.shape, generator=torch.Generator().manual_seed(14))
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            results.append(_na_fused(current, grad, p, "official", clip=10.0))
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(r, results[0]) for r in results[1:])


@pytest.mark.parametrize("variant", ["official", "paper"])
def test_fused_na_backward_falls_back_to_the_torch_composition(
    c_kernels, variant: str
) -> None:
    p = LIFParams(tau_m=8.0, tau_s=4.0, theta=1.0)
    gen = torch.Generator().manual_seed(15)
    current = torch.randn(2, 5, 300, generator=gen) * 0.6 + 0.35
    grad = torch.randn(2, 5, 300, generator=gen)
    flat, flat_grad = (x.transpose(0, 1).reshape(5, -1).contiguous() for x in (current, grad))
    _mode("torch")
    assert resolve(None, flat, flat_grad) == "torch"
    expected = _na_unfused(flat, flat_grad, p, variant, clip=2.0)  # the pure-torch kernels
    assert torch.equal(na_backward(flat, flat_grad, p, variant, 2.0), expected)
    res = _grads_both(
        current, grad, modes=("torch", "auto"), variant=variant, clip=2.0,
        tau_m=p.tau_m, tau_s=p.tau_s,
    )  # fmt: skip
    torch_grad = res["torch"][1].transpose(0, 1).reshape(5, -1)
    assert torch.equal(torch_grad, expected)
    _assert_close_scaled(res["auto"][1], res["torch"][1], rtol=1e-5)
    # Tensors the C kernels do not take: the composition, not an error.
    _mode("c")
    assert resolve(None, flat.half(), flat_grad.half()) == "torch"
    assert resolve(None, flat, flat_grad.double()) == "torch"
    half = na_backward(flat.half(), flat_grad.half(), p, variant, 2.0)
    assert half.dtype == torch.half and torch.isfinite(half).all()
    with torch.enable_grad():
        assert resolve(None, flat.requires_grad_(True), flat_grad) == "torch"


@pytest.fixture
def fresh_library(monkeypatch, tmp_path):
    """An empty kernel cache and no loaded library; the real one is reloaded afterwards."""
    monkeypatch.setenv("BNA_ZOO_CACHE", str(tmp_path))
    cpu_kernel.load_library.cache_clear()
    yield tmp_path
    cpu_kernel.load_library.cache_clear()


def test_broken_compiler_falls_back_to_torch(fresh_library, monkeypatch, caplog) -> None:
    monkeypatch.setenv("CC", "/bin/false")
    _mode("auto")
    with caplog.at_level(logging.WARNING, logger=cpu_kernel.__name__):
        assert cpu_kernel.load_library() is None
        assert cpu_kernel.load_library() is None  # cached: tried and logged only once
    assert len([r for r in caplog.records if "could not build" in r.message]) == 1
    assert not list(fresh_library.rglob("*.so")) and not list(fresh_library.rglob("*.tmp"))

    gen = torch.Generator().manual_seed(11)
    current = torch.randn(2, 5, 50, generator=gen) * 0.6 + 0.35
    grad = torch.randn(2, 5, 50, generator=gen)
    res = _grads_both(current, grad, modes=("auto", "torch"))
    assert torch.equal(res["auto"][0], res["torch"][0])
    assert torch.equal(res["auto"][1], res["torch"][1])  # auto fell back: the very same path


def test_forcing_c_without_a_compiler_raises(fresh_library, monkeypatch) -> None:
    monkeypatch.setenv("CC", "/bin/false")
    _mode("c")
    with pytest.raises(RuntimeError, match="backend 'c'"):
        na_lif(torch.ones(1, 5, 3))


def test_damaged_cached_library_is_rebuilt(c_kernels, fresh_library) -> None:
    # Planted before anything is loaded: overwriting a mapped library would crash this process.
    path = cpu_kernel._library_path(cpu_kernel._compiler(), cpu_kernel._flag_sets()[0])
    path.write_bytes(b"not a shared library")
    assert cpu_kernel.load_library() is not None
    assert path.read_bytes()[:4] == b"\x7fELF" or sys.platform != "linux"


def test_racing_builders_leave_one_loadable_library(c_kernels, fresh_library) -> None:
    compiler = cpu_kernel._compiler()
    flags = cpu_kernel._flag_sets()[-1]  # plain flags: fastest to build
    target = cpu_kernel._library_path(compiler, flags)
    errors: list[BaseException] = []

    def build() -> None:
        try:
            cpu_kernel._compile(compiler, flags, target)
        except BaseException as err:  # noqa: BLE001 - reported by the assert below
            errors.append(err)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    assert ctypes.CDLL(str(target)).bna_abi_version() == cpu_kernel._ABI_VERSION


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_c_abs_sum_is_the_float64_sum_and_ignores_the_thread_count(c_kernels, dtype) -> None:
    """The rescale's sum |δ|: two full chunks of 4096 plus a ragged tail of 5 (not a multiple of
    the 8 accumulators), equal to the float64 sum to rounding, identical for 1, 2 and 3 threads."""
    from bna_zoo.core.kernels import abs_sum

    x = torch.randn(3, 2 * 4096 + 5, generator=torch.Generator().manual_seed(4), dtype=dtype)
    exact = float(x.double().abs().sum())
    before = torch.get_num_threads()
    try:
        sums = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            _mode("c")
            sums.append(float(abs_sum(x)))
    finally:
        torch.set_num_threads(before)
    assert sums[0] == sums[1] == sums[2]
    assert sums[0] == pytest.approx(exact, rel=1e-12)
    _mode("torch")
    assert float(abs_sum(x)) == pytest.approx(exact, rel=1e-5)  # vector_norm, in x's dtype
    assert float(abs_sum(x[:, :0])) == 0.0
