"""The SQLite store: opening, migrating, locking, the operation log and the history.

Every write runs inside `Store.write(...)`: one BEGIN IMMEDIATE transaction that either
commits with its operation-log row or rolls back completely, on an error, Ctrl-C or a
SIGTERM. A process killed with SIGKILL leaves the store as it was, by SQLite's journal.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Any

from custdata.config import Config, default_config
from custdata.crypto import PlainProtector
from custdata.errors import KeyFileError, StoreError, UsageError
from custdata.models import Change
from custdata.parallel import default_workers
from custdata.store.schema import MIGRATIONS, SCHEMA_VERSION

PAGE_CACHE_KIB = 48 * 1024  # SQLite page cache per connection, at most
PARALLEL_MIN_ORDERS = 200_000  # fewer orders: one query on the store's own connection
_HISTORY_CHUNK = 20_000  # history rows built and written at a time


_committed: list[int] = []  # operation ids committed by this process, in order


def committed_operations() -> list[int]:
    """Ids of the operations this process has committed (an interrupt after one of them
    must not claim the store was left as it was)."""
    return list(_committed)


def utc_now() -> str:
    """The current time as custdata stores it: ISO 8601 UTC, seconds, with a Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


@dataclass
class Operation:
    """The operation-log row of a write in progress; commands fill `counts`."""

    id: int
    at: str
    counts: dict[str, Any] = field(default_factory=dict)
    input_file: str | None = None
    sha256: str | None = None


def translate_db_error(exc: BaseException, path: Path | str) -> StoreError | None:
    """A StoreError with the fix for an sqlite3 error, or None if it is not one."""
    if not isinstance(exc, sqlite3.Error):
        return None
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreError(
            f"The store {path} is locked by another custdata command; it waited and gave up. "
            "Try again later, or wait longer with --wait SECONDS."
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"The store {path} is damaged or is not a custdata database ({text}). "
            "Restore it from a backup (`custdata backup`) or point --db at the right file."
        )
    if "unable to open" in text or "readonly" in text or "disk" in text:
        return StoreError(f"Cannot use the store {path}: {text}. Check the path and permissions.")
    return StoreError(f"The store {path} failed: {text}.")


