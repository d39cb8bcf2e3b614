"""Kernel and count losses, prediction rule (docs/na.md §4)."""

import pytest
import torch

from bna_zoo.nn import CountLoss, KernelLoss, predict_from_output


def test_kernel_target_is_double_filtered_all_ones_train():
    trace = KernelLoss(2.0).target_trace(5)
    assert trace.tolist() == pytest.approx([0.25, 0.5, 0.6875, 0.8125, 0.890625])


def test_kernel_loss_is_sum_reduced_and_its_gradient_is_output_minus_target():
    out = torch.rand(3, 5, 4, requires_grad=True)
    y = torch.tensor([0, 2, 3])
    loss = KernelLoss(2.0)(out, y)
    loss.backward()
    target = torch.zeros(3, 5, 4)
    target[torch.arange(3), :, y] = KernelLoss(2.0).target_trace(5)
    torch.testing.assert_close(loss, 0.5 * ((out - target) ** 2).sum())
    torch.testing.assert_close(out.grad, out.detach() - target)


def test_count_loss_gradient_is_the_masked_count_error_at_every_step():
    out = torch.zeros(2, 30, 3)
    out[0, :, 0] = 0.6  # label class, count 18 >= desired 15: no error
    out[0, :, 1] = 0.2  # count 6 > undesired 3: error (6 - 3)/30
    out[1, :, 2] = 0.1  # label class, count 3 < 15: error (3 - 15)/30
    out.requires_grad_()
    CountLoss(15.0, 3.0)(out, torch.tensor([0, 2])).backward()
    g = out.grad
    assert g[0, :, 0].abs().max() == 0
    torch.testing.assert_close(g[0, :, 1], torch.full((30,), 3.0 / 30))
    assert g[0, :, 2].abs().max() == 0  # count 0 <= undesired
    torch.testing.assert_close(g[1, :, 2], torch.full((30,), -12.0 / 30))


def test_prediction_is_argmax_of_summed_psc():
    out = torch.zeros(2, 4, 3)
    out[0, :, 2] = 1.0
    out[1, 0, 1] = 5.0
    assert predict_from_output(out).tolist() == [2, 1]


def test_losses_reject_bad_labels_and_shapes():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        KernelLoss()(torch.zeros(2, 5, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"output \[B, T, classes\]"):
        CountLoss()(torch.zeros(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="must exceed"):
        CountLoss(3.0, 5.0)
