"""GPU checks: run where CUDA is present (the lent GPU machine, users' machines); skipped on CPU.

CI machines have no GPU, so these are marked ``gpu`` and skip with the reason stated.
"""

import pytest
import torch

from bna_zoo.core import na_lif

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("variant", ["official", "paper"])
def test_na_on_cuda_matches_the_cpu_result(variant):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 30, 64, generator=g, dtype=torch.float64) * 0.8 + 0.4
    grad = torch.randn(4, 30, 64, generator=g, dtype=torch.float64)
    out = []
    for device in ("cpu", "cuda"):
        xi = x.to(device).requires_grad_()
        a = na_lif(xi, variant=variant)
        a.backward(grad.to(device))
        out.append((a.detach().cpu(), xi.grad.cpu()))
    torch.testing.assert_close(out[0][0], out[1][0])
    torch.testing.assert_close(out[0][1], out[1][1])


def test_16_mixed_training_step_on_cuda_keeps_dynamics_in_float32():
    from bna_zoo.bna_model import BNAModel

    model = BNAModel("nmnist-cnn").cuda()
    x = (torch.rand(4, 30, 2, 34, 34, device="cuda") < 0.05).float()
    y = torch.randint(0, 10, (4,), device="cuda")
    with torch.autocast("cuda", dtype=torch.float16):
        out = model(x)
        loss = model.loss_fn(out, y)
    assert out.dtype == torch.float32
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
