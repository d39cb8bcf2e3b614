"""Write the files derived from the zoo entries (:mod:`bna_zoo.models.entries`).

``python -m bna_zoo.cli.generate`` rewrites, in a source checkout:

- ``bna_zoo/recipes/<name>.yaml`` (package data: ``bna-zoo fit --config zoo:<name>``) and its
  copy ``configs/<name>.yaml``;
- ``model_cards/<name>.md``: the card of the shipped weights, or of an untrained model;
- the models table of ``README.md`` (between its marker comments).

Each generated file says so; ``tests/test_generate.py`` checks they are current.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ..bna_model import BNAModel
from ..hub.card import render_card
from ..hub.io import build_config
from ..models.render import RECIPES_DIR, TABLE_BEGIN, TABLE_END, render_config, render_models_table
from ..models.zoo import ZOO, list_models

REPO = Path(__file__).resolve().parents[2]


def render_card_of(name: str) -> str:
    """``model_cards/<name>.md``: the shipped weights' card, or an untrained model's."""
    entry = ZOO[name]
    if entry.shipped:
        return (entry.shipped_dir / "README.md").read_text()
    torch.manual_seed(0)
    return render_card(build_config(BNAModel(name)))


def derived_files() -> dict[Path, str]:
    """Every derived file and its content (recipes, configs, cards, README)."""
    files: dict[Path, str] = {}
    for name in list_models():
        config = render_config(ZOO[name])
        files[RECIPES_DIR / f"{name}.yaml"] = config
        files[REPO / "configs" / f"{name}.yaml"] = config
        files[REPO / "model_cards" / f"{name}.md"] = render_card_of(name)
    readme = REPO / "README.md"
    text = readme.read_text()
    begin, end = text.index(TABLE_BEGIN), text.index(TABLE_END) + len(TABLE_END)
    files[readme] = text[:begin] + render_models_table() + text[end:]
    return files


def main() -> None:
    """Rewrite every derived file (run in a source checkout after editing an entry)."""
    if not (REPO / "pyproject.toml").is_file():
        sys.exit("run this in a source checkout of bna_zoo (configs/, model_cards/, README.md)")
    RECIPES_DIR.mkdir(exist_ok=True)
    for path, content in derived_files().items():
        if not path.is_file() or path.read_text() != content:
            path.write_text(content)
            print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