class CoreStore:
    """Connection, schema, transactions, operation log, history, and contact lookups."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, config: Config,
                 protector: Any, command_line: str = "") -> None:
        self.conn = conn
        self.path = path
        self.config = config
        self.protector = protector
        self.command_line = command_line

    @property
    def db(self) -> Any:
        """An sqlite_utils view of the same connection (imported on first use: it is slow)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    # ---- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "CoreStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transactions --------------------------------------------------------------
    @contextmanager
    def write(self, command: str, *, input_file: str | None = None, sha256: str | None = None,
              dry_run: bool = False) -> Iterator[Operation]:
        """One all-or-nothing write with its operation-log row; rolled back if dry_run."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise translate_db_error(exc, self.path) from exc
        op = Operation(0, utc_now(), input_file=input_file, sha256=sha256)
        try:
            cur = self.conn.execute(
                "INSERT INTO oplog (at, user, command, input_file, input_sha256) "
                "VALUES (?, ?, ?, ?, ?)",
                (op.at, os_user(), command or self.command_line, input_file, sha256),
            )
            op.id = cur.lastrowid
            yield op
            if dry_run:
                self.conn.execute("ROLLBACK")
                return
            self.conn.execute(
                "UPDATE oplog SET counts = ?, input_file = ?, input_sha256 = ? WHERE id = ?",
                (json.dumps(op.counts, ensure_ascii=False, sort_keys=True), op.input_file,
                 op.sha256, op.id),
            )
            self.conn.execute("COMMIT")
            _committed.append(op.id)
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # ---- history -------------------------------------------------------------------
    def record_changes(self, op_id: int, changes: Iterable[Change], *, at: str | None = None) -> int:
        """Append history rows; values of encrypted columns are sealed like the column."""
        at = at or utc_now()
        seal = self.protector.seal
        written = 0
        changes = iter(changes)
        # In chunks, so memory stays flat when one command changes millions of rows (tag).
        while chunk := list(islice(changes, _HISTORY_CHUNK)):
            rows = [
                (c.contact_id, at, op_id, c.operation, c.field,
                 seal("history", c.field, c.contact_id, c.old),
                 seal("history", c.field, c.contact_id, c.new),
                 json.dumps(c.detail, ensure_ascii=False) if c.detail else None)
                for c in chunk
            ]
            self.conn.executemany(
                "INSERT INTO history (contact_id, at, op_id, operation, field, old, new, "
                "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            written += len(rows)
        return written

    def history_of(self, contact_id: int) -> list[dict]:
        rows = self.conn.execute(
            "SELECT h.id, h.at, h.operation, h.field, h.old, h.new, h.detail, h.op_id, o.user "
            "FROM history h LEFT JOIN oplog o ON o.id = h.op_id "
            "WHERE h.contact_id = ? ORDER BY h.id", (contact_id,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["old"] = self.protector.unseal("history", d["field"], contact_id, d["old"])
            d["new"] = self.protector.unseal("history", d["field"], contact_id, d["new"])
            d["detail"] = json.loads(d["detail"]) if d["detail"] else None
            out.append(d)
        return out

    # ---- operation log -------------------------------------------------------------
    def oplog(self, since: str | None = None) -> list[dict]:
        sql = "SELECT id, at, user, command, input_file, input_sha256, counts FROM oplog"
        args: tuple = ()
        if since:
            sql += " WHERE at >= ?"
            args = (since,)
        rows = []
        for r in self.conn.execute(sql + " ORDER BY id", args):
            d = dict(r)
            d["counts"] = json.loads(d["counts"] or "{}")
            rows.append(d)
        return rows

    # ---- contacts ------------------------------------------------------------------
    def unseal_row(self, table: str, row: dict) -> dict:
        """The row with its encrypted columns opened (or masked, without the key)."""
        cols = self.protector.encrypted_columns
        if not cols:
            return row
        rid = row["id"]
        sealed = getattr(self.protector, "sealed_columns", None)  # e.g. orders.customer_ref
        for col in sealed(table) if sealed else cols:
            if col in row:
                row[col] = self.protector.unseal(table, col, rid, row[col])
        return row

    def iter_contacts(self, where: str = "", args: tuple = (), *, batch: int = 5000) -> Iterator[dict]:
        """Every contact as a plain dict (decrypted view), in id order, streamed."""
        last = 0
        while True:
            sql = f"SELECT * FROM contacts WHERE id > ? {('AND ' + where) if where else ''} " \
                  f"ORDER BY id LIMIT {batch}"
            rows = self.conn.execute(sql, (last, *args)).fetchall()
            if not rows:
                return
            for r in rows:
                yield self.unseal_row("contacts", dict(r))
            last = rows[-1]["id"]

    def contact(self, contact_id: int) -> dict | None:
        row = self.conn.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
        return self.unseal_row("contacts", dict(row)) if row else None

    def find_contact_ids(self, *, contact_id: int | None = None, external_id: str | None = None,
                         email_key: str | None = None, phone_key: str | None = None,
                         id_number_key: str | None = None) -> list[int]:
        """Ids of contacts matching any of the given identifiers (keys already normalized)."""
        found: set[int] = set()
        probes = [("id", contact_id), ("external_id", external_id)]
        no_key = None  # without the key, blind-index probes cannot run; the others still can
        for column, kind, key in (("email_key", "email", email_key),
                                  ("phone_key", "phone", phone_key),
                                  ("id_number_key", "id_number", id_number_key)):
            try:
                probes.append((column, self.protector.index(kind, key)))
            except KeyFileError as exc:
                no_key = exc
        for column, value in probes:
            if value is None:
                continue
            found.update(r[0] for r in self.conn.execute(
                f"SELECT id FROM contacts WHERE {column} = ?", (value,)))
        if not found and no_key is not None:
            raise no_key
        return sorted(found)

    def contact_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM contacts").fetchone()[0]

    def orders_of(self, contact_id: int, limit: int | None = None) -> list[dict]:
        sql = ("SELECT * FROM orders WHERE contact_id = ? ORDER BY day DESC, id DESC"
               + (f" LIMIT {int(limit)}" if limit else ""))
        return [dict(r) for r in self.conn.execute(sql, (contact_id,))]

    def order_totals(self, contact_id: int) -> dict:
        row = self.conn.execute(
            "SELECT count(*) AS orders, "
            "sum(status_norm = 'paid') AS paid_orders, "
            "sum(CASE WHEN status_norm IN ('paid', 'refunded') THEN amount_value END) AS net_amount, "
            "min(CASE WHEN status_norm = 'paid' THEN day END) AS first_order, "
            "max(CASE WHEN status_norm = 'paid' THEN day END) AS last_order, "
            "group_concat(DISTINCT currency) AS currencies "
            "FROM orders WHERE contact_id = ?", (contact_id,)).fetchone()
        return dict(row)

    def interactions_of(self, contact_id: int, limit: int | None = None) -> list[dict]:
        sql = ("SELECT * FROM interactions WHERE contact_id = ? ORDER BY day DESC, id DESC"
               + (f" LIMIT {int(limit)}" if limit else ""))
        return [self.unseal_row("interactions", dict(r))
                for r in self.conn.execute(sql, (contact_id,))]

    # ---- export --------------------------------------------------------------------
    def iter_table(self, table: str, *, where: dict[str, str] | None = None,
                   changed_since: str | None = None, batch: int = 5000) -> Iterator[dict]:
        """Rows of contacts/orders/interactions for export, streamed in id order."""
        clauses, args = [], []
        sealed_of = getattr(self.protector, "sealed_columns", None)
        sealed = sealed_of(table) if sealed_of else frozenset()
        after: dict[str, str] = {}  # sealed columns (orders' customer refs): compare opened
        for column, value in (where or {}).items():
            if value == "":  # FIELD= : the records where FIELD is missing
                clauses.append(f"({column} IS NULL OR {column} = '')")
            elif table != "contacts" and column in sealed:
                after[column] = value
            elif table == "contacts" and column in _KEY_COLUMN_SQL:
                clauses.append(_KEY_COLUMN_SQL[column])  # by match key: any spelling matches
                args.append(self._key_of(column, value))
            elif table == "contacts" and column in self.protector.encrypted_columns:
                raise UsageError(f"--where {column}=...: {column} is encrypted and cannot be searched.")
            else:
                clauses.append(f"{column} = ?")
                args.append(value)
        if changed_since and table == "contacts":
            clauses.append("changed_at >= ?")
            args.append(changed_since)
        where_sql = " AND ".join(clauses)
        last = 0
        while True:
            sql = (f"SELECT * FROM {table} WHERE id > ? {('AND ' + where_sql) if where_sql else ''} "
                   f"ORDER BY id LIMIT {batch}")
            rows = self.conn.execute(sql, (last, *args)).fetchall()
            if not rows:
                return
            for r in rows:
                row = self.unseal_row(table, dict(r))
                if all(row[c] == v for c, v in after.items()):
                    yield row
            last = rows[-1]["id"]

    def _key_of(self, column: str, value: str) -> str | None:
        from custdata.normalize.keys import key_of as plain_key

        key = plain_key(column, value, self.config.get("general", "region"))
        return self.protector.index(column, key)

    def _fetch_by_contact_range(self, sql: str, params: dict[str, object],
                                ) -> tuple[list[tuple], list[str]]:
        """Rows of `sql` (with :lo/:hi contact bounds), in contact order.

        Big stores are split into contact-id ranges read in parallel on read-only
        connections (sqlite3 releases the GIL while it steps), one per CPU up to four.
        """
        workers = min(4, default_workers())
        orders = self.conn.execute("SELECT max(rowid) FROM orders").fetchone()[0] or 0
        top = self.conn.execute("SELECT max(id) FROM contacts").fetchone()[0] or 0
        if orders < PARALLEL_MIN_ORDERS or workers < 2 or self.conn.in_transaction:
            cur = self._tuples(sql, {**params, "lo": 0, "hi": top + 1})
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

    def _tuples(self, sql: str, params: Mapping[str, object] | tuple) -> sqlite3.Cursor:
        """A cursor yielding plain tuples (sqlite3.Row objects cost ~1 s per million)."""
        cur = self.conn.cursor()
        cur.row_factory = None
        return cur.execute(sql, params)

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

    def columns_of(self, table: str) -> list[str]:
        return [c.name for c in self.db[table].columns]

    # ---- rejects -------------------------------------------------------------------
    def add_rejects(self, op_id: int, kind: str, input_file: str | None,
                    rejects: Iterable[Any]) -> None:
        self.conn.executemany(
            "INSERT INTO rejects (op_id, kind, input_file, line, raw, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(op_id, kind, input_file, r.line, self.protector.seal("rejects", "raw", r.line, r.raw),
              r.reason) for r in rejects])

    # ---- backup --------------------------------------------------------------------
    def backup(self, target: Path) -> None:
        """An online, consistent copy of the store at `target`, swapped in atomically."""
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            dest = sqlite3.connect(tmp)
            try:
                self.conn.backup(dest)
                dest.execute("PRAGMA journal_mode=DELETE")
            finally:
                dest.close()
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


_KEY_COLUMN_SQL = {"email": "email_key = ?", "phone": "phone_key = ?",
                   "id_number": "id_number_key = ?"}


def open_store(path: Path | str, *, wait: float = 30.0, config: Config | None = None,
               protector: Any = None, command_line: str = "", store_class: type | None = None):
    """Open (creating and migrating if needed) the store at `path`.

    Raises StoreError (exit 3) for a locked, damaged, foreign or newer-schema file.
    """
    from custdata.store import Store  # the assembled class, with every capability's mixin

    path = Path(path)
    if path.is_dir():
        raise StoreError(f"{path} is a directory; --db needs a database file path.")
    if not path.parent.exists():
        raise StoreError(f"The folder of the store {path} does not exist; create it first.")
    try:
        conn = sqlite3.connect(path, timeout=wait, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise translate_db_error(exc, path) from exc
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        version = _schema_version(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        # Big imports update indexes at random places: with SQLite's default 2 MiB page
        # cache nearly every row evicts a page (2M orders into an indexed table went 40 %
        # faster with 64 MiB). 48 MiB keeps a 1M-contact import inside its 200 MiB budget
        # (64 MiB: 201 MiB). Pages are allocated as used: small commands do not pay.
        conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
        if version < SCHEMA_VERSION:
            _migrate(conn, version)
    except StoreError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise translate_db_error(exc, path) from exc
    cls = store_class or Store
    return cls(conn, path, config=config or default_config(),
               protector=protector or PlainProtector(), command_line=command_line)


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
                         "point --db at a custdata store or a new file.")
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
