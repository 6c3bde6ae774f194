"""Upserting imported records in batches: contacts by key, orders and interactions by customer.

Records arrive as a stream; each batch of `BATCH` rows is resolved against the store with
a few `IN (...)` queries and written with `executemany`, so memory stays flat and the
work per row is a few dictionary look-ups.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from operator import itemgetter
from typing import Any

from custdata.errors import CheckFailed
from custdata.ingest import (
    STORED_FIELDS, Record, changed_values, content_key, normalize_status,
    parse_day, parse_satisfaction,
)
from custdata.models import CONTACT_FIELDS, Change, ImportCounts, Reject, Skipped
from custdata.normalize import email_key, phone_key
from custdata.recode import KEY_KINDS

BATCH = 2000
_IN_LIMIT = 500
# A load of orders or interactions that has inserted DEFER_AFTER rows into a table that
# held fewer than DEFER_MAX_HELD drops the table's secondary indexes (none serves the
# import's own look-ups) and builds them again at the end, in the same transaction: one
# sort per index instead of a random index update per row (10M orders: see RESULTS.md).
DEFER_AFTER = 100_000
DEFER_MAX_HELD = 1_000_000


def _extra_text(extra: dict) -> str:
    """The stored JSON text of an `extra` object ("{}" without a json call when empty)."""
    return json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else "{}"


def _contact_diff(row: dict, rec: Record, compare: Callable[[dict], dict],
                  mapped: frozenset[str] = frozenset()) -> dict[str, str]:
    """Field -> incoming value (as read) for each field that changes, `extra` merged
    (less the keys of columns that now map to a field: `mapped`)."""
    diff = changed_values(row, compare(rec.values), CONTACT_FIELDS)
    diff = {f: rec.values[f] for f in diff}  # stored as read; `--clean` runs after
    stored_extra = json.loads(row["extra"] or "{}")
    extra = {**stored_extra, **rec.extra}
    for key in mapped & extra.keys():
        del extra[key]
    if extra != stored_extra:
        diff["extra"] = _extra_text(extra)
    return diff


def _row_values(seal: Callable, table: str, sealed: Iterable[str], order: list[str],
                ) -> Callable[[dict], Any]:
    """Row dict -> its values in `order`, the `sealed` columns sealed for `table`."""
    sealed = frozenset(sealed)
    if not sealed:
        return itemgetter(*order)
    return lambda r: [seal(table, c, r["id"], r.get(c)) if c in sealed else r.get(c)
                      for c in order]


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


class ImportMixin:
    """`import_records`: the write path of `custdata import`."""

    def import_records(self, op: Any, kind: str, items: Iterable[Record | Reject], *,
                       input_file: str | None, on_conflict: str = "update",
                       region: str = "CN", dayfirst: bool = False,
                       on_reject: Callable[[Reject], None] | None = None,
                       on_progress: Callable[[int], None] | None = None,
                       compare_as: Callable[[dict], dict] | None = None,
                       track_touched: bool = False, mapped: frozenset[str] = frozenset(),
                       ) -> tuple[ImportCounts, list[int]]:
        """Store a stream of records inside the open write `op`; return counts and touched ids.

        `compare_as` maps incoming contact values to the form they take once stored (the
        cleaned form with `import --clean`), so re-importing a file changes nothing.
        The ids of inserted/updated contacts are returned only with `track_touched` (for
        `--clean`): without it memory stays flat however long the file is. `mapped`
        names the input columns read as fields: a stored `extra` loses those keys.
        """
        tally = dict.fromkeys(("read", "inserted", "updated", "unchanged", "rejected",
                               "skipped"), 0)
        touched: set[int] = set()
        state: dict[str, Any] = {"next_id": self._next_id(kind), "seen": {},
                                 "compare": compare_as, "track": track_touched,
                                 "mapped": mapped}
        held = state["next_id"] - 1  # about the rows the table held (ids are never reused)
        may_defer = kind != "contacts" and held < DEFER_MAX_HELD
        deferred: list[str] | None = None  # CREATE INDEX statements to run at the end
        for batch in _batches(items, BATCH):
            if may_defer and deferred is None and tally["inserted"] >= DEFER_AFTER:
                deferred = self.drop_indexes(kind)
            rejects = [r for r in batch if isinstance(r, Reject)]
            records = [r for r in batch if isinstance(r, Record)]
            if kind == "contacts":
                self._upsert_contacts(op, records, tally, touched, state, on_conflict)
            else:
                self._upsert_linked(kind, records, tally, rejects, state, on_conflict,
                                    region, dayfirst)
            if rejects:
                self.add_rejects(op.id, kind, input_file, rejects)
                for r in rejects:
                    if on_reject:
                        on_reject(r)
            tally["read"] += len(batch)
            tally["rejected"] += len(rejects)
            tally["skipped"] += sum(1 for r in batch if isinstance(r, Skipped))
            if on_progress:
                on_progress(len(batch))
        for sql in deferred or ():
            self.conn.execute(sql)
        return ImportCounts(**tally), sorted(touched) if track_touched else []

    def _next_id(self, kind: str) -> int:
        return self.conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {kind}").fetchone()[0]

    def _rows_where_in(self, table: str, column: str, values: Iterable[Any],
                       columns: str = "*") -> list[dict]:
        """Rows whose `column` is one of `values`, in id order (a few IN queries)."""
        values = [v for v in set(values) if v is not None]
        rows: list[dict] = []
        for i in range(0, len(values), _IN_LIMIT):
            part = values[i:i + _IN_LIMIT]
            marks = ",".join("?" * len(part))
            rows.extend(dict(r) for r in self.conn.execute(
                f"SELECT {columns} FROM {table} WHERE {column} IN ({marks}) ORDER BY id", part))
        return rows

    # ---- contacts ------------------------------------------------------------------
    def _upsert_contacts(self, op: Any, records: list[Record], tally: dict, touched: set[int],
                         state: dict, on_conflict: str) -> None:
        sealed = [self._sealed_keys(rec) for rec in records]  # blind indexes: once per record
        index = self._prefetch_contacts(records, sealed)
        inserts: list[dict] = []
        updates: dict[int, dict] = {}
        changes: list[Change] = []
        compare = state.get("compare") or (lambda values: values)
        track = state["track"]
        for rec, keys in zip(records, sealed):
            row = self._match_contact(index, rec.keys["external_id"], keys)
            if row is None:
                row = self._new_contact(rec, keys, state, op.at)
                inserts.append(row)
                self._index_contact(index, row)
                if track:
                    touched.add(row["id"])
                tally["inserted"] += 1
                continue
            diff = _contact_diff(row, rec, compare, state["mapped"])
            if not diff or on_conflict == "skip":
                tally["unchanged"] += 1
                continue
            if on_conflict == "fail":
                raise CheckFailed(
                    f"Line {rec.line} would change an existing contact (id {row['id']}) and "
                    "--on-conflict fail is set; nothing was imported.")
            changes.extend(Change(row["id"], f, row.get(f), v, "import") for f, v in diff.items())
            self._apply_update(row, diff, op.at)
            self._index_contact(index, row)
            tally["updated"] += 1
            if track:
                touched.add(row["id"])
            if not row.get("_new"):  # a row inserted by this batch is written by its insert
                updates[row["id"]] = row
        self._write_contacts(inserts, list(updates.values()))
        if changes:
            self.record_changes(op.id, changes, at=op.at)

    def _apply_update(self, row: dict, diff: dict[str, str], now: str) -> None:
        row.update(diff)
        if "updated_at" not in diff:
            row["updated_at"] = now
        row["changed_at"] = now
        self._rekey(row)

    def _sealed_keys(self, rec: Record) -> dict[str, str | None]:
        idx = self.protector.index
        return {col: idx(fld, rec.keys[fld]) for fld, col in KEY_KINDS}

    def _prefetch_contacts(self, records: list[Record],
                           sealed: list[dict[str, str | None]]) -> dict[str, dict]:
        """The stored contacts any of `records` could match, indexed by key."""
        index: dict[str, dict] = {}
        exts = [r.keys["external_id"] for r in records]
        found = self._rows_where_in("contacts", "external_id", exts)
        # A record whose external id is stored matches that contact: its other keys need
        # no look-up (a re-imported file then costs one query per batch, not three).
        known = {row["external_id"] for row in found}
        rest = [k for rec, k in zip(records, sealed) if rec.keys["external_id"] not in known]
        for column in ("email_key", "phone_key"):
            found += self._rows_where_in("contacts", column, [k[column] for k in rest])
        for row in sorted(found, key=lambda r: r["id"]):
            self._index_contact(index, self.unseal_row("contacts", row))
        return index

    @staticmethod
    def _index_contact(index: dict[str, dict], row: dict) -> None:
        """Index a contact by its keys; an earlier (lower id) contact keeps a shared key."""
        for prefix, column in (("x", "external_id"), ("e", "email_key"), ("p", "phone_key")):
            if row.get(column) is not None:
                index.setdefault(f"{prefix}:{row[column]}", row)

    @staticmethod
    def _match_contact(index: dict[str, dict], ext: str | None, keys: dict) -> dict | None:
        if ext is not None and f"x:{ext}" in index:
            return index[f"x:{ext}"]
        for prefix, column in (("e", "email_key"), ("p", "phone_key")):
            row = index.get(f"{prefix}:{keys[column]}") if keys[column] else None
            if row is not None and (ext is None or not row.get("external_id")):
                return row
        return None

    def _new_contact(self, rec: Record, keys: dict, state: dict, now: str) -> dict:
        row = {f: rec.values.get(f) or None for f in CONTACT_FIELDS}  # empty cell: NULL
        row["id"] = state["next_id"]
        state["next_id"] += 1
        row["external_id"] = rec.keys["external_id"]
        row["created_at"] = row["created_at"] or now
        row["updated_at"] = row["updated_at"] or now
        row["extra"] = _extra_text(rec.extra)
        row["changed_at"] = now
        row.update(keys)
        row["_new"] = True
        return row

    def _rekey(self, row: dict) -> None:
        from custdata.normalize import id_number_key

        region = self.config.get("general", "region")
        idx = self.protector.index
        row["email_key"] = idx("email", email_key(row.get("email")))
        row["phone_key"] = idx("phone", phone_key(row.get("phone"), region))
        row["id_number_key"] = idx("id_number", id_number_key(row.get("id_number")))

    def _write_contacts(self, inserts: list[dict], updates: list[dict]) -> None:
        cols = ["id", *CONTACT_FIELDS, "extra", "email_key", "phone_key", "id_number_key",
                "changed_at"]
        seal, enc = self.protector.seal, self.protector.encrypted_columns
        if inserts:
            marks = ",".join("?" * len(cols))
            values = _row_values(seal, "contacts", enc, cols)
            self.conn.executemany(
                f"INSERT INTO contacts ({','.join(cols)}) VALUES ({marks})",
                [values(r) for r in inserts])
        if updates:
            sets = ",".join(f"{c} = ?" for c in cols[1:])
            values = _row_values(seal, "contacts", enc, [*cols[1:], "id"])
            self.conn.executemany(f"UPDATE contacts SET {sets} WHERE id = ?",
                                  [values(r) for r in updates])

    # ---- orders and interactions ---------------------------------------------------
    def _upsert_linked(self, kind: str, records: list[Record], tally: dict,
                       rejects: list[Reject], state: dict, on_conflict: str,
                       region: str, dayfirst: bool) -> None:
        owners = self._resolve_customers(records, region)
        key_col = "order_id" if kind == "orders" else "row_key"
        keyed: list[tuple[str, int, Record]] = []
        for rec in records:
            contact_id = owners.get(id(rec))
            if contact_id is None:
                rejects.append(Reject(rec.line, rec.raw, "no contact matches the customer"))
                continue
            key = rec.values.get("order_id") if kind == "orders" else None
            if not key or not key.strip():
                key = "auto:" + content_key(kind, rec, state["seen"])
            keyed.append((key, contact_id, rec))
        stored = {r[key_col]: self.unseal_row(kind, r)
                  for r in self._rows_where_in(kind, key_col, [k for k, _, _ in keyed])}
        inserts, updates = [], []
        for key, contact_id, rec in keyed:
            old = stored.get(key)
            row = self._linked_row(kind, key, contact_id, rec, old, dayfirst, state["mapped"])
            if old is None:
                row["id"] = state["next_id"]
                state["next_id"] += 1
                inserts.append(row)
                stored[key] = row
                tally["inserted"] += 1
            elif all(old.get(c) == v for c, v in row.items()) or on_conflict == "skip":
                tally["unchanged"] += 1
            elif on_conflict == "fail":
                raise CheckFailed(f"Line {rec.line} would change an existing {kind[:-1]}; "
                                  "--on-conflict fail is set; nothing was imported.")
            else:
                row["id"] = old["id"]
                updates.append(row)
                stored[key] = {**old, **row}
                tally["updated"] += 1
        self._write_linked(kind, inserts, updates)

    def _linked_row(self, kind: str, key: str, contact_id: int, rec: Record, old: dict | None,
                    dayfirst: bool, mapped: frozenset[str] = frozenset()) -> dict:
        fields = STORED_FIELDS[kind]
        if old is None:  # a new row: ingest already parsed its day, amount and status
            row = {f: rec.values.get(f) or None for f in fields}
            row.update({"order_id" if kind == "orders" else "row_key": key,
                        "contact_id": contact_id, "extra": _extra_text(rec.extra)})
            row.update(rec.derived)
            return row
        row = {f: old.get(f) for f in fields}
        row.update(changed_values(row, rec.values, fields))
        extra = {**json.loads(old.get("extra") or "{}"), **rec.extra}
        for gone in mapped & extra.keys():  # a column now read as a field leaves extra
            del extra[gone]
        row.update({"order_id" if kind == "orders" else "row_key": key,
                    "contact_id": contact_id,
                    "customer_ref": rec.derived["customer_ref"],
                    "extra": _extra_text(extra)})
        if kind == "orders":  # the incoming amount as read by its column's decimal mark
            amount = rec.derived["amount_value"] if (rec.values.get("amount") or "").strip() \
                else old.get("amount_value")
            row.update(day=parse_day(row.get("order_date"), dayfirst), amount_value=amount,
                       status_norm=normalize_status(row.get("status"), amount))
        else:
            row.update(day=parse_day(row.get("at"), dayfirst),
                       satisfaction_value=parse_satisfaction(row.get("satisfaction")))
        return row

    def _write_linked(self, kind: str, inserts: list[dict], updates: list[dict]) -> None:
        sealed_of = getattr(self.protector, "sealed_columns", None)  # customer_ref, encrypted
        sealed = sealed_of(kind) if sealed_of else frozenset()
        for rows, verb in ((inserts, "INSERT"), (updates, "UPDATE")):
            if not rows:
                continue
            cols = [c for c in rows[0] if c != "id"]
            if verb == "INSERT":
                sql = (f"INSERT INTO {kind} (id, {','.join(cols)}) "
                       f"VALUES (?, {','.join('?' * len(cols))})")
                order = ["id", *cols]
            else:
                sql = f"UPDATE {kind} SET {','.join(f'{c} = ?' for c in cols)} WHERE id = ?"
                order = [*cols, "id"]
            values = _row_values(self.protector.seal, kind, sealed, order)
            self.conn.executemany(sql, [values(r) for r in rows])

    def _resolve_customers(self, records: list[Record], region: str) -> dict[int, int]:
        """id(record) -> contact id: by external_id, then email key, then phone key."""
        idx = self.protector.index
        by_ext = {r["external_id"]: r["id"] for r in self._rows_where_in(
            "contacts", "external_id", [rec.keys["customer_id"] for rec in records],
            "id, external_id")}
        wanted: dict[int, tuple[str | None, str | None]] = {}
        for rec in records:
            ref = rec.keys["customer_id"]
            if ref is not None and ref in by_ext:
                continue
            ekey = rec.keys["email"] or (email_key(ref) if ref and "@" in ref else None)
            pkey = rec.keys["phone"] or (phone_key(ref, region) if ref and "@" not in ref else None)
            wanted[id(rec)] = (idx("email", ekey), idx("phone", pkey))
        by_key: dict[tuple[str, str], int] = {}
        for pos, column in enumerate(("email_key", "phone_key")):
            for row in self._rows_where_in("contacts", column, [w[pos] for w in wanted.values()],
                                           f"id, {column}"):
                by_key.setdefault((column, row[column]), row["id"])
        out = {}
        for rec in records:
            ref = rec.keys["customer_id"]
            if ref is not None and ref in by_ext:
                out[id(rec)] = by_ext[ref]
                continue
            ekey, pkey = wanted[id(rec)]
            found = by_key.get(("email_key", ekey)) or by_key.get(("phone_key", pkey))
            if found is not None:
                out[id(rec)] = found
        return out
