"""A network of your own, with no zoo name: in Python with L.Trainer, and from the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import lightning as L
import pytest
import torch

from bna_zoo import BNAModel
from tests.helpers import TensorDataModule, quiet_trainer


def test_own_network_trains_with_a_plain_trainer_and_round_trips_through_a_folder(tmp_path):
    L.seed_everything(0)
    model = BNAModel(name="my-mlp", arch="100-10", input_shape=[1, 28, 28], n_steps=4)
    assert model.net.arch == "100-10" and model.net.n_steps == 4 and model.net.neuron.tau_m == 5.0
    before = model.net.layers[0].linear.weight.detach().clone()
    quiet_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1).fit(
        model, TensorDataModule())
    assert not torch.equal(before, model.net.layers[0].linear.weight)
    model.save_pretrained(tmp_path / "mine")
    back = BNAModel.from_pretrained(str(tmp_path / "mine"))
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(back(x), model(x))
    assert back.zoo_name == "my-mlp"


def test_unknown_name_without_layers_says_how_to_define_one():
    with pytest.raises(KeyError, match=r"arch='400-400-10', input_shape=\[1, 28, 28\]"):
        BNAModel(name="my-mlp")


@pytest.mark.slow
def test_own_network_from_the_command_line(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "bna_zoo", "fit", "--model.name", "my-mlp", "--model.arch",
         "200-10", "--model.input_shape", "[1, 28, 28]", "--data", "MNISTDataModule",
         "--data.shipped_digits", "true", "--data.subset", "128", "--trainer.max_epochs", "1",
         "--trainer.enable_progress_bar", "false"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    folder = run.stdout.strip().splitlines()[-1].split()[2]
    assert BNAModel.from_pretrained(folder).net.arch == "200-10"


@pytest.mark.slow
def test_own_network_from_a_yaml_file(tmp_path):
    (tmp_path / "my-mlp.yaml").write_text(
        "model: {name: my-mlp, arch: 200-10, input_shape: [1, 28, 28], n_steps: 4}\n"
        "data: {class_path: bna_zoo.data.images.MNISTDataModule, init_args: "
        "{shipped_digits: true, subset: 128, val_size: 32}}\n"
        "trainer: {max_epochs: 1, enable_progress_bar: false}\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "bna_zoo", "fit", "--config", "my-mlp.yaml"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    net = BNAModel.from_pretrained(run.stdout.strip().splitlines()[-1].split()[2]).net
    assert (net.arch, net.n_steps) == ("200-10", 4)
