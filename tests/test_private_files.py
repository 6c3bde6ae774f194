"""Issue 19 (files must never be lost or exposed): personal data lands in private files,
and no output of a command is one of its inputs. Real processes: modes and redirects."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from custdata.errors import ExitCode
from tests.conftest import make_csv

ROWS = [["external_id", "name", "email"], ["C1", "Ann", "ann@example.com"],
        ["", "", ""], ["C2", "Bo", "bo@example.com"]]  # one reject


def _sh(script: str, cwd: Path, umask: int = 0o022) -> subprocess.CompletedProcess:
    """`script` in a shell whose `custdata` is this interpreter's."""
    custdata = f"{shlex.quote(sys.executable)} -m custdata"
    return subprocess.run(["sh", "-c", f"umask {umask:03o}; custdata() {{ {custdata} \"$@\"; }}; "
                           + script], cwd=cwd, capture_output=True, text=True)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "in.csv").write_bytes(make_csv(ROWS))
    done = _sh("custdata --db crm.db import contacts in.csv --rejects rejects.csv", tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_store_and_rejects_are_0600_under_a_loose_umask(folder: Path) -> None:
    assert _mode(folder / "crm.db") == 0o600
    assert _mode(folder / "rejects.csv") == 0o600


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "xlsx"])
def test_an_export_redirected_to_a_new_file_is_private(folder: Path, fmt: str) -> None:
    done = _sh(f"custdata --db crm.db export contacts -f {fmt} > out.{fmt}", folder)
    assert done.returncode == 0, done.stderr
    assert _mode(folder / f"out.{fmt}") == 0o600
    assert (folder / f"out.{fmt}").stat().st_size > 0


def test_an_existing_file_with_content_keeps_its_mode(folder: Path) -> None:
    (folder / "all.csv").write_text("earlier\n")
    os.chmod(folder / "all.csv", 0o644)
    assert _sh("custdata --db crm.db export contacts -f csv >> all.csv", folder).returncode == 0
    assert _mode(folder / "all.csv") == 0o644


def test_rejects_onto_the_file_read_from_stdin_is_refused(folder: Path) -> None:
    before = (folder / "in.csv").read_bytes()
    done = _sh("custdata --db crm.db import contacts - --rejects in.csv < in.csv", folder)
    assert done.returncode == ExitCode.USAGE
    assert "an input of this command" in done.stderr
    assert (folder / "in.csv").read_bytes() == before


@pytest.mark.parametrize("command", ["log", "export contacts -f csv"])
def test_printing_into_the_store_is_refused(folder: Path, command: str) -> None:
    size = (folder / "crm.db").stat().st_size
    done = _sh(f"custdata --db crm.db {command} >> crm.db", folder)
    assert done.returncode == ExitCode.USAGE
    assert "redirected into the store" in done.stderr
    assert (folder / "crm.db").stat().st_size == size


def test_printing_into_the_key_file_is_refused(folder: Path) -> None:
    assert _sh("custdata keygen --key-file k.key", folder).returncode == 0
    key = (folder / "k.key").read_bytes()
    done = _sh("custdata --db crm.db --key-file k.key log >> k.key", folder)
    assert done.returncode == ExitCode.USAGE and "the key file" in done.stderr
    assert (folder / "k.key").read_bytes() == key
