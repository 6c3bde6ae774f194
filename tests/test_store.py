"""The store: schema versions, damage, locking, atomicity under failure and SIGKILL."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from custdata.errors import ExitCode
from custdata.store import open_store
from custdata.store.schema import SCHEMA_VERSION
from tests.conftest import CONTACT_ROWS, Cli, make_csv, wait_for_write_lock

CUSTDATA = [sys.executable, "-m", "custdata"]


def test_new_store_is_versioned_wal_with_foreign_keys(tmp_path) -> None:
    with open_store(tmp_path / "s.db") as store:
        assert store.db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_newer_schema_is_refused_with_exit_3(cli) -> None:
    cli("export", "contacts")
    with sqlite3.connect(cli.db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    result = cli("export", "contacts")
    assert result.exit_code == ExitCode.STORE and "newer custdata" in result.stderr


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100,
                                     b"SQLite format 3\x00" + b"\xff" * 4000])
def test_corrupt_file_is_exit_3(cli, content: bytes) -> None:
    cli.db.write_bytes(content)
    result = cli("export", "contacts")
    assert result.exit_code == ExitCode.STORE
    assert "damaged" in result.stderr and "Traceback" not in result.output


def test_foreign_sqlite_database_is_refused(cli) -> None:
    with sqlite3.connect(cli.db) as conn:
        conn.execute("CREATE TABLE t (x)")
    result = cli("export", "contacts")
    assert result.exit_code == ExitCode.STORE and "not a custdata store" in result.stderr


def test_a_writing_command_creates_the_store_a_reading_one_never(cli) -> None:
    assert not cli.db.exists()
    assert cli("log").exit_code == 2  # issue 19: a reading command never creates a store
    assert not cli.db.exists()
    assert cli("tag").exit_code == 0
    assert cli.db.exists()


def test_exception_mid_import_leaves_store_unchanged(ecli, write_csv, monkeypatch) -> None:
    cli = ecli
    cli("import", "contacts", write_csv("a.csv", CONTACT_ROWS))
    before = cli.sql("SELECT * FROM contacts ORDER BY id")
    from custdata.api import loading
    from custdata.store import imports

    calls = {"n": 0}
    original = imports.Loader.write_contacts

    def failing(self, inserts, updates):
        calls["n"] += 1
        original(self, inserts, updates)
        if calls["n"] == 2:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(loading, "BATCH", 2)
    monkeypatch.setattr(imports.Loader, "write_contacts", failing)
    rows = [["email", "city"]] + [[f"u{i}@x.com", "杭州"] for i in range(6)] + [["lina@163.com", "变"]]
    with pytest.raises(RuntimeError):
        cli("import", "contacts", write_csv("b.csv", rows))
    assert calls["n"] == 2
    assert cli.sql("SELECT * FROM contacts ORDER BY id") == before
    assert cli.sql("SELECT count(*) FROM oplog") == [(1,)]


def _big_csv(path: Path, n: int) -> None:
    rows = [["external_id", "name", "email", "phone"]]
    rows += [[f"X{i}", f"Name {i}", f"user{i}@example.com", f"1380000{i:04d}"] for i in range(n)]
    path.write_bytes(make_csv(rows))


def _snapshot(db: Path) -> list:
    with sqlite3.connect(db) as conn:
        return [conn.execute("SELECT * FROM contacts ORDER BY id").fetchall(),
                conn.execute("SELECT count(*) FROM oplog").fetchall()]


def _feed(proc: subprocess.Popen, data: bytes) -> threading.Thread:
    """Write `data` to the process's stdin pipe from a thread (it may die mid-way)."""
    def write() -> None:
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
@pytest.mark.parametrize("source", ["file", "pipe"])  # a pipe is parsed by a forked reader
def test_killed_import_leaves_store_consistent_and_unchanged(tmp_path, sig, source) -> None:
    db = tmp_path / "k.db"
    small = tmp_path / "small.csv"
    small.write_bytes(make_csv(CONTACT_ROWS))
    subprocess.run([*CUSTDATA, "--db", db, "import", "contacts", small], check=True,
                   capture_output=True)
    before = _snapshot(db)
    big = tmp_path / "big.csv"
    _big_csv(big, 150_000)
    proc = subprocess.Popen([*CUSTDATA, "--db", db, "import", "contacts",
                             big if source == "file" else "-"],
                            stdin=subprocess.PIPE if source == "pipe" else None,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if source == "pipe":
        _feed(proc, big.read_bytes())
    assert wait_for_write_lock(db, proc), "import finished before it could be interrupted"
    time.sleep(0.5)  # well inside the transaction: rows are being written
    assert proc.poll() is None, "import finished before it could be interrupted"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == ExitCode.INTERRUPTED
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _snapshot(db) == before


@pytest.mark.slow
def test_second_writer_waits_then_succeeds(tmp_path) -> None:
    db = tmp_path / "w.db"
    Cli(db)("log")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    csv_path = tmp_path / "c.csv"
    csv_path.write_bytes(make_csv(CONTACT_ROWS))
    proc = subprocess.Popen([*CUSTDATA, "--db", db, "--wait", "20", "import", "contacts", csv_path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    assert proc.poll() is None, "the second writer did not wait for the lock"
    holder.execute("COMMIT")
    holder.close()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert b"inserted 3" in err


@pytest.mark.slow
def test_writer_gives_up_after_wait_with_exit_3(tmp_path) -> None:
    db = tmp_path / "w.db"
    Cli(db)("log")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    csv_path = tmp_path / "c.csv"
    csv_path.write_bytes(make_csv(CONTACT_ROWS))
    try:
        proc = subprocess.run([*CUSTDATA, "--db", db, "--wait", "0.5", "import", "contacts",
                               csv_path], capture_output=True, timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == ExitCode.STORE
    assert b"locked" in proc.stderr


def test_backup_is_a_consistent_copy(cli, write_csv, tmp_path) -> None:
    cli("import", "contacts", write_csv("c.csv", CONTACT_ROWS))
    target = tmp_path / "bk.db"
    assert cli("backup", target).exit_code == 0
    copy = Cli(target)
    assert copy.rows("export", "contacts") == cli.rows("export", "contacts")
    folder = tmp_path / "backups"
    folder.mkdir()
    assert cli("backup", folder).exit_code == 0
    assert len(list(folder.glob("crm-*.db"))) == 1


def test_interrupt_after_commit_says_the_changes_were_saved(ecli, write_csv, monkeypatch) -> None:
    cli = ecli
    from custdata.store import Store

    path = write_csv("c.csv", CONTACT_ROWS)
    real_close = Store.close

    def close_then_interrupt(self: Store) -> None:  # Ctrl-C just after the COMMIT
        real_close(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "close", close_then_interrupt)
    result = cli("import", "contacts", path)
    monkeypatch.undo()
    assert result.exit_code == ExitCode.INTERRUPTED
    assert "interrupted after operation 1 was saved" in result.stderr
    assert cli.count("contacts") == len(CONTACT_ROWS) - 1


def test_interrupt_before_commit_says_nothing_changed(ecli, write_csv, monkeypatch) -> None:
    cli = ecli
    from custdata.api import loading

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(loading, "load", interrupted)
    result = cli("import", "contacts", write_csv("c.csv", CONTACT_ROWS))
    assert result.exit_code == ExitCode.INTERRUPTED
    assert "the store was left as it was before this command" in result.stderr
    assert cli.count("contacts") == 0
