"""Shared fixtures: a CLI runner bound to a fresh store, and small CSV builders."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from custdata.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class Cli:
    """Runs custdata against one store: cli("import", "contacts", path)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: Any, input: bytes | str | None = None, env: dict | None = None):
        argv = ["--db", str(self.db), *[str(a) for a in args]]
        return self.runner.invoke(app, argv, input=input, env=env, catch_exceptions=False)

    def rows(self, *args: Any) -> list[dict]:
        """Run a command with --format json and return its records."""
        result = self(*args, "--format", "json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def count(self, table: str) -> int:
        """Rows in a table; 0 when the store or the table does not exist yet."""
        if not self.db.exists():
            return 0
        with closing(sqlite3.connect(self.db)) as conn:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
                return 0
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def sql(self, query: str, *params: Any) -> list[tuple]:
        # closing: a connection left to the garbage collector keeps the store open, and
        # encrypt, rotate-key and forget wait for the store to be theirs alone
        with closing(sqlite3.connect(self.db)) as conn, conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "crm.db")


def make_csv(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8",
             newline: str = "\r\n") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return buf.getvalue().encode(encoding)


@pytest.fixture
def write_csv(tmp_path: Path):
    def _write(name: str, rows: list[list[str]], **kw: Any) -> Path:
        path = tmp_path / name
        path.write_bytes(make_csv(rows, **kw))
        return path
    return _write


CONTACT_ROWS = [
    ["external_id", "name", "email", "phone", "city"],
    ["C1", "张伟", "zhang.wei@qq.com", "138 0013 8000", "上海"],
    ["C2", "Bob Smith", "bob@example.com", "+1 650 253 0000", "Boston"],
    ["C3", "李娜", "lina@163.com", "13912345678", "北京"],
]


def wait_for_write_lock(db: Path, proc: subprocess.Popen, seconds: float = 60) -> bool:
    """True once `proc` holds the store's write lock (its transaction has begun)."""
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        probe = sqlite3.connect(db, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
        except sqlite3.OperationalError:  # "database is locked": the writer is in its transaction
            return True
        finally:
            probe.close()
        time.sleep(0.05)
    return False
