"""Hub I/O: save/load round trips, the registry's Hub and shipped sources, cards, push, errors.

No test reaches the internet. ``huggingface_hub`` reads ``HF_HUB_OFFLINE``/``HF_ENDPOINT`` into
``huggingface_hub.constants`` at import time, so the fixtures patch those constants (not only
environment variables): every test runs offline against its own empty Hugging Face cache,
except the olah test, which points the client at a local Hub stand-in (``tests/hub_server.py``).

Uploads cannot be exercised against a local server (olah is read-only), so the push path
(``ModelHubMixin.push_to_hub``) is tested by replacing ``HfApi.create_repo``/``file_exists``/
``create_commit`` (and the Hub's YAML validation) and checking what would have been uploaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
from pathlib import Path

import huggingface_hub
import lightning as L
import pytest
import torch
from huggingface_hub import constants as hf_constants
from torch.utils.data import DataLoader, TensorDataset

from bna_zoo.bna_model import BNAModel
from bna_zoo.hub import (
    HubUnavailableError,
    IntegrityError,
    build_config,
    front_matter,
    publish,
    register_shipped,
    render_card,
    sha256_file,
)
from bna_zoo.hub import state_for_finetuning as load_state_for_finetuning
from bna_zoo.models import entry as entry_module
from bna_zoo.models import list_models, zoo


def from_pretrained(source, revision=None):
    return BNAModel.from_pretrained(source, revision=revision)


def save_pretrained(model, directory, **kwargs):
    return model.save_pretrained(directory, **kwargs)


def card(model, metrics=None, **training):
    return render_card(build_config(model, metrics, training))

NAME = "fashionmnist-mlp"
FILES = ("config.json", "model.safetensors")


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Offline, an empty HF cache, no shipped weights, and a fresh working directory."""
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(entry_module, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.chdir(tmp_path)
    return cache


@pytest.fixture(scope="module")
def model() -> BNAModel:
    torch.manual_seed(0)
    return BNAModel(NAME).eval()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def saved(model: BNAModel, tmp_path: Path) -> Path:
    return save_pretrained(model, tmp_path / "saved", metrics={"accuracy": 0.9}, seed=0)


def same_outputs(a: BNAModel, b: BNAModel, x: torch.Tensor) -> bool:
    with torch.no_grad():
        return torch.equal(a(x), b(x))


def seed_hf_cache(cache: Path, repo_id: str, folder: Path) -> str:
    """Lay out ``folder``'s files as the HF cache does after a download; return the commit."""
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    root = cache / f"models--{repo_id.replace('/', '--')}"
    (root / "blobs").mkdir(parents=True)
    (root / "snapshots" / commit).mkdir(parents=True)
    (root / "refs").mkdir()
    for name in FILES:
        data = (folder / name).read_bytes()
        blob = hashlib.sha256(data).hexdigest()
        (root / "blobs" / blob).write_bytes(data)
        (root / "snapshots" / commit / name).symlink_to(Path("../../blobs") / blob)
    (root / "refs" / "main").write_text(commit)
    return commit


def patch_entry(monkeypatch: pytest.MonkeyPatch, **changes) -> zoo.ZooEntry:
    entry = dataclasses.replace(zoo.ZOO[NAME], **changes)
    monkeypatch.setitem(zoo.ZOO, NAME, entry)
    return entry


# ------------------------------------------------------------------------------ round trips
def test_save_then_load_gives_identical_outputs_in_eval_mode(model, saved, x):
    loaded = from_pretrained(saved)
    assert not loaded.training
    assert same_outputs(model, loaded, x)
    assert sorted(p.name for p in saved.iterdir()) == ["README.md", "config.json",
                                                       "model.safetensors"]


def test_bnamodel_methods_save_and_load_through_the_hub_module(model, tmp_path, x):
    model.save_pretrained(tmp_path / "m")
    assert same_outputs(model, BNAModel.from_pretrained(str(tmp_path / "m")), x)


def test_saving_twice_writes_byte_identical_weights(model, tmp_path):
    a = save_pretrained(model, tmp_path / "a") / "model.safetensors"
    b = save_pretrained(model, tmp_path / "b") / "model.safetensors"
    assert sha256_file(a) == sha256_file(b)  # a registry pin stays reproducible


def test_checkpoint_keeps_its_saved_settings_when_the_registry_changes(model, saved, x,
                                                                       monkeypatch):
    entry = zoo.ZOO[NAME]
    monkeypatch.setitem(zoo.ZOO, NAME, dataclasses.replace(entry, net=entry.net.replace(tau_s=2.0)))
    loaded = from_pretrained(saved)
    assert loaded.net.neuron.tau_s == 3.0
    assert same_outputs(model, loaded, x)


def test_finetuning_state_from_a_folder_has_the_net_keys(model, saved):
    state = load_state_for_finetuning(str(saved.resolve()))
    assert state.keys() == model.net.state_dict().keys()
    assert all(torch.equal(v, model.net.state_dict()[k]) for k, v in state.items())


def test_pretrained_folder_with_another_class_count_gets_a_new_head(saved):
    tuned = BNAModel(NAME, num_classes=5, pretrained=str(saved.resolve()))
    assert tuned.hparams["pretrained"] is not None  # nothing fetched in __init__
    tuned.load_pretrained_weights()
    assert tuned.net.num_classes == 5 and tuned.hparams["pretrained"] is None


# ------------------------------------------------------------------- Hub cache and shipped
def test_zoo_name_loads_from_a_seeded_hf_cache_while_offline(model, saved, x, offline_hub,
                                                             monkeypatch, caplog):
    commit = seed_hf_cache(offline_hub, "org/fmlp", saved)
    patch_entry(monkeypatch, repo_id="org/fmlp", revision=commit,
                sha256=sha256_file(saved / "model.safetensors"))
    caplog.set_level(logging.INFO, logger="bna_zoo")
    assert same_outputs(model, from_pretrained(NAME), x)
    assert f"org/fmlp@{commit}" in caplog.text
    assert same_outputs(model, from_pretrained(f"org/fmlp@{commit}"), x)


def test_revision_not_in_the_cache_while_offline_is_a_clear_error(saved, offline_hub):
    seed_hf_cache(offline_hub, "org/fmlp", saved)
    with pytest.raises(HubUnavailableError, match="HF_HUB_OFFLINE is set.*not in the"):
        from_pretrained("org/fmlp", revision="f" * 40)


def test_shipped_copy_stands_in_when_the_hub_cannot_give_the_weights(model, saved, x,
                                                                     monkeypatch, caplog):
    shutil.copytree(saved, entry_module.WEIGHTS_DIR / NAME)
    patch_entry(monkeypatch, revision="e" * 40, shipped=True,
                sha256=sha256_file(saved / "model.safetensors"))
    caplog.set_level(logging.INFO, logger="bna_zoo")
    assert same_outputs(model, from_pretrained(NAME), x)
    assert "copy shipped in the package" in caplog.text


def test_unpublished_shipped_entry_loads_without_asking_the_hub(model, saved, x, monkeypatch):
    shutil.copytree(saved, entry_module.WEIGHTS_DIR / NAME)
    patch_entry(monkeypatch, shipped=True, sha256=sha256_file(saved / "model.safetensors"))

    def no_hub(*args, **kwargs):
        raise AssertionError("the Hub was asked")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    assert same_outputs(model, from_pretrained(NAME), x)


def test_explicit_revision_never_falls_back_to_the_shipped_copy(saved, monkeypatch):
    shutil.copytree(saved, entry_module.WEIGHTS_DIR / NAME)
    patch_entry(monkeypatch, revision="e" * 40, shipped=True)
    with pytest.raises(HubUnavailableError):
        from_pretrained(NAME, revision="d" * 40)


def test_entry_without_weights_says_how_to_train_them():
    with pytest.raises(HubUnavailableError, match="bna-zoo fit --config zoo:cifar10-cnn"):
        from_pretrained("cifar10-cnn")


# ------------------------------------------------------------------------------ bad input
def test_unknown_name_lists_close_matches():
    with pytest.raises(KeyError, match="Did you mean 'fashionmnist-mlp'"):
        from_pretrained("fashionmnist-mpl")


def test_folder_shadowing_a_zoo_name_is_refused_until_written_as_a_path(model, x, monkeypatch):
    patch_entry(monkeypatch, shipped=False, sha256=None)  # the zoo entry without weights
    save_pretrained(model, NAME)  # ./fashionmnist-mlp in the working directory
    with pytest.raises(ValueError, match=f"'./{NAME}'"):
        from_pretrained(NAME)
    assert same_outputs(model, from_pretrained(f"./{NAME}"), x)
    assert same_outputs(model, from_pretrained(f"local-dir:{NAME}"), x)
    with pytest.raises(HubUnavailableError, match="no trained weights"):
        from_pretrained(f"zoo:{NAME}")  # the explicit prefix means the zoo entry


def test_folder_shadowing_a_hub_id_is_refused(model):
    save_pretrained(model, "org/fmlp")
    with pytest.raises(ValueError, match="both a Hub repo id and a folder"):
        from_pretrained("org/fmlp")


def test_sha256_mismatch_is_refused(saved, offline_hub, monkeypatch):
    commit = seed_hf_cache(offline_hub, "org/fmlp", saved)
    patch_entry(monkeypatch, repo_id="org/fmlp", revision=commit, sha256="0" * 64)
    with pytest.raises(IntegrityError, match="sha256 .* but the registry pins 0{64}"):
        from_pretrained(NAME)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupted_or_truncated_weights_are_refused(saved, damage):
    path = saved / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\xff" * 64)
    with pytest.raises(IntegrityError, match="config.json records"):  # its sha256 catches it
        from_pretrained(saved)
    config = json.loads((saved / "config.json").read_text())
    del config["weights_sha256"]  # a folder that records no hash: the reader catches it
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(IntegrityError, match="corrupted or truncated"):
        from_pretrained(saved)


def test_config_whose_shapes_disagree_with_the_weights_is_refused(saved):
    config = json.loads((saved / "config.json").read_text())
    config["model_args"]["arch"] = "300-400-10"
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(IntegrityError, match="the network and model.safetensors disagree"):
        from_pretrained(saved)


@pytest.mark.parametrize("missing", FILES)
def test_missing_file_in_a_folder_is_named(saved, missing):
    (saved / missing).unlink()
    with pytest.raises(FileNotFoundError, match=missing):
        from_pretrained(saved)


def test_pickled_weights_are_never_loaded(saved):
    (saved / "model.safetensors").rename(saved / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="safetensors only"):
        from_pretrained(saved)


@pytest.mark.parametrize("path", ["./nowhere", "runs/exp/nowhere"])
def test_missing_folder_is_named(path):
    with pytest.raises(FileNotFoundError, match="no checkpoint folder"):
        from_pretrained(path)


def test_revision_for_a_folder_is_refused(saved):
    with pytest.raises(ValueError, match="applies to Hub sources"):
        from_pretrained(saved, revision="main")


# ------------------------------------------------------------------------------------ cards
@pytest.mark.parametrize("name", list_models())
def test_every_card_renders_valid_yaml_with_a_model_index(name):
    torch.manual_seed(0)
    m = BNAModel(name)
    meta = front_matter(card(m, {"accuracy": 0.9123}, seed=0))
    assert meta["library_name"] == "bna_zoo" and meta["pipeline_tag"] == "image-classification"
    assert {"spiking-neural-network", "snn", "neuromorphic", "bna"} <= set(meta["tags"])
    (entry,) = meta["model-index"]
    assert entry["name"] == name
    (result,) = entry["results"]
    assert result["metrics"][0] == {"type": "accuracy", "name": "Top-1 accuracy (%)",
                                    "value": 91.23}
    assert result["dataset"]["type"] == zoo.ZOO[name].dataset_id


def test_unmeasured_card_has_no_model_index_and_says_so(model):
    text = card(model)
    assert "model-index" not in front_matter(text)
    assert "not measured yet" in text


@pytest.mark.parametrize("variant, words", [("official", "official variant"),
                                            ("paper", "paper variant (the form of the paper, "
                                                      "clip 10.0)")])
def test_card_names_the_na_variant_the_weights_were_trained_with(variant, words):
    assert words in card(BNAModel(NAME, variant=variant))


def test_unknown_card_field_and_percent_accuracy_are_refused(model, tmp_path):
    with pytest.raises(TypeError, match="unknown card fields"):
        save_pretrained(model, tmp_path / "m", sede=0)
    with pytest.raises(ValueError, match="fraction"):
        save_pretrained(model, tmp_path / "m", metrics={"accuracy": 91.2})
    assert not (tmp_path / "m").exists()  # nothing half-written


# ------------------------------------------------------------------------------------- push
class FakeApi:
    """Records what ``HfApi.upload_folder`` would have uploaded (after its pattern filtering)."""

    def __init__(self, card_exists: bool):
        self.card_exists, self.uploaded, self.repos = card_exists, {}, []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        api = huggingface_hub.HfApi
        monkeypatch.setattr(api, "create_repo", self.create_repo)
        monkeypatch.setattr(api, "file_exists", lambda *a, **kw: self.card_exists)
        monkeypatch.setattr(api, "upload_folder", self.upload_folder)

    def create_repo(self, repo_id, **kwargs):
        self.repos.append((repo_id, kwargs))
        return huggingface_hub.RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, *, repo_id, folder_path, allow_patterns=None, ignore_patterns=None,
                      **kwargs):
        from huggingface_hub.utils import filter_repo_objects

        names = [p.name for p in Path(folder_path).iterdir()]
        # read now: the temporary folder is gone once push_to_hub returns
        self.uploaded = {n: (Path(folder_path) / n).read_bytes() for n in filter_repo_objects(
            names, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns)}
        if "README.md" in self.uploaded:
            front_matter(self.uploaded["README.md"].decode())  # the Hub validates the YAML
        return huggingface_hub.CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{'a' * 40}", commit_message="",
            commit_description="", oid="a" * 40,
        )


