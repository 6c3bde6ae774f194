"""Issue 19 (files must never be lost or exposed): `backup PATH` and `restore BACKUP`."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from custdata.errors import ExitCode
from tests.conftest import Cli, make_csv

ROWS = [["external_id", "name", "email"], ["C1", "Ann", "ann@example.com"],
        ["C2", "Bo", "bo@example.com"]]


def _stock(cli: Cli, tmp_path: Path) -> Cli:
    """`cli` after importing ROWS."""
    path = tmp_path / "in.csv"
    path.write_bytes(make_csv(ROWS))
    assert cli("import", "contacts", path).exit_code == 0
    return cli


@pytest.fixture
def stocked(cli: Cli, tmp_path: Path) -> Cli:
    return _stock(cli, tmp_path)


@pytest.fixture
def estocked(ecli: Cli, tmp_path: Path) -> Cli:
    """`stocked` on each engine (sqlite, postgres)."""
    return _stock(ecli, tmp_path)


def _stem(cli: Cli) -> str:
    """The name a dated backup of this store starts with: the file's, or the database's."""
    return cli.db.stem if cli.engine == "sqlite" else str(cli.db).rsplit("/", 1)[1]


def _last_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error:") and "Traceback" not in result.stderr
    return lines[-1]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _damage(db: Path) -> None:
    """Swap two indexes' root pages: the file opens, integrity_check finds missing rows."""
    with closing(sqlite3.connect(db)) as conn:
        (a, ra), (b, rb) = conn.execute(
            "SELECT name, rootpage FROM sqlite_master WHERE type = 'index' AND "
            "tbl_name = 'contacts' AND sql IS NOT NULL ORDER BY name LIMIT 2").fetchall()
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = ?", (rb, a))
        conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = ?", (ra, b))
        conn.commit()


# ---- backup ---------------------------------------------------------------------------

def test_a_folder_that_does_not_exist_gets_made_and_a_new_dated_file_each_run(
        estocked: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    for _ in range(2):
        assert estocked("backup", f"{folder}/").exit_code == 0
    copies = sorted(folder.iterdir())
    assert folder.is_dir() and len(copies) == 2
    assert all(p.name.startswith(f"{_stem(estocked)}-") and p.suffix == ".db" for p in copies)
    assert _mode(folder) == 0o700


def test_a_folder_whose_parent_is_missing_is_a_clear_error(estocked: Cli, tmp_path: Path) -> None:
    result = estocked("backup", f"{tmp_path}/no/such/")
    assert result.exit_code == ExitCode.USAGE
    assert "does not exist" in _last_error(result)
    assert not (tmp_path / "no").exists()


def test_an_existing_file_is_never_overwritten_without_force(estocked: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = estocked("backup", notes)
    assert result.exit_code == ExitCode.USAGE
    assert "already exists" in _last_error(result) and "--force" in result.stderr
    assert notes.read_text() == "my notes\n"
    assert estocked("backup", notes, "--force").exit_code == 0
    with closing(sqlite3.connect(notes)) as conn:
        assert conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == 2


def test_a_store_failing_its_integrity_check_is_not_backed_up(stocked: Cli, tmp_path) -> None:
    _damage(stocked.db)
    result = stocked("backup", tmp_path / "copy.db")
    assert result.exit_code == ExitCode.STORE
    assert "integrity check" in _last_error(result)
    assert not (tmp_path / "copy.db").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_copy_that_fails_its_check_is_not_kept(estocked: Cli, tmp_path, monkeypatch) -> None:
    from custdata.store import Store

    monkeypatch.setattr(Store, "backup", lambda self, target: Path(target).write_bytes(b"junk"))
    result = estocked("backup", tmp_path / "copy.db")
    assert result.exit_code == ExitCode.STORE
    assert "failed its check" in _last_error(result)
    assert not (tmp_path / "copy.db").exists()


def test_backup_of_a_missing_store_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    result = cli("backup", tmp_path / "copy.db")
    assert result.exit_code == ExitCode.USAGE
    assert "init" in _last_error(result)
    assert not cli.db.exists() and not (tmp_path / "copy.db").exists()


def _run(*args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "custdata", *args], capture_output=True,
                          text=True, preexec_fn=lambda: os.umask(umask))


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o002])
def test_store_wal_and_backups_are_created_0600(tmp_path: Path, umask: int) -> None:
    db, csv_file = tmp_path / "crm.db", tmp_path / "in.csv"
    csv_file.write_bytes(make_csv(ROWS))
    done = _run("--db", str(db), "import", "contacts", str(csv_file), umask=umask)
    assert done.returncode == 0, done.stderr
    with closing(sqlite3.connect(db)) as conn:  # a reader keeps the -wal and -shm files
        conn.execute("SELECT count(*) FROM contacts").fetchone()
        assert _run("--db", str(db), "import", "contacts", str(csv_file),
                    umask=umask).returncode == 0
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert _mode(path) == 0o600, path
    done = _run("--db", str(db), "backup", str(tmp_path / "copy.db"), umask=umask)
    assert done.returncode == 0, done.stderr
    assert _mode(tmp_path / "copy.db") == 0o600


