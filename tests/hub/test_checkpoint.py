"""Checkpoint folders: self-describing, written atomically, integrity-checked on load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from bna_zoo.bna_model import BNAModel
from bna_zoo.hub import IntegrityError, read_config, sha256_file
from bna_zoo.models import zoo

NAME = "fashionmnist-mlp"


@pytest.fixture
def model() -> BNAModel:
    torch.manual_seed(0)
    return BNAModel(NAME).eval()


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_fine_tuned_model_with_its_own_classes_loads_and_predicts_without_its_zoo_entry(
        tmp_path, monkeypatch):
    torch.manual_seed(0)
    tuned = BNAModel(NAME, num_classes=3, labels=["cat", "dog", "bird"]).eval()
    folder = tuned.save_pretrained(tmp_path / "pets")
    config = read_config(folder)
    assert config["labels"] == ["cat", "dog", "bird"] and "num_classes" not in config
    assert config["input"]["mean"] == [0.1307] and config["model_args"]["arch"] == "400-400-3"
    monkeypatch.delitem(zoo.ZOO, NAME)  # the registry no longer knows the name
    loaded = BNAModel.from_pretrained(folder)
    assert loaded.entry is None and loaded.labels == ["cat", "dog", "bird"]
    pixels = torch.randint(0, 256, (5, 1, 28, 28), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8)
    idx, scores = loaded.predict(pixels)
    ref_idx, ref_scores = tuned.predict(pixels)
    assert scores.shape == (5, 3) and torch.equal(idx, ref_idx)
    assert torch.equal(scores, ref_scores)  # the saved input spec normalised them alike


def test_failed_save_over_an_existing_folder_leaves_it_exactly_as_it_was(model, tmp_path):
    folder = model.save_pretrained(tmp_path / "m", metrics={"accuracy": 0.5})
    (folder / "NOTES.txt").write_text("mine")
    before = files_of(folder)
    with torch.no_grad():
        model.net.layers[0].linear.weight.add_(1.0)  # different weights to save
    with pytest.raises(TypeError, match="cannot be stored in config.json"):
        model.save_pretrained(folder, epochs=object())  # fails while preparing config.json
    assert files_of(folder) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".m.")]  # no debris


def test_save_replaces_the_whole_folder_and_keeps_files_that_are_not_ours(model, tmp_path):
    folder = model.save_pretrained(tmp_path / "m")
    (folder / "NOTES.txt").write_text("mine")
    model.save_pretrained(folder, metrics={"accuracy": np.float64(0.25)}, epochs=np.int64(3))
    assert (folder / "NOTES.txt").read_text() == "mine"
    config = read_config(folder)
    assert config["metrics"]["accuracy"] == 0.25 and config["training"]["epochs"] == 3
    assert config["weights_sha256"] == sha256_file(folder / "model.safetensors")


def test_a_flipped_bit_in_the_weights_is_caught_by_the_recorded_sha256(model, tmp_path):
    folder = model.save_pretrained(tmp_path / "m")
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x40  # inside the last tensor's bytes: still a valid safetensors file
    path.write_bytes(bytes(data))
    load_file(path)  # the file itself reads fine
    with pytest.raises(IntegrityError, match="config.json records"):
        BNAModel.from_pretrained(folder)


def test_non_finite_weights_are_refused_at_load_naming_the_tensor(model, tmp_path):
    folder = model.save_pretrained(tmp_path / "m")
    state = load_file(folder / "model.safetensors")
    state["layers.2.linear.weight"][0, 0] = float("nan")
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((folder / "config.json").read_text())
    config["weights_sha256"] = sha256_file(folder / "model.safetensors")  # a consistent folder
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(IntegrityError, match="'layers.2.linear.weight' holds NaN"):
        BNAModel.from_pretrained(folder)


def test_a_lightning_ckpt_given_to_from_pretrained_points_to_the_right_loader(tmp_path):
    ckpt = tmp_path / "last.ckpt"
    ckpt.write_bytes(b"not really")
    with pytest.raises(FileNotFoundError, match="from_lightning_checkpoint"):
        BNAModel.from_pretrained(ckpt)


def test_pretrained_weights_are_not_fetched_in_init_but_on_first_use(tmp_path):
    torch.manual_seed(0)
    source = BNAModel(NAME).save_pretrained(tmp_path / "src")
    tuned = BNAModel(NAME, pretrained=str(source))
    assert tuned._pending_pretrained == str(source)
    x = torch.rand(2, 1, 28, 28)
    out = tuned(x)  # first use loads them
    assert tuned.hparams["pretrained"] is None
    assert torch.equal(out, BNAModel.from_pretrained(source)(x))
