"""The Triton kernels and the backend choice.

How the interpreter is enabled (Triton 3.6-3.8): ``@triton.jit`` reads ``TRITON_INTERPRET`` when
it decorates a function, and Triton's own library functions (``tl.zeros``, ``tl.sum``...) are
decorated when ``triton.language`` is first imported. A process therefore runs either
interpreted or compiled Triton, for good: setting the variable in a fixture after anything
imported triton leaves a mix that neither compiles nor interprets. So the tests marked
``@under_interpreter`` run in one fresh pytest process started with ``TRITON_INTERPRET=1`` (by
``test_the_triton_kernels_pass_under_the_interpreter_in_a_fresh_process``), and this process
keeps compiled Triton for the offline PTX checks and, where a GPU exists, the CUDA tests.

The CPU reference is the C kernel where it builds (the Triton kernels do the same operations in
the same order, so they agree bit for bit, early-exit work included) and otherwise the torch
path and the reference loops of :mod:`bna_zoo.core.reference`.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from bna_zoo.core import LIFParams, na_lif
from bna_zoo.core.kernels import cpu_kernel
from bna_zoo.core.kernels.backend import (
    BACKENDS,
    get_backend,
    resolve,
    set_backend,
    triton_installed,
    use_backend,
)
from bna_zoo.core.kernels.torch_kernel import (
    OFFICIAL_CLIP,
    lif_forward_torch,
    na_weighting,
    neighbor_loss_change_torch,
    reverse_filter_torch,
    surrogate_backward_torch,
)
from bna_zoo.core.reference import na_reference

MODULE = "bna_zoo.core.kernels.triton_kernel"
P = LIFParams(tau_m=3.0, tau_s=3.0, theta=0.7)  # decays and theta not exact in binary
#: This process runs Triton's interpreter (the child process below, or a user's choice).
INTERPRETING = os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "on", "yes")

needs_triton = pytest.mark.skipif(not triton_installed(), reason="triton is not installed")
needs_compiled_triton = pytest.mark.skipif(
    INTERPRETING or not triton_installed(), reason="needs triton, not its interpreter"
)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

_UNDER_INTERPRETER: list[str] = []


def under_interpreter(test: Callable) -> Callable:
    """Run ``test`` only in a process started with ``TRITON_INTERPRET=1`` (see the docstring)."""
    _UNDER_INTERPRETER.append(test.__name__)
    # deselected (not skipped) in the parent process by tests/core/conftest.py: they do run,
    # in the child process that test_the_triton_kernels_pass_under_the_interpreter... starts
    return needs_triton(pytest.mark.triton_interpreter(test))


@pytest.fixture(autouse=True)
def _restore_backend() -> Iterator[None]:
    """Each test leaves the process-wide backend as it found it."""
    with use_backend(get_backend()):
        yield


@pytest.fixture
def interpreted() -> ModuleType:
    """The Triton kernels, interpreted (this process was started with TRITON_INTERPRET=1)."""
    module = importlib.import_module(MODULE)
    assert module.INTERPRETED
    return module


def _currents(steps: int, n: int, seed: int, dtype: torch.dtype) -> torch.Tensor:
    """Random currents firing ~20% of the time, some strongly negative (silent) columns, and
    columns whose potential is exactly theta at t = 0 (u == theta: the clamped weight)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, n, generator=gen, dtype=torch.float64) * 0.6 + 0.35
    x[:, ::7] -= 2.0
    x = x.to(dtype)
    x[:, 1::11] = P.theta
    return x


