"""LightningCLI subclass behind ``bna-zoo fit|validate|test|predict``."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.cli import LightningCLI

from .model import BNAModel

_STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp", "deepspeed",
               "single_device", "dp")


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
        # literal types and lists them; a strategy is typed as any string, so check it
        strategy = trainer.get("strategy")
        if isinstance(strategy, str) and strategy not in _STRATEGIES:
            raise SystemExit(
                f"error: unknown --trainer.strategy {strategy!r}; valid choices: "
                f"{', '.join(_STRATEGIES)}"
            )

    def after_fit(self) -> None:
        if not self.config["fit"].get("test_after_fit", True):
            return
        trainer: L.Trainer = self.trainer
        callback = trainer.checkpoint_callback
        best = getattr(callback, "best_model_path", "") if callback else ""
        ckpt = best or None
        results = trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt,
                               verbose=False)
        if trainer.is_global_zero and results:
            acc = results[0].get("test_acc")
            where = best or "(no checkpoint saved: enable a ModelCheckpoint callback)"
            print(f"\ntest accuracy: {100 * float(acc):.2f}%  checkpoint: {where}", flush=True)


def run_lightning_cli(argv: list[str]) -> BNAZooCLI:
    """Run LightningCLI on ``argv`` (the arguments after ``bna-zoo``)."""
    return BNAZooCLI(
        BNAModel,
        L.LightningDataModule,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        args=argv,
        auto_configure_optimizers=False,
    )
