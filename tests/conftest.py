"""Shared fixtures: a CLI runner bound to a fresh store, and small CSV builders."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
from contextlib import closing
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from custdata.cli import app
from tests.pg_server import PgServer, ServerUnavailable, start_server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class Cli:
    """Runs custdata against one store: cli("import", "contacts", path).

    `db` is an SQLite file, or a team store's postgresql:// URL (`engine` "postgres").
    """

    def __init__(self, db: Path | str) -> None:
        self.db = db
        self.engine = "sqlite" if isinstance(db, Path) else "postgres"
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
        if self.engine == "postgres":
            found = self.sql("SELECT to_regclass(?) IS NOT NULL", table)[0][0]
            return self.sql(f"SELECT count(*) FROM {table}")[0][0] if found else 0
        if not self.db.exists():
            return 0
        with closing(sqlite3.connect(self.db)) as conn:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
                return 0
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def dump(self) -> str:
        """Every row of every table as text (SQLite's iterdump; each table's rows on a server)."""
        if self.engine == "sqlite":
            with closing(sqlite3.connect(self.db)) as conn:
                return "\n".join(conn.iterdump())
        tables = self.sql("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                          "ORDER BY tablename")
        return "\n".join(f"{name}: {row[0]}" for (name,) in tables
                         for row in self.sql(f"SELECT t::text FROM {name} t"))

    def sql(self, query: str, *params: Any) -> list[tuple]:
        if self.engine == "postgres":
            import psycopg

            with psycopg.connect(str(self.db), autocommit=True) as conn:
                cur = conn.execute(query.replace("?", "%s"), params or None)
                return cur.fetchall() if cur.description else []
        # closing: a connection left to the garbage collector keeps the store open, and
        # encrypt, rotate-key and forget wait for the store to be theirs alone
        with closing(sqlite3.connect(self.db)) as conn, conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "crm.db")


# ---- the second engine: a throwaway PostgreSQL server (tests/pg_server.py) -------------

@pytest.fixture(scope="session")
def pg_server() -> Any:
    """One server per test process, stopped at the end. Skips when it cannot be started,
    except under CI=true, where a missing second engine fails the run."""
    try:
        server = start_server()
    except ServerUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the PostgreSQL test server: {exc}")
        pytest.skip(f"no PostgreSQL test server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Any:
    """A new empty database on the test server, as a store URL; dropped after the test."""
    name = pg_server.new_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=ENGINES)
def engine(request: Any) -> str:
    return request.param


@pytest.fixture
def store_db(engine: str, tmp_path: Path, request: Any) -> Path | str:
    """The store of a test run on both engines: a file, or a database on the test server."""
    if engine == "sqlite":
        return tmp_path / "crm.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def ecli(store_db: Path | str) -> Cli:
    """`cli` on each engine in turn (parametrised: sqlite, postgres)."""
    return Cli(store_db)


@pytest.fixture
def copy_store(request: Any) -> Any:
    """copy_store(db, target) -> a copy of the store `db`: the file copied to `target` on
    SQLite, a new database cloned on the test server (dropped after the test) for a URL."""
    made: list[str] = []

    def _copy(db: Path | str, target: Path) -> Path | str:
        if isinstance(db, Path):
            with closing(sqlite3.connect(db)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return Path(shutil.copy(db, target))
        url = request.getfixturevalue("pg_server").clone_database(db)
        made.append(url)
        return url

    yield _copy
    if made:
        server = request.getfixturevalue("pg_server")
        for url in made:
            server.drop_database(url.rsplit("/", 1)[1])


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
