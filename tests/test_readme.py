"""README stays in step with the registry and with CI."""

from pathlib import Path

from bna_zoo.models.render import render_models_table

ROOT = Path(__file__).resolve().parents[1]


def test_readme_models_table_is_the_one_generated_from_the_zoo():
    assert render_models_table() in (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if "python -m pytest" in line)
    assert command.strip() in readme
