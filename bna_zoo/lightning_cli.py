"""LightningCLI subclass behind ``bna-zoo fit|validate|test|predict``.

Recipes travel with the package: ``--config zoo:<name>`` reads ``bna_zoo/recipes/<name>.yaml``,
and ``--model.name <name>`` without any ``--config`` or ``--data`` starts from that recipe (later
arguments override it). The DataModules of :mod:`bna_zoo.data` are imported before parsing, so
``--data FashionMNISTDataModule`` resolves as a short class name.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import lightning as L
from lightning.pytorch.cli import LightningCLI

# imported (not only the lazy bna_zoo.data) so jsonargparse finds them as subclasses of
# LightningDataModule: that is what lets `--data FashionMNISTDataModule` resolve
import bna_zoo.data.events  # noqa: F401
import bna_zoo.data.images  # noqa: F401

from .model import BNAModel
from .models.render import recipe_path


def _valid_strategies() -> list[str]:
    from lightning.pytorch.strategies import StrategyRegistry

    return sorted({"auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp", "deepspeed",
                   "single_device", *StrategyRegistry.available_strategies()})


class BNAZooCLI(LightningCLI):
    """LightningCLI that validates the run before training and reports the test result."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument(
            "--test_after_fit", type=bool, default=True,
            help="after fit, test the best checkpoint and print its accuracy and path",
        )

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

    def after_fit(self) -> None:
        if not self.config["fit"].get("test_after_fit", True):
            return
        trainer: L.Trainer = self.trainer
        callback = trainer.checkpoint_callback
        best = getattr(callback, "best_model_path", "") if callback else ""
        results = trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None,
                               verbose=False)
        if trainer.is_global_zero and results:
            acc = results[0].get("test_acc")
            where = best or "(no checkpoint saved: enable a ModelCheckpoint callback)"
            print(f"\ntest accuracy: {100 * float(acc):.2f}%  checkpoint: {where}", flush=True)


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
