"""Pretrained entries: what a trained checkpoint is, where its weights live, and how to feed it.

One :class:`PretrainedEntry` per zoo name (the timm ``PretrainedCfg`` analogue, plus what an SNN
needs: T, the event binning, the neuron constants and the NA variant the weights were trained
with). The architecture itself is the :class:`~bna_zoo.models.registry.ModelSpec` of the same
name; an entry only records what the *trained weights* add to it.

Filling in an entry after a training run is a one-place edit: replace its ``results=``,
``sha256=`` and ``shipped=`` (or ``revision=`` once on the Hub) lines with what
:func:`bna_zoo.hub.register_shipped` / :func:`bna_zoo.hub.publish` print.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .registry import ModelSpec, get_spec

#: where shipped weights live: ``bna_zoo/weights/<name>/{config.json,model.safetensors}``
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
HUB_ORG = "bna-zoo"
PAPER = ("Y. Yang, W. Zhang, P. Li. Backpropagated Neighborhood Aggregation for Accurate "
         "Training of Spiking Neural Networks. ICML 2021 (PMLR 139), arXiv:2107.06861")


@dataclass(frozen=True)
class InputSpec:
    """How to feed the model: the tensor it expects and how raw data becomes that tensor.

    Args:
        kind: ``"image"`` (static ``[C, H, W]``, repeated over T by the model) or ``"events"``
            (frames ``[T, 2, H, W]``).
        shape: per-step input shape ``(C, H, W)``.
        n_steps: time steps T.
        mean, std: per-channel normalisation of images, ``x = (pixel / 255 - mean) / std``.
        frames: event binning, keyword arguments of ``bna_zoo.data.events.FrameSpec``
            (sensor size after downsampling, ``n_steps``, ``bin_us``, ``binary``, ...).
    """

    kind: str
    shape: tuple[int, ...]
    n_steps: int
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    frames: dict[str, Any] | None = None

    def describe(self) -> str:
        """One line for tables and cards."""
        dims = "x".join(str(d) for d in self.shape)
        if self.kind == "events":
            f = self.frames or {}
            how = "binary" if f.get("binary") else "event counts"
            ms = f.get("bin_us", 0) / 1000
            return (f"events binned into T={self.n_steps} frames of {ms:g} ms ({how}) "
                    f"on a {dims} grid")
        mean, std = (", ".join(f"{v:g}" for v in t or ()) for t in (self.mean, self.std))
        return (f"static {dims} image normalised with mean ({mean}) and std ({std}), "
                f"T={self.n_steps}")


@dataclass(frozen=True)
class Results:
    """Measured numbers of a checkpoint and how they were produced (``None`` = not measured).

    Args:
        accuracy: test accuracy as a fraction in [0, 1] (as torchmetrics logs it).
        firing_rate: mean spikes per neuron per step on the test set.
        split: the split ``accuracy`` was measured on.
        command: the command line that trained the checkpoint.
        eval_command: the command line that measured the numbers.
        hardware, wall_time: where and how long the training ran.
        epochs, seed: of the training run.
    """

    accuracy: float | None = None
    firing_rate: float | None = None
    split: str = "test"
    command: str | None = None
    eval_command: str | None = None
    hardware: str | None = None
    wall_time: str | None = None
    epochs: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class PretrainedEntry:
    """A trained checkpoint of a zoo architecture.

    Args:
        name: zoo name; equals the registry key, the config name, the card and the Hub repo name.
        dataset: human-readable dataset name (``"Fashion-MNIST"``).
        dataset_id: dataset identifier for ``model-index`` (a Hub dataset id where one exists,
            else a free id such as ``"tonic/nmnist"``).
        input: how to feed the model (:class:`InputSpec`).
        labels: class names, index order.
        datamodule: the test DataModule: ``{"class_name": ..., "init_args": {...}}`` of
            :mod:`bna_zoo.data` that produced :attr:`results`.
        architecture: :class:`ModelSpec` key of the network (defaults to ``name``).
        arch_overrides: ``BNAModel(arch_overrides=...)`` used for training.
        gradient, variant, rescale: the NA settings the weights were trained with.
        results: measured numbers (:class:`Results`).
        license: SPDX-style license id of the weights (lowercase, as the Hub expects).
        paper: the method's paper.
        repo_id: Hub repository (``bna-zoo/<name>`` unless set).
        revision: pinned Hub commit (40 hex) once published, else ``None``.
        sha256: sha256 of ``model.safetensors``; checked on every load when set.
        shipped: the weights are inside the package under ``bna_zoo/weights/<name>/``.
    """

    name: str
    dataset: str
    dataset_id: str
    input: InputSpec
    labels: tuple[str, ...]
    datamodule: dict[str, Any]
    architecture: str = ""
    arch_overrides: dict[str, Any] = field(default_factory=dict)
    gradient: str = "na"
    variant: str = "official"
    rescale: bool = True
    results: Results = field(default_factory=Results)
    license: str = "mit"
    paper: str = PAPER
    repo_id: str = ""
    revision: str | None = None
    sha256: str | None = None
    shipped: bool = False

    def __post_init__(self) -> None:
        # frozen: fill the name-derived defaults the documented way
        if not self.architecture:
            object.__setattr__(self, "architecture", self.name)
        if not self.repo_id:
            object.__setattr__(self, "repo_id", f"{HUB_ORG}/{self.name}")

    @property
    def spec(self) -> ModelSpec:
        """The architecture's registry settings."""
        return get_spec(self.architecture)

    @property
    def neuron(self) -> dict[str, float]:
        """Neuron constants ``tau_m``, ``tau_s``, ``theta`` of the trained network."""
        spec = self.spec
        return {k: float(self.arch_overrides.get(k, getattr(spec, k)))
                for k in ("tau_m", "tau_s", "theta")}

    @property
    def shipped_dir(self) -> Path:
        """Where shipped weights live (whether or not they exist)."""
        return WEIGHTS_DIR / self.name

    @property
    def published(self) -> bool:
        """The weights are on the Hub at a pinned revision."""
        return self.revision is not None

    @property
    def available(self) -> bool:
        """Weights can be loaded: shipped in the package or published on the Hub."""
        return self.shipped or self.published


