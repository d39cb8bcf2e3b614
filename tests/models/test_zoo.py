"""The zoo: one entry per name, consistent in itself, and honest about its weights."""

from __future__ import annotations

import dataclasses
import re

import pytest

import bna_zoo
import bna_zoo.data
from bna_zoo.hub import sha256_file
from bna_zoo.hub.checkpoint import read_config
from bna_zoo.models import list_models, parse_arch, zoo
from bna_zoo.models.render import render_models_table


@pytest.mark.parametrize("name", list_models())
def test_every_name_is_its_entry_key_and_hub_repo(name):
    entry = zoo.get_entry(name)
    assert entry.name == name and entry.repo_id == f"bna-zoo/{name}"


@pytest.mark.parametrize("name", list_models())
def test_entry_input_spec_and_labels_agree_with_the_architecture(name):
    entry = spec = zoo.get_entry(name)
    assert entry.input.kind == spec.input_kind
    assert entry.input.shape == spec.input_shape and entry.input.n_steps == spec.n_steps
    assert len(entry.labels) == parse_arch(spec.arch)[-1][1]
    if entry.input.kind == "events":
        c, h, w = spec.input_shape
        assert entry.input.frames["sensor_size"] == (w, h, c)
        assert entry.datamodule_config()["init_args"]["n_steps"] == spec.n_steps
    else:
        assert len(entry.input.mean) == len(entry.input.std) == spec.input_shape[0]
    assert entry.datamodule in bna_zoo.data.__all__
    # the DataModule names its classes from the same facts (bna_zoo.data.catalog)
    dm_class = getattr(bna_zoo.data, entry.datamodule)
    dm_labels = dm_class._classes if hasattr(dm_class, "_classes") else dm_class.classes
    assert tuple(dm_labels) == entry.labels


@pytest.mark.parametrize("name", list_models())
def test_pins_are_well_formed_and_shipped_weights_match_them(name):
    entry = zoo.get_entry(name)
    if entry.revision is not None:
        assert re.fullmatch(r"[0-9a-f]{40}", entry.revision), "pin a commit, not a branch"
    if entry.sha256 is not None:
        assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
    if entry.available:
        assert entry.sha256 is not None, "published or shipped weights need their sha256"
    if entry.shipped:
        assert sha256_file(entry.shipped_dir / "model.safetensors") == entry.sha256
        init = read_config(entry.shipped_dir)["training_args"]
        assert (init["gradient"], init["variant"], init["rescale"]) == (
            entry.gradient, entry.variant, entry.rescale)
    acc = entry.results.accuracy
    assert acc is None or 0 <= acc <= 1, "accuracy is a fraction"


def test_list_pretrained_lists_loadable_entries_unless_asked_for_all(monkeypatch):
    every = zoo.list_pretrained(available_only=False)
    assert every == sorted(list_models())
    assert zoo.list_pretrained() == sorted(n for n in every if zoo.ZOO[n].available)
    entry = dataclasses.replace(zoo.ZOO["nmnist-cnn"], shipped=True, sha256="0" * 64)
    monkeypatch.setitem(zoo.ZOO, "nmnist-cnn", entry)
    assert "nmnist-cnn" in zoo.list_pretrained()
    assert zoo.list_pretrained("fashion*", available_only=False) == [
        "fashionmnist-cnn", "fashionmnist-mlp"]
    assert bna_zoo.list_pretrained is zoo.list_pretrained


def test_unknown_entry_lists_close_matches():
    with pytest.raises(KeyError, match="Did you mean 'nmnist-cnn'"):
        zoo.get_entry("nmist-cnn")


def test_models_table_has_a_row_per_entry_with_its_status(monkeypatch):
    entry = dataclasses.replace(
        zoo.ZOO["fashionmnist-mlp"], results=zoo.Results(accuracy=0.8992),
        shipped=True, revision="c" * 40, sha256="0" * 64,
    )
    monkeypatch.setitem(zoo.ZOO, "fashionmnist-mlp", entry)
    lines = render_models_table().splitlines()[1:-1]
    assert len(lines) == 2 + len(zoo.ZOO)
    (row,) = [line for line in lines if line.startswith("| `fashionmnist-mlp`")]
    assert "89.92%" in row and "shipped" in row and "bna-zoo/fashionmnist-mlp@ccccccc" in row
    (planned,) = [line for line in lines if line.startswith("| `cifar10-cnn`")]
    assert planned.endswith("| planned |") and "91.76%" in planned
    (stand_in,) = [line for line in lines if line.startswith("| `nmnist-cnn`")]
    # says what it was measured on: emulated recordings, not the benchmark
    assert "emulated from MNIST's 10,000 test images" in stand_in
    assert "not recorded N-MNIST" in stand_in


def test_rescale_default_is_the_same_everywhere_a_network_is_built():
    import inspect

    from bna_zoo.bna_model import BNAModel
    from bna_zoo.models import create_model
    from bna_zoo.nn import NeuronConfig

    assert NeuronConfig().rescale is True
    assert inspect.signature(create_model).parameters["rescale"].default is True
    assert inspect.signature(BNAModel.__init__).parameters["rescale"].default is True
    assert all(zoo.ZOO[n].rescale for n in list_models())


@pytest.mark.parametrize("name", [n for n in list_models() if zoo.ZOO[n].input_kind == "events"])
def test_event_datamodule_defaults_match_their_zoo_entry(name):
    import inspect

    entry = zoo.ZOO[name]
    params = inspect.signature(getattr(bna_zoo.data, entry.datamodule).__init__).parameters
    assert params["n_steps"].default == entry.n_steps
    assert params["bin_us"].default == entry.data_args["bin_us"]