@pytest.mark.parametrize("card_exists, overwrite, expected", [
    (True, False, {"config.json", "model.safetensors"}),
    (True, True, {"config.json", "model.safetensors", "README.md"}),
    (False, False, {"config.json", "model.safetensors", "README.md"}),
])
def test_push_uploads_config_and_weights_and_keeps_an_existing_card(
        model, monkeypatch, tmp_path, x, card_exists, overwrite, expected):
    api = FakeApi(card_exists)
    api.install(monkeypatch)
    commit = model.push_to_hub("org/fmlp", private=True, overwrite_card=overwrite,
                               metrics={"accuracy": 0.9})
    assert commit.oid == "a" * 40
    assert api.repos == [("org/fmlp", {"private": True, "exist_ok": True})]
    assert set(api.uploaded) == expected
    for name, data in api.uploaded.items():
        (tmp_path / "up" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "up" / name).write_bytes(data)
    assert same_outputs(model, from_pretrained(tmp_path / "up"), x)


# ------------------------------------------------------------- Lightning checkpoint, publish
@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> tuple[Path, BNAModel]:
    torch.manual_seed(0)
    m = BNAModel(NAME)
    data = TensorDataset(torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))
    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, accelerator="cpu")
    trainer.fit(m, DataLoader(data, batch_size=4))
    path = tmp_path_factory.mktemp("ckpt") / "last.ckpt"
    trainer.save_checkpoint(path)
    return path, m.eval()


