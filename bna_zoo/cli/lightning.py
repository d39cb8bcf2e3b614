"""LightningCLI subclass behind ``bna-zoo fit|validate|test|predict``.

Recipes travel with the package: ``--config zoo:<name>`` reads ``bna_zoo/recipes/<name>.yaml``,
and ``--model.name <name>`` without any ``--config`` or ``--data`` starts from that recipe (later
arguments override it). The DataModules of :mod:`bna_zoo.data` are imported before parsing, so
``--data FashionMNISTDataModule`` resolves as a short class name.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.callbacks import Callback, ProgressBar, RichProgressBar, WeightAveraging
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.imports import _RICH_AVAILABLE
from lightning.pytorch.utilities.rank_zero import rank_zero_only

# imported (not only the lazy bna_zoo.data) so jsonargparse finds them as subclasses of
# LightningDataModule: that is what lets `--data FashionMNISTDataModule` resolve
import bna_zoo.data.events  # noqa: F401
import bna_zoo.data.images  # noqa: F401
import bna_zoo.data.own  # noqa: F401

from .. import runs
from ..bna_model import BNAModel
from ..models import ZOO
from ..models.render import recipe_path


def _valid_strategies() -> list[str]:
    from lightning.pytorch.strategies import StrategyRegistry

    return sorted({"auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp", "deepspeed",
                   "single_device", *StrategyRegistry.available_strategies()})


_CHECKPOINT = "lightning.pytorch.callbacks.ModelCheckpoint"


class RunLogger(CSVLogger):
    """Lightning's ``CSVLogger`` whose folder follows ``--trainer.default_root_dir``.

    ``save_dir`` left out (None): the CLI sets it to the Trainer's ``default_root_dir``, so that
    one flag moves a run's logs, config, checkpoints and model folder together (a plain
    ``CSVLogger`` needs its own ``save_dir``). Outside the CLI, None is the current folder.
    """

    def __init__(self, save_dir: str | None = None, name: str = "",
                 version: int | str | None = None, prefix: str = "",
                 flush_logs_every_n_steps: int = 100) -> None:
        super().__init__(save_dir if save_dir is not None else ".", name, version, prefix,
                         flush_logs_every_n_steps)

    @property
    def experiment(self):
        """Lightning's writer, keeping the rows a resumed run logged before.

        ``--ckpt_path last`` continues a run in its own folder, where Lightning's writer deletes
        the existing ``metrics.csv``; its rows and header are put back for the writer to append
        to (it rewrites the file itself when new columns appear).
        """
        if self._experiment is not None or rank_zero_only.rank != 0:
            return super().experiment  # other ranks get Lightning's dummy and write nothing
        path = Path(self.log_dir) / "metrics.csv"
        before = path.read_text() if path.is_file() else None
        writer = super().experiment
        if before and writer is not None:
            path.write_text(before)
            writer.metrics_keys = next(csv.reader(io.StringIO(before)))
        return writer


class RateLimitedProgressBar(RichProgressBar):
    """Lightning's Rich progress bar, redrawn at most ``max_per_second`` times a second.

    Lightning's default bar (a ``RichProgressBar`` where ``rich`` is installed) updates its
    counters and metrics after every batch and re-renders up to 100 times a second from a
    thread of its own. In a terminal that cost fashionmnist-mlp 2-5 ms a step against its bar
    switched off (15-18 ms, one thread, beside a training job); redrawn ten times a second it
    cost nothing measurable there (benchmarks/train_loop.py times the real command). A
    batch between two draws is skipped whole (no counter, no metrics); the last batch of an
    epoch, and the last one trained before a run stops mid-epoch, are always drawn.

    Args:
        max_per_second: redraws per second at most (also the rate of Rich's refresh thread).
        kwargs: the rest of :class:`~lightning.pytorch.callbacks.RichProgressBar`'s arguments.
    """

    def __init__(self, max_per_second: float = 10.0, **kwargs: Any) -> None:
        if max_per_second <= 0:
            raise ValueError(f"max_per_second must be > 0, got {max_per_second}")
        super().__init__(refresh_rate=max(1, math.ceil(max_per_second)), **kwargs)
        self.min_interval = 1.0 / max_per_second
        self._last_draw = -math.inf
        self._undrawn_train_batch: int | None = None

    def _due(self, done: int, total: int | float | None) -> bool:
        """Whether to draw now: a ``min_interval`` has passed, or ``done`` ends the loop."""
        now = time.monotonic()
        if done == total or now - self._last_draw >= self.min_interval:
            self._last_draw = now
            return True
        return False

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._due(batch_idx + 1, self.total_train_batches):
            self._undrawn_train_batch = None
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        else:
            self._undrawn_train_batch = batch_idx

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # an epoch cut short (max_steps) ends on a batch that may not have been drawn
        if self._undrawn_train_batch is not None:
            super().on_train_batch_end(trainer, pl_module, None, None,
                                       self._undrawn_train_batch)
            self._undrawn_train_batch = None
        super().on_train_epoch_end(trainer, pl_module)

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        if self._due(batch_idx + 1, self.total_val_batches_current_dataloader):
            super().on_validation_batch_end(trainer, pl_module, outputs, batch, batch_idx,
                                            dataloader_idx)

    def on_test_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                          outputs: Any, batch: Any, batch_idx: int,
                          dataloader_idx: int = 0) -> None:
        if self._due(batch_idx + 1, self.total_test_batches_current_dataloader):
            super().on_test_batch_end(trainer, pl_module, outputs, batch, batch_idx,
                                      dataloader_idx)

    def on_predict_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                             outputs: Any, batch: Any, batch_idx: int,
                             dataloader_idx: int = 0) -> None:
        if self._due(batch_idx + 1, self.total_predict_batches_current_dataloader):
            super().on_predict_batch_end(trainer, pl_module, outputs, batch, batch_idx,
                                         dataloader_idx)


def default_progress_bar(config: dict[str, Any], callbacks: list[Callback]) -> Callback | None:
    """The bar the zoo's commands add where Lightning would add its own, or None.

    None when the run turned the bar off (``--trainer.enable_progress_bar false``), configured
    a bar of its own, or ``rich`` is missing (Lightning's TQDM bar then, cheap as it is).

    Args:
        config: the Trainer's instantiated arguments (``callbacks`` one or a list, or None).
        callbacks: the callbacks LightningCLI adds beside the configured ones.
    """
    configured = config.get("callbacks") or []
    if not isinstance(configured, list):
        configured = [configured]
    if config.get("enable_progress_bar") is False or not _RICH_AVAILABLE:
        return None
    if any(isinstance(c, ProgressBar) for c in [*configured, *callbacks]):
        return None
    return RateLimitedProgressBar()


class BNAZooCLI(LightningCLI):
    """LightningCLI with one folder per run, checked resumption, and a model folder after fit.

    See :mod:`bna_zoo.runs`: every run writes into ``<default_root_dir>/<version>/`` (logs,
    resolved config, ``checkpoints/``, ``model/``); ``--ckpt_path last`` resumes the newest run
    with the command's settings and refuses one whose settings differ.
    """

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument(
            "--test_after_fit", type=bool, default=True,
            help="after fit, test the best checkpoint, save it as a model folder and print both",
        )
        parser.add_argument(
            "--run_name", type=str | None, default=None,
            help="name of this run's folder under --trainer.default_root_dir (default: "
                 "version_N, the next free number)",
        )

    def _parse_ckpt_path(self) -> None:
        # LightningCLI would overwrite the command's model settings with the checkpoint's
        # hyperparameters, silently; the run's settings are compared instead (before
        # instantiation) and a checkpoint trained with other ones is refused by name
        return

    def before_instantiate_classes(self) -> None:
        cfg = self.config[self.subcommand] if self.subcommand else self.config
        trainer = cfg.get("trainer", {})
        # precision needs no check here: jsonargparse validates it against the Trainer's
        # literal types; a strategy is typed as any string, so check the name
        strategy = trainer.get("strategy")
        if isinstance(strategy, str) and strategy not in _valid_strategies():
            raise SystemExit(
                f"error: unknown --trainer.strategy {strategy!r}; valid choices: "
                f"{', '.join(_valid_strategies())}"
            )
        if self.subcommand == "fit":
            self._place_run(cfg)

    def _place_run(self, cfg) -> None:
        """Logger under default_root_dir, the run's version, checkpoints on or off, resume."""
        trainer = cfg.trainer
        if trainer.get("enable_checkpointing") is False and trainer.get("callbacks"):
            # Lightning refuses ModelCheckpoint callbacks with checkpointing off: the recipe's
            # go, so the flag does what it says
            trainer.callbacks = [c for c in trainer.callbacks
                                 if getattr(c, "class_path", None) != _CHECKPOINT]
        logger = trainer.get("logger")
        args = getattr(logger, "init_args", None)
        if args is None or "save_dir" not in args:
            return  # no logger, or one without a folder: Lightning's own placement
        if args.get("save_dir") is None:
            args.save_dir = trainer.get("default_root_dir") or "."
        if cfg.get("run_name"):
            args.version = cfg.run_name
        log_root = Path(args.save_dir) / (args.get("name") or "")
        settings = self._settings(cfg)
        ckpt = cfg.get("ckpt_path")
        # only a resumed run is compared with the command
        defaults = {} if ckpt is None else runs.setting_defaults(
            self.model_class, settings.get("data.class_path"))
        if ckpt == "last":
            run = runs.resolve_last(log_root, settings, defaults)
            if run is None:
                print(f"--ckpt_path last: no earlier run in {log_root}; starting a new one",
                      flush=True)
                cfg.ckpt_path = None
            else:
                print(f"resuming {run} (same settings)", flush=True)
                cfg.ckpt_path = str(run / "checkpoints" / "last.ckpt")
                args.version = run.name
        elif ckpt not in (None, "best", "hpc", "registry") and Path(ckpt).is_file():
            runs.check_checkpoint(Path(ckpt), settings, defaults)

    def _settings(self, cfg) -> dict:
        """The compared settings of this command, as its run's config.yaml will hold them."""
        dumped = yaml.safe_load(self._parser(self.subcommand).dump(cfg, skip_none=False))
        return runs.flat_settings(dumped.get("model") or {}, dumped.get("data"))

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> L.Trainer:
        # the bar Lightning would add redraws after every batch: a rate-limited one instead
        bar = default_progress_bar(config, callbacks)
        return super()._instantiate_trainer(config, callbacks if bar is None else [*callbacks, bar])

    def before_fit(self) -> None:
        # T and input shape, before the data is downloaded, emulated or cached
        if self.datamodule is not None:
            self.model.check_data(self.datamodule)

    def after_fit(self) -> None:
        if not self.config["fit"].get("test_after_fit", True):
            return
        trainer: L.Trainer = self.trainer
        callback = trainer.checkpoint_callback
        best = getattr(callback, "best_model_path", "") if callback else ""
        if best and not get_filesystem(best).exists(best):  # local or remote (s3://...)
            # a resumed run remembers its best epoch, but its file may not have come along (a
            # resume point copied to a new machine without it): testing other weights under
            # that name would report a number for a checkpoint nobody chose
            score = getattr(callback, "best_model_score", None)
            said = f" ({callback.monitor} {float(score):.4f})" if score is not None else ""
            if trainer.is_global_zero:  # every rank returns here; one says why
                print(f"\nnot testing: the best checkpoint this run recorded{said} is not on "
                      f"disk: {best}. Test a checkpoint you choose on validation with `bna-zoo "
                      f"test --config <this run's config.yaml> --ckpt_path <checkpoint>`.",
                      file=sys.stderr, flush=True)
            return
        with _without_weight_averaging(trainer):
            results = trainer.test(self.model, datamodule=self.datamodule,
                                   ckpt_path=best or None, verbose=False)
        # under DDP Trainer.log_dir is a broadcast: every rank asks, or rank 0 waits for ever
        log_dir = trainer.log_dir
        if not (trainer.is_global_zero and results):
            return
        acc = results[0].get("test_acc")
        where = best or "(no checkpoint saved: the weights at the end of training)"
        folder = save_run_model(self.model, self.datamodule, trainer, results[0], best,
                                self.config["fit"].get("seed_everything"), log_dir)
        print(f"\ntest accuracy: {100 * float(acc):.2f}%  checkpoint: {where}", flush=True)
        if folder is not None:
            print(f"model folder: {folder}  (BNAModel.from_pretrained({str(folder)!r}))",
                  flush=True)


@contextmanager
def _without_weight_averaging(trainer: L.Trainer):
    """Hide EMA/SWA callbacks while ``fit`` tests its best checkpoint.

    Such a checkpoint's ``state_dict`` holds the averaged weights, the ones validation measured
    and chose; Lightning's callback, still holding its fit-time average, would load the raw
    training weights over them (``current_model_state``), so the test and the saved model
    folder would be of weights nobody validated.
    """
    kept = trainer.callbacks
    trainer.callbacks = [c for c in kept if not isinstance(c, WeightAveraging)]
    try:
        yield
    finally:
        trainer.callbacks = kept


def save_run_model(model: BNAModel, datamodule: L.LightningDataModule, trainer: L.Trainer,
                   metrics: dict, checkpoint: str, seed: int | None,
                   log_dir: str | None) -> Path | None:
    """Write the tested weights as ``<run>/model`` (``save_pretrained``), named after the data.

    The data's own name and class names go into ``config.json`` and the card (the classes unless
    ``--model.labels`` named them), with the test number just measured and where it was
    measured (split, folder, sample count).
    """
    if log_dir is None:
        return None
    name = getattr(datamodule, "dataset_name", None) or type(datamodule).__name__
    classes = list(getattr(datamodule, "classes", None) or [])
    if not model.hparams.get("labels") and len(classes) == model.net.num_classes:
        model.labels = [str(c) for c in classes]  # trained on these, whatever the zoo entry's
    test = trainer.test_dataloaders
    n = len(test.dataset) if test is not None and hasattr(test, "dataset") else None
    where = f"{name}, test split in {getattr(datamodule, 'data_dir', '?')}"
    measured = f"{where} ({n:,} samples)" if n else where
    return model.save_pretrained(
        Path(log_dir) / "model", dataset=name, measured_on=measured,
        metrics={k: float(v) for k, v in metrics.items()
                 if k in ("test_acc", "test_loss", "test_rate")},
        epochs=trainer.current_epoch, seed=seed,
        note=f"Saved by bna-zoo fit from {checkpoint or 'the final weights'}.")


def expand_recipes(argv: list[str]) -> list[str]:
    """``zoo:<name>`` configs to packaged recipe paths; a bare ``--model.name`` brings its recipe.

    Raises:
        KeyError: an unknown zoo name (listing the names).
    """
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in ("--config", "-c"):
            value = next(it, "")
            out += [arg, str(recipe_path(value[4:])) if value.startswith("zoo:") else value]
        elif arg.startswith("--config=zoo:"):
            out.append(f"--config={recipe_path(arg[len('--config=zoo:'):])}")
        else:
            out.append(arg)
    has = lambda flag: any(a == flag or a.startswith(flag + "=") for a in out)  # noqa: E731
    if len(out) > 1 and not has("--config") and not has("--data") and not has("-c"):
        for i, arg in enumerate(out):
            name = out[i + 1] if arg == "--model.name" and i + 1 < len(out) else (
                arg.split("=", 1)[1] if arg.startswith("--model.name=") else None)
            if name is not None and "--help" not in out and "-h" not in out:
                if name not in ZOO and has("--model.arch"):
                    return out  # a network of your own: no recipe, give --data
                return [out[0], "--config", str(recipe_path(name)), *out[1:]]
    return out


@contextmanager
def _argv(argv: list[str]):
    """Hand LightningCLI ``argv`` through ``sys.argv`` (not ``args=``, which makes it warn).

    ``sys.argv[0]`` stays the program the user ran (the installed ``bna-zoo`` script, a script
    path, or ``-m bna_zoo``'s ``__main__``): Lightning's DDP launcher starts every other rank as
    ``python <abspath(sys.argv[0])> <sys.argv[1:]>``, so replacing it with a bare name made rank 1
    look for a file of that name in the current folder. The arguments are the expanded ones, so
    every rank reads the same recipe files.
    """
    saved = sys.argv
    sys.argv = [saved[0] if saved else "bna-zoo", *argv]
    try:
        yield
    finally:
        sys.argv = saved


def run_lightning_cli(argv: list[str]) -> BNAZooCLI:
    """Run LightningCLI on ``argv`` (the arguments after ``bna-zoo``)."""
    with _argv(expand_recipes(argv)):
        return BNAZooCLI(
            BNAModel,
            L.LightningDataModule,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,
        )
