"""From a plain wheel install, outside the repository: train a zoo recipe and fine-tune from zoo
weights with the bna-zoo command (recipes and weights travel inside the package)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.data.conftest import IDX_NAMES, idx_bytes, write_idx_dataset

ROOT = Path(__file__).resolve().parents[1]

# Runs bna-zoo from the installed copy only: the editable install of this checkout registers an
# import hook that would otherwise serve the repository's sources. Written as a script file (not
# `python -c`) because Lightning's DDP launcher starts the other ranks by re-running sys.argv[0].
BOOT = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path if not "
    "getattr(f, '__module__', '').startswith('__editable__')]; "
    "import bna_zoo; assert bna_zoo.__file__.startswith({target!r}), bna_zoo.__file__; "
    "from bna_zoo.cli import main; main(sys.argv[1:])\n"
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp / "dist"), str(ROOT)], check=True)
    (wheel,) = (tmp / "dist").glob("bna_zoo-*.whl")
    target = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True)
    return target


def bna_zoo(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    script = target / "run_bna_zoo.py"
    if not script.is_file():
        script.write_text(BOOT.format(target=str(target)))
    env = {**os.environ, "PYTHONPATH": str(target), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_wheel_carries_the_recipes_and_the_weights(installed):
    assert sorted(p.stem for p in (installed / "bna_zoo" / "recipes").glob("*.yaml")) == sorted(
        p.stem for p in (ROOT / "configs").glob("*.yaml"))
    assert (installed / "bna_zoo" / "weights" / "fashionmnist-mlp" / "model.safetensors").is_file()
    assert (installed / "bna_zoo" / "model_cards" / "template.md").is_file()


def fit_fashion_recipe(installed: Path, cwd: Path, n_train: int, *extra: str):
    """The fashionmnist-mlp recipe on a small IDX dataset, from the wheel, once."""
    write_idx_dataset(cwd / "data" / "FashionMNIST" / "raw", n_train=n_train, n_test=8)
    run = bna_zoo(installed, cwd, "fit", "--config", "zoo:fashionmnist-mlp",
                  "--trainer.fast_dev_run", "true", "--data.data_dir", "data",
                  "--data.download", "false", "--data.batch_size", "8",
                  "--data.val_size", "8", "--trainer.enable_progress_bar", "false", *extra)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "test accuracy:" in run.stdout
    return run


@pytest.mark.slow
def test_fit_a_zoo_recipe_from_the_wheel(installed, tmp_path):
    fit_fashion_recipe(installed, tmp_path, 16)


@pytest.mark.slow
def test_fine_tune_zoo_weights_on_new_data_with_a_new_class_count_from_the_wheel(
        installed, tmp_path):
    raw = tmp_path / "data" / "MNIST" / "raw"
    write_idx_dataset(raw, n_train=16, n_test=8)
    for split, n in (("train", 16), ("test", 8)):  # three classes only
        (raw / IDX_NAMES[split][1]).write_bytes(idx_bytes(np.arange(n, dtype=np.uint8) % 3))
    run = bna_zoo(installed, tmp_path, "fit", "--config", "zoo:fashionmnist-mlp",
                  "--model.pretrained", "fashionmnist-mlp", "--model.num_classes", "3",
                  "--model.labels", "[zero, one, two]", "--data", "MNISTDataModule",
                  "--data.data_dir", "data", "--data.download", "false",
                  "--data.batch_size", "8", "--data.val_size", "8",
                  "--trainer.fast_dev_run", "true", "--trainer.enable_progress_bar", "false")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "test accuracy:" in run.stdout


@pytest.mark.slow
def test_ddp_on_two_processes_from_the_wheel(installed, tmp_path):
    run = fit_fashion_recipe(installed, tmp_path, 32, "--trainer.strategy", "ddp",
                             "--trainer.devices", "2", "--trainer.accelerator", "cpu")
    assert "MEMBER: 2/2" in run.stderr + run.stdout