@pytest.mark.slow
def test_lightning_checkpoint_gives_the_net_state_without_the_prefix(ckpt):
    path, m = ckpt
    state = load_state_for_finetuning(path)
    assert state.keys() == m.net.state_dict().keys()
    assert all(torch.equal(v, m.net.state_dict()[k]) for k, v in state.items())


@pytest.mark.slow
def test_publish_renders_measured_numbers_and_reports_the_sha_to_pin(ckpt, tmp_path, x,
                                                                     monkeypatch, caplog):
    path, m = ckpt
    api = FakeApi(card_exists=False)
    api.install(monkeypatch)
    caplog.set_level(logging.INFO, logger="bna_zoo")
    result = publish(BNAModel.from_lightning_checkpoint(path, NAME),
                     metrics={"accuracy": 0.8992, "firing_rate": 0.1},
                     out_dir=tmp_path / "pub", command="bna-zoo fit --config x.yaml", epochs=1)
    card = (tmp_path / "pub" / "README.md").read_text()
    assert "89.92%" in card and "`bna-zoo fit --config x.yaml`" in card
    assert front_matter(card)["model-index"][0]["results"][0]["metrics"][0]["value"] == 89.92
    assert result.sha256 == hashlib.sha256(api.uploaded["model.safetensors"]).hexdigest()
    assert result.revision == "a" * 40 and f"sha256={result.sha256!r}" in caplog.text
    assert same_outputs(m, from_pretrained(result.directory), x)


