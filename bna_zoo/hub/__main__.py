"""``python -m bna_zoo.hub NAME FOLDER``: ship a save_pretrained folder in the package."""

from .publish import main

main()
