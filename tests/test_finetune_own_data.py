"""Fine-tuning zoo weights on your own images, as the README's one-liner runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.data.test_own import write_image_folder


@pytest.mark.slow
def test_fine_tune_on_an_image_folder_ends_with_a_folder_that_loads_and_names_your_classes(
        tmp_path):
    from bna_zoo import BNAModel

    write_image_folder(tmp_path / "pets", per_class=6)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "bna_zoo", "fit", "--config", "zoo:fashionmnist-mlp",
         "--model.pretrained", "fashionmnist-mlp", "--model.num_classes", "3",
         "--data", "ImageFolderDataModule", "--data.data_dir", "pets", "--data.batch_size", "6",
         "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith("model folder: ")
    folder = tmp_path / last.split()[2]
    config = json.loads((folder / "config.json").read_text())
    assert config["dataset"] == "pets" and config["labels"] == ["cat", "dog", "owl"]
    assert config["training"]["measured_on"] == "pets, test split in pets (18 samples)"
    # the pretrained model's input statistics, not the folder's own
    zoo = BNAModel.from_pretrained("fashionmnist-mlp").input_spec
    assert config["input"]["mean"] == list(zoo.mean) and config["input"]["std"] == list(zoo.std)
    tuned = BNAModel.from_pretrained(str(folder))
    assert tuned.labels == ["cat", "dog", "owl"] and tuned.net.num_classes == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pets", "runs"]  # nothing copied in