def _image(spec_name: str, mean: tuple[float, ...], std: tuple[float, ...]) -> InputSpec:
    spec = get_spec(spec_name)
    return InputSpec("image", spec.input_shape, spec.n_steps, mean=mean, std=std)


def _events(spec_name: str, **frames: Any) -> InputSpec:
    spec = get_spec(spec_name)
    c, h, w = spec.input_shape
    frames = {"sensor_size": (w, h, c), "n_steps": spec.n_steps, **frames}
    return InputSpec("events", spec.input_shape, spec.n_steps, frames=frames)


_MNIST_NORM = ((0.1307,), (0.3081,))
_CIFAR_NORM = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
_DIGITS = tuple(f"{d} - {n}" for d, n in enumerate(
    "zero one two three four five six seven eight nine".split()))
_FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
            "Bag", "Ankle boot")
_CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
            "truck")
_GESTURES = ("Hand clapping", "Right hand wave", "Left hand wave", "Right arm cw",
             "Right arm ccw", "Left arm cw", "Left arm ccw", "Arm roll", "Air drums",
             "Air guitar", "Other gestures")


def _dm(class_name: str, **init_args: Any) -> dict[str, Any]:
    return {"class_name": class_name, "init_args": init_args}


# After a training run, edit only the lines marked "filled after training" of that entry.
_ENTRIES = [
    PretrainedEntry(
        "mnist-cnn", "MNIST", "ylecun/mnist", _image("mnist-cnn", *_MNIST_NORM), _DIGITS,
        _dm("MNISTDataModule"),
        results=Results(),  # filled after training
        sha256=None, shipped=False, revision=None,  # filled after training
    ),
    PretrainedEntry(
        "nmnist-cnn", "N-MNIST", "tonic/nmnist",
        _events("nmnist-cnn", bin_us=3000, binary=True, stabilize=True), _DIGITS,
        # the shipped weights were trained and measured on emulated events from real MNIST
        # digits (python -m bna_zoo.data.emulate --out_dir data/emulated_nmnist); pass
        # --data-dir data to bna-zoo eval for recorded N-MNIST (data/NMNIST)
        _dm("NMNISTDataModule", data_dir="data/emulated_nmnist", n_steps=30, bin_us=3000,
            stabilize=True, binary=True),
        results=Results(accuracy=0.9660000205039978, firing_rate=0.03151671215891838, split="test (2,000 emulated digits)",
                        command="python -m bna_zoo.data.emulate --out_dir data/emulated_nmnist --n_train 8000 --n_test 2000 && bna-zoo fit --config configs/nmnist-cnn.yaml --data.init_args.data_dir data/emulated_nmnist --data.init_args.download false --trainer.max_epochs 3",
                        eval_command="python -m bna_zoo.data.emulate --out_dir data/emulated_nmnist --n_train 8000 --n_test 2000 && bna-zoo eval nmnist-cnn",
                        hardware="x86_64, 2 CPU cores shared with other jobs, no GPU",
                        wall_time="about 60 min for 3 epochs (frame cache included), sharing 2 CPU cores with 3-4 other jobs",
                        epochs=3, seed=0),
        sha256="56e3fffdc219c07e3156afc4eb83eee3799ded4bb0340703c4c08430b2b32c98", shipped=True, revision=None,
    ),
    PretrainedEntry(
        "fashionmnist-mlp", "Fashion-MNIST", "zalando-datasets/fashion_mnist",
        _image("fashionmnist-mlp", *_MNIST_NORM), _FASHION, _dm("FashionMNISTDataModule"),
        results=Results(accuracy=0.8277000188827515, firing_rate=0.14290837943553925,
                        command="bna-zoo fit --config configs/fashionmnist-mlp.yaml --trainer.max_epochs 12, resumed with --trainer.max_epochs 40 --ckpt_path last and stopped after 16 epochs",
                        eval_command="bna-zoo eval fashionmnist-mlp",
                        hardware="x86_64, 2 CPU cores shared with other jobs, no GPU",
                        wall_time="80 min for 16 epochs, sharing 2 CPU cores with 3-4 other jobs",
                        epochs=16, seed=0),
        sha256="81e1c0699b809e6e91de1c476db470541e0454378994a214310b29b5cec6912a", shipped=True, revision=None,
    ),
    PretrainedEntry(
        "fashionmnist-cnn", "Fashion-MNIST", "zalando-datasets/fashion_mnist",
        _image("fashionmnist-cnn", *_MNIST_NORM), _FASHION, _dm("FashionMNISTDataModule"),
        results=Results(accuracy=0.7994999885559082, firing_rate=0.08553390204906464,
                        command="bna-zoo fit --config configs/fashionmnist-cnn.yaml --trainer.max_epochs 1",
                        eval_command="bna-zoo eval fashionmnist-cnn",
                        hardware="x86_64, 2 CPU cores shared with other jobs, no GPU",
                        wall_time="75 min for 1 epoch, sharing 2 CPU cores with 3-4 other jobs",
                        epochs=1, seed=0),
        sha256="1c2c16aea56b5d7407cd1e9f9fd7287f9d619029e49d14cfd6eab430e3385e2e", shipped=True, revision=None,
    ),
    PretrainedEntry(
        "cifar10-cnn", "CIFAR-10", "uoft-cs/cifar10", _image("cifar10-cnn", *_CIFAR_NORM),
        _CIFAR10, _dm("CIFAR10DataModule"),
        results=Results(),  # filled after training
        sha256=None, shipped=False, revision=None,  # filled after training
    ),
    PretrainedEntry(
        "dvsgesture-cnn", "DVS128 Gesture", "tonic/dvsgesture",
        # configs/dvsgesture-cnn.yaml: 30 bins of 50 ms (1.5 s), 128x128 pooled 4x to 32x32
        _events("dvsgesture-cnn", bin_us=50_000, binary=False, downsample=4), _GESTURES,
        _dm("DVSGestureDataModule", n_steps=30, bin_us=50_000, downsample=4, binary=False),
        results=Results(),  # filled after training
        sha256=None, shipped=False, revision=None,  # filled after training
    ),
]

