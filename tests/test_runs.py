"""One folder per run: ``bna-zoo fit`` as a user runs it, several runs in one folder.

Runs of different settings never share, overwrite or resume each other; ``--ckpt_path last``
resumes the newest run with the command's settings and refuses, naming the differences, when
there is none; ``fit`` ends with a model folder that ``from_pretrained`` loads.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from inspect import signature
from pathlib import Path

import pytest

from bna_zoo import runs

FIT = ["fit", "--config", "zoo:fashionmnist-mlp", "--data", "MNISTDataModule",
       "--data.shipped_digits", "true", "--data.subset", "128", "--data.val_size", "32",
       "--trainer.max_epochs", "1",
       "--trainer.enable_progress_bar", "false", "--data.batch_size", "32"]


def fit(cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("BNA_ZOO_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "bna_zoo", *FIT, *extra], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_runs_of_other_settings_get_their_own_folders_and_last_resumes_the_matching_one(
        tmp_path):
    root = tmp_path / "runs" / "fashionmnist-mlp"
    ok(fit(tmp_path))                                          # version_0: NA
    ok(fit(tmp_path, "--model.gradient", "surrogate"))         # version_1: surrogate, newer
    assert sorted(p.name for p in root.iterdir()) == ["version_0", "version_1"]
    for run in root.iterdir():
        assert {"config.yaml", "metrics.csv", "checkpoints", "model"} <= {
            p.name for p in run.iterdir()}
    na_last = (root / "version_0" / "checkpoints" / "last.ckpt").read_bytes()
    # the NA command resumes the NA run, not the newer surrogate one, and continues in it
    resumed = ok(fit(tmp_path, "--trainer.max_epochs", "2", "--ckpt_path", "last"))
    assert f"resuming {Path('runs/fashionmnist-mlp/version_0')}" in resumed.stdout
    assert "Restored all states" in resumed.stdout + resumed.stderr
    assert (root / "version_0" / "checkpoints" / "last.ckpt").read_bytes() != na_last
    # its log keeps the first epoch's rows (Lightning's writer would delete them) and adds more
    with (root / "version_0" / "metrics.csv").open() as f:
        epochs = {row["epoch"] for row in csv.DictReader(f) if row.get("val_acc")}
    assert epochs == {"0", "1"}
    assert sorted(p.name for p in root.iterdir()) == ["version_0", "version_1"]
    # a setting no run has: refused, naming what differs from the newest run
    refused = fit(tmp_path, "--model.lr", "0.001", "--ckpt_path", "last")
    assert refused.returncode == 2
    assert "model.lr: 0.001 here, 0.0005 in the run" in refused.stderr
    # a checkpoint of another run, named directly: refused too
    other = root / "version_1" / "checkpoints" / "last.ckpt"
    refused = fit(tmp_path, "--ckpt_path", str(other))
    assert refused.returncode == 2
    assert "model.gradient: 'na' here, 'surrogate' in the run" in refused.stderr
    # a run saved before a setting existed (its config.yaml has no entry): resumed when the
    # command keeps the setting's default, refused, saying why, when it changes it
    config = root / "version_0" / "config.yaml"
    config.write_text(config.read_text().replace("  surrogate_slope: 5.0\n", ""))
    refused = fit(tmp_path, "--model.surrogate_slope", "3.0", "--ckpt_path", "last")
    assert refused.returncode == 2
    assert ("model.surrogate_slope: 3.0 here, no entry (saved before the setting existed: as "
            "its default 5.0) in the run") in refused.stderr
    resumed = ok(fit(tmp_path, "--trainer.max_epochs", "3", "--ckpt_path", "last"))
    assert f"resuming {Path('runs/fashionmnist-mlp/version_0')}" in resumed.stdout


@pytest.mark.slow
def test_root_dir_run_name_and_no_checkpointing_put_everything_in_one_folder(tmp_path):
    result = ok(fit(tmp_path, "--trainer.default_root_dir", "elsewhere", "--run_name", "trial",
                    "--trainer.enable_checkpointing", "false"))
    run = tmp_path / "elsewhere" / "trial"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere"]
    assert {"config.yaml", "metrics.csv", "model"} <= {p.name for p in run.iterdir()}
    assert not (run / "checkpoints").exists()
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(f"model folder: {Path('elsewhere/trial/model')}")


@pytest.mark.slow
def test_fit_ends_with_a_model_folder_named_after_the_data_it_trained_on(tmp_path):
    from bna_zoo import BNAModel

    ok(fit(tmp_path))
    folder = tmp_path / "runs" / "fashionmnist-mlp" / "version_0" / "model"
    config = json.loads((folder / "config.json").read_text())
    # a Fashion-MNIST recipe trained on MNIST digits: the folder says MNIST and its classes
    assert config["dataset"] == "MNIST"
    assert config["labels"][0] == "0 - zero"
    assert config["training"]["measured_on"].endswith("(21 samples)")
    model = BNAModel.from_pretrained(str(folder))
    assert model.labels == config["labels"]
    assert 0 <= config["metrics"]["accuracy"] <= 1


def test_settings_comparison_ignores_what_may_change_on_resume():
    a = runs.flat_settings({"lr": 1e-3, "pretrained": "x"},
                           {"class_path": "D", "init_args": {"num_workers": 0, "batch_size": 8}})
    b = runs.flat_settings({"lr": 1e-3, "pretrained": None},
                           {"class_path": "D", "init_args": {"num_workers": 4, "batch_size": 8}})
    assert a == b
    c = runs.flat_settings({"lr": 1e-3}, {"class_path": "E", "init_args": {"batch_size": 8}})
    assert runs.differences(a, c) == ["data.class_path: 'D' here, 'E' in the run"]


def test_resolve_last_with_no_runs_starts_fresh(tmp_path):
    assert runs.resolve_last(tmp_path / "nothing", {"model.lr": 1}) is None


@pytest.mark.slow
def test_fit_with_weight_averaging_tests_and_saves_the_averaged_weights_it_validated(tmp_path):
    import torch
    from safetensors.torch import load_file

    ok(fit(tmp_path, "--trainer.callbacks+=lightning.pytorch.callbacks.EMAWeightAveraging",
           "--trainer.callbacks.decay=0.5"))
    run = tmp_path / "runs" / "fashionmnist-mlp" / "version_0"
    (best,) = (run / "checkpoints").glob("best-*.ckpt")
    ckpt = torch.load(best, map_location="cpu", weights_only=False)
    saved = load_file(run / "model" / "model.safetensors")
    averaged, raw = ckpt["state_dict"], ckpt["current_model_state"]
    name = next(k for k in averaged if k.endswith("weight"))
    assert not torch.equal(averaged[name], raw[name])  # the average is not the last step
    assert saved.keys() == {k.removeprefix("net.") for k in averaged}
    for key, value in saved.items():
        assert torch.equal(value, averaged[f"net.{key}"]), key


def run_folder(root: Path, name: str, model: dict, data: dict) -> Path:
    """A run folder as ``fit`` leaves it: ``config.yaml`` and a ``checkpoints/last.ckpt``."""
    run = root / name
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    (run / runs.CONFIG_NAME).write_text(json.dumps({"model": model, "data": data}))
    return run


def test_a_setting_a_run_has_no_entry_for_compares_as_its_default(tmp_path):
    from bna_zoo import BNAModel
    from bna_zoo.data.images import MNISTDataModule

    data = {"class_path": "bna_zoo.data.images.MNISTDataModule", "init_args": {"batch_size": 8}}
    old = run_folder(tmp_path, "old", {"lr": 1e-3}, data)        # before surrogate_slope
    defaults = runs.setting_defaults(BNAModel, data["class_path"])
    assert defaults["model.surrogate_slope"] == 5.0
    batch_size = signature(MNISTDataModule).parameters["batch_size"]
    assert defaults["data.batch_size"] == batch_size.default
    same = runs.flat_settings({"lr": 1e-3, "surrogate_slope": 5.0}, data)
    assert runs.resolve_last(tmp_path, same, defaults) == old
    runs.check_checkpoint(old / "checkpoints" / "last.ckpt", same, defaults)   # no refusal
    # without defaults, or with the setting changed, the missing entry is a difference
    with pytest.raises(ValueError, match=r"model.surrogate_slope: 5.0 here, no entry in the run"):
        runs.resolve_last(tmp_path, same)
    changed = runs.flat_settings({"lr": 1e-3, "surrogate_slope": 2.0}, data)
    with pytest.raises(ValueError, match=r"surrogate_slope: 2.0 here, no entry \(saved before "
                                         r"the setting existed: as its default 5.0\) in the run"):
        runs.check_checkpoint(old / "checkpoints" / "last.ckpt", changed, defaults)


def test_a_setting_only_the_run_has_is_a_difference(tmp_path):
    from bna_zoo import BNAModel

    data = {"class_path": "bna_zoo.data.images.MNISTDataModule", "init_args": {}}
    run_folder(tmp_path, "newer", {"lr": 1e-3, "future_setting": 1}, data)
    defaults = runs.setting_defaults(BNAModel, data["class_path"])
    command = runs.flat_settings({"lr": 1e-3}, data)
    with pytest.raises(ValueError, match=r"model.future_setting: not set here, 1 in the run"):
        runs.resolve_last(tmp_path, command, defaults)


def test_setting_defaults_of_a_data_class_that_does_not_import_are_the_model_s_alone():
    from bna_zoo import BNAModel

    defaults = runs.setting_defaults(BNAModel, "no_such_module.Data")
    assert defaults and all(k.startswith("model.") for k in defaults)
    assert "model.pretrained" not in defaults      # may change on resume: never compared


def test_a_run_folder_without_its_config_is_named_when_nothing_resumes(tmp_path):
    (tmp_path / "bare" / "checkpoints").mkdir(parents=True)
    (tmp_path / "bare" / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    with pytest.raises(ValueError, match=r"the newest, bare, differs in its config.yaml is miss"):
        runs.resolve_last(tmp_path, {"model.lr": 1e-3})
