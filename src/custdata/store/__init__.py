"""The store: the only code that talks SQL.

`Store` is made of components, one per subject (contacts, history, oplog, imports,
merges, segments, crypto, ...), sharing one database-facing object (`SQLiteDatabase`)
and one protector (custdata.crypto's plain or AES-GCM sealer). Every write runs inside
`Store.write(...)`: the write lock is taken first, then the facts the write depends on
(the encryption state and key) are read under it, and the operation-log row commits
with the change or not at all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from custdata.crypto import PlainProtector
from custdata.store.audit import AuditFacts
from custdata.store.churn import ChurnFacts
from custdata.store.contacts import Contacts
from custdata.store.crypto import CryptoState, CryptoStore
from custdata.store.database import SQLiteDatabase, translate_db_error as _sqlite_error
from custdata.store.dedupe import Merges
from custdata.store.files import copy_database, copy_problems, swap_in
from custdata.store.dedupe_memory import DedupeMemory
from custdata.store.forget import Forget
from custdata.store.history import History
from custdata.store.imports import Imports
from custdata.store.linked import Linked, Tables
from custdata.store.location import is_server_url, store_location
from custdata.store.meta import Meta
from custdata.store.oplog import Operation, OpLog, committed_operations, utc_now
from custdata.store.quality import Cleaning
from custdata.store.rejects import Rejects
from custdata.store.reporting import Reporting
from custdata.store.search import SearchIndex
from custdata.store.segments import Segments
from custdata.store.suppression import Suppression
from custdata.store.team import PermissionDenied, Team

# protector_for(state) -> the protector for the encryption state read under the lock.
ProtectorFactory = Callable[["CryptoState | None"], Any]
# The synchronisation points of every write, in order (see Store.pause_at).
WRITE_POINTS = ("write:before-lock", "write:locked", "write:committed")


def _no_pause(point: str) -> None:
    return None


class Store:
    """A custdata store: one database, one protector, a component per subject.

    Use `open_store(path, ...)` (or `custdata.api.Session.store()`) to get one.
    """

    def __init__(self, db: Any, *, protector: Any = None,
                 protector_for: ProtectorFactory | None = None) -> None:
        self.db = db
        self.protector = protector or PlainProtector()
        self.protector_for = protector_for
        # Why the last write's compaction (see CryptoStore.finish_scrub) was left for later.
        self.scrub_left: str | None = None
        # pause_at(point): called at each of WRITE_POINTS, so that a test can run another
        # command right there (custdata.api.Session.pause_at; the CLI's CUSTDATA_SYNC_DIR).
        self.pause_at: Callable[[str], None] = _no_pause
        self.meta = Meta(self)
        self.oplog = OpLog(self)
        self.history = History(self)
        self.contacts = Contacts(self)
        self.linked = Linked(self)
        self.tables = Tables(self)
        self.rejects = Rejects(self)
        self.imports = Imports(self)
        self.cleaning = Cleaning(self)
        self.merges = Merges(self)
        self.dedupe = DedupeMemory(self)
        self.forget = Forget(self)
        self.suppression = Suppression(self)
        self.segments = Segments(self)
        self.churn = ChurnFacts(self)
        self.audit = AuditFacts(self)
        self.crypto = CryptoStore(self)
        self.reporting = Reporting(self)
        self.search = SearchIndex(self)
        self.team = Team(self)

    @property
    def read_only(self) -> bool:
        """Opened without write access (a read-only file, folder or mount)."""
        return self.db.read_only

    @property
    def path(self) -> Path | str:
        """The store's file, or its server URL (no password) for a team store."""
        return self.db.path

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self, command: str, *, input_file: str | None = None, sha256: str | None = None,
              dry_run: bool = False, role: str = "editor") -> Iterator[Operation]:
        """One all-or-nothing write with its operation-log row; rolled back if dry_run.

        The lock comes first: BEGIN IMMEDIATE, then the encryption state is read again
        under it (`protector_for`), so a key rotated or columns encrypted by another
        command since this one opened the store are seen before anything is written.
        On a team store the login must hold `role` (editor; admin for the erasing and
        re-keying commands): PermissionDenied (exit 3) names it.
        `pause_at` is called just before the lock, just after it and just after the commit.
        """
        self.pause_at("write:before-lock")
        self.db.begin_write()
        try:
            self.team.require(role, _command_name(command))
            self.pause_at("write:locked")
            if self.protector_for is not None:
                self.protector = self.protector_for(self.crypto.state())
            op = self.oplog.start(command, input_file=input_file, sha256=sha256)
            yield op
            if dry_run:
                self.db.rollback()
                return
            self.oplog.finish(op)
            self.db.commit()
            self.pause_at("write:committed")
            self.oplog.committed(op)
        except BaseException:
            self.db.rollback()
            raise
        self.scrub_left = self.crypto.finish_scrub() if self.crypto.scrub_pending() else None

    def integrity_problems(self) -> list[str]:
        """What SQLite's integrity_check finds wrong with the store ([] when it is sound)."""
        return self.db.integrity_problems()

    def backup(self, target: Path) -> None:
        """An online, consistent copy of the store written into `target` (the caller's file,
        see custdata.outputs). A full disk or an unwritable target is an OSError."""
        self.db.backup(target)


def _command_name(command: str) -> str:
    """"custdata --db X forget C1" -> "`custdata forget`" (the words, not the values)."""
    words = [w for w in command.split() if w != "custdata"]
    while words and words[0].startswith("-"):
        flag = words[0] in ("-q", "--quiet", "--debug") or "=" in words[0]
        words = words[1:] if flag else words[2:]
    return f"`custdata {' '.join(words[:1]) or command}`"


def translate_db_error(exc: BaseException, path: Path | str) -> Any:
    """A StoreError with the fix for an engine's error (SQLite's or PostgreSQL's), or None."""
    found = _sqlite_error(exc, path)
    if found is None and "psycopg" in sys.modules:
        from custdata.store.location import redact
        from custdata.store.pg_errors import translate_pg_error

        return translate_pg_error(exc, redact(path) if is_server_url(path) else str(path))
    return found


def open_store(path: Path | str, *, wait: float = 30.0,
               protector: Any = None, protector_for: ProtectorFactory | None = None,
               create: bool = True, read_only: bool = False) -> Store:
    """Open (creating and migrating if needed) the store at `path`.

    create=False: a missing store is an error (reading commands); read_only: open
    read-only when it cannot be written. Raises StoreError (exit 3) for a locked,
    damaged, foreign or newer-schema file. A `postgresql://` URL opens the team store on
    that server (custdata.store.postgres) instead of an SQLite file; read_only there reads
    in one snapshot (PostgresDatabase.hold_snapshot).
    """
    if is_server_url(path):
        from custdata.store.postgres import PostgresDatabase

        db: Any = PostgresDatabase.open(str(store_location(path)), wait=wait, create=create,
                                        read_only=read_only)
        if read_only:  # a reading command: one consistent view of the team store
            db.hold_snapshot()
    else:
        db = SQLiteDatabase.open(path, wait=wait, create=create, read_only=read_only)
    return Store(db, protector=protector, protector_for=protector_for)


__all__ = ["Store", "open_store", "WRITE_POINTS", "Operation", "PlainProtector",
           "copy_database", "copy_problems", "swap_in",
           "committed_operations", "translate_db_error", "utc_now", "CryptoState",
           "is_server_url", "store_location", "PermissionDenied"]
