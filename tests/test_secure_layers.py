"""The secure slice keeps the house's import rules (issue 15): store speaks SQL only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "custdata"
STORE_MAY = ("custdata.models", "custdata.errors", "custdata.crypto", "custdata.parallel",
             "custdata.store")
CLI_MAY = ("custdata.api", "custdata.errors", "custdata.models", "custdata.cli")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("custdata")}


@pytest.mark.parametrize("module", ["store/crypto.py", "store/forget.py", "store/extra.py"])
def test_the_secure_store_modules_import_no_domain_code(module: str) -> None:
    bad = {m for m in _imports(SRC / module)
           if not any(m == ok or m.startswith(ok + ".") for ok in STORE_MAY)}
    assert bad == set()
    assert "custdata.crypto.recode" not in _imports(SRC / module)


def test_the_secure_cli_imports_only_the_api() -> None:
    bad = {m for m in _imports(SRC / "cli/secure.py")
           if not any(m == ok or m.startswith(ok + ".") for ok in CLI_MAY)}
    assert bad == set()