@pytest.mark.slow
def test_publish_refuses_a_checkpoint_of_another_architecture(ckpt):
    with pytest.raises(ValueError, match="not 'mnist-cnn'"):
        BNAModel.from_lightning_checkpoint(ckpt[0], "mnist-cnn")


def test_register_shipped_copies_the_folder_and_prints_the_entry_lines(model, saved, x,
                                                                       monkeypatch, capsys):
    sha = register_shipped(NAME, saved)
    out = capsys.readouterr().out
    assert f"sha256={sha!r}, shipped=True" in out and "results=Results(accuracy=0.9" in out
    patch_entry(monkeypatch, shipped=True, sha256=sha)
    assert same_outputs(model, from_pretrained(NAME), x)


# ---------------------------------------------------------------------- real HTTP via olah
@pytest.mark.slow
def test_hub_id_downloads_over_http_from_a_local_olah_server(model, saved, x, tmp_path,
                                                             monkeypatch):
    from tests.hub_server import git_repo, olah_hub

    files = {name: (saved / name).read_bytes() for name in (*FILES, "README.md")}
    commit = git_repo(tmp_path / "mirrors", "org/fmlp", files)
    with olah_hub(tmp_path / "mirrors", tmp_path / "olah") as endpoint:
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(hf_constants, "ENDPOINT", endpoint)
        monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            endpoint + "/{repo_id}/resolve/{revision}/{filename}")
        loaded = from_pretrained("org/fmlp")
        pinned = from_pretrained(f"hf-hub:org/fmlp@{commit}")
    assert same_outputs(model, loaded, x) and same_outputs(model, pinned, x)
    snapshot = tmp_path / "hf-cache" / "models--org--fmlp" / "snapshots" / commit
    assert sorted(p.name for p in snapshot.iterdir()) == sorted(FILES)
