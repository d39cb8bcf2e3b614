"""Bad input to the model, checkpoint and command-line surface: each a clear error naming it.

A table: what the user did, the call, the exception and a pattern its message must match (the
problem, and where there is one, the fix). The other packages' rows sit beside their tests
(``tests/<package>/test_bad_inputs_<package>.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from bna_zoo.bna_model import BNAModel
from bna_zoo.cli import main


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return BNAModel("fashionmnist-mlp").save_pretrained(tmp_path_factory.mktemp("m") / "m")


def _damaged(folder: Path, tmp: Path, edit: Callable[[dict], None]) -> Path:
    import shutil

    copy = tmp / "copy"
    shutil.copytree(folder, copy)
    config = json.loads((copy / "config.json").read_text())
    edit(config)
    (copy / "config.json").write_text(json.dumps(config))
    return copy


MODEL_ROWS = [
    ("unknown zoo name", lambda: BNAModel("resnet-50"), KeyError, "unknown zoo model 'resnet-50'"),
    ("typo in a zoo name", lambda: BNAModel("fashionmnist-mpl"), KeyError, "Did you mean"),
    ("unknown arch override", lambda: BNAModel(arch_overrides={"layers": 3}), ValueError,
     "unknown arch_overrides.*choose from"),
    ("labels of the wrong count", lambda: BNAModel(labels=["a", "b"]), ValueError,
     "2 labels for a model with 10 classes"),
    ("zero classes", lambda: BNAModel(num_classes=0), ValueError, "num_classes must be"),
    ("float class count", lambda: BNAModel(num_classes=2.5), ValueError, "num_classes must be"),
    ("unknown loss", lambda: BNAModel(loss="hinge"), ValueError, "unknown loss 'hinge'"),
    ("unknown gradient", lambda: BNAModel(gradient="bptt"), ValueError, "unknown gradient"),
    ("unknown variant", lambda: BNAModel(variant="v2"), ValueError, "unknown NA variant"),
]


@pytest.mark.parametrize("what, call, error, pattern", MODEL_ROWS, ids=[r[0] for r in MODEL_ROWS])
def test_bad_model_construction_is_named(what, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@pytest.fixture(scope="module")
def model() -> BNAModel:
    torch.manual_seed(0)
    return BNAModel("fashionmnist-mlp").eval()


PREDICT_ROWS = [
    ("images scaled to [-1, 1]", lambda: torch.rand(2, 1, 28, 28) * 2 - 1, ValueError,
     "fit neither raw pixels"),
    ("pixels above 255", lambda: torch.full((1, 1, 28, 28), 300), ValueError, "expected 0..255"),
    ("a string", lambda: "image.png", TypeError, "cannot read|numbers"),
    ("boolean masks", lambda: torch.ones(1, 1, 28, 28, dtype=torch.bool), TypeError, "numbers"),
    ("NaN pixels", lambda: torch.full((1, 1, 28, 28), float("nan")), ValueError, "NaN"),
    ("an empty batch", lambda: torch.zeros(0, 1, 28, 28), ValueError, "empty"),
    ("wrong image size", lambda: torch.rand(2, 1, 32, 32), ValueError, r"\[-1, 1, 28, 28\]"),
    ("a batch of wrong grey images", lambda: torch.rand(2, 28, 30), ValueError, r"1, 28, 28"),
    ("event recording to an image model",
     lambda: np.zeros(3, dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i2")]),
     TypeError, "takes images, not event recordings"),
]


@pytest.mark.parametrize("what, make, error, pattern", PREDICT_ROWS,
                         ids=[r[0] for r in PREDICT_ROWS])
def test_bad_predict_input_is_named(model, what, make, error, pattern):
    with pytest.raises(error, match=pattern):
        model.predict(make())


def test_bad_checkpoint_sources_are_named(folder, tmp_path):
    cases = [
        (lambda: BNAModel.from_pretrained(tmp_path / "nowhere"), FileNotFoundError,
         "no checkpoint folder"),
        (lambda: BNAModel.from_pretrained(folder, revision="main"), ValueError,
         "applies to Hub sources"),
        (lambda: BNAModel.from_pretrained(_damaged(folder, tmp_path / "a", lambda c: c.update(
            format_version=99))), Exception, "format_version 99.*upgrade bna_zoo"),
        (lambda: BNAModel.from_pretrained(_damaged(folder, tmp_path / "b", lambda c: c.pop(
            "model_args"))), Exception, "no 'model_args'"),
        # a typo'd key is named with the known ones, never ignored
        (lambda: BNAModel.from_pretrained(_damaged(folder, tmp_path / "c", lambda c: c[
            "model_args"].update(n_step=10))), Exception,
         r"model_args: unknown key\(s\) \['n_step'\]; the known keys are \['arch'"),
        (lambda: BNAModel.from_pretrained(_damaged(folder, tmp_path / "d", lambda c: c[
            "training_args"].update(bogus=1))), Exception,
         r"training_args: unknown key\(s\) \['bogus'\]"),
        (lambda: BNAModel.from_pretrained(_damaged(folder, tmp_path / "e", lambda c: c.update(
            num_classes=10))), Exception, r"unknown key\(s\) \['num_classes'\]"),
        (lambda: BNAModel.from_lightning_checkpoint(folder / "config.json"), Exception,
         "not a readable Lightning checkpoint"),
    ]
    for call, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            call()


def test_bad_saves_are_named_and_write_nothing(model, tmp_path):
    (tmp_path / "file").write_text("x")
    cases = [
        (lambda: model.save_pretrained(tmp_path / "a", metrics={"accuracy": 91.0}), ValueError,
         "fraction"),
        (lambda: model.save_pretrained(tmp_path / "b", epoch=3), TypeError,
         "unknown card fields \\['epoch'\\]"),
        (lambda: model.save_pretrained(tmp_path / "c", seed=object()), TypeError,
         "cannot be stored in config.json"),
        (lambda: model.save_pretrained(tmp_path / "file"), NotADirectoryError,
         "exists and is not a folder"),
    ]
    for call, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


CLI_ROWS = [
    ("unknown subcommand", ["frob"], "invalid choice: 'frob'"),
    ("eval of an unknown name", ["eval", "nope"], "unknown zoo model 'nope'"),
    ("config of an unknown name", ["config", "nope"], "unknown zoo model 'nope'"),
    ("zoo recipe of an unknown name", ["fit", "--config", "zoo:nope"], "unknown zoo model"),
    ("eval --limit 0", ["eval", "fashionmnist-mlp", "--limit", "0"], "must be > 0"),
    ("export of a name without weights", ["export", "cifar10-cnn", "--out", "x.nir"],
     "no trained weights"),
    ("show --sample out of range", ["show", "fashionmnist-mlp", "--sample", "99999"],
     "--sample 99999 is out of range.*0..7"),
]


@pytest.mark.parametrize("what, argv, pattern", CLI_ROWS, ids=[r[0] for r in CLI_ROWS])
def test_cli_mistakes_end_with_one_line_naming_them(what, argv, pattern, capsys, tmp_path,
                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    # a tiny Fashion-MNIST where the zoo looks for it (data/), for the commands that read data
    from tests.data.conftest import write_idx_dataset

    write_idx_dataset(tmp_path / "data" / "FashionMNIST" / "raw", n_train=16, n_test=8)
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    import re

    assert re.search(pattern, stderr), stderr[-500:]


def test_save_pretrained_with_labels_that_do_not_match_is_refused_before_writing(tmp_path):
    from bna_zoo import BNAModel

    model = BNAModel("fashionmnist-mlp")
    model.labels = ["a", "b"]
    with pytest.raises(ValueError, match="2 labels for a model with 10 classes"):
        model.save_pretrained(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_pretrained_of_another_architecture_names_the_checkpoint_and_both_architectures():
    from bna_zoo import BNAModel

    model = BNAModel("mnist-cnn", pretrained="fashionmnist-mlp")
    with pytest.raises(ValueError, match=r"--model.pretrained fashionmnist-mlp: a checkpoint of "
                                         r"400-400-10, which does not fit this model's "
                                         r"15C5-P2-40C5-P2-300-10"):
        model.load_pretrained_weights()
