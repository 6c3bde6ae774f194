"""The history table: every recorded change to a stored contact value."""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import islice

from custdata.models import Change
from custdata.store.component import Component
from custdata.store.extra import seal_extra, unseal_extra

_CHUNK = 20_000  # history rows built and written at a time


class History(Component):
    """Append and read recorded changes; values of encrypted columns sealed like the column."""

    def record(self, op_id: int, changes: Iterable[Change], *, at: str) -> int:
        """Append history rows (none whose old value equals its new one); returns how
        many were written."""
        seal = self.protector.seal
        written = 0
        changes = iter(changes)
        # In chunks, so memory stays flat when one command changes millions of rows (tag).
        while chunk := list(islice(changes, _CHUNK)):
            # A value "changed" to itself is no change: never a row with old = new
            # (rows without a value, such as forget's or encrypt's markers, stay).
            chunk = [c for c in chunk if c.old is None or c.old != c.new]
            rows = [
                (c.contact_id, at, op_id, c.operation, c.field,
                 *((seal_extra(self.protector, c.contact_id, c.old),
                    seal_extra(self.protector, c.contact_id, c.new)) if c.field == "extra" else
                   (seal("history", c.field, c.contact_id, c.old),
                    seal("history", c.field, c.contact_id, c.new))),
                 json.dumps(c.detail, ensure_ascii=False) if c.detail else None)
                for c in chunk
            ]
            self.db.insert_rows("history", ["contact_id", "at", "op_id", "operation", "field",
                                            "old", "new", "detail"], rows)
            written += len(rows)
        return written

    def of(self, contact_id: int) -> list[dict]:
        """Every change to one contact, oldest first, values opened (or masked)."""
        rows = self.db.execute(
            "SELECT h.id, h.at, h.operation, h.field, h.old, h.new, h.detail, h.op_id, o.user "
            "FROM history h LEFT JOIN oplog o ON o.id = h.op_id "
            "WHERE h.contact_id = ? ORDER BY h.id", (contact_id,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            for side in ("old", "new"):
                d[side] = (unseal_extra(self.protector, contact_id, d[side])
                           if d["field"] == "extra" else
                           self.protector.unseal("history", d["field"], contact_id, d[side]))
            d["detail"] = json.loads(d["detail"]) if d["detail"] else None
            out.append(d)
        return out

    def delete_of(self, contact_id: int) -> int:
        return self.db.execute("DELETE FROM history WHERE contact_id = ?", (contact_id,)).rowcount
