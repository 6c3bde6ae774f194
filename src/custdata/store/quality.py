"""The store side of `clean` (and of `import --clean`): contacts to clean, cleaned values to write.

No cleaning rule lives here: custdata.api.quality runs custdata.clean between the two
calls, one batch of a few thousand contacts at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from custdata.models import CleanedContact
from custdata.store.component import Component


class Cleaning(Component):
    """Streams the contacts to clean and writes cleaned values with their history."""

    def contacts_to_clean(self, contact_ids: Iterable[int] | None = None) -> Iterator[dict]:
        """Every contact (or those in `contact_ids`), unsealed, in id order, streamed."""
        if contact_ids is None:
            return self.store.contacts.iter()
        return self.store.contacts.by_ids(contact_ids)

    def write_cleaned(self, op: Any, batch: Sequence[CleanedContact]) -> None:
        """Write one batch inside the open write `op`: UPDATEs grouped by the columns they
        set, then the history rows.

        A match key is written only when its blind index (or plain key) differs from the
        stored one: clean rarely moves a key, and every write to an indexed column costs
        an index update. changed_at moves only for a contact with changes (a new
        phone_type alone is not a change of the contact's data).
        """
        seal = self.protector.seal
        enc = self.protector.encrypted_columns
        idx = self.protector.index
        by_columns: dict[tuple[str, ...], list[list[Any]]] = defaultdict(list)
        for cid, new, keys, old_keys, changes in batch:
            values = {c: seal("contacts", c, cid, v) if c in enc else v for c, v in new.items()}
            for kind, column, key in keys:
                stored = idx(kind, key)
                if stored != old_keys.get(column):
                    values[column] = stored
            if changes:
                values["changed_at"] = op.at
            by_columns[tuple(values)].append([*values.values(), cid])
        for columns, rows in by_columns.items():
            sets = ", ".join(f"{c} = ?" for c in columns)
            self.db.executemany(f"UPDATE contacts SET {sets} WHERE id = ?", rows)
        self.store.history.record(op.id, [c for item in batch for c in item.changes], at=op.at)
