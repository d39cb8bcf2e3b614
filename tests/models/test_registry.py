"""Model registry and the paper-notation networks."""

import pytest
import torch

from bna_zoo.models import create_model, get_entry, list_models, parse_arch
from bna_zoo.nn import LOSSES


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("gradient", ["na", "surrogate"])
def test_every_registry_model_runs_forward_and_backward_on_a_tiny_batch(name, gradient):
    torch.manual_seed(0)
    spec = get_entry(name)
    model = create_model(name, gradient=gradient, rescale=gradient == "na")
    x = torch.rand(2, spec.n_steps, *spec.input_shape)
    out = model(x)
    assert out.shape == (2, spec.n_steps, model.num_classes)
    loss = LOSSES[spec.loss](**spec.loss_args)(out, torch.tensor([0, 1]))
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_paper_architectures_have_the_published_layer_sizes():
    assert create_model("mnist-cnn").layers[4].linear.in_features == 640
    assert create_model("nmnist-cnn").spiking_layers()[-1].linear.in_features == 2304
    assert create_model("fashionmnist-cnn").spiking_layers()[2].linear.in_features == 3136
    cifar = create_model("cifar10-cnn")
    assert cifar.spiking_layers()[5].linear.in_features == 16384
    assert sum(type(m).__name__ == "TimeSharedDropout" for m in cifar.layers) == 7


def test_static_images_are_accepted_without_a_time_dimension():
    model = create_model("fashionmnist-mlp")
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 5, 10)


def test_unknown_model_lists_close_matches():
    with pytest.raises(KeyError, match="Did you mean 'nmnist-cnn'"):
        get_entry("nmnist-cn")


def test_bad_architecture_token_names_the_grammar():
    with pytest.raises(ValueError, match="bad layer 'X3'.*conv"):
        parse_arch("12C5-X3-10")
    with pytest.raises(ValueError, match="must end with the linear output layer"):
        parse_arch("12C5-P2")


def test_overrides_change_settings_and_unknown_ones_are_rejected():
    assert create_model("mnist-cnn", n_steps=10).n_steps == 10
    with pytest.raises(TypeError, match="unknown overrides"):
        create_model("mnist-cnn", bogus=1)
