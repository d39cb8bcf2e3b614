"""The ``bna-zoo`` console script.

- ``bna-zoo fit|validate|test|predict --config configs/<name>.yaml``: LightningCLI over
  :class:`~bna_zoo.model.BNAModel` and any DataModule of :mod:`bna_zoo.data`. ``fit`` ends by
  testing the best checkpoint and printing its accuracy and path (``--test_after_fit false``
  skips that). ``--model.pretrained <name>`` fine-tunes from zoo weights.
- ``bna-zoo list``: the registry and the pretrained entries.
- ``bna-zoo eval <name...>``: evaluate pretrained entries on their test sets; prints a table.
- ``bna-zoo publish <name> --ckpt PATH --repo-id ORG/NAME``: evaluate, render the card, upload.
- ``bna-zoo show <name> [--sample i]``: PNG of input frames, spike rasters and output PSC.
"""

from __future__ import annotations

import os
import sys

# Large activations are freshly page-faulted on every allocation without transparent huge pages
# (~35 ms per 47 MB tensor on CPU); torch reads this only at import, so set it first.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

ZOO_COMMANDS = ("list", "eval", "publish", "show")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``bna-zoo`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ZOO_COMMANDS:
        from .zoo_commands import run_zoo_command

        run_zoo_command(argv)
        return
    from .lightning_cli import run_lightning_cli

    run_lightning_cli(argv)


if __name__ == "__main__":
    main()
