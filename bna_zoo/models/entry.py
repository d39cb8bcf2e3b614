"""What a zoo entry is: :class:`ZooEntry` and its parts (the entries are in :mod:`.entries`).

One :class:`ZooEntry` per name is the single source of truth about that model.

An entry holds the network's description (a :class:`~.config.NetConfig`: architecture in paper
notation, input shape, T, neuron constants, loss, init scales), the training recipe, the data
(benchmark, DataModule and its arguments; labels and normalisation come from
:mod:`bna_zoo.data.catalog`), the published reference number and, once
trained, the provenance of the weights (measured results, sha256, shipped copy, Hub revision).
Everything else is derived from it: the training configs (:mod:`.render`), ``config.json``, the
model cards, the README's models table and ``bna-zoo list/eval``. The entries themselves are in
:mod:`.entries`.

One name everywhere: registry key = config file = model card = Hub repo (``bna-zoo/<name>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.catalog import DATASETS
from .config import NetConfig

#: where shipped weights live: ``bna_zoo/weights/<name>/{config.json,model.safetensors}``
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
HUB_ORG = "bna-zoo"
PAPER = ("Y. Yang, W. Zhang, P. Li. Backpropagated Neighborhood Aggregation for Accurate "
         "Training of Spiking Neural Networks. ICML 2021 (PMLR 139), arXiv:2107.06861")
#: the arguments of FrameSpec (bna_zoo.data.frames) that an entry's data_args may set
FRAME_ARGS = ("bin_us", "binary", "paper_bins", "stabilize", "downsample")


@dataclass(frozen=True)
class InputSpec:
    """How to feed a model: the tensor it expects and how raw data becomes that tensor.

    Args:
        kind: ``"image"`` (static ``[C, H, W]``, repeated over T by the model) or ``"events"``
            (frames ``[T, 2, H, W]``).
        shape: per-step input shape ``(C, H, W)``.
        n_steps: time steps T.
        mean, std: per-channel normalisation of images, ``x = (pixel / 255 - mean) / std``.
        frames: event binning, keyword arguments of ``bna_zoo.data.frames.FrameSpec``.
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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputSpec:
        """Inverse of ``dataclasses.asdict`` (lists back to tuples), as read from JSON."""
        def tup(v: Any) -> tuple | None:
            return None if v is None else tuple(v)

        frames = dict(d["frames"]) if d.get("frames") else None
        if frames and "sensor_size" in frames:
            frames["sensor_size"] = tuple(frames["sensor_size"])
        return cls(d["kind"], tuple(d["shape"]), int(d["n_steps"]), tup(d.get("mean")),
                   tup(d.get("std")), frames)


@dataclass(frozen=True)
class Recipe:
    """The training recipe (the paper's, docs/na.md §8, unless an entry says otherwise)."""

    epochs: int
    batch_size: int
    lr: float = 5e-4
    weight_decay: float = 0.01  # PyTorch's AdamW default, as in the official code
    lr_gamma: float | None = 0.985
    grad_clip: float | None = 1.0
    weight_clamp: float | None = 4.0
    precision: str = "32-true"
    seed: int = 0


@dataclass(frozen=True)
class Results:
    """Measured numbers of trained weights and how they were produced (``None``: not measured).

    Args:
        accuracy: test accuracy as a fraction in [0, 1] (as torchmetrics logs it).
        firing_rate: mean spikes per neuron per step on the test set.
        split: the split ``accuracy`` was measured on.
        measured_on: what the data actually was, in words, when it is not the benchmark's own
            test split (e.g. events emulated from MNIST digits); ``None`` = the benchmark.
        data_args: DataModule arguments used for the measurement on top of the entry's.
        command, eval_command: the command lines that trained and measured.
        hardware, wall_time, epochs, seed: of the training run.
        history: best and final accuracy over the run, in words.
        note: a paragraph for the card about the data or the run (e.g. emulated events).
        measured_on_id: ``model-index`` dataset id when ``measured_on`` is not the benchmark.
        samples: how many test samples ``accuracy`` was measured on (``eval`` compares it, to
            tell the card's data from other data in the same place).
    """

    accuracy: float | None = None
    firing_rate: float | None = None
    split: str = "test"
    measured_on: str | None = None
    data_args: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    eval_command: str | None = None
    hardware: str | None = None
    wall_time: str | None = None
    epochs: int | None = None
    seed: int | None = None
    history: str | None = None
    note: str | None = None
    measured_on_id: str | None = None
    samples: int | None = None