def _grad(steps: int, n: int, seed: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.randn(steps, n, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _na_torch(current: torch.Tensor, grad: torch.Tensor, official: bool, clip: float):
    """``NALIF.backward``'s torch composition before the rescale."""
    u, s, _ = lif_forward_torch(current, P)
    w = reverse_filter_torch(grad, P.decay_s) if official else grad
    loss_change = neighbor_loss_change_torch(current, u, s, reverse_filter_torch(w, P.decay_s), P)
    return na_weighting(loss_change, u, P.theta, "official" if official else "paper", clip)


def _c_neighbor_pass_work(
    current: torch.Tensor, grad: torch.Tensor, p: LIFParams, official: bool
) -> int:
    """The work of the C neighbor pass alone (contiguous blocks of 128, like Triton's)."""
    u, s, _ = lif_forward_torch(current, p)
    w = reverse_filter_torch(grad, p.decay_s) if official else grad
    big_e = reverse_filter_torch(w, p.decay_s)
    return cpu_kernel.neighbor_loss_change_c_with_work(current, u, s, big_e, p)[1]


# ----------------------------------------------------------------------------- interpreter


@needs_triton
@pytest.mark.skipif(INTERPRETING, reason="this is the interpreter process")
def test_the_triton_kernels_pass_under_the_interpreter_in_a_fresh_process() -> None:
    env = {k: v for k, v in os.environ.items() if k != "BNA_ZOO_KERNEL"}
    env["TRITON_INTERPRET"] = "1"
    ids = [f"{Path(__file__).name}::{name}" for name in _UNDER_INTERPRETER]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-rfEs", *ids],
        cwd=Path(__file__).parent, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and " skipped" not in done.stdout, done.stdout[-3000:]


@under_interpreter
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_triton_forward_is_bitwise_equal_to_torch_forward(interpreted, dtype) -> None:
    current = _currents(30, 600, seed=1, dtype=dtype)  # two programs of 512, one partial
    expected = lif_forward_torch(current, P)
    actual = interpreted.lif_forward_triton(current, P)
    for name, e, a in zip("usa", expected, actual, strict=True):
        assert torch.equal(a, e), f"{name} differs between the Triton and the torch forward"
    (psc,) = interpreted.lif_forward_triton(current, P, state=False)
    assert torch.equal(psc, expected[2])


@under_interpreter
@pytest.mark.parametrize("variant", ["official", "paper"])
def test_triton_na_backward_matches_reference_in_float64(interpreted, variant) -> None:
    current = _currents(30, 9, seed=2, dtype=torch.float64)
    grad = _grad(30, 9, seed=3, dtype=torch.float64)
    clip = OFFICIAL_CLIP if variant == "official" else 3.0
    delta = interpreted.na_backward_triton(current, grad, P, variant == "official", clip)
    _, delta_ref = na_reference(current[None], grad[None], P.tau_m, P.tau_s, P.theta, variant, 3.0)
    torch.testing.assert_close(delta, delta_ref[0], rtol=1e-10, atol=1e-10)
    assert delta.abs().sum() > 0


@under_interpreter
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("variant", ["official", "paper"])
def test_triton_na_backward_equals_the_c_kernel_bit_for_bit_with_the_same_work(
    interpreted, variant, dtype
) -> None:
    """Same operations in the same order: bitwise equal, float32 included, and the early exit
    skips exactly the same (neighbor, step) pairs as the C neighbor pass (both use blocks of 128
    contiguous neurons; the fused C backward packs busy neurons and does at most that)."""
    steps, n = 12, 128 + 37
    current, grad = _currents(steps, n, seed=4, dtype=dtype), _grad(steps, n, seed=5, dtype=dtype)
    official = variant == "official"
    clip = OFFICIAL_CLIP if official else 2.0
    delta, work = interpreted.na_backward_triton_with_work(
        current, grad, P, official, clip, count_work=True
    )
    assert torch.isfinite(delta).all() and delta.abs().sum() > 0
    if cpu_kernel.load_library() is None:  # no C compiler here: the torch composition
        expected = _na_torch(current, grad, official, clip)
        scale = float(expected.abs().max())
        torch.testing.assert_close(delta, expected, rtol=1e-5, atol=1e-5 * scale)
        return
    expected, fused_work = cpu_kernel.na_backward_c_with_work(current, grad, P, official, clip)
    assert torch.equal(delta, expected)
    assert work == _c_neighbor_pass_work(current, grad, P, official) >= fused_work


@under_interpreter
def test_triton_headroom_exit_equals_the_c_kernels_near_threshold(interpreted) -> None:
    """A silent original lifted to theta - 1e-9 at the last step: late added spikes fire there,
    early ones do not (test_kernels' C version); both kernels finish the same neighbors."""
    p = LIFParams(tau_m=1.5, tau_s=2.0, theta=1.0)
    steps, block = 30, interpreted.NA_BLOCK
    current = torch.full((steps, block), -0.5, dtype=torch.float64)
    u, _, _ = lif_forward_torch(current, p)
    current[-1] = p.theta - 1e-9 - u[-2] * p.decay_m
    grad = _grad(steps, block, seed=7, dtype=torch.float64)
    delta, work = interpreted.na_backward_triton_with_work(
        current, grad, p, True, OFFICIAL_CLIP, count_work=True
    )
    assert 0 < work < steps * (steps - 1) // 2
    if cpu_kernel.load_library() is not None:
        expected, _ = cpu_kernel.na_backward_c_with_work(current, grad, p, True, OFFICIAL_CLIP)
        assert torch.equal(delta, expected)
        assert work == _c_neighbor_pass_work(current, grad, p, True)


@under_interpreter
def test_triton_early_exit_skips_exactly_the_finished_neighbors(interpreted) -> None:
    """One block per firing pattern (see test_kernels' C version): regular firing merges after
    one step, a silent neuron with u > 0 is finished at once, a phase shift never merges, and a
    spike added to a negative membrane is finished at once by the headroom."""
    p = LIFParams(tau_m=5.0, tau_s=2.0, theta=1.0)
    steps, block = 12, interpreted.NA_BLOCK
    levels = torch.tensor([1.5, 0.1, 0.6, -0.5], dtype=torch.float64)
    current = levels.repeat_interleave(block).expand(steps, -1).contiguous()
    grad = _grad(steps, current.shape[1], seed=6, dtype=torch.float64)
    delta, work = interpreted.na_backward_triton_with_work(
        current, grad, p, True, OFFICIAL_CLIP, count_work=True
    )
    full = steps * (steps - 1) // 2
    assert work == (steps - 1) + 0 + full + 0
    u, s, _ = lif_forward_torch(current, p)
    w = reverse_filter_torch(grad, p.decay_s)
    loss_change = neighbor_loss_change_torch(current, u, s, reverse_filter_torch(w, p.decay_s), p)
    reference = na_weighting(loss_change, u, p.theta, "official", 10.0)
    torch.testing.assert_close(delta, reference, rtol=1e-12, atol=1e-12)


@under_interpreter
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_triton_surrogate_backward_is_bitwise_equal_to_torch(interpreted, dtype) -> None:
    current, grad = _currents(30, 600, seed=7, dtype=dtype), _grad(30, 600, seed=8, dtype=dtype)
    actual = interpreted.surrogate_backward_triton(current, grad, P, 5.0)
    assert torch.equal(actual, surrogate_backward_torch(current, grad, P, 5.0))


@under_interpreter
@pytest.mark.parametrize("gradient", ["na", "surrogate"])
def test_na_lif_with_the_triton_backend_gives_the_c_backends_numbers(interpreted, gradient):
    gen = torch.Generator().manual_seed(9)
    current = torch.randn(2, 5, 3, 50, generator=gen) * 0.6 + 0.35
    grad = torch.randn(2, 5, 3, 50, generator=gen)
    results = {}
    for name in ("triton", "auto"):
        x = current.clone().requires_grad_(True)
        a = na_lif(x, gradient=gradient, tau_m=8.0, tau_s=4.0, backend=name)
        (g,) = torch.autograd.grad(a, x, grad)
        results[name] = (a, g)
    assert torch.equal(results["triton"][0], results["auto"][0])
    if resolve("auto", current) == "c":  # bitwise against C, the rounding-order twin
        assert torch.equal(results["triton"][1], results["auto"][1])
    else:
        torch.testing.assert_close(results["triton"][1], results["auto"][1])


@under_interpreter
def test_triton_kernels_compute_half_precision_inputs_in_float32(interpreted) -> None:
    current = _currents(5, 40, seed=10, dtype=torch.float32).bfloat16()
    grad = _grad(5, 40, seed=11, dtype=torch.float32).bfloat16()
    (a,) = interpreted.lif_forward_triton(current, P, state=False)
    assert a.dtype == torch.float32
    assert torch.equal(a, lif_forward_torch(current.float(), P)[2])
    delta = interpreted.na_backward_triton(current, grad, P, True, OFFICIAL_CLIP)
    assert delta.dtype == torch.float32
    assert torch.equal(delta, interpreted.na_backward_triton(current.float(), grad.float(), P,
                                                             True, OFFICIAL_CLIP))  # fmt: skip


# ----------------------------------------------------------------------------- backend choice


def test_auto_picks_c_on_cpu_and_never_imports_triton_there() -> None:
    x = torch.randn(5, 10)
    expected = "c" if cpu_kernel.load_library() is not None else "torch"
    assert resolve("auto", x) == expected
    assert resolve("auto", x.double()) == expected
    assert resolve("auto", x.half()) == "torch"  # C takes float32/float64 only
    with torch.enable_grad():  # the fused kernels build no graph
        assert resolve("auto", x.clone().requires_grad_(True)) == "torch"
    assert resolve("torch", x) == "torch"


@needs_compiled_triton
def test_explicit_triton_on_cpu_without_the_interpreter_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match=r"CUDA tensors.*TRITON_INTERPRET=1"):
        na_lif(torch.randn(2, 5, 3), backend="triton")
    with pytest.raises(RuntimeError, match="CUDA tensors"):
        resolve("triton", torch.randn(5, 3))


@pytest.mark.parametrize("bad", ["cuda", "Tritonn", "", 3])
def test_unknown_backend_name_is_an_error_listing_the_choices(bad) -> None:
    choices = ", ".join(BACKENDS)
    with pytest.raises(ValueError, match=re.escape(choices)):
        na_lif(torch.randn(2, 5, 3), backend=bad)
    with pytest.raises(ValueError, match=re.escape(choices)):
        set_backend(bad)


def test_set_backend_changes_the_process_wide_choice_and_returns_the_previous() -> None:
    x = torch.randn(5, 10)
    before = get_backend()
    assert set_backend("TORCH") == before
    assert get_backend() == "torch" and resolve(None, x) == "torch"
    with use_backend("auto"):
        assert get_backend() == "auto"
    assert get_backend() == "torch"
    assert resolve("auto", x) != "triton"  # a per-call name overrides the process-wide one


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "BNA_ZOO_KERNEL"} | env
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
        timeout=120, env=environ,
    )  # fmt: skip


