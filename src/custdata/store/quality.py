"""`clean_contacts`: rewrite stored contacts to their normalized form inside an open write."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from custdata.clean import CLEANED_FIELDS, DERIVED_COLUMNS, clean_rows
from custdata.models import Change
from custdata.normalize import email_key, phone_key
from custdata.store.component import Component

_REMEMBERED = (*CLEANED_FIELDS, "email_key", "phone_key", "id_number_key")
_FLUSH = 5000  # contacts per batch of UPDATEs


class Cleaning(Component):
    """The store side of `custdata clean` (and of `import --clean`)."""

    def clean_contacts(self, op: Any, *, region: str, dayfirst: bool,
                       contact_ids: Iterable[int] | None = None, dry_run: bool = False,
                       collect: bool = True, workers: int | None = None,
                       ) -> tuple[dict[str, int], list[Change]]:
        """Clean every contact (or those in `contact_ids`) inside the open write `op`.

        Returns counts (contacts "checked", contacts "changed", then changed values per
        field, for the fields that changed) and the changes (history rows, operation "clean"). With dry_run nothing is
        written and `op` may be None. collect=False keeps memory flat on big stores by
        returning no changes (they are still written to the history).
        """
        rows = self.store.contacts.iter() if contact_ids is None else self.store.contacts.by_ids(contact_ids)
        counts: dict[str, int] = {"checked": 0, "changed": 0, **dict.fromkeys(CLEANED_FIELDS, 0)}
        kept: list[Change] = []
        pending: list[tuple[int, dict[str, str | None], list[Change], dict]] = []

        def counted(source: Iterator[dict]) -> Iterator[dict]:
            for row in source:
                counts["checked"] += 1
                old_of[row["id"]] = {f: row.get(f) for f in _REMEMBERED}
                yield row

        # clean_rows reports only new values; the old ones are remembered per chunk in
        # flight (bounded by the pool's look-ahead) and dropped once the row is seen.
        old_of: dict[int, dict[str, Any]] = {}
        for cid, diff in clean_rows(counted(rows), region=region, dayfirst=dayfirst,
                                    workers=workers):
            cid = int(cid)
            old = old_of.pop(cid)
            changes = [Change(cid, f, old[f], v, "clean") for f, v in diff.items()
                       if f not in DERIVED_COLUMNS]
            for change in changes:
                counts[change.field] += 1
            counts["changed"] += bool(changes)
            if collect:
                kept.extend(changes)
            if not dry_run:
                pending.append((cid, diff, changes, old))
                if len(pending) >= _FLUSH:
                    self._write_cleaned(op, pending, region)
                    pending = []
            _forget_seen(old_of, cid)
        if pending and not dry_run:
            self._write_cleaned(op, pending, region)
        counts = {k: v for k, v in counts.items() if v or k in ("checked", "changed")}
        return counts, kept

    def _write_cleaned(self, op: Any, pending: list[tuple[int, dict, list[Change], dict]],
                       region: str) -> None:
        """One UPDATE per contact (grouped by the columns it changes), then the history.

        A match key is written only when it differs from the stored one: clean rarely
        moves a key (the key is computed from the normalized value already), and every
        write to an indexed column costs an index update.
        """
        seal = self.protector.seal
        enc = self.protector.encrypted_columns
        idx = self.protector.index
        by_columns: dict[tuple[str, ...], list[list[Any]]] = defaultdict(list)
        for cid, diff, changes, old in pending:
            values = {c: seal("contacts", c, cid, v) if c in enc else v for c, v in diff.items()}
            for field, column, key_of in (
                    ("email", "email_key", email_key),
                    ("phone", "phone_key", lambda v: phone_key(v, region)),
                    ("id_number", "id_number_key", _id_number_key)):
                if field in diff:
                    key = idx(field, key_of(diff[field]))
                    if key != old.get(column):
                        values[column] = key
            if changes:  # a new phone_type alone is not a change of the contact's data
                values["changed_at"] = op.at
            by_columns[tuple(values)].append([*values.values(), cid])
        for columns, rows in by_columns.items():
            sets = ", ".join(f"{c} = ?" for c in columns)
            self.db.executemany(f"UPDATE contacts SET {sets} WHERE id = ?", rows)
        self.store.history.record(op.id, [c for _, _, changes, _ in pending for c in changes],
                            at=op.at)


def _forget_seen(old_of: dict[int, Any], cid: int) -> None:
    """Drop remembered rows up to `cid`: rows come back in order, unchanged ones never do."""
    while old_of:
        first = next(iter(old_of))
        if first > cid:
            return
        del old_of[first]


def _id_number_key(value: str | None) -> str | None:
    # The same key import computes, so a cleaned value still matches what import stores.
    from custdata.normalize import id_number_key

    return id_number_key(value)
