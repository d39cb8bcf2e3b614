"""Generated files (recipes, configs, model cards, README table) match the zoo entries."""

from __future__ import annotations

import pytest

from bna_zoo.cli.generate import derived_files


@pytest.mark.parametrize("path, content", sorted(derived_files().items()), ids=lambda v: str(
    getattr(v, "name", ""))[:40])
def test_derived_file_is_current(path, content):
    assert path.is_file(), f"{path} is missing: run python -m bna_zoo.cli.generate"
    assert path.read_text() == content, f"{path} is stale: run python -m bna_zoo.cli.generate"


def test_every_generated_recipe_and_config_says_it_is_generated():
    for path, content in derived_files().items():
        if path.suffix == ".yaml":
            assert "Generated from bna_zoo/models/entries.py" in content
