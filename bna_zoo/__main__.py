"""``python -m bna_zoo ...``: the ``bna-zoo`` command without the console script.

Lightning's DDP launcher re-runs a module started this way as ``python -m bna_zoo.__main__``,
so the other ranks get the same command.
"""

from .cli import main

if __name__ == "__main__":
    main()
