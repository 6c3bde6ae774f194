"""Copying a whole store between engines (SQLite <-> PostgreSQL) and checking the copy.

The source is read in one snapshot; the target, which must be empty, is written in one
transaction; every table's row count and a SHA-256 of its rows (in id order, values as
JSON) are compared before the commit, so a copy that differs is never kept. History,
merges (unmerge works on the copy), audit runs, rejects, order lines, the suppression list
and the operation log go too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custdata.errors import StoreError, UsageError

# In foreign-key order; each table's row order (merges: the order they were made).
TABLES: tuple[tuple[str, str], ...] = (
    ("oplog", "id"), ("contacts", "id"), ("orders", "id"), ("order_lines", "id"),
    ("interactions", "id"),
    ("rejects", "id"), ("history", "id"), ("merges", "rowid"), ("audit_runs", "id"),
    ("meta", "key"), ("rfm_cells", "contact_id"), ("dedupe_labels", "contact_a, contact_b"),
    ("suppressed", "id"),
)
# ids the server hands out (sequences moved past the copied ids)
SERIAL_TABLES = ("oplog", "rejects", "history", "audit_runs", "order_lines", "suppressed")
BATCH = 5000


@dataclass
class CopyResult:
    """What a copy moved: rows per table and the content hash both sides agree on."""

    counts: dict[str, int] = field(default_factory=dict)
    sha256: str = ""


def _columns(source: Any, target: Any, table: str) -> list[str]:
    """The columns both stores have (the server's merges.seq stays behind)."""
    theirs = set(target.columns_of(table))
    return [c for c in source.columns_of(table) if c in theirs and c != "seq"]


def _normal(value: Any) -> Any:
    """A value as both engines give it back (REAL 3.0 and an integer 3 hash alike)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _digest(db: Any, table: str, order: str, columns: list[str]) -> tuple[int, str]:
    """(rows, SHA-256 of the rows in order) of one table."""
    digest = hashlib.sha256()
    count = 0
    cur = db.stream(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
    while rows := cur.fetchmany(BATCH):
        for row in rows:
            digest.update(json.dumps([_normal(v) for v in row], ensure_ascii=False,
                                     default=str).encode())
            digest.update(b"\n")
        count += len(rows)
    return count, digest.hexdigest()


def _ensure_empty(target: Any, where: str) -> None:
    for table, _ in TABLES:
        if target.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
            raise UsageError(f"The target store {where} already holds data ({table}); "
                             "copy into a new, empty store.")


def _copy_table(source: Any, target: Any, table: str, order: str, columns: list[str]) -> int:
    marks = ", ".join("?" for _ in columns)
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    cur = source.stream(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
    copied = 0
    while rows := cur.fetchmany(BATCH):
        target.executemany(insert, rows)
        copied += len(rows)
    return copied


def copy_store(source: Any, target: Any) -> CopyResult:
    """Copy every table of `source` into the empty store `target` (both open database
    objects), compare counts and content hashes, and commit; StoreError when they differ
    (nothing is kept), UsageError when the target holds data."""
    result = CopyResult()
    whole = hashlib.sha256()
    target.begin_write()
    try:
        _ensure_empty(target, str(target.path))
        source.execute("BEGIN")  # one read snapshot of the source
        try:
            for table, order in TABLES:
                columns = _columns(source, target, table)
                _copy_table(source, target, table, order, columns)
                theirs = _digest(source, table, order, columns)
                ours = _digest(target, table, order, columns)
                if theirs != ours:
                    raise StoreError(f"The copy of {table} differs from the source "
                                     f"({ours[0]} rows against {theirs[0]}); nothing was kept.")
                result.counts[table] = ours[0]
                whole.update(f"{table}:{ours[1]}\n".encode())
        finally:
            source.execute("COMMIT")
        target.after_copy(SERIAL_TABLES)
        target.commit()
    except BaseException:
        target.rollback()
        raise
    result.sha256 = whole.hexdigest()
    return result


def snapshot_to_sqlite(source: Any, target: Path) -> CopyResult:
    """A consistent snapshot of the store `source` as a new SQLite store file `target`."""
    from custdata.store.database import SQLiteDatabase

    dest = SQLiteDatabase.open(target)
    try:
        result = copy_store(source, dest)
        dest.conn.execute("PRAGMA journal_mode = DELETE")  # one file, no WAL beside it
        return result
    finally:
        dest.close()
