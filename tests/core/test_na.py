"""NA backward (docs/na.md §5, §7)."""

import time
import warnings

import pytest
import torch

from bna_zoo.core import LIFParams, lif_forward, na_lif, reverse_filter
from bna_zoo.core.kernels import torch_kernel
from bna_zoo.core.kernels.torch_kernel import neighbor_loss_change_torch
from bna_zoo.core.reference import na_reference, simulate


def _random_case(shape, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    current = torch.randn(*shape, generator=g, dtype=dtype) * 0.8 + 0.45
    grad = torch.randn(*shape, generator=g, dtype=dtype)
    return current, grad


def _na_grad(current, grad, **kwargs):
    x = current.clone().requires_grad_()
    a = na_lif(x, **kwargs)
    a.backward(grad)
    return a.detach(), x.grad


@pytest.mark.parametrize("variant", ["official", "paper"])
@pytest.mark.parametrize("shape", [(2, 5, 6), (3, 5, 2, 3), (2, 30, 5), (1, 30, 2, 2, 2)])
def test_na_matches_reference_loop_in_float64(variant, shape):
    current, grad = _random_case(shape, seed=sum(shape))
    tau_m, tau_s = (8.0, 4.0) if shape[1] == 30 else (5.0, 2.0)
    a, delta = _na_grad(current, grad, tau_m=tau_m, tau_s=tau_s, variant=variant, clip=3.0)
    a_ref, delta_ref = na_reference(current, grad, tau_m, tau_s, 1.0, variant, clip=3.0)
    torch.testing.assert_close(a, a_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(delta, delta_ref, rtol=1e-10, atol=1e-10)
    assert delta.abs().sum() > 0


def test_neighbor_equals_full_resimulation_with_perturbed_current():
    # docs/na.md §5: neighbor k == simulation with input I + (theta - u[k] (+0 when adding)) 1_k.
    current, _ = _random_case((4, 12, 5), seed=1)
    p = LIFParams(5.0, 2.0, 1.0)
    cases = 0
    for b in range(4):
        for n in range(5):
            seq = current[b, :, n].tolist()
            u, s, _ = simulate(seq, p.tau_m, p.tau_s, p.theta)
            for k in range(12):
                _, s_flip, _ = simulate(seq, p.tau_m, p.tau_s, p.theta, flip_at=k)
                # margins keep u' strictly above (adding) or below (removing) theta
                eps = p.theta - u[k] + (1e-9 if s[k] == 0 else -1e-9)
                perturbed = list(seq)
                perturbed[k] += eps
                _, s_pert, _ = simulate(perturbed, p.tau_m, p.tau_s, p.theta)
                assert s_flip == s_pert
                cases += 1
    assert cases == 240


def test_fast_loss_change_equals_psc_difference_of_resimulated_neighbors():
    current, grad = _random_case((3, 10, 4), seed=2)
    p = LIFParams(5.0, 2.0, 1.0)
    cur_tm = current.transpose(0, 1).reshape(10, -1)
    w = grad.transpose(0, 1).reshape(10, -1)
    u, s, a = lif_forward(cur_tm, p)
    fast = neighbor_loss_change_torch(cur_tm, u, s, reverse_filter(w, p.decay_s), p)
    for n in range(cur_tm.shape[1]):
        seq = cur_tm[:, n].tolist()
        for k in range(10):
            _, _, a_k = simulate(seq, p.tau_m, p.tau_s, p.theta, flip_at=k)
            expected = sum(w[t, n].item() * (a_k[t] - a[t, n].item()) for t in range(10))
            assert fast[k, n].item() == pytest.approx(expected, abs=1e-12)


def test_secant_identity_at_output_layer_with_a_linear_loss():
    # For L = sum(g * a) the first-order loss change is exact, so with the paper form (no clip
    # reached) delta[k] * (theta - u[k]) == L(I + eps_k 1_k) - L(I) for the flipping eps_k.
    current, grad = _random_case((2, 8, 3), seed=3)
    clip = 1e9
    _, delta = _na_grad(current, grad, variant="paper", clip=clip)
    p = LIFParams(5.0, 2.0, 1.0)
    for b in range(2):
        for n in range(3):
            seq = current[b, :, n].tolist()
            u, s, a = simulate(seq, p.tau_m, p.tau_s, p.theta)
            g = grad[b, :, n].tolist()
            loss = sum(gi * ai for gi, ai in zip(g, a, strict=False))
            for k in range(8):
                eps = p.theta - u[k] + (1e-9 if s[k] == 0 else -1e-9)
                pert = list(seq)
                pert[k] += eps
                _, _, a_new = simulate(pert, p.tau_m, p.tau_s, p.theta)
                secant = sum(gi * ai for gi, ai in zip(g, a_new, strict=False)) - loss
                assert delta[b, k, n].item() * (p.theta - u[k]) == pytest.approx(secant, abs=1e-7)


@pytest.mark.parametrize("variant", ["official", "paper"])
def test_sign_rule_delta_sign_is_loss_change_sign_times_distance_sign(variant):
    current, grad = _random_case((4, 6, 8), seed=4)
    _, delta = _na_grad(current, grad, variant=variant)
    p = LIFParams(5.0, 2.0, 1.0)
    cur_tm = current.transpose(0, 1).reshape(6, -1)
    g_tm = grad.transpose(0, 1).reshape(6, -1)
    u, s, _ = lif_forward(cur_tm, p)
    w = reverse_filter(g_tm, p.decay_s) if variant == "official" else g_tm
    dl = neighbor_loss_change_torch(cur_tm, u, s, reverse_filter(w, p.decay_s), p)
    d_tm = delta.transpose(0, 1).reshape(6, -1)
    nz = dl.abs() > 1e-12
    assert nz.sum() > 50
    assert torch.equal(torch.sign(d_tm[nz]), torch.sign(dl[nz]) * torch.sign(p.theta - u[nz]))


def test_delta_is_zero_where_the_upstream_gradient_is_zero():
    current, grad = _random_case((2, 6, 4), seed=5)
    grad[:, :, 1] = 0.0
    _, delta = _na_grad(current, grad, variant="paper")
    assert delta[:, :, 1].abs().max() == 0


def test_delta_is_linear_in_upstream_gradient_without_rescale():
    current, g1 = _random_case((2, 7, 4), seed=6)
    _, g2 = _random_case((2, 7, 4), seed=7)
    _, d1 = _na_grad(current, g1)
    _, d2 = _na_grad(current, g2)
    _, d12 = _na_grad(current, 2.0 * g1 - 3.0 * g2)
    torch.testing.assert_close(d12, 2.0 * d1 - 3.0 * d2)


def test_official_distance_weight_clamps_at_threshold_instead_of_dividing_by_zero():
    # u == theta exactly at step 0: 1/0 -> inf is clamped to 5, never NaN.
    current = torch.tensor([[[1.0], [0.2], [0.3]]], dtype=torch.float64)
    _, delta = _na_grad(current, torch.ones_like(current))
    assert torch.isfinite(delta).all()
    assert delta[0, 0, 0].item() != 0


def test_float32_na_matches_float64_on_random_inputs():
    current, grad = _random_case((4, 30, 16), seed=8)
    _, d64 = _na_grad(current, grad)
    _, d32 = _na_grad(current.float(), grad.float())
    assert d32.dtype == torch.float32
    # a few near-threshold potentials may flip between precisions; nearly all must agree
    close = torch.isclose(d32.double(), d64, rtol=1e-4, atol=1e-4)
    assert close.float().mean() > 0.99


# ------------------------------------------------------------------- the torch neighbor pass


def _all_pairs_neighbor_pass(current, s, big_e, p):
    """The former torch kernel: every neighbor simulated to the end, O(T^2 N) (the check)."""
    steps = current.shape[0]
    suffix = torch.zeros_like(big_e)
    suffix[:-1] = (big_e * s).flip(0).cumsum(0).flip(0)[1:]
    acc = big_e * (1.0 - 2.0 * s) - suffix
    m = torch.empty_like(current)
    for t in range(steps):
        if t > 0:
            spk = torch.gt(m[:t].mul_(p.decay_m).add_(current[t]), p.theta).to(m.dtype)
            m[:t].mul_(1.0 - spk)
            acc[:t].addcmul_(spk, big_e[t])
        m[t] = s[t] * p.theta
    return acc.mul_(1.0 / p.tau_s)


def _regular_case(steps, n, seed):
    """Float64 currents whose neighbors re-merge: a drive above threshold (a spike every step)
    next to random ones. (A steady drive in (0.5, 1) would not do: it fires every 2 or 3 steps,
    and a neighbor shifted by one step stays shifted for ever, in the C kernel as here.)"""
    gen = torch.Generator().manual_seed(seed)
    level = (1.05 + 0.5 * torch.rand(1, n, generator=gen, dtype=torch.float64)).expand(steps, n)
    current = level + 0.02 * torch.randn(steps, n, generator=gen, dtype=torch.float64)
    current[:, ::3] = torch.randn(steps, (n + 2) // 3, generator=gen, dtype=torch.float64) * 0.6
    big_e = torch.randn(steps, n, generator=gen, dtype=torch.float64)
    return current.contiguous(), big_e


@pytest.mark.parametrize("p", [LIFParams(5.0, 2.0, 1.0), LIFParams(8.0, 4.0, 0.7)])
def test_torch_neighbor_pass_with_early_exit_equals_the_all_pairs_pass(p):
    current, big_e = _regular_case(400, 24, seed=11)
    u, s, _ = lif_forward(current, p, "torch")
    fast, work = torch_kernel._neighbor_pass(current, u, s, big_e, p)
    slow = _all_pairs_neighbor_pass(current, s, big_e, p)
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)  # sums in another order
    assert work < 0.5 * 400 * 399 / 2  # and most neighbors were retired on the way


def test_torch_neighbor_pass_simulates_only_live_neighbors_on_regular_firing():
    steps = 4000
    current = torch.full((steps, 6), 1.3)  # fires every few steps: neighbors re-merge at once
    p = LIFParams()
    u, s, _ = lif_forward(current, p, "torch")
    _, work = torch_kernel._neighbor_pass(current, u, s, torch.ones(steps, 6), p)
    assert work < 0.02 * steps * (steps - 1) / 2  # live neighbors stay within a sweep or two


def test_torch_na_backward_at_100k_steps_takes_seconds_not_minutes():
    # The all-pairs pass took ~6 minutes here (T^2/2 = 5e9 neighbor steps per neuron).
    gen = torch.Generator().manual_seed(12)
    x = (torch.randn(1, 100_000, 2, generator=gen) * 0.6 + 0.35).requires_grad_()
    start = time.perf_counter()
    na_lif(x, backend="torch").sum().backward()
    assert time.perf_counter() - start < 60
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def _never_remerging_case(steps):
    """Float64 leak ~1e-12 per step and a falling potential: neighbors stay apart for ever."""
    p = LIFParams(tau_m=1e12, tau_s=2.0, theta=1.0)
    current = torch.full((steps, 3), -1e-3, dtype=torch.float64)
    u, s, _ = lif_forward(current, p, "torch")
    return current, u, s, torch.ones_like(current), p


def test_torch_neighbor_pass_that_will_take_long_warns_once_with_cost_and_fix(monkeypatch):
    monkeypatch.setattr(torch_kernel, "_warned", False)
    monkeypatch.setattr(torch_kernel, "_RATE", {"cpu": 100.0, "other": 100.0})  # a slow device
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re-merging neighbors: no warning, however slow
        current, p = torch.full((300, 3), 1.3), LIFParams()
        u, s, _ = lif_forward(current, p, "torch")
        torch_kernel._neighbor_pass(current, u, s, torch.ones_like(current), p)
    args = _never_remerging_case(300)
    with pytest.warns(RuntimeWarning, match=r"at least ~\d+ s more .*O\(T\^2\).*shorter T"):
        _, work = torch_kernel._neighbor_pass(*args)
    assert work == 300 * 299 // 2  # nothing could be retired
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process
        torch_kernel._neighbor_pass(*args)


def test_torch_neighbor_pass_equals_the_c_kernel_bit_for_bit():
    from bna_zoo.core.kernels import cpu_kernel, neighbor_loss_change

    if cpu_kernel.load_library() is None:
        pytest.skip("no working C compiler: the C kernels are unavailable")
    gen = torch.Generator().manual_seed(14)
    current = torch.randn(700, 300, generator=gen) * 0.6 + 0.35  # float32, long enough to retire
    big_e = torch.randn(700, 300, generator=gen)
    p = LIFParams(8.0, 4.0, 1.0)
    u, s, _ = lif_forward(current, p, "torch")
    c = neighbor_loss_change(current, u, s, big_e, p, "c")
    assert torch.equal(neighbor_loss_change_torch(current, u, s, big_e, p), c)
