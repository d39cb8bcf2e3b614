"""The ``bna-zoo`` console script: one command, every subcommand in its ``--help``.

- ``bna-zoo fit|validate|test|predict --config zoo:<name>`` (or a YAML path): LightningCLI over
  :class:`~bna_zoo.bna_model.BNAModel` and the DataModules of :mod:`bna_zoo.data` (short class names
  work: ``--data FashionMNISTDataModule``). ``--model.name <name>`` without a config brings that
  name's recipe. ``fit`` ends by testing the best checkpoint and printing its accuracy and path.
- ``bna-zoo config <name>``: print a recipe, to edit (``bna-zoo config nmnist-cnn > mine.yaml``).
- ``bna-zoo list | eval | publish | show | emulate | prepare | export``: see
  :mod:`bna_zoo.cli.zoo_commands`.

A user's mistake (unknown name, missing data, damaged checkpoint) ends with one line naming it
and exit status 2; ``BNA_ZOO_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from ..cpu_memory import keep_freed_memory

# Large activations are freshly page-faulted on every allocation without transparent huge pages
# (~35 ms per 47 MB tensor on CPU); torch reads this only at import, so set it first.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
# and freed activations stay mapped for the next step (bna_zoo/cpu_memory.py; glibc only)
keep_freed_memory()

LIGHTNING_COMMANDS = {
    "fit": "train a model (then test its best checkpoint)",
    "validate": "validate a model on its validation set",
    "test": "test a model on its test set",
    "predict": "predict with a model",
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: Lightning subcommands (parsed by LightningCLI) and zoo commands."""
    from .zoo_commands import add_zoo_commands

    parser = argparse.ArgumentParser(
        prog="bna-zoo",
        description="Spiking neural networks trained with Backpropagated Neighborhood "
                    "Aggregation: train, evaluate, publish and inspect the zoo's models.",
        epilog="Training: bna-zoo fit --config zoo:fashionmnist-mlp (bna-zoo fit --help for "
               "every option).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in LIGHTNING_COMMANDS.items():
        sub.add_parser(name, help=f"{text} (LightningCLI; bna-zoo {name} --help)", add_help=False)
    add_zoo_commands(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from ..data.common import DatasetFormatError, DatasetNotFoundError
    from ..hub.errors import HubUnavailableError, IntegrityError

    # Lightning refuses a bad Trainer setting (--trainer.max_epochs -3) with its own clear
    # message; it can only be raised once Lightning is loaded, so importing it here is not needed
    lightning_errors = sys.modules.get("lightning.fabric.utilities.exceptions")
    lightning = (lightning_errors.MisconfigurationException,) if lightning_errors else ()
    return (KeyError, ValueError, TypeError, FileNotFoundError, NotADirectoryError,
            HubUnavailableError, IntegrityError, DatasetNotFoundError, DatasetFormatError,
            *lightning)


class _DropTips(logging.Filter):
    """Drops Lightning's advertising tips (a cloud logger) from its rank-zero log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("\N{ELECTRIC LIGHT BULB} Tip")


def quiet_third_party(lightning_info: bool = True) -> None:
    """Keep libraries' tips and deprecation notices about their own internals off the terminal.

    Args:
        lightning_info: keep Lightning's INFO lines (devices, checkpoints); the zoo commands that
            only evaluate turn them off, since they would repeat for every model.
    """
    # Lightning's own code calls torch's deprecated LeafSpec check; nothing a user can act on
    warnings.filterwarnings("ignore", message=r".*LeafSpec.* is deprecated", category=FutureWarning)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropTips) for f in rank_zero.filters):
        rank_zero.addFilter(_DropTips())
    if not lightning_info:
        # this logger, not "lightning.pytorch", whose level Lightning resets when imported
        rank_zero.setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``bna-zoo`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_third_party(lightning_info=not argv or argv[0] in LIGHTNING_COMMANDS)
    try:
        if argv and argv[0] in LIGHTNING_COMMANDS:
            from .lightning import run_lightning_cli

            run_lightning_cli(argv)
            _release_process_group()
            return
        args = build_parser().parse_args(argv)
        args.run(args)
    except _user_errors() as err:
        if os.environ.get("BNA_ZOO_DEBUG"):
            raise
        sys.stderr.write(f"bna-zoo: error: {_message(err)}\n")
        sys.exit(2)


def _release_process_group() -> None:
    """Destroy a DDP run's process group before the interpreter exits: left to exit, gloo's
    threads are sometimes destroyed while still joinable and the process aborts ("terminate
    called without an active exception", exit -6) after a run that succeeded."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


_UNION_ERROR = "Does not validate against any of the Union subtypes"


def _message(err: BaseException) -> str:
    """What a user's mistake says, without the wrapping of the library that passed it on."""
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])  # str() of a KeyError adds quotes around the message
    text = str(err)
    if text.startswith(_UNION_ERROR) and "\nErrors:\n" in text:
        # jsonargparse tried each type of an Optional argument (--data: a DataModule or None)
        # and lists every failure with the value it was given; the DataModule's own complaint
        # is the one that is not about None
        block = text.split("\nErrors:\n", 1)[1].split("\nGiven value", 1)[0]
        reasons = [line[4:] for line in block.splitlines()
                   if line.startswith("  - ") and "NoneType" not in line]
        if reasons:
            return "; ".join(reasons)
    return text


if __name__ == "__main__":
    main()
