"""The one class that talks to the database engine: `SQLiteDatabase`.

It owns the connection and everything engine-specific: opening with the store's
pragmas, schema migrations, the write transaction and its lock, how engine errors map
to StoreError, online backup, and checkpoints. The components of `Store` (contacts,
orders, history, oplog, ...) speak SQL through it and never open connections
themselves, so a second engine implements this class and keeps their SQL.
"""

from __future__ import annotations

import os
import errno
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from custdata.errors import StoreError, UsageError
from custdata.parallel import default_workers
from custdata.store.files import create_private, integrity_problems
from custdata.store.schema import MIGRATIONS, SCHEMA_VERSION

PAGE_CACHE_KIB = 48 * 1024  # SQLite page cache per connection, at most
PARALLEL_MIN_ORDERS = 200_000  # fewer orders: one query on the store's own connection
IN_LIMIT = 500  # values per `IN (...)` look-up

_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_CANNOT_USE = {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
               sqlite3.SQLITE_FULL, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH}


def translate_db_error(exc: BaseException, path: Path | str) -> StoreError | None:
    """A StoreError with the fix for an sqlite3 error, or None if it is not one.

    Judged by SQLite's primary result code (`sqlite_errorcode`), not the message text.
    """
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary in _BUSY:
        return StoreError(
            f"The store {path} is locked by another custdata command; it waited and gave up. "
            "Try again later.", hint="wait")
    if primary in _DAMAGED:
        return StoreError(
            f"The store {path} is damaged or is not a custdata database ({text}). "
            "Restore it from a backup or point at the right file."
        )
    if primary == sqlite3.SQLITE_FULL:
        return StoreError(f"Cannot write the store {path}: the disk is full. Free some space "
                          "and run the command again; nothing was changed.")
    if primary in _CANNOT_USE:
        return StoreError(f"Cannot use the store {path}: {text}. Check the path and permissions.")
    return StoreError(f"The store {path} failed: {text}.")


