"""``BNAModel``: the LightningModule pairing a zoo architecture with the NA core.

It owns the loss, the torchmetrics and the paper's training recipe (docs/na.md: AdamW,
ExponentialLR 0.985 per epoch, gradient-norm clip 1, weight clamp ±4 after each step — each
switchable); the Hub I/O (:meth:`from_pretrained`, :meth:`save_pretrained`, :meth:`push_to_hub`)
comes from :class:`bna_zoo.hub.mixin.HubIO` (``huggingface_hub``'s ``ModelHubMixin``). All
``__init__`` arguments are typed and JSON-able: they feed LightningCLI, the checkpoint's
hyperparameters and ``config.json`` alike.
"""

from __future__ import annotations

import functools
import logging
import random
from typing import Any

import lightning as L
import numpy as np
import torch
import torchmetrics
from torch import nn

from . import hub
from .core.na import check_real
from .hub.mixin import HubIO
from .inputs import event_tensor, image_tensor
from .models import ZOO, InputSpec, NetConfig, ZooEntry, build_network, get_entry, spikes_from_psc
from .models.zoo import NET_FIELDS, net_config
from .nn import build_loss, predict_from_output
from .nn.layers import SpikingLinear

log = logging.getLogger("bna_zoo")


#: training settings checked at construction: name -> (meaning, rule, test, None allowed).
#: Caught here, not when the optimizer is built: a NaN rate or gamma = 0 would otherwise train
#: silently (AdamW refuses only a negative rate, and only at the start of fit).
_TRAINING_ARGS = {
    "lr": ("AdamW learning rate", "> 0", lambda v: v > 0, False),
    "weight_decay": ("AdamW weight decay", ">= 0", lambda v: v >= 0, False),
    "lr_gamma": ("ExponentialLR factor per epoch; None keeps the rate constant", "in (0, 1]",
                 lambda v: 0 < v <= 1, True),
    "grad_clip": ("gradient-norm clip; None disables it", "> 0", lambda v: v > 0, True),
    "weight_clamp": ("every weight clamped to [-c, c] after each step; None disables it", "> 0",
                     lambda v: v > 0, True),
}


#: a network of your own (a name not in the zoo): the paper's settings where you give none
OWN_NETWORK_DEFAULTS = {"n_steps": 5, "tau_m": 5.0, "tau_s": 2.0, "theta": 1.0,
                        "conv_weight_scale": 1.0, "linear_weight_scale": 1.0,
                        "dropout_mode": "neuron", "input_kind": "image"}