PRETRAINED: dict[str, PretrainedEntry] = {e.name: e for e in _ENTRIES}


def list_pretrained(pattern: str = "*", *, available_only: bool = True) -> list[str]:
    """Names of pretrained entries, like ``timm.list_pretrained``.

    Args:
        pattern: shell-style wildcard on the name (``"fashionmnist-*"``).
        available_only: only entries whose weights can be loaded now (shipped or published);
            ``False`` also lists the planned ones.

    Returns:
        Sorted names.
    """
    return sorted(n for n, e in PRETRAINED.items()
                  if fnmatch.fnmatch(n, pattern) and (e.available or not available_only))


def get_pretrained(name: str) -> PretrainedEntry:
    """The :class:`PretrainedEntry` of ``name``.

    Raises:
        KeyError: unknown name, listing close matches and every entry.
    """
    if name not in PRETRAINED:
        close = difflib.get_close_matches(name, PRETRAINED, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(f"unknown pretrained model {name!r}.{hint} "
                       f"Available: {', '.join(sorted(PRETRAINED))}")
    return PRETRAINED[name]


def _weights_cell(e: PretrainedEntry) -> str:
    where = []
    if e.published:
        where.append(f"[{e.repo_id}@{e.revision[:7]}](https://huggingface.co/{e.repo_id})")
    if e.shipped:
        where.append("shipped")
    return ", ".join(where) or "planned"


def render_models_table() -> str:
    """The README's table of models as markdown, one row per entry, from the registry alone."""
    rows = ["| name | dataset | architecture | T | gradient | test acc. | published best "
            "| weights |", "|---|---|---|---|---|---|---|---|"]
    for name in sorted(PRETRAINED):
        e = PRETRAINED[name]
        s = e.spec
        r = e.results
        acc = "-" if r.accuracy is None else f"{100 * r.accuracy:.2f}%"
        if r.accuracy is not None:
            split = "" if r.split == "test" else f", {r.split}"  # e.g. emulated data
            acc += f" ({r.epochs} ep{split})" if r.epochs else (f" ({r.split})" if split else "")
        ref = f"{s.reference[1]:.2f}% ({s.reference[0]})" if s.reference else "-"
        grad = f"NA ({e.variant})" if e.gradient == "na" else e.gradient
        rows.append(f"| `{name}` | {e.dataset} | `{s.arch}` | {s.n_steps} | {grad} | {acc} | "
                    f"{ref} | {_weights_cell(e)} |")
    return "\n".join(rows)
