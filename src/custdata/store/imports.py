"""The SQL of `import`: look-ups by key, batched inserts and updates, deferred indexes.

The import workflow (custdata.api.loading) prepares each batch of rows in the domain's
terms (match keys, parsed days and amounts, content keys, what changed) and asks this
component, once per batch, for the stored rows it could match and to write the result:
`IN (...)` look-ups and `executemany`, so memory stays flat and nothing here knows what
a phone number is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any

from custdata.models import CONTACT_FIELDS, Reject
from custdata.store.component import Component
from custdata.store.extra import seal_extra

# A load of orders or interactions that has inserted DEFER_AFTER rows into a table that
# held fewer than DEFER_MAX_HELD drops the table's secondary indexes (none serves the
# import's own look-ups) and builds them again at the end, in the same transaction: one
# sort per index instead of a random index update per row (10M orders: see RESULTS.md).
DEFER_AFTER = 100_000
DEFER_MAX_HELD = 1_000_000
# The columns of an order line as the import writes them (id aside).
LINE_COLUMNS = ("order_pk", "line_key", "product", "category", "quantity", "amount",
                "amount_value", "extra")
CONTACT_COLUMNS = ["id", *CONTACT_FIELDS, "extra", "email_key", "phone_key", "id_number_key",
                   "changed_at"]


def _row_values(protector: Any, table: str, sealed: Iterable[str], order: list[str],
                ) -> Callable[[dict], Any]:
    """Row dict -> its values in `order`, the `sealed` columns sealed for `table`, and the
    copies of encrypted fields in its `extra` sealed too (store.extra)."""
    sealed = frozenset(sealed)
    if not sealed and not protector.encrypted_columns:
        return itemgetter(*order)
    seal = protector.seal

    def value(r: dict, c: str) -> Any:
        if c in sealed:
            return seal(table, c, r["id"], r.get(c))
        if c == "extra":
            return seal_extra(protector, r["id"], r.get(c), table)
        return r.get(c)

    return lambda r: [value(r, c) for c in order]


class Imports(Component):
    """`loader(op, kind, input_file)`: the store side of one import."""

    def loader(self, op: Any, kind: str, input_file: str | None) -> "Loader":
        return Loader(self, op, kind, input_file)


class Loader:
    """One import's look-ups and writes inside the open write `op` (ids, indexes, rejects)."""

    def __init__(self, part: Imports, op: Any, kind: str, input_file: str | None) -> None:
        self.part, self.db, self.op = part, part.db, op
        self.kind, self.input_file = kind, input_file
        self.next_id = self.db.next_id(kind)
        held = self.next_id - 1  # about the rows the table held (ids are never reused)
        self._may_defer = kind != "contacts" and held < DEFER_MAX_HELD
        self._deferred: list[str] | None = None  # CREATE INDEX statements to run at the end
        self._inserted = 0
        self._next_line: int | None = None  # order lines' ids, from the first one written
        self._first_id = self.next_id
        self._marks: list[str] | None = None  # the find index's paused per-row marks

    def new_id(self) -> int:
        """The id of the next inserted row (ids are never reused)."""
        self.next_id += 1
        return self.next_id - 1

    def blind(self, field: str, keys: list[str | None]) -> list[str | None]:
        """Match keys as stored (blind indexes when the store is encrypted)."""
        index = self.part.protector.index
        return [index(field, k) for k in keys]

    def rows_where_in(self, table: str, column: str, values: Iterable[Any],
                      columns: str = "*") -> list[dict]:
        """Stored rows whose `column` is one of `values`, in id order, sealed columns opened."""
        rows = self.db.rows_where_in(table, column, values, columns)
        if columns != "*":
            return rows
        return [self.part.unseal_row(table, r) for r in rows]

    def write_contacts(self, inserts: list[dict], updates: list[dict]) -> None:
        """Insert and update contact rows (CONTACT_COLUMNS), sealing encrypted columns
        and their copies in `extra`."""
        cols = CONTACT_COLUMNS
        protector = self.part.protector
        enc = protector.encrypted_columns
        if inserts:
            if self._marks is None:  # new contacts join the find index's stale list at the end
                self._marks = self.part.store.search.pause_insert_marks()
            values = _row_values(protector, "contacts", enc, cols)
            self.db.insert_rows("contacts", cols, [values(r) for r in inserts])
        if updates:
            values = _row_values(protector, "contacts", enc, [*cols[1:], "id"])
            self.db.update_rows("contacts", cols[1:], [values(r) for r in updates])

    def write_linked(self, inserts: list[dict], updates: list[dict]) -> None:
        """Insert and update order or interaction rows (all rows of a list share columns);
        the customer reference and the copies of encrypted fields in `extra` sealed."""
        kind = self.kind
        if self._may_defer and self._deferred is None and self._inserted >= DEFER_AFTER:
            self._deferred = self.db.drop_indexes(kind)
        protector = self.part.protector
        sealed = protector.sealed_columns(kind)  # customer_ref, when encrypted
        for rows, verb in ((inserts, "INSERT"), (updates, "UPDATE")):
            if not rows:
                continue
            cols = [c for c in rows[0] if c != "id"]
            order = ["id", *cols] if verb == "INSERT" else [*cols, "id"]
            values = _row_values(protector, kind, sealed, order)
            if verb == "INSERT":
                self.db.insert_rows(kind, order, [values(r) for r in rows])
            else:
                self.db.update_rows(kind, cols, [values(r) for r in rows])
        self._inserted += len(inserts)

    def new_line_id(self) -> int:
        """The id of the next inserted order line."""
        if self._next_line is None:
            self._next_line = self.db.next_id("order_lines")
        self._next_line += 1
        return self._next_line - 1

    def write_lines(self, inserts: list[dict], updates: list[dict]) -> None:
        """Insert and update order lines (id and LINE_COLUMNS), the copies of encrypted
        fields in their `extra` sealed (store.extra)."""
        cols = list(LINE_COLUMNS)
        protector = self.part.protector
        if inserts:
            values = _row_values(protector, "order_lines", (), ["id", *cols])
            self.db.executemany(
                f"INSERT INTO order_lines (id, {','.join(cols)}) "
                f"VALUES (?, {','.join('?' * len(cols))})", [values(r) for r in inserts])
        if updates:
            sets = ",".join(f"{c} = ?" for c in cols)
            values = _row_values(protector, "order_lines", (), [*cols, "id"])
            self.db.executemany(f"UPDATE order_lines SET {sets} WHERE id = ?",
                                [values(r) for r in updates])

    def reject(self, rejects: list[Reject]) -> None:
        """Keep rejected rows in the rejects table (raw text sealed when encrypted)."""
        if rejects:
            self.part.store.rejects.add(self.op.id, self.kind, self.input_file, rejects)

    def finish(self) -> None:
        """Build again the indexes a big load dropped, and mark the inserted contacts
        stale for the find index (same transaction)."""
        for sql in self._deferred or ():
            self.db.execute(sql)
        self._deferred = None
        if self._marks is not None:
            self.part.store.search.resume_insert_marks(self._marks, self._first_id)
            self._marks = None