class BNAModel(L.LightningModule, HubIO):
    """A zoo architecture trained with NA (or a surrogate gradient) under Lightning.

    Args:
        name: zoo name of the architecture (see :func:`bna_zoo.list_models`), or a name of your
            own for a network that is not in the zoo: then ``arch`` and ``input_shape`` are
            needed, and the other settings default to the paper's (T=5, tau_m 5, tau_s 2,
            threshold 1, kernel loss).
        arch_overrides: overrides of the network settings, applied last (e.g.
            ``{"n_steps": 10}``); any of ``bna_zoo.models.zoo.NET_FIELDS``.
        arch: layers in paper notation (``"400-400-10"``, ``"32C5p2-P2-64C5p2-P2-1024-10"``);
            None keeps the zoo entry's.
        input_shape: per-step input ``[C, H, W]``; None keeps the entry's.
        n_steps: time steps T; None keeps the entry's (5 for a network of your own).
        num_classes: output classes; ``None`` keeps the architecture's. Differing from a
            ``pretrained`` model's, the output layer starts fresh (fine-tuning).
        labels: class names, index order; ``None`` keeps the dataset's when the class count
            matches.
        gradient: ``"na"`` or ``"surrogate"``.
        variant: NA form, ``"official"`` (default) or ``"paper"``.
        clip: clip of the paper form.
        rescale: the official layer-wise log-ratio rescale of NA gradients (docs/na.md).
        surrogate_slope: slope of the surrogate gradient (``gradient="surrogate"``).
        loss: ``"kernel"`` or ``"count"``; ``None`` uses the architecture's.
        loss_args: keyword arguments of the loss; ``None`` uses the architecture's.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay (PyTorch's default 0.01, as in the official code).
        lr_gamma: ExponentialLR factor per epoch; ``None`` keeps the rate constant.
        grad_clip: gradient-norm clip; ``None`` disables (a Trainer ``gradient_clip_val`` wins).
        weight_clamp: clamp every weight to ``[-c, c]`` after each step; ``None`` disables.
        pretrained: start from these weights: a zoo name, ``org/repo[@rev]``, a directory
            written by :meth:`save_pretrained`, or a Lightning ``.ckpt`` file. Fetched in
            ``prepare_data`` (once per node) and loaded in ``setup`` (every rank), never in
            ``__init__``; outside a Trainer, on first use.
    """

    def __init__(
        self,
        name: str = "fashionmnist-mlp",
        arch_overrides: dict[str, Any] | None = None,
        arch: str | None = None,
        input_shape: list[int] | None = None,
        n_steps: int | None = None,
        num_classes: int | None = None,
        labels: list[str] | None = None,
        gradient: str = "na",
        variant: str = "official",
        clip: float = 10.0,
        rescale: bool = True,
        surrogate_slope: float = 5.0,
        loss: str | None = None,
        loss_args: dict[str, float] | None = None,
        lr: float = 5e-4,
        weight_decay: float = 0.01,
        lr_gamma: float | None = 0.985,
        grad_clip: float | None = 1.0,
        weight_clamp: float | None = 4.0,
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        for arg, value in dict(lr=lr, weight_decay=weight_decay, lr_gamma=lr_gamma,
                               grad_clip=grad_clip, weight_clamp=weight_clamp).items():
            check_real(arg, value, *_TRAINING_ARGS[arg])
        # arch, input_shape and n_steps are kept in hparams as arch_overrides: one place for a
        # network's settings, and no n_steps of ours beside the DataModule's (Lightning refuses
        # to merge two differing n_steps, and ours would be None when the entry's T is kept)
        self.save_hyperparameters(ignore=["arch", "input_shape", "n_steps"])
        explicit = {k: v for k, v in dict(arch=arch, input_shape=input_shape,
                                           n_steps=n_steps).items() if v is not None}
        overrides = {**explicit, **(arch_overrides or {})}
        if explicit:
            self.hparams["arch_overrides"] = dict(overrides)
        config = self._net_config(name, overrides, loss, loss_args)
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(
                num_classes, int) or num_classes < 2):
            raise ValueError(f"num_classes must be an integer >= 2 (or None for the "
                             f"architecture's {config.num_classes}), got {num_classes!r}")
        if num_classes is not None and num_classes != config.num_classes:
            config = config.with_num_classes(num_classes)  # a fresh head (fine-tuning)
        self.net = build_network(config, gradient=gradient, variant=variant, clip=clip,
                                 rescale=rescale, surrogate_slope=surrogate_slope)
        self.loss_fn = build_loss(config.loss, config.loss_args, config.tau_s)
        self.hparams["num_classes"] = self.net.num_classes
        self.labels = self._labels(labels)
        self._pending_pretrained = pretrained
        self._make_metrics()

    @classmethod
    def from_config(cls, name: str, config: NetConfig, **training_args: Any) -> BNAModel:
        """A model of the network ``config`` describes, freshly initialised.

        Args:
            name: the name it goes by (a zoo name keeps that entry's labels and data).
            config: the whole network; nothing is taken from a zoo entry.
            **training_args: the other ``__init__`` arguments (gradient, lr, labels, ...).
        """
        return cls(name=name, arch_overrides=config.to_dict(), **training_args)

    # ----------------------------------------------------------------- construction helpers
    @functools.cached_property
    def entry(self) -> ZooEntry | None:
        """The zoo entry of :attr:`zoo_name` (None for a name of your own), looked up once and
        only when needed: a model built from a whole saved description (``from_pretrained``)
        needs it only for what its ``config.json`` did not record."""
        return ZOO.get(self.hparams["name"])

    def _net_config(self, name: str, overrides: dict[str, Any], loss: str | None,
                    loss_args: dict[str, float] | None) -> NetConfig:
        """The network's :class:`NetConfig`: the entry's (or, for a name of your own, the
        paper's defaults) with ``overrides``, then the ``loss`` arguments."""
        unknown = sorted(set(overrides) - set(NET_FIELDS))
        if unknown:
            raise ValueError(f"unknown arch_overrides {unknown}; choose from {list(NET_FIELDS)}")
        if set(overrides) == set(NET_FIELDS):
            config = NetConfig.from_dict(overrides, "arch_overrides")  # whole: no entry needed
        elif self.entry is not None:
            config = self.entry.net.replace(**overrides)
        elif "arch" in overrides and "input_shape" in overrides:
            config = net_config(name, **{**OWN_NETWORK_DEFAULTS, **overrides})
        else:
            try:
                get_entry(name)  # the KeyError that lists the zoo names
            except KeyError as err:
                raise KeyError(
                    f"{err.args[0]}. For a network of your own, give its layers and input: "
                    f"BNAModel(name={name!r}, arch='400-400-10', input_shape=[1, 28, 28], "
                    "n_steps=5), or on the command line --model.arch 400-400-10 "
                    "--model.input_shape '[1, 28, 28]' --data MNISTDataModule") from None
            raise AssertionError("unreachable: get_entry found what ZOO.get did not")
        if loss is not None and loss != config.loss:
            config = config.replace(loss=loss, loss_args={})  # another loss: not its arguments
        if loss_args is not None:
            config = config.replace(loss_args=loss_args)
        return config

    def _labels(self, labels: list[str] | None) -> list[str] | None:
        n = self.net.num_classes
        if labels is not None:
            labels = [str(label) for label in labels]
            if len(labels) != n:
                raise ValueError(f"{len(labels)} labels for a model with {n} classes")
            return labels
        if self.entry is not None and len(self.entry.labels) == n:
            return list(self.entry.labels)
        return None

    @property
    def zoo_name(self) -> str:
        """The name this model goes by (its zoo entry's, or the one it was saved under)."""
        return self.hparams["name"]

    @property
    def loss_name(self) -> str:
        """The loss (``net.config.loss``)."""
        return self.net.config.loss

    @property
    def loss_args(self) -> dict[str, float]:
        """The loss's keyword arguments (``net.config.loss_args``)."""
        return dict(self.net.config.loss_args)

    @property
    def input_spec(self) -> InputSpec:
        """How to feed the model: its entry's input spec with the network's own T and shape,
        or the one its ``config.json`` recorded (set by loading)."""
        spec = self.__dict__.get("_saved_input_spec")
        if spec is not None:
            return spec
        net = self.net
        if self.entry is None:
            return InputSpec(net.input_kind, net.input_shape, net.n_steps)
        base = self.entry.input
        frames = dict(base.frames, n_steps=net.n_steps) if base.frames else None
        return InputSpec(base.kind, net.input_shape, net.n_steps, base.mean, base.std, frames)

    @input_spec.setter
    def input_spec(self, spec: InputSpec) -> None:
        # the contract saved with the weights (normalisation, binning) wins over the entry's
        if (spec.kind, tuple(spec.shape), spec.n_steps) != (
                self.net.input_kind, tuple(self.net.input_shape), self.net.n_steps):
            raise ValueError(f"input spec {spec.kind} {list(spec.shape)} T={spec.n_steps} does "
                             f"not match the network's {self.net.input_kind} "
                             f"{list(self.net.input_shape)} T={self.net.n_steps}")
        self.__dict__["_saved_input_spec"] = spec

    def _make_metrics(self) -> None:
        n = self.net.num_classes
        self.train_acc = torchmetrics.Accuracy(task="multiclass", num_classes=n)
        self.val_acc = torchmetrics.Accuracy(task="multiclass", num_classes=n)
        self.test_acc = torchmetrics.Accuracy(task="multiclass", num_classes=n)
        self.val_loss = torchmetrics.MeanMetric()
        self.test_loss = torchmetrics.MeanMetric()
        self.val_rates = nn.ModuleDict(
            {m.name: torchmetrics.MeanMetric() for m in self.net.spiking_layers()}
        )
        self.test_rates = nn.ModuleDict(
            {m.name: torchmetrics.MeanMetric() for m in self.net.spiking_layers()}
        )

    def _head_index(self) -> int:
        return max(i for i, m in enumerate(self.net.layers) if isinstance(m, SpikingLinear))

    # ----------------------------------------------------------------- pretrained weights
    def prepare_data(self) -> None:
        # once per node: fetch the pretrained files into the cache, so setup() on every rank
        # reads them locally
        if self._pending_pretrained is not None:
            hub.fetch_for_finetuning(self._pending_pretrained)

    def setup(self, stage: str) -> None:
        self.check_data()
        self.load_pretrained_weights()

    def check_data(self, dm: L.LightningDataModule | None = None) -> None:
        """Refuse a DataModule whose T or sample shape is not the network's, naming both and
        the flag that changes each (else the first batch fails deep inside a layer).

        Called in ``setup``, and by ``bna-zoo fit`` before any data is prepared.
        """
        if dm is None:
            trainer = self._trainer
            dm = getattr(trainer, "datamodule", None) if trainer is not None else None
        if dm is None:
            return
        net = self.net
        data_t = getattr(dm, "n_steps", None)
        if net.input_kind == "events" and data_t is not None and data_t != net.n_steps:
            raise ValueError(f"the data gives T={data_t} frames per sample (--data.n_steps) but "
                             f"the model runs T={net.n_steps} steps (--model.n_steps): set "
                             "them equal")
        try:
            shape = tuple(dm.input_shape)
        except (AttributeError, NotImplementedError, OSError, ValueError):
            return  # a DataModule that cannot say before loading: the first batch will
        if shape != tuple(net.input_shape):
            raise ValueError(f"the data's samples are {list(shape)} ({type(dm).__name__}) but the "
                             f"model takes {list(net.input_shape)} (--model.input_shape; "
                             "for your own images, --data.image_size and --data.channels)")

    def load_pretrained_weights(self) -> None:
        """Load the ``pretrained`` weights now (no-op once done or when there are none).

        A head with another class count than this model's is left freshly initialised (the
        fine-tuning case); every other weight must fit exactly.
        """
        source = self._pending_pretrained
        if source is None:
            return
        state = hub.state_for_finetuning(source)
        self._check_fits(source, state)
        head_key = f"layers.{self._head_index()}.linear.weight"
        fresh_head = head_key in state and state[head_key].shape[0] != self.net.num_classes
        if fresh_head:
            state = {k: v for k, v in state.items()
                     if not k.startswith(f"layers.{self._head_index()}.")}
            log.info("%s: the output layer of %s has %d classes, this model %d: starting it "
                     "fresh", self.zoo_name, source, self.net.num_classes,
                     self.net.num_classes)
        result = self.net.load_state_dict(state, strict=not fresh_head)
        head = f"layers.{self._head_index()}."
        wrong = [k for k in result.missing_keys if not k.startswith(head)]
        if wrong or result.unexpected_keys:
            raise RuntimeError(
                f"pretrained weights {source!r} do not fit architecture {self.net.arch!r}: "
                f"missing {wrong}, unexpected {result.unexpected_keys}"
            )
        self._pending_pretrained = None
        # the weights now live in this module: a checkpoint rebuilt from these hyperparameters
        # must not fetch them again (that may need a network)
        self.hparams["pretrained"] = None

    def _check_fits(self, source: str, state: dict[str, torch.Tensor]) -> None:
        """Refuse weights of another network by name, before torch lists its keys.

        The output layer may differ (fine-tuning to another class count); nothing else may.
        """
        head = f"layers.{self._head_index()}."
        mine = self.net.state_dict()
        body = {k for k in set(mine) | set(state) if not k.startswith(head)}
        wrong = sorted(k for k in body if k not in mine or k not in state
                       or mine[k].shape != state[k].shape)
        if wrong:
            theirs = hub.architecture_of(source) or "another architecture"
            raise ValueError(
                f"--model.pretrained {source}: a checkpoint of {theirs}, which does not fit this "
                f"model's {self.net.arch} (first mismatch: {wrong[0]}); fine-tune from weights "
                "of the same architecture, or build the checkpoint's (--model.arch)")

    # ----------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output PSC ``[B, T, classes]`` of images ``[B, C, H, W]`` or events ``[B, T, C, H, W]``.
        """
        if self._pending_pretrained is not None:
            self.load_pretrained_weights()
        return self.net(x)

    @torch.no_grad()
    def predict(self, x: Any, input_range: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Class indices and scores (summed output PSC) for a batch or a single sample.

        Args:
            x: a batch ``[B, *sample]`` or one sample, where a sample is ``[C, H, W]`` for image
                models and ``[T, 2, H, W]`` frames for event models. Raw data goes through the
                model's own transform first (see :mod:`bna_zoo.inputs` for the contract): uint8
                or integer pixels, PIL images and floats in [0, 1] are normalised with the
                model's statistics, already normalised floats pass, anything else is refused;
                event recordings (numpy structured arrays with ``x, y, t, p``, one or a list)
                are binned exactly as in training.
            input_range: ``"0-255"``, ``"0-1"`` or ``"normalised"`` to state the range of image
                input instead of letting it be inferred.

        Returns:
            ``(indices [B], scores [B, classes])``; without the batch dim for a single sample.
            ``self.labels[i]`` names class ``i``.
        """
        spec = self.input_spec
        raw_events = isinstance(x, np.ndarray) and x.dtype.names is not None
        if spec.kind == "image":
            if raw_events:
                raise TypeError(f"{self.zoo_name} takes images, not event recordings")
            x = image_tensor(x, spec, input_range)
            sample = tuple(spec.shape)
        else:
            x = event_tensor(x, spec)
            sample = (spec.n_steps, *spec.shape)
        single = x.dim() == len(sample) or (raw_events and x.shape[0] == 1)
        if raw_events:
            x = x[0]
        if single:
            x = x.unsqueeze(0)
        was_training = self.training
        self.eval()
        scores = self(x.to(self.device, torch.float32)).sum(1)
        self.train(was_training)
        idx = scores.argmax(-1)
        return (idx[0], scores[0]) if single else (idx, scores)

    # ---------------------------------------------------------------------- Lightning steps
    def _shared_eval(self, batch, acc, loss_metric, rates) -> torch.Tensor:
        x, y = batch
        out, trace = self.net.forward_with_trace(x)
        loss = self.loss_fn(out, y)
        acc.update(predict_from_output(out), y)
        loss_metric.update(loss.detach() / y.shape[0], weight=y.shape[0])
        for name, psc in trace.items():
            spikes = spikes_from_psc(psc, self.net.neuron.tau_s)
            rates[name].update(spikes.mean(), weight=y.shape[0])
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        out = self.net(x)
        loss = self.loss_fn(out, y)  # SUM-reduced as in the paper
        pred = predict_from_output(out)
        self.train_acc.update(pred, y)  # the epoch's accuracy, logged in on_train_epoch_end
        # Lightning's self.log costs about 1 ms a call on CPU, as much as the MLP's whole forward:
        # step values are logged at the loggers' own cadence only (log_every_n_steps)
        trainer = self._trainer
        every = max(1, trainer.log_every_n_steps) if trainer is not None else 1
        if batch_idx % every == 0:
            n = y.shape[0]
            self.log("train_loss", loss.detach() / n, prog_bar=True, batch_size=n)
            self.log("train_acc_step", (pred == y).float().mean(), prog_bar=True, batch_size=n)
        return loss

    def on_train_epoch_end(self) -> None:
        # sync_dist: the value is already global (torchmetrics syncs in compute); the flag
        # only tells Lightning so, instead of a warning per metric under DDP
        self.log("train_acc_epoch", self.train_acc.compute(), sync_dist=True)
        self.train_acc.reset()

    def on_before_optimizer_step(self, optimizer) -> None:
        # DDP averages gradients over ranks; multiplying by the world size restores the paper's
        # SUM over the global batch. Done here (once per step, after accumulation and the
        # all-reduce, before clipping) rather than on the loss, so that NA's layer rescale sees
        # the same gradient statistics as one process with the global batch.
        world = self.trainer.world_size
        if world > 1:
            for p in self.parameters():
                if p.grad is not None:
                    p.grad.mul_(world)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._shared_eval(batch, self.val_acc, self.val_loss, self.val_rates)

    def test_step(self, batch, batch_idx: int) -> None:
        self._shared_eval(batch, self.test_acc, self.test_loss, self.test_rates)

    def _log_epoch(self, stage: str, acc, loss_metric, rates) -> None:
        # torchmetrics' compute() already reduces over ranks; sync_dist=True averages equal
        # values (a no-op) and keeps Lightning from warning once per metric under DDP
        self.log(f"{stage}_acc", acc.compute(), prog_bar=True, sync_dist=True)
        self.log(f"{stage}_loss", loss_metric.compute(), sync_dist=True)
        layer_rates = {n: m.compute() for n, m in rates.items()}
        for name, value in layer_rates.items():
            self.log(f"{stage}_rate/{name}", value, sync_dist=True)
        self.log(f"{stage}_rate", torch.stack(list(layer_rates.values())).mean(), sync_dist=True)
        acc.reset()
        loss_metric.reset()
        for m in rates.values():
            m.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val", self.val_acc, self.val_loss, self.val_rates)

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test", self.test_acc, self.test_loss, self.test_rates)

    def predict_step(self, batch, batch_idx: int) -> dict[str, torch.Tensor]:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        scores = self.net(x).sum(1)
        return {"pred": scores.argmax(-1), "scores": scores}

    def on_fit_start(self) -> None:
        # seed_everything (LightningCLI's seed_everything) fixes torch's initial seed. Every
        # batch reseeds from it and its position, so a run resumed from a checkpoint draws the
        # same dropout masks and main-process augmentations as an uninterrupted one, whatever
        # else (e.g. a DataLoader iterator being created) consumed random numbers in between.
        self._base_seed = torch.initial_seed()

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        seed = (getattr(self, "_base_seed", 0) + 1_000_003 * (self.current_epoch + 1)
                + 7919 * batch_idx + 104_729 * self.global_rank) % 2**32
        random.seed(seed)
        np.random.seed(seed)
        # the CPU generator directly: torch.manual_seed also walks every accelerator backend
        # (~0.13 ms a step on a CPU-only machine); CUDA is seeded when it is in use.
        # is_initialized() alone, not is_available() first: it is False wherever CUDA is
        # unavailable, and under Lightning (which sets PYTORCH_NVML_BASED_CUDA_CHECK)
        # is_available() tries to dlopen NVML on every call, 0.1-0.4 ms a step on a CPU machine
        torch.default_generator.manual_seed(seed)
        if torch.cuda.is_initialized():
            torch.cuda.manual_seed_all(seed)

    # ---------------------------------------------------------------------- the paper recipe
    def configure_optimizers(self):
        hp = self.hparams
        opt = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.lr_gamma is None:
            return opt
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=hp.lr_gamma)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None,
                                    gradient_clip_algorithm=None) -> None:
        value = gradient_clip_val if gradient_clip_val is not None else self.hparams.grad_clip
        if value is not None:
            self.clip_gradients(optimizer, gradient_clip_val=value,
                                gradient_clip_algorithm=gradient_clip_algorithm or "norm")

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        c = self.hparams.weight_clamp
        if c is not None:
            with torch.no_grad():
                for p in self.net.parameters():
                    p.clamp_(-c, c)
