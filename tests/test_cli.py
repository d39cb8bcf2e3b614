"""The bna-zoo command line: configs, fit on real-format data, fine-tuning, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import yaml

from bna_zoo.bna_model import BNAModel
from bna_zoo.cli import main
from bna_zoo.cli.lightning import BNAZooCLI
from tests.data.conftest import write_idx_dataset

CONFIGS = sorted(Path(__file__).resolve().parents[1].joinpath("configs").glob("*.yaml"))


def test_there_is_one_config_per_registry_entry():
    from bna_zoo import list_models

    assert [p.stem for p in CONFIGS] == list_models()


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_every_config_parses_and_instantiates(config, tmp_path):
    cli = BNAZooCLI(
        BNAModel,
        L.LightningDataModule,
        subclass_mode_data=True,
        run=False,
        args=["--config", str(config), "--trainer.logger", "false",
              "--trainer.default_root_dir", str(tmp_path)],
        save_config_kwargs={"overwrite": True},
    )
    assert cli.model.zoo_name == config.stem
    assert cli.model.net.num_classes == cli.datamodule.num_classes


def test_print_config_round_trips(tmp_path, capsys):
    config = Path(__file__).resolve().parents[1] / "configs" / "nmnist-cnn.yaml"
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(config), "--print_config"])
    first = capsys.readouterr().out
    resolved = tmp_path / "resolved.yaml"
    resolved.write_text(first)
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(resolved), "--print_config"])
    assert yaml.safe_load(capsys.readouterr().out) == yaml.safe_load(first)


def _fit_args(config: str, data_dir: Path, root: Path, *extra: str) -> list[str]:
    cfg = Path(__file__).resolve().parents[1] / "configs" / f"{config}.yaml"
    root.mkdir(parents=True, exist_ok=True)
    overlay = root / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({
        "trainer": {
            "default_root_dir": str(root), "logger": False, "enable_progress_bar": False,
            "callbacks": [{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                           "init_args": {"dirpath": str(root / "ckpt"), "save_last": True,
                                         "monitor": "val_acc", "mode": "max"}}],
        },
    }))
    return ["fit", "--config", str(cfg), "--config", str(overlay),
            "--data.init_args.data_dir", str(data_dir),
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
            "--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "1",
            "--data.init_args.batch_size", "8", "--data.init_args.val_size", "8", *extra]


@pytest.mark.slow
def test_fit_on_idx_files_tests_the_best_checkpoint_and_prints_where_it_is(tmp_path, capsys):
    write_idx_dataset(tmp_path / "data" / "FashionMNIST" / "raw", n_train=40, n_test=16)
    main(_fit_args("fashionmnist-mlp", tmp_path / "data", tmp_path,
                   "--data.init_args.system_dir", "null", "--data.init_args.download", "false"))
    out = capsys.readouterr().out
    assert "test accuracy:" in out and str(tmp_path / "ckpt") in out
    assert (tmp_path / "ckpt" / "last.ckpt").exists()
    saved = list(tmp_path.rglob("config.yaml"))
    assert saved, "the resolved config is saved beside the run"
    # fine-tuning from that checkpoint with another class count
    main(_fit_args("fashionmnist-mlp", tmp_path / "data", tmp_path / "tune",
                   "--data.init_args.system_dir", "null", "--data.init_args.download", "false",
                   "--model.pretrained", str(tmp_path / "ckpt" / "last.ckpt")))
    assert "test accuracy:" in capsys.readouterr().out


@pytest.mark.slow
def test_resumed_fit_whose_best_checkpoint_is_gone_says_so_and_tests_nothing(tmp_path, capsys):
    import torch

    write_idx_dataset(tmp_path / "data" / "FashionMNIST" / "raw", n_train=40, n_test=16)
    extra = ("--data.init_args.system_dir", "null", "--data.init_args.download", "false",
             "--test_after_fit", "false")
    main(_fit_args("fashionmnist-mlp", tmp_path / "data", tmp_path, *extra))
    last = tmp_path / "ckpt" / "last.ckpt"
    # the resume point alone came along, and its best epoch scored more than any later one will
    ckpt = torch.load(last, weights_only=False)
    (state,) = [v for k, v in ckpt["callbacks"].items()
                if k.startswith("ModelCheckpoint") and "val_acc" in k]
    for gone in (tmp_path / "ckpt").glob("epoch=*.ckpt"):
        gone.unlink()
    state["best_model_score"] = torch.tensor(1.5)
    torch.save(ckpt, last)
    main(_fit_args("fashionmnist-mlp", tmp_path / "data", tmp_path, *extra[:-2],
                   "--trainer.max_epochs", "2", "--ckpt_path", str(last)))
    out, err = capsys.readouterr()
    assert "test accuracy:" not in out
    assert ("not testing: the best checkpoint this run recorded (val_acc 1.5000) is not on disk"
            in err)
    assert state["best_model_path"] in err


@pytest.mark.slow
def test_fit_on_emulated_nmnist_files(tmp_path, capsys):
    import numpy as np

    from bna_zoo.data.digits import load_digits
    from bna_zoo.data.emulate import emulate_dataset

    images, labels = load_digits()
    images, labels = images[::400], labels[::400]  # the shipped file is grouped by label
    emulate_dataset(images[:16], labels[:16], str(tmp_path / "data"), "train", seed=0)
    emulate_dataset(images[16:24], labels[16:24], str(tmp_path / "data"), "test", seed=0)
    assert np.unique(labels[:16]).size > 1
    main(_fit_args("nmnist-cnn", tmp_path / "data", tmp_path, "--data.init_args.download", "false",
                   "--data.init_args.cache_dir", str(tmp_path / "cache")))
    assert "test accuracy:" in capsys.readouterr().out


def test_unknown_architecture_fails_before_training_with_one_line_listing_the_choices(
        tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(_fit_args("fashionmnist-mlp", tmp_path, tmp_path, "--model.name", "resnet-50"))
    assert err.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line.startswith("bna-zoo: error: unknown zoo model 'resnet-50'") and "nmnist-cnn" in line


def test_unknown_precision_fails_with_the_valid_choices(tmp_path, capsys):
    # jsonargparse checks the Trainer's precision type itself and lists the accepted literals
    with pytest.raises((SystemExit, ValueError)) as err:
        main(_fit_args("fashionmnist-mlp", tmp_path, tmp_path, "--trainer.precision", "fp8"))
    assert "bf16-mixed" in str(err.value) + capsys.readouterr().err


def test_unknown_strategy_fails_with_the_valid_choices(tmp_path):
    with pytest.raises(SystemExit, match="ddp_spawn"):
        main(_fit_args("fashionmnist-mlp", tmp_path, tmp_path, "--trainer.strategy", "horovod"))


def test_trainer_setting_lightning_refuses_ends_with_its_message_on_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(_fit_args("fashionmnist-mlp", tmp_path, tmp_path, "--trainer.max_epochs", "-3"))
    assert err.value.code == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    (line,) = stderr.strip().splitlines()[-1:]
    assert line.startswith("bna-zoo: error: `max_epochs` must be") and "-3" in line


def test_bad_datamodule_argument_ends_with_the_datamodules_own_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(_fit_args("fashionmnist-mlp", tmp_path, tmp_path, "--data.val_fraction", "2"))
    assert err.value.code == 2
    stderr = capsys.readouterr().err
    assert "Union" not in stderr and "Namespace(" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        "bna-zoo: error: val_fraction must be in [0, 1), got 2.0")


def test_missing_dataset_offline_names_the_folder_before_training(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(_fit_args("fashionmnist-mlp", tmp_path / "nothing", tmp_path,
                       "--data.init_args.system_dir", "null", "--data.init_args.download", "false"))
    err = capsys.readouterr().err
    assert "Fashion-MNIST not found" in err and str(tmp_path / "nothing") in err
    assert "Traceback" not in err


def test_list_prints_every_registry_entry(capsys):
    main(["list"])
    out = capsys.readouterr().out
    for name in ("mnist-cnn", "nmnist-cnn", "cifar10-cnn", "fashionmnist-mlp"):
        assert f"| {name} |" in out


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("fit", "validate", "test", "predict", "list", "config", "eval", "publish",
                    "show", "emulate"):
        assert f"    {command} " in out


def test_unknown_subcommand_is_one_line_listing_all_of_them(capsys):
    with pytest.raises(SystemExit):
        main(["frobnicate"])
    err = capsys.readouterr().err
    assert "invalid choice: 'frobnicate'" in err and "'emulate'" in err and "'fit'" in err


def test_config_prints_the_packaged_recipe_which_equals_the_repo_config(capsys):
    main(["config", "nmnist-cnn"])
    out = capsys.readouterr().out
    repo = Path(__file__).resolve().parents[1] / "configs" / "nmnist-cnn.yaml"
    assert out == repo.read_text()
    assert yaml.safe_load(out)["model"]["name"] == "nmnist-cnn"


def _parsed(argv: list[str], tmp_path: Path) -> BNAZooCLI:
    from bna_zoo.cli.lightning import _argv, expand_recipes

    with _argv(expand_recipes(argv)[1:] + ["--trainer.logger", "false",
                                       "--trainer.default_root_dir", str(tmp_path)]):
        return BNAZooCLI(BNAModel, L.LightningDataModule, subclass_mode_data=True, run=False,
                         save_config_kwargs={"overwrite": True})


def test_zoo_recipe_by_name_and_model_name_alone_bring_the_data(tmp_path):
    cli = _parsed(["fit", "--config", "zoo:nmnist-cnn"], tmp_path)
    assert cli.model.zoo_name == "nmnist-cnn"
    assert type(cli.datamodule).__name__ == "NMNISTDataModule"
    cli = _parsed(["fit", "--model.name", "fashionmnist-mlp"], tmp_path)
    assert type(cli.datamodule).__name__ == "FashionMNISTDataModule"
    assert cli.datamodule.batch_size == 100  # the recipe's


def test_short_datamodule_names_and_surrogate_slope_parse(tmp_path):
    cli = _parsed(["fit", "--model.name", "fashionmnist-mlp", "--model.gradient", "surrogate",
                   "--model.surrogate_slope", "2.5", "--data", "MNISTDataModule",
                   "--data.batch_size", "7"], tmp_path)
    assert type(cli.datamodule).__name__ == "MNISTDataModule" and cli.datamodule.batch_size == 7
    assert cli.model.net.neuron.surrogate_slope == 2.5


def test_strategy_names_come_from_lightnings_registry(tmp_path):
    from bna_zoo.cli.lightning import _valid_strategies

    assert "ddp_find_unused_parameters_true" in _valid_strategies()
    assert "dp" not in _valid_strategies()  # gone from Lightning 2


def test_lightning_subcommands_run_without_the_args_and_argv_warning(tmp_path, recwarn):
    with pytest.raises(SystemExit):
        main(["fit", "--config", "zoo:fashionmnist-mlp", "--print_config"])
    assert not [w for w in recwarn if "args" in str(w.message) and "argv" in str(w.message)]


@pytest.mark.parametrize(("preset", "expected"), [(None, "1"), ("0", "0")])
def test_cli_asks_torch_for_huge_pages_before_torch_is_imported(preset, expected) -> None:
    """torch reads THP_MEM_ALLOC_ENABLE once, at import: the CLI module must set it before
    anything imports torch, and leave a value the user set alone."""
    import os
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "import bna_zoo.cli\n"
        "assert 'torch' not in sys.modules, 'torch was imported before the variable was set'\n"
        "print(os.environ['THP_MEM_ALLOC_ENABLE'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if preset is not None:
        env["THP_MEM_ALLOC_ENABLE"] = preset
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == expected


def test_list_and_config_answer_without_importing_lightning():
    # Lightning's import takes seconds; the zoo's lookup commands do not need it
    code = ("import sys\nfrom bna_zoo.cli import main\n"
            "for argv in (['list'], ['config', 'mnist-cnn']):\n"
            "    main(argv)\n"
            "print('lightning' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "mnist-cnn" in done.stdout and "seed_everything" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "False"
