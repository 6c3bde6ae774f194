"""The store as a file: creating it private, checking a copy, copying one in, swapping it in.

`backup` and `restore` use these: a copy is checked with SQLite's `integrity_check` and
the schema version before it counts as a backup, and a restore copies the backup beside
the store, checks it there, and renames it over the store while the store is held
alone, so at every moment the store's path names either the old store or the new one.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from pathlib import Path

from custdata.errors import StoreError
from custdata.store.schema import SCHEMA_VERSION

PRIVATE_MODE = 0o600
CHECK_LIMIT = 3  # problems integrity_check reports at most


def create_private(path: Path) -> None:
    """Create the empty file `path` readable by its owner only (0600, or stricter with the
    umask); SQLite gives the store's -wal, -shm and -journal files the same mode. An
    existing file is left as it is."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return
    except OSError:
        return  # SQLite's own open reports why the store cannot be created
    os.close(fd)


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """What `PRAGMA integrity_check` finds wrong with the open database ([] when ok)."""
    rows = [r[0] for r in conn.execute(f"PRAGMA integrity_check({CHECK_LIMIT})")]
    return [] if rows == ["ok"] else rows


def _open_read_only(path: Path) -> sqlite3.Connection:
    """`path` opened without writing (immutable when its folder cannot hold a -shm)."""
    uri = path.resolve().as_uri() + "?mode=ro"
    if not os.access(path.parent, os.W_OK):
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True, isolation_level=None)


def copy_problems(path: Path) -> list[str]:
    """Why the database file at `path` is not a sound custdata store ([] when it is):
    not a database, a foreign or newer database, or damaged (integrity_check)."""
    try:
        conn = _open_read_only(path)
    except sqlite3.Error as exc:
        return [f"cannot be opened ({exc})"]
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master "
                              "WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]
        if version == 0:
            return ["it is not a custdata store" if tables else "it is an empty database"]
        if version > SCHEMA_VERSION:
            return [f"it was made by a newer custdata (schema {version})"]
        return integrity_problems(conn)
    except sqlite3.DatabaseError as exc:
        return [f"it is not a database ({exc})"]
    finally:
        conn.close()


def copy_database(source: Path, target: Path) -> None:
    """Copy the database at `source` (with its WAL, if any) into the file `target` through
    SQLite's backup API, in rollback-journal mode. An unreadable or non-database `source`
    is a ValueError saying why; the target's disk errors are OSErrors."""
    try:
        src = _open_read_only(source)
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise ValueError(f"it is not a readable database ({exc})") from exc
    try:
        dest = sqlite3.connect(target)
        try:
            src.backup(dest)
            dest.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error as exc:
            if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_FULL:
                raise OSError(errno.ENOSPC, "No space left on device", str(target)) from exc
            raise ValueError(f"it could not be copied ({exc})") from exc
        finally:
            dest.close()
    finally:
        src.close()


def swap_in(db: Path, staged: Path, aside: Path, *, wait: float) -> bool:
    """Put the file `staged` in the place of the store `db`, keeping the old store at
    `aside` (a hard link, else a copy) until the new one is in place; returns whether
    there was an old store. The old store is held alone first (no other command has it
    open) and its WAL folded into the file, so no stale WAL meets the new store."""
    if not db.exists():
        os.replace(staged, db)
        return False
    conn = sqlite3.connect(db, timeout=wait, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        _leave_wal(conn, db, wait)
        conn.execute("BEGIN EXCLUSIVE")  # nobody reads or writes while the file changes
        _keep_aside(db, aside)
        os.replace(staged, db)
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise StoreError(f"The store {db} could not be held alone to be replaced ({exc}); "
                         "nothing was changed. Try again later.", hint="wait") from exc
    finally:
        conn.close()
    return True


def _leave_wal(conn: sqlite3.Connection, db: Path, wait: float) -> None:
    """Switch `db` to a rollback journal, which needs every other connection closed."""
    deadline = time.monotonic() + wait
    while True:
        try:
            if conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete":
                return
        except sqlite3.OperationalError as exc:
            if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) not in (sqlite3.SQLITE_BUSY,
                                                                   sqlite3.SQLITE_LOCKED):
                raise
        if time.monotonic() >= deadline:
            raise StoreError(f"Another custdata command has the store {db} open; it waited "
                             "and gave up. Nothing was changed. Try again later.", hint="wait")
        time.sleep(0.05)


def _keep_aside(db: Path, aside: Path) -> None:
    try:
        os.link(db, aside)
    except OSError:
        import shutil

        create_private(aside)
        shutil.copyfile(db, aside)