def test_a_stricter_umask_is_kept(stocked: Cli, tmp_path: Path) -> None:
    done = _run("--db", str(stocked.db), "backup", str(tmp_path / "copy.db"), umask=0o277)
    assert done.returncode == 0, done.stderr
    assert _mode(tmp_path / "copy.db") == 0o400


# ---- restore --------------------------------------------------------------------------

def test_restore_puts_the_backup_back_and_logs_it(stocked: Cli, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    assert stocked("backup", copy).exit_code == 0
    more = tmp_path / "more.csv"
    more.write_bytes(make_csv([ROWS[0], ["C3", "Cy", "cy@example.com"]]))
    assert stocked("import", "contacts", more).exit_code == 0 and stocked.count("contacts") == 3
    result = stocked("restore", copy)
    assert result.exit_code == 0, result.output
    assert stocked.count("contacts") == 2
    assert stocked.sql("SELECT command FROM oplog ORDER BY id DESC LIMIT 1")[0][0].endswith(
        f"restore {copy}")
    assert _mode(stocked.db) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()
                  if p.name.startswith(".") or "restore" in p.name) == []
    assert stocked("export", "contacts", "-f", "csv").exit_code == 0


@pytest.mark.parametrize("what", ["damaged", "text", "foreign"])
def test_an_unsound_backup_is_refused_and_the_store_untouched(stocked: Cli, tmp_path: Path,
                                                              what: str) -> None:
    bad = tmp_path / "bad.db"
    if what == "damaged":
        shutil.copy(stocked.db, bad)
        _damage(bad)
    elif what == "text":
        bad.write_text("external_id,name\nC1,Ann\n")
    else:
        with closing(sqlite3.connect(bad)) as conn:
            conn.execute("CREATE TABLE t (x)")
    before = stocked.db.read_bytes()
    result = stocked("restore", bad)
    assert result.exit_code == ExitCode.USAGE
    assert "cannot be restored" in _last_error(result)
    assert stocked.db.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_restore_of_the_store_itself_or_a_missing_file_is_refused(stocked: Cli, tmp_path) -> None:
    assert stocked("restore", stocked.db).exit_code == ExitCode.USAGE
    result = stocked("restore", tmp_path / "nope.db")
    assert result.exit_code == ExitCode.USAGE and "No backup file" in _last_error(result)


def test_the_current_store_comes_back_when_the_restored_one_fails_to_open(
        stocked: Cli, tmp_path: Path, monkeypatch) -> None:
    import custdata.store as store_module
    from custdata.errors import StoreError

    copy = tmp_path / "copy.db"
    assert stocked("backup", copy).exit_code == 0
    more = tmp_path / "more.csv"
    more.write_bytes(make_csv([ROWS[0], ["C3", "Cy", "cy@example.com"]]))
    assert stocked("import", "contacts", more).exit_code == 0
    real, calls = store_module.open_store, []

    def failing_second_open(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:  # the check that the restored store opens
            raise StoreError("cannot open")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_module, "open_store", failing_second_open)
    result = stocked("restore", copy)
    assert result.exit_code == ExitCode.STORE
    assert stocked.count("contacts") == 3
    assert "restore" not in " ".join(c for (c,) in stocked.sql("SELECT command FROM oplog"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_team_store_is_not_restored_over_but_told_to_copy(ecli: Cli, stocked_copy: Path,
                                                            tmp_path: Path) -> None:
    if ecli.engine == "sqlite":
        assert ecli("restore", stocked_copy).exit_code == 0
        assert ecli.count("contacts") == 2
        return
    more = tmp_path / "more.csv"
    more.write_bytes(make_csv([ROWS[0], ["C3", "Cy", "cy@example.com"]]))
    assert ecli("import", "contacts", more).exit_code == 0
    result = ecli("restore", stocked_copy)
    assert result.exit_code == ExitCode.USAGE
    assert f"custdata copy {stocked_copy} {ecli.db}" in _last_error(result)
    assert [r[0] for r in ecli.sql("SELECT external_id FROM contacts")] == ["C3"]


def test_restore_without_a_store_creates_it(cli: Cli, stocked_copy: Path) -> None:
    assert cli("restore", stocked_copy).exit_code == 0
    assert cli.count("contacts") == 2 and _mode(cli.db) == 0o600


@pytest.fixture
def stocked_copy(tmp_path: Path) -> Path:
    other = Cli(tmp_path / "other" / "crm.db")
    other.db.parent.mkdir()
    path = tmp_path / "in.csv"
    path.write_bytes(make_csv(ROWS))
    assert other("import", "contacts", path).exit_code == 0
    assert other("backup", tmp_path / "copy.db").exit_code == 0
    return tmp_path / "copy.db"


def test_restore_from_python(tmp_path: Path, stocked_copy: Path) -> None:
    from custdata.api import Session, backups

    done = backups.restore(Session(db=tmp_path / "new.db"), stocked_copy)
    assert not done.replaced and len(done.sha256) == 64
    again = backups.backup(Session(db=tmp_path / "new.db"), f"{tmp_path}/later/")
    assert again.parent == tmp_path / "later" and again.exists()