class SQLiteDatabase:
    """A custdata SQLite file, opened, migrated and tuned; the only holder of its connection."""

    dialect = "sqlite"
    read_only = False  # opened without write access (a read-only file or mount)
    login: str | None = None  # the database user (None: the operating-system user)
    IntegrityError = sqlite3.IntegrityError

    def __init__(self, conn: sqlite3.Connection, path: Path, wait: float = 30.0) -> None:
        self.conn = conn
        self.path = path
        self.wait = wait

    # ---- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path | str, *, wait: float = 30.0, create: bool = True,
             read_only: bool = False) -> "SQLiteDatabase":
        """Open (creating and migrating if needed) the store file at `path`.

        create=False: a missing file is a UsageError (exit 2) naming the path; reading
        commands never create a store. read_only: open without writing anything, and
        read-only by itself when the file or its folder cannot be written (a read-only
        mount, say). Raises StoreError (exit 3) for a locked, damaged, foreign or
        newer-schema file.
        """
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"{path} is a directory; the store must be a database file path.")
        if not path.parent.exists():
            raise StoreError(f"The folder of the store {path} does not exist; create it first.")
        if not create and not path.exists():
            raise UsageError(f"There is no store at {path}; create one with `custdata init` "
                             "(or point at the right file).", hint="db")
        readonly = read_only and not _writable(path)
        if create and not path.exists():
            create_private(path)  # 0600: the WAL and shared-memory files take its mode
        try:
            conn = _connect(path, wait=wait, readonly=readonly)
        except sqlite3.Error as exc:
            raise translate_db_error(exc, path) from exc
        try:
            version = _schema_version(conn, path)
            if not readonly:
                _use_wal(conn)
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA synchronous = NORMAL")
            # Big imports update indexes at random places: with SQLite's default 2 MiB page
            # cache nearly every row evicts a page (2M orders into an indexed table went
            # 40 % faster with 64 MiB). 48 MiB keeps a 1M-contact import inside its 200 MiB
            # budget (64 MiB: 201 MiB). Pages are allocated as used: small commands do not pay.
            conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
            if version < SCHEMA_VERSION:
                if readonly:
                    raise StoreError(f"The store {path} was made by an older custdata and "
                                     "cannot be upgraded where it cannot be written.")
                _migrate(conn, version)
        except (StoreError, UsageError):
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise translate_db_error(exc, path) from exc
        database = cls(conn, path, wait)
        database.read_only = readonly
        return database

    def close(self) -> None:
        self.conn.close()

    # ---- transactions --------------------------------------------------------------
    def begin_write(self) -> None:
        """Take the write lock now (BEGIN IMMEDIATE), waiting up to the busy timeout."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise translate_db_error(exc, self.path) from exc

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def may_write(self, table: str) -> bool:
        """Whether `table` may be written: the file was opened for writing."""
        return not self.read_only

    # ---- statements ----------------------------------------------------------------
    def execute(self, sql: str, params: Mapping[str, object] | Iterable[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)

    def tuples(self, sql: str, params: Mapping[str, object] | Iterable[Any] = ()) -> sqlite3.Cursor:
        """A cursor yielding plain tuples (sqlite3.Row objects cost ~1 s per million)."""
        cur = self.conn.cursor()
        cur.row_factory = None
        return cur.execute(sql, params)

    def rows(self, sql: str, params: Mapping[str, object] | Iterable[Any] = ()) -> list[dict]:
        return [dict(r) for r in self.conn.execute(sql, params)]

    def insert_rows(self, table: str, columns: list[str], rows: list[Any]) -> None:
        """Insert `rows` (values in `columns` order) into `table`."""
        marks = ",".join("?" * len(columns))
        self.conn.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})",
                              rows)

    def update_rows(self, table: str, columns: list[str], rows: list[Any]) -> None:
        """Set `columns` of the rows whose id is each row's last value (values in order)."""
        sets = ",".join(f"{c} = ?" for c in columns)
        self.conn.executemany(f"UPDATE {table} SET {sets} WHERE id = ?", rows)

    def stream(self, sql: str, params: Mapping[str, object] | Iterable[Any] = ()) -> sqlite3.Cursor:
        """A cursor yielding plain tuples as they are read (fetchmany in batches)."""
        return self.tuples(sql, params)

    def after_copy(self, tables: Iterable[str]) -> None:
        """Nothing to do after rows were copied in with their ids (SQLite picks max + 1)."""

    def insert(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one INSERT; the id of the row it made."""
        return int(self.conn.execute(sql, tuple(params)).lastrowid)

    def rows_where_in(self, table: str, column: str, values: Iterable[Any],
                      columns: str = "*") -> list[dict]:
        """Rows of `table` whose `column` is one of `values`, in id order (a few IN queries)."""
        values = [v for v in set(values) if v is not None]
        found: list[dict] = []
        for i in range(0, len(values), IN_LIMIT):
            part = values[i:i + IN_LIMIT]
            marks = ",".join("?" * len(part))
            found.extend(dict(r) for r in self.conn.execute(
                f"SELECT {columns} FROM {table} WHERE {column} IN ({marks}) ORDER BY id", part))
        return found

    def fetch_by_contact_range(self, sql: str, params: dict[str, object],
                               ) -> tuple[list[tuple], list[str]]:
        """Rows of `sql` (with :lo/:hi contact bounds), in contact order, and their columns.

        Big stores are split into contact-id ranges read in parallel on read-only
        connections (sqlite3 releases the GIL while it steps), one per CPU up to four.
        """
        workers = min(4, default_workers())
        orders = self.conn.execute("SELECT max(rowid) FROM orders").fetchone()[0] or 0
        top = self.conn.execute("SELECT max(id) FROM contacts").fetchone()[0] or 0
        if orders < PARALLEL_MIN_ORDERS or workers < 2 or self.conn.in_transaction:
            cur = self.tuples(sql, {**params, "lo": 0, "hi": top + 1})
            return cur.fetchall(), [d[0] for d in cur.description]
        bounds = [1 + (top * i) // workers for i in range(workers)] + [top + 1]
        bounds[0] = 0
        uri = Path(self.path).resolve().as_uri() + "?mode=ro"

        def part(lo: int, hi: int) -> tuple[list[tuple], list[str]]:
            conn = sqlite3.connect(uri, uri=True, timeout=30.0, check_same_thread=False)
            try:
                cur = conn.execute(sql, {**params, "lo": lo, "hi": hi})
                return cur.fetchall(), [d[0] for d in cur.description]
            finally:
                conn.close()

        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(part, bounds[:-1], bounds[1:]))
        return [row for rows, _ in parts for row in rows], parts[0][1]

    def next_id(self, table: str) -> int:
        return self.conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]

    def columns_of(self, table: str) -> list[str]:
        return [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]

    def drop_indexes(self, table: str, columns: Iterable[str] | None = None) -> list[str]:
        """Drop the indexes of `table` (those on any of `columns`, or all); their CREATE SQL.

        For bulk writes: sorting every key once when the index is created again beats a
        random index update per row. Run inside a write, so a rollback brings them back.
        The UNIQUE constraints' own indexes are never dropped.
        """
        wanted = None if columns is None else set(columns)
        rebuild = []
        for name, sql in self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND sql IS NOT NULL ORDER BY name", (table,)).fetchall():
            if wanted is None or wanted & {r[0] for r in self.conn.execute(
                    "SELECT name FROM pragma_index_info(?)", (name,))}:
                self.conn.execute(f'DROP INDEX "{name}"')
                rebuild.append(sql)
        return rebuild

    def pause_trigger(self, name: str) -> list[str]:
        """Drop trigger `name` for a bulk write; the statements that bring it back ([] when
        there is none).

        Even a trigger that does nothing costs every inserted row a copy of the new row
        (~25 µs for a contact), against one set-based statement after the writes. Run
        inside a write, so a rollback brings the trigger back.
        """
        row = self.conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                "AND name = ?", (name,)).fetchone()
        if row is None:
            return []
        self.conn.execute(f'DROP TRIGGER "{name}"')
        return [row[0]]

    @contextmanager
    def indexes_dropped(self, table: str, columns: Iterable[str] | None = None) -> Iterator[None]:
        """Drop `table`'s indexes (on `columns`) for a bulk update; rebuild them after.

        Runs inside the caller's transaction: a rollback brings the indexes back.
        """
        rebuild = self.drop_indexes(table, columns)
        yield
        for sql in rebuild:
            self.conn.execute(sql)

    # ---- the file ------------------------------------------------------------------
    def secure_delete(self, on: bool = True) -> None:
        """Overwrite deleted content with zeros from now on (for erasing and re-keying)."""
        self.conn.execute(f"PRAGMA secure_delete = {'ON' if on else 'OFF'}")

    def cache_kib(self, kib: int) -> None:
        self.conn.execute(f"PRAGMA cache_size = -{int(kib)}")

    def checkpoint(self) -> bool:
        """Copy the WAL into the file and truncate it; False when a reader kept it busy."""
        busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    def vacuum(self) -> None:
        self.conn.execute("VACUUM")

    @contextmanager
    def rollback_journal(self) -> Iterator[None]:
        """Run the enclosed writes with a rollback journal instead of the WAL; WAL after.

        With secure_delete on, a committed transaction then leaves no old value in the
        file (it was overwritten in place) nor in a journal (deleted at the commit), even
        if the process is killed right after the commit: the WAL would keep the old pages
        in the file until a checkpoint. Leaving WAL mode needs every other connection
        closed: waits up to the busy timeout, then StoreError; nothing is changed.
        """
        deadline = time.monotonic() + self.wait
        while True:
            try:
                mode = self.conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if _code(exc) not in _BUSY:
                    raise translate_db_error(exc, self.path) from exc
                mode = "wal"
            if mode == "delete":
                break
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"Another custdata command has the store {self.path} open, and this one "
                    "must have it alone to leave no old value behind; it waited and gave up. "
                    "Nothing was changed. Try again when the other command ends.", hint="wait")
            time.sleep(0.05)
        try:
            yield
        finally:
            _use_wal(self.conn)

    def in_rollback_journal(self) -> bool:
        """True when the store runs with a rollback journal now (see rollback_journal)."""
        return self.conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"

    def compact(self) -> str | None:
        """VACUUM, then copy the WAL into the file and truncate it (secure_delete on).

        Returns None when done, else why it could not be (another reader, a full disk).
        """
        try:
            self.secure_delete(True)
            self.vacuum()
            if self.checkpoint():
                return None
            return "another process is reading the store"
        except sqlite3.Error as exc:  # the change is committed: never an error from here
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if _code(exc) == sqlite3.SQLITE_FULL:
                return "the disk is full"
            if _code(exc) in _BUSY:
                return "another process is using the store"
            return f"SQLite said: {exc}"

    def integrity_problems(self) -> list[str]:
        """What SQLite's integrity_check finds wrong with the store ([] when it is sound)."""
        try:
            return integrity_problems(self.conn)
        except sqlite3.DatabaseError as exc:
            return [str(exc)]

    def backup(self, target: Path) -> None:
        """An online, consistent copy of the store at `target` (a new file), in DELETE mode."""
        try:
            dest = sqlite3.connect(target)
        except sqlite3.Error as exc:
            raise OSError(errno.EACCES, str(exc), str(target)) from exc
        try:
            self.conn.backup(dest)
            dest.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error as exc:  # the copy's side: said as the OS error it is
            primary = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if primary == sqlite3.SQLITE_FULL:
                raise OSError(errno.ENOSPC, "No space left on device", str(target)) from exc
            if primary in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
                raise OSError(errno.EACCES, str(exc), str(target)) from exc
            raise
        finally:
            dest.close()


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the store in WAL mode, unless another connection keeps it in rollback mode.

    A re-keying or an erasure runs with a rollback journal (see rollback_journal) and
    may be under way: then this connection works in that mode, waiting on its locks.
    """
    try:
        conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.OperationalError as exc:
        if _code(exc) not in _BUSY:
            raise


def _writable(path: Path) -> bool:
    """Whether this process may write the store: the file, its folder (for the WAL), and
    the file system (a read-only mount refuses even root)."""
    folder = path.parent
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return False
    return not os.statvfs(folder).f_flag & os.ST_RDONLY


def _connect(path: Path, *, wait: float, readonly: bool) -> sqlite3.Connection:
    """A connection with the store's busy timeout; read-only by URI when `readonly`
    (immutable when even the WAL's shared memory cannot be made)."""
    if readonly:
        uri = path.resolve().as_uri() + "?mode=ro"
        if not (path.with_name(path.name + "-shm").exists()):
            uri += "&immutable=1"
        conn = sqlite3.connect(uri, uri=True, timeout=wait, isolation_level=None,
                               check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=wait, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    return conn


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The store's schema version; StoreError for a newer custdata's or a foreign database."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"The store {path} was made by a newer custdata (schema {version}; this "
            f"version knows {SCHEMA_VERSION}). Upgrade custdata to use it."
        )
    if version == 0 and conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]:
        raise StoreError(f"{path} is an SQLite database but not a custdata store; "
                         "point at a custdata store or a new file.")
    return version


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Run the missing migrations in one transaction; re-check the version under the lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for number in range(current, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement knows quoting)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buf.strip():
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
