"""The house plan (docs/ARCHITECTURE.md) holds: import rules, and what each layer may touch."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "custdata"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def _modules(below_cli: bool) -> list[Path]:
    files = sorted(SRC.rglob("*.py"))
    return [f for f in files if (f.relative_to(SRC).parts[0] != "cli") == below_cli]


def test_import_contracts_hold() -> None:
    """cli -> api -> store and core; the store imports no domain code; the core no store,
    api or terminal library; the CLI runs workflows only through the api (pyproject.toml)."""
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


@pytest.mark.parametrize("path", _modules(below_cli=True), ids=lambda p: str(p.relative_to(SRC)))
def test_nothing_below_the_cli_reads_the_environment(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            assert not (isinstance(node.value, ast.Name) and node.value.id == "os"), \
                f"{path.name}:{node.lineno} reads the environment; the CLI passes settings in"


@pytest.mark.parametrize("path", _modules(below_cli=True), ids=lambda p: str(p.relative_to(SRC)))
def test_errors_below_the_cli_name_no_flags(path: Path) -> None:
    """A message raised by api, store or core says what is wrong, not which flag to pass:
    the CLI adds that (cli/__init__.py HINTS), so Python callers get no CLI advice."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        for part in ast.walk(node.exc):
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                assert not FLAG.search(part.value), \
                    f"{path.name}:{node.lineno} names a flag in an error: {part.value!r}"


@pytest.mark.parametrize("path", _modules(below_cli=True), ids=lambda p: str(p.relative_to(SRC)))
def test_notices_below_the_cli_name_no_flags(path: Path) -> None:
    """A message for the person (session.notify, Notice) names no flag either: it gives a
    hint name, and the CLI adds the option (cli/_hints.py with_advice)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name not in ("notify", "Notice"):
            continue
        for part in ast.walk(node):
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                assert not FLAG.search(part.value), \
                    f"{path.name}:{node.lineno} names a flag in a notice: {part.value!r}"
