"""Claims about the package's shape that a reader relies on (issue #24's targets)."""

from __future__ import annotations

import ast
from pathlib import Path

import bna_zoo

PACKAGE = Path(bna_zoo.__file__).parent
MAX_FUNCTION_LINES = 80


def _modules() -> list[tuple[str, Path, ast.Module]]:
    """``(part, path, tree)`` per module; ``part`` is the sub-package (or top module) name."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).parts
        part = rel[0] if len(rel) > 1 else path.stem
        found.append((part, path, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_function_outside_the_kernels_is_longer_than_80_lines():
    long = [f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} "
            f"({node.end_lineno - node.lineno + 1} lines)"
            for _, path, tree in _modules() if "kernels" not in path.parts
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_no_private_name_crosses_a_package_boundary():
    modules = _modules()
    defined: dict[str, set[str]] = {}  # private name -> parts that define it
    for part, _, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and _private(node.name):
                defined.setdefault(node.name, set()).add(part)
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) \
                    and _private(node.attr):
                defined.setdefault(node.attr, set()).add(part)
    crossing = []
    for part, path, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                    "bna_zoo") or isinstance(node, ast.ImportFrom) and node.level > 1:
                crossing += [f"{path.relative_to(PACKAGE)}: imports {a.name}"
                             for a in node.names if _private(a.name)]
            own = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in ("self", "cls")
            if isinstance(node, ast.Attribute) and _private(node.attr) and not own \
                    and node.attr in defined and part not in defined[node.attr]:
                crossing.append(f"{path.relative_to(PACKAGE)}:{node.lineno} reads "
                                f"{ast.unparse(node)} of {sorted(defined[node.attr])}")
    assert crossing == []


def test_the_layout_checks_see_a_crossing_when_there_is_one(tmp_path, monkeypatch):
    # the check above must be able to fail: plant a module that reads another part's private
    fake = tmp_path / "bna_zoo"
    (fake / "hub").mkdir(parents=True)
    (fake / "models").mkdir()
    (fake / "models" / "a.py").write_text("class A:\n    def __init__(self):\n"
                                          "        self._secret = 1\n")
    (fake / "hub" / "b.py").write_text("def f(a):\n    return a._secret\n")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    try:
        test_no_private_name_crosses_a_package_boundary()
    except AssertionError as err:
        assert "a._secret" in str(err)
    else:
        raise AssertionError("a planted crossing went unseen")
