"""config.json format 3 (bna_zoo/hub/config_format.py): each fact once, every key known, and the
older formats still load."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from bna_zoo import BNAModel
from bna_zoo.hub.checkpoint import read_config
from bna_zoo.hub.errors import IntegrityError
from bna_zoo.models import NetConfig, get_entry

DATA = Path(__file__).parent / "data"


def _x(model: BNAModel) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(3, *model.net.input_shape)


@pytest.mark.parametrize("name", ["fashionmnist-mlp", "nmnist-cnn"])
def test_config_json_writes_each_fact_of_the_network_once(name, tmp_path):
    model = BNAModel(name)
    folder = model.save_pretrained(tmp_path / name)
    text = (folder / "config.json").read_text()
    config = json.loads(text)
    # T, the input shape, the classes and the labels: once each (keys counted in the text)
    for key in ("n_steps", "input_shape", "arch", "labels", "tau_s", "loss_args"):
        assert len(re.findall(rf'"{key}":', text)) == 1, key
    assert "num_classes" not in text and "init_args" not in text
    # the entry, the network built from it and the saved description are one NetConfig
    saved = NetConfig.from_dict(config["model_args"])
    assert saved == model.net.config == get_entry(name).net
    assert config["format_version"] == 3


def test_from_pretrained_looks_its_entry_up_once(
        tmp_path, monkeypatch):
    from bna_zoo.models import zoo

    looked_up = []

    class CountingZoo(dict):
        def get(self, key, default=None):
            looked_up.append(key)
            return super().get(key, default)

        def __getitem__(self, key):
            looked_up.append(key)
            return super().__getitem__(key)

    counting = CountingZoo(zoo.ZOO)
    for module in ("bna_zoo.models.zoo", "bna_zoo.hub.io", "bna_zoo.hub.resolve",
                   "bna_zoo.hub.config_format", "bna_zoo.bna_model"):
        monkeypatch.setattr(f"{module}.ZOO", counting, raising=False)
    model = BNAModel.from_pretrained("fashionmnist-mlp")
    # resolve: where are its weights; the model is built from config.json alone
    assert looked_up == ["fashionmnist-mlp"]
    # the entry is still there when asked for (saving names its dataset), looked up then
    assert model.entry.name == "fashionmnist-mlp"
    assert looked_up == ["fashionmnist-mlp", "fashionmnist-mlp"]


def test_a_format_2_folder_still_loads_with_the_same_outputs(tmp_path):
    # the shipped fashionmnist-mlp folder as format 2 wrote it (init_args, T three times)
    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copy(DATA / "fashionmnist-mlp-format2-config.json", folder / "config.json")
    shutil.copy(get_entry("fashionmnist-mlp").shipped_dir / "model.safetensors", folder)
    assert json.loads((folder / "config.json").read_text())["format_version"] == 2
    old = BNAModel.from_pretrained(folder)
    shipped = BNAModel.from_pretrained("fashionmnist-mlp")
    assert old.net.config == shipped.net.config and old.labels == shipped.labels
    assert old.input_spec == shipped.input_spec
    with torch.no_grad():
        assert torch.equal(old(_x(old)), shipped(_x(shipped)))
    # read as format 3, and saved again as format 3 with the same weights
    assert read_config(folder)["format_version"] == 3
    again = old.save_pretrained(tmp_path / "new")
    assert (again / "model.safetensors").read_bytes() == \
        (folder / "model.safetensors").read_bytes()


def test_a_config_that_builds_another_network_than_it_records_is_refused(tmp_path):
    folder = BNAModel("fashionmnist-mlp").save_pretrained(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["model_args"]["input_kind"] = "video"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(IntegrityError, match="input_kind must be 'image' or 'events'"):
        BNAModel.from_pretrained(folder)


def test_net_config_names_unknown_and_missing_keys():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['n_step'\]; the known keys"):
        NetConfig.from_dict({"arch": "10", "input_shape": [4], "n_steps": 5, "n_step": 5})
    with pytest.raises(ValueError, match=r"missing key\(s\) \['n_steps'\]"):
        NetConfig.from_dict({"arch": "10", "input_shape": [4]})
    with pytest.raises(TypeError, match=r"unknown network settings \['depth'\]"):
        get_entry("mnist-cnn").net.replace(depth=3)
    assert get_entry("mnist-cnn").net.with_num_classes(3).num_classes == 3


def test_a_model_built_from_a_net_config_is_that_network():
    config = get_entry("nmnist-cnn").net.replace(n_steps=12, arch="8C5-P2-10")
    model = BNAModel.from_config("my-events", config, lr=1e-3)
    assert model.net.config == config and model.hparams.lr == 1e-3
    assert model.net.n_steps == 12 and model.loss_name == "count"