@dataclass(frozen=True)
class ZooEntry:
    """Everything the zoo knows about one name (see the module docstring).

    The network's fields (``entry.arch``, ``entry.n_steps``, ``entry.tau_s``, ...) read through
    to ``entry.net``, where each is written once.

    Args:
        name: the zoo name.
        net: the network (architecture, input shape, T, neuron constants, loss, scales).
        dataset: the benchmark, a key of :data:`bna_zoo.data.catalog.DATASETS`.
        datamodule: DataModule class name in :mod:`bna_zoo.data`.
        recipe: the training recipe.
        data_args: DataModule arguments beyond ``batch_size`` and ``seed`` (event binning...).
        reference: best published accuracy for this network ``(method, percent, source)``.
        summary: one paragraph for the card.
        gradient, variant, rescale: the gradient the recipe trains with (and the shipped
            weights were trained with).
        results: measured numbers of the trained weights.
        sha256: sha256 of the weights' ``model.safetensors``; checked on every load when set.
        shipped: the weights are inside the package under ``bna_zoo/weights/<name>/``.
        revision: pinned Hub commit once published.
        license: SPDX-style license id of the weights.
        repo_id: Hub repository (default ``bna-zoo/<name>``).
    """

    name: str
    net: NetConfig
    dataset: str
    datamodule: str
    recipe: Recipe
    data_args: dict[str, Any] = field(default_factory=dict)
    reference: tuple[str, float, str] | None = None
    summary: str = ""
    gradient: str = "na"
    variant: str = "official"
    rescale: bool = True
    results: Results = field(default_factory=Results)
    sha256: str | None = None
    shipped: bool = False
    revision: str | None = None
    license: str = "mit"
    repo_id: str = ""

    def __post_init__(self) -> None:
        # frozen: fill the name-derived default the documented way
        if not self.repo_id:
            object.__setattr__(self, "repo_id", f"{HUB_ORG}/{self.name}")
        if not isinstance(self.net, NetConfig):
            raise TypeError(f"{self.name}: net must be a NetConfig, got {type(self.net).__name__}")

    def __getattr__(self, key: str) -> Any:
        # called only for names the entry itself lacks: the network's fields read through
        if key in NetConfig.keys():
            return getattr(self.net, key)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    # ------------------------------------------------------------------ derived facts
    @property
    def labels(self) -> tuple[str, ...]:
        """Class names in index order (from :mod:`bna_zoo.data.catalog`)."""
        return DATASETS[self.dataset].labels

    @property
    def dataset_id(self) -> str:
        """Dataset id for ``model-index`` metadata."""
        return DATASETS[self.dataset].hub_id

    @property
    def input(self) -> InputSpec:
        """How to feed the model (normalisation or event binning included)."""
        info = DATASETS[self.dataset]
        if self.input_kind == "events":
            c, h, w = self.input_shape
            frames = {"sensor_size": (w, h, c), "n_steps": self.n_steps,
                      **{k: v for k, v in self.data_args.items() if k in FRAME_ARGS}}
            return InputSpec("events", self.input_shape, self.n_steps, frames=frames)
        return InputSpec("image", self.input_shape, self.n_steps, info.mean, info.std)

    def datamodule_config(self, measured: bool = False) -> dict[str, Any]:
        """``{"class_name", "init_args"}`` of the training DataModule (or, with ``measured``,
        the one the results were measured with)."""
        args = {"batch_size": self.recipe.batch_size, "seed": self.recipe.seed}
        if self.input_kind == "events":
            args["n_steps"] = self.n_steps
        args.update(self.data_args)
        if measured:
            args.update(self.results.data_args)
        return {"class_name": self.datamodule, "init_args": args}

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

    def measured_on(self) -> str:
        """The data the results were measured on, in words (issue: never claim the benchmark
        when the data was a stand-in)."""
        r = self.results
        return r.measured_on or f"{self.dataset}, {r.split} split"
