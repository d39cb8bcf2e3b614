"""``BNAModel``: the LightningModule pairing a registry architecture with the NA core.

It owns the loss, the torchmetrics, the paper's training recipe (spec §3: AdamW, ExponentialLR
0.985 per epoch, gradient-norm clip 1, weight clamp ±4 after each step — each switchable) and
the Hub I/O (:meth:`from_pretrained`, :meth:`save_pretrained`, :meth:`push_to_hub`).
All ``__init__`` arguments are typed and JSON-able: they feed LightningCLI, the checkpoint's
hyperparameters and the Hub's ``config.json`` alike.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torchmetrics
from torch import nn

from .models import create_model, get_spec, spikes_from_psc
from .nn import build_loss, predict_from_output
from .nn.layers import SpikingLinear


class BNAModel(L.LightningModule):
    """A zoo architecture trained with NA (or a surrogate gradient) under Lightning.

    Args:
        name: registry key of the architecture (see :func:`bna_zoo.list_models`).
        arch_overrides: overrides of the registry settings (e.g. ``{"n_steps": 10}``).
        num_classes: output classes; ``None`` keeps the architecture's. When it differs from a
            ``pretrained`` model's, the output layer is replaced (fine-tuning).
        gradient: ``"na"`` or ``"surrogate"``.
        variant: NA form, ``"official"`` (default) or ``"paper"``.
        clip: clip of the paper form.
        rescale: the official layer-wise log-ratio rescale of NA gradients (spec §2.6).
        loss: ``"kernel"`` or ``"count"``; ``None`` uses the architecture's.
        loss_args: keyword arguments of the loss; ``None`` uses the architecture's.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay (PyTorch's default 0.01, as in the official code).
        lr_gamma: ExponentialLR factor per epoch; ``None`` keeps the rate constant.
        grad_clip: gradient-norm clip; ``None`` disables (a Trainer ``gradient_clip_val`` wins).
        weight_clamp: clamp every weight to ``[-c, c]`` after each step; ``None`` disables.
        pretrained: start from these weights: a zoo name, ``org/repo[@rev]``, a directory
            written by :meth:`save_pretrained`, or a Lightning ``.ckpt`` file.
    """

    def __init__(
        self,
        name: str = "fashionmnist-mlp",
        arch_overrides: dict[str, Any] | None = None,
        num_classes: int | None = None,
        gradient: str = "na",
        variant: str = "official",
        clip: float = 10.0,
        rescale: bool = True,
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
        self.save_hyperparameters()
        self.spec = get_spec(name)
        overrides = dict(arch_overrides or {})
        self.net = create_model(
            name, gradient=gradient, variant=variant, clip=clip, rescale=rescale, **overrides
        )
        loss = loss or self.spec.loss
        if loss_args is None:
            loss_args = dict(self.spec.loss_args) if loss == self.spec.loss else {}
        self.loss_fn = build_loss(loss, loss_args, self.net.neuron.tau_s)
        if pretrained is not None:
            self._load_pretrained(pretrained)
            # The weights now live in this module: a checkpoint rebuilt from these
            # hyperparameters must not fetch them again (that may need a network).
            self.hparams["pretrained"] = None
        if num_classes is not None and num_classes != self.net.num_classes:
            self._replace_head(num_classes)
        self.hparams["num_classes"] = self.net.num_classes
        self._make_metrics()

    # ----------------------------------------------------------------- construction helpers
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

    def _replace_head(self, num_classes: int) -> None:
        """Swap the output layer for a freshly initialised one with ``num_classes`` outputs."""
        layers = self.net.layers
        idx = self._head_index()
        old: SpikingLinear = layers[idx]
        layers[idx] = SpikingLinear(
            old.linear.in_features, num_classes, self.net.neuron,
            weight_scale=self.spec.linear_weight_scale, is_output=True, name=old.name,
        )
        self.net.num_classes = num_classes
        self.net.arch = "-".join(self.net.arch.split("-")[:-1] + [str(num_classes)])

    def _load_pretrained(self, source: str) -> None:
        from .hub import load_state_for_finetuning

        state = load_state_for_finetuning(source)
        head_key = f"layers.{self._head_index()}.linear.weight"
        if head_key in state and state[head_key].shape[0] != self.net.num_classes:
            # a head with another class count: adopt it so every weight loads strictly; the
            # caller's num_classes then replaces it if needed
            self._replace_head(state[head_key].shape[0])
        try:
            self.net.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise RuntimeError(
                f"pretrained weights {source!r} do not fit architecture {self.spec.name!r}: {err}"
            ) from None

    # ----------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output PSC ``[B, T, classes]`` of images ``[B, C, H, W]`` or events ``[B, T, C, H, W]``.
        """
        return self.net(x)

    def _input_transform(self, x) -> torch.Tensor:
        """Apply the zoo entry's own input transform to raw data (see :meth:`predict`)."""
        from .models.pretrained import get_pretrained

        spec = get_pretrained(self.spec.name).input
        if isinstance(x, np.ndarray) and x.dtype.names:
            x = [x]
        if isinstance(x, (list, tuple)) and all(
            isinstance(e, np.ndarray) and e.dtype.names for e in x
        ):
            if spec.frames is None:
                raise TypeError(f"{self.spec.name} takes images, not event recordings")
            from .data.events import events_to_frames

            return torch.from_numpy(np.stack([events_to_frames(e, **spec.frames) for e in x]))
        x = torch.as_tensor(x)
        if x.dtype == torch.uint8 and spec.kind == "image":
            shape = (-1, 1, 1)
            mean = torch.tensor(spec.mean).reshape(shape)
            std = torch.tensor(spec.std).reshape(shape)
            return (x.float() / 255 - mean) / std
        return x

    @torch.no_grad()
    def predict(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Class indices and scores (summed output PSC) for a batch or a single sample.

        Args:
            x: a batch ``[B, *sample]`` or one sample, where a sample is ``[C, H, W]`` for image
                models and ``[T, 2, H, W]`` frames for event models. Raw data goes through the
                zoo entry's own transform first: uint8 images are normalised with the entry's
                statistics, and event recordings (numpy structured arrays with ``x, y, t, p``,
                one or a list) are binned exactly as in training.

        Returns:
            ``(indices [B], scores [B, classes])``; without the batch dim for a single sample.
        """
        raw_events = isinstance(x, np.ndarray) and x.dtype.names is not None
        x = self._input_transform(x)
        sample = (self.net.input_shape if self.spec.input_kind == "image"
                  else (self.net.n_steps, *self.net.input_shape))
        single = x.dim() == len(sample) or (raw_events and x.shape[0] == 1)
        if raw_events:
            x = x[0]
        if single:
            x = x.unsqueeze(0)
        was_training = self.training
        self.eval()
        scores = self.net(x.to(self.device, torch.float32)).sum(1)
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
        self.train_acc(predict_from_output(out), y)
        self.log("train_loss", loss.detach() / y.shape[0], prog_bar=True, batch_size=y.shape[0])
        self.log("train_acc", self.train_acc, prog_bar=True, on_step=True, on_epoch=True,
                 batch_size=y.shape[0])
        return loss

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
        self.log(f"{stage}_acc", acc.compute(), prog_bar=True, sync_dist=False)
        self.log(f"{stage}_loss", loss_metric.compute())
        layer_rates = {n: m.compute() for n, m in rates.items()}
        for name, value in layer_rates.items():
            self.log(f"{stage}_rate/{name}", value)
        self.log(f"{stage}_rate", torch.stack(list(layer_rates.values())).mean())
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
        torch.manual_seed(seed)

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

    # -------------------------------------------------------------------------------- Hub I/O
    @classmethod
    def from_pretrained(cls, name_or_path: str, revision: str | None = None) -> BNAModel:
        """Load a trained model: zoo name, ``org/repo[@revision]`` or a local directory.

        See :func:`bna_zoo.hub.from_pretrained`.
        """
        from .hub import from_pretrained

        return from_pretrained(name_or_path, revision=revision)

    def save_pretrained(self, directory: str | Path, **card_fields: Any) -> Path:
        """Write ``config.json``, ``model.safetensors`` and a ``README.md`` card."""
        from .hub import save_pretrained

        return save_pretrained(self, directory, **card_fields)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Upload to the Hugging Face Hub (see :func:`bna_zoo.hub.push_to_hub`)."""
        from .hub import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)