def test_env_var_is_read_once_at_import_and_torch_keeps_working() -> None:
    done = _run(
        """
        import os, torch
        from bna_zoo.core import get_backend, na_lif
        from bna_zoo.core.kernels.backend import resolve
        assert get_backend() == "torch", get_backend()
        assert resolve(None, torch.zeros(5, 3)) == "torch"
        os.environ["BNA_ZOO_KERNEL"] = "c"  # too late: read once, at import
        assert get_backend() == "torch"
        x = torch.randn(2, 5, 3, requires_grad=True)
        na_lif(x).sum().backward()
        print("ok")
        """,
        BNA_ZOO_KERNEL="torch",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_an_invalid_env_value_fails_at_import_naming_the_choices() -> None:
    done = _run("import bna_zoo.core", BNA_ZOO_KERNEL="gpu")
    assert done.returncode != 0
    assert "BNA_ZOO_KERNEL" in done.stderr and ", ".join(BACKENDS) in done.stderr


# ------------------------------------------------------------------- compiled code (no GPU)


def _compile_ptx(module: ModuleType, kernel: str, dtype: str) -> str:
    """PTX of one kernel for sm_90, compiled here: Triton needs no GPU to compile."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, compile

    fn = getattr(module, kernel)
    constexprs = {"STEPS": 30, "BLOCK": 128, "STORE_STATE": True, "OFFICIAL": True,
                  "COUNT_WORK": True}
    signature = {}
    for name in fn.arg_names:
        if name in constexprs:
            signature[name] = "constexpr"
        elif name == "work_ptr":
            signature[name] = "*i32"
        else:
            signature[name] = f"*{dtype}" if name.endswith("_ptr") else "i32"
    constexprs = {k: v for k, v in constexprs.items() if k in signature}
    source = ASTSource(fn=fn, signature=signature, constexprs=constexprs)
    options = {"num_warps": 4, "enable_fp_fusion": False}
    return compile(source, target=GPUTarget("cuda", 90, 32), options=options).asm["ptx"]


@needs_compiled_triton
@pytest.mark.parametrize("dtype", ["fp32", "fp64"])
def test_compiled_kernels_round_like_the_c_kernel_no_fma_no_approximate_division(dtype) -> None:
    module = importlib.import_module(MODULE)
    for kernel in ("_lif_forward_kernel", "_na_backward_kernel", "_surrogate_backward_kernel"):
        try:
            ptx = _compile_ptx(module, kernel, dtype)
        except (ImportError, TypeError, AttributeError) as err:  # another Triton compile API
            pytest.skip(f"cannot compile offline with this Triton: {err}")
        assert re.search(r"\b(mul|add)\.rn\.f(32|64)", ptx), kernel
        fused = re.findall(r"\b(?:fma|mad)\.[\w.]*f(?:32|64)\b", ptx)  # float only, not mad.lo
        approximate = re.findall(r"\bdiv\.(?:full|approx)\.\w+|\brcp\.approx\.\w+|\.ftz\b", ptx)
        assert not fused and not approximate, (kernel, fused, approximate)


# ------------------------------------------------------------------------------------ CUDA


@needs_cuda
@needs_compiled_triton
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("variant", ["official", "paper"])
def test_cuda_triton_kernels_equal_the_cpu_kernels_bit_for_bit(variant, dtype) -> None:
    module = importlib.import_module(MODULE)
    steps, n = 30, 3 * 128 + 37
    current, grad = _currents(steps, n, seed=12, dtype=dtype), _grad(steps, n, seed=13, dtype=dtype)
    official = variant == "official"
    clip = OFFICIAL_CLIP if official else 2.0
    cpu_fwd = lif_forward_torch(current, P)
    gpu_fwd = module.lif_forward_triton(current.cuda(), P)
    assert all(torch.equal(g.cpu(), c) for g, c in zip(gpu_fwd, cpu_fwd, strict=True))
    gpu = module.na_backward_triton(current.cuda(), grad.cuda(), P, official, clip).cpu()
    if cpu_kernel.load_library() is not None:
        assert torch.equal(gpu, cpu_kernel.na_backward_c(current, grad, P, official, clip))
    else:
        torch.testing.assert_close(gpu, _na_torch(current, grad, official, clip))
    surrogate = module.surrogate_backward_triton(current.cuda(), grad.cuda(), P, 5.0).cpu()
    assert torch.equal(surrogate, surrogate_backward_torch(current, grad, P, 5.0))


@needs_cuda
@needs_compiled_triton
@pytest.mark.gpu
def test_cuda_auto_is_triton_and_bf16_autocast_keeps_the_dynamics_in_float32() -> None:
    x = torch.randn(4, 5, 64, device="cuda")
    assert resolve("auto", x) == "triton"
    gen = torch.Generator().manual_seed(14)
    current = torch.randn(4, 5, 64, generator=gen) * 0.6 + 0.35
    grad = torch.randn(4, 5, 64, generator=gen)
    xc = current.cuda().requires_grad_(True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        a = na_lif(xc)
    assert a.dtype == torch.float32
    a.backward(grad.cuda())
    x_cpu = current.clone().requires_grad_(True)
    na_lif(x_cpu).backward(grad)
    torch.testing.assert_close(a.detach().cpu(), na_lif(current))
    torch.testing.assert_close(xc.grad.cpu(), x_cpu.grad, rtol=1e-5, atol=1e-5)
