"""`export rejects`: the rows imports could not store, read back from the store.

    from custdata.api import Session, rejects
    for row in rejects.export_rejects(Session(db=Path("crm.db")), operation=3):
        print(row["line"], row["reason"])
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from custdata.api.session import Session
from custdata.errors import UsageError

# `operation` is the import's id in `log`.
REJECT_COLUMNS = ["id", "operation", "kind", "input_file", "line", "reason", "raw"]


def export_rejects(session: Session, *, operation: int | None = None) -> Iterator[dict]:
    """The kept rejects (REJECT_COLUMNS), oldest first; `operation`: only those of that
    import (its id in `log`; an unknown id is a UsageError). The raw text is opened with
    the key, masked without it. A generator: the store stays open while it is read."""
    rows = _rows(session, operation)
    next(rows)  # opens the store and checks the operation now, before any row is read
    return rows


def _rows(session: Session, operation: int | None) -> Iterator[Any]:
    with session.store(read_only=True) as store:
        if operation is not None and not store.rejects.operation_exists(operation):
            raise UsageError(f"No operation {operation} in the log; `log` lists them.")
        yield None
        for row in store.rejects.rows(operation):
            row["operation"] = row.pop("op_id")
            yield {c: row[c] for c in REJECT_COLUMNS}
