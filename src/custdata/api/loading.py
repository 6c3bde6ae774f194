"""The domain half of `import`'s write path: matching, diffing and preparing rows per batch.

Records arrive as a stream; each batch of `BATCH` records is matched against the stored
rows the store finds for their keys (a few `IN (...)` look-ups per batch), diffed
(`ingest.changed_values`), re-keyed after an update, and handed back to the store
(`store.imports.loader`) to write in one `executemany` per kind of change.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from custdata.errors import CheckFailed
from custdata.ingest import (
    STORED_FIELDS,
    Record,
    changed_values,
    content_key,
    normalize_status,
    parse_day,
    parse_satisfaction,
)
from custdata.models import CONTACT_FIELDS, Change, ImportCounts, Reject, Skipped
from custdata.normalize import email_key, id_number_key, phone_key

BATCH = 2000
_KEYS = (("email", "email_key"), ("phone", "phone_key"), ("id_number", "id_number_key"))


def extra_text(extra: dict) -> str:
    """The stored JSON text of an `extra` object ("{}" without a json call when empty)."""
    return json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else "{}"


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


@dataclass
class Load:
    """One import's settings and running state."""

    kind: str
    on_conflict: str = "update"
    region: str = "CN"
    dayfirst: bool = False
    compare: Callable[[dict], dict] = lambda values: values
    track: bool = False
    mapped: frozenset[str] = frozenset()
    tally: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("read", "inserted", "updated", "unchanged", "rejected", "skipped"), 0))
    touched: set[int] = field(default_factory=set)
    seen: dict[int, int] = field(default_factory=dict)


def load(store: Any, op: Any, kind: str, items: Iterable[Record | Reject | Skipped], *,
         input_file: str | None, on_conflict: str = "update", region: str = "CN",
         dayfirst: bool = False, on_reject: Callable[[Reject], None] | None = None,
         on_progress: Callable[[int], None] | None = None,
         compare_as: Callable[[dict], dict] | None = None, track_touched: bool = False,
         mapped: frozenset[str] = frozenset()) -> tuple[ImportCounts, list[int]]:
    """Store a stream of records inside the open write `op`; return counts and touched ids.

    `compare_as` maps incoming contact values to the form they take once stored (the
    cleaned form with `import --clean`), so re-importing a file changes nothing. The ids
    of inserted/updated contacts come back only with `track_touched` (memory stays flat).
    `mapped` names the input columns read as fields: a stored `extra` loses those keys.
    Skipped items (blank and totals rows) are only counted.
    """
    run = Load(kind, on_conflict, region, dayfirst, compare_as or (lambda values: values),
               track_touched, mapped)
    loader = store.imports.loader(op, kind, input_file)
    for batch in _batches(items, BATCH):
        rejects = [r for r in batch if isinstance(r, Reject)]
        records = [r for r in batch if isinstance(r, Record)]
        if kind == "contacts":
            _upsert_contacts(store, loader, records, run)
        else:
            _upsert_linked(loader, records, rejects, run)
        loader.reject(rejects)
        if on_reject:
            for r in rejects:
                on_reject(r)
        run.tally["read"] += len(batch)
        run.tally["rejected"] += len(rejects)
        run.tally["skipped"] += sum(1 for r in batch if isinstance(r, Skipped))
        if on_progress:
            on_progress(len(batch))
    loader.finish()
    return ImportCounts(**run.tally), sorted(run.touched) if track_touched else []


# ---- contacts ----------------------------------------------------------------------

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
        diff["extra"] = extra_text(extra)
    return diff


def _upsert_contacts(store: Any, loader: Any, records: list[Record], run: Load) -> None:
    sealed = _sealed_keys(loader, records)  # blind indexes: one call per key kind and batch
    index = _prefetch_contacts(loader, records, sealed)
    inserts: list[dict] = []
    updates: dict[int, dict] = {}
    changes: list[Change] = []
    now = loader.op.at
    for rec, keys in zip(records, sealed):
        row = _match_contact(index, rec.keys["external_id"], keys)
        if row is None:
            row = _new_contact(rec, keys, loader.new_id(), now)
            inserts.append(row)
            _index_contact(index, row)
            if run.track:
                run.touched.add(row["id"])
            run.tally["inserted"] += 1
            continue
        diff = _contact_diff(row, rec, run.compare, run.mapped)
        if not diff or run.on_conflict == "skip":
            run.tally["unchanged"] += 1
            continue
        if run.on_conflict == "fail":
            raise CheckFailed(
                f"Line {rec.line} would change an existing contact (id {row['id']}) and "
                "the import may not change stored records; nothing was imported.",
                hint="on_conflict_fail")
        changes.extend(Change(row["id"], f, row.get(f), v, "import") for f, v in diff.items())
        _apply_update(loader, row, diff, now, run.region)
        _index_contact(index, row)
        run.tally["updated"] += 1
        if run.track:
            run.touched.add(row["id"])
        if not row.get("_new"):  # a row inserted by this batch is written by its insert
            updates[row["id"]] = row
    loader.write_contacts(inserts, list(updates.values()))
    if changes:
        store.history.record(loader.op.id, changes, at=now)


def _sealed_keys(loader: Any, records: list[Record]) -> list[dict[str, str | None]]:
    columns = {col: loader.blind(fld, [r.keys[fld] for r in records]) for fld, col in _KEYS}
    return [{col: columns[col][i] for _, col in _KEYS} for i in range(len(records))]


def _apply_update(loader: Any, row: dict, diff: dict[str, str], now: str, region: str) -> None:
    row.update(diff)
    if "updated_at" not in diff:
        row["updated_at"] = now
    row["changed_at"] = now
    plain = {"email": email_key(row.get("email")), "phone": phone_key(row.get("phone"), region),
             "id_number": id_number_key(row.get("id_number"))}
    for fld, col in _KEYS:
        row[col] = loader.blind(fld, [plain[fld]])[0]


def _prefetch_contacts(loader: Any, records: list[Record],
                       sealed: list[dict[str, str | None]]) -> dict[str, dict]:
    """The stored contacts any of `records` could match, indexed by key."""
    index: dict[str, dict] = {}
    found = loader.rows_where_in("contacts", "external_id",
                                 [r.keys["external_id"] for r in records])
    # A record whose external id is stored matches that contact: its other keys need
    # no look-up (a re-imported file then costs one query per batch, not three).
    known = {row["external_id"] for row in found}
    rest = [k for rec, k in zip(records, sealed) if rec.keys["external_id"] not in known]
    for column in ("email_key", "phone_key"):
        found += loader.rows_where_in("contacts", column, [k[column] for k in rest])
    for row in sorted(found, key=lambda r: r["id"]):
        _index_contact(index, row)
    return index


def _index_contact(index: dict[str, dict], row: dict) -> None:
    """Index a contact by its keys; an earlier (lower id) contact keeps a shared key."""
    for prefix, column in (("x", "external_id"), ("e", "email_key"), ("p", "phone_key")):
        if row.get(column) is not None:
            index.setdefault(f"{prefix}:{row[column]}", row)


def _match_contact(index: dict[str, dict], ext: str | None, keys: dict) -> dict | None:
    if ext is not None and f"x:{ext}" in index:
        return index[f"x:{ext}"]
    for prefix, column in (("e", "email_key"), ("p", "phone_key")):
        row = index.get(f"{prefix}:{keys[column]}") if keys[column] else None
        if row is not None and (ext is None or not row.get("external_id")):
            return row
    return None


def _new_contact(rec: Record, keys: dict, new_id: int, now: str) -> dict:
    row = {f: rec.values.get(f) or None for f in CONTACT_FIELDS}  # empty cell: NULL
    row["id"] = new_id
    row["external_id"] = rec.keys["external_id"]
    row["created_at"] = row["created_at"] or now
    row["updated_at"] = row["updated_at"] or now
    row["extra"] = extra_text(rec.extra)
    row["changed_at"] = now
    row.update(keys)
    row["_new"] = True
    return row


# ---- orders and interactions -------------------------------------------------------

def _upsert_linked(loader: Any, records: list[Record], rejects: list[Reject],
                   run: Load) -> None:
    kind = run.kind
    owners = _resolve_customers(loader, records, run.region)
    key_col = "order_id" if kind == "orders" else "row_key"
    keyed: list[tuple[str, int, Record]] = []
    for rec in records:
        contact_id = owners.get(id(rec))
        if contact_id is None:
            rejects.append(Reject(rec.line, rec.raw, "no contact matches the customer"))
            continue
        key = rec.values.get("order_id") if kind == "orders" else None
        if not key or not key.strip():
            key = "auto:" + content_key(kind, rec, run.seen)
        keyed.append((key, contact_id, rec))
    stored = {r[key_col]: r for r in loader.rows_where_in(kind, key_col,
                                                          [k for k, _, _ in keyed])}
    inserts, updates = [], []
    for key, contact_id, rec in keyed:
        old = stored.get(key)
        row = _linked_row(kind, key, contact_id, rec, old, run.dayfirst, run.mapped)
        if old is None:
            row["id"] = loader.new_id()
            inserts.append(row)
            stored[key] = row
            run.tally["inserted"] += 1
        elif all(old.get(c) == v for c, v in row.items()) or run.on_conflict == "skip":
            run.tally["unchanged"] += 1
        elif run.on_conflict == "fail":
            raise CheckFailed(f"Line {rec.line} would change an existing {kind[:-1]} and the "
                              "import may not change stored records; nothing was imported.",
                              hint="on_conflict_fail")
        else:
            row["id"] = old["id"]
            updates.append(row)
            stored[key] = {**old, **row}
            run.tally["updated"] += 1
    loader.write_linked(inserts, updates)


def _linked_row(kind: str, key: str, contact_id: int, rec: Record, old: dict | None,
                dayfirst: bool, mapped: frozenset[str] = frozenset()) -> dict:
    fields = STORED_FIELDS[kind]
    key_col = "order_id" if kind == "orders" else "row_key"
    if old is None:  # a new row: ingest already parsed its day, amount and status
        row = {f: rec.values.get(f) or None for f in fields}
        row.update({key_col: key, "contact_id": contact_id, "extra": extra_text(rec.extra)})
        row.update(rec.derived)
        return row
    row = {f: old.get(f) for f in fields}
    row.update(changed_values(row, rec.values, fields))
    extra = {**json.loads(old.get("extra") or "{}"), **rec.extra}
    for gone in mapped & extra.keys():  # a column now read as a field leaves extra
        del extra[gone]
    row.update({key_col: key, "contact_id": contact_id,
                "customer_ref": rec.derived["customer_ref"], "extra": extra_text(extra)})
    if kind == "orders":  # the incoming amount as read by its column's decimal mark
        amount = rec.derived["amount_value"] if (rec.values.get("amount") or "").strip() \
            else old.get("amount_value")
        row.update(day=parse_day(row.get("order_date"), dayfirst), amount_value=amount,
                   status_norm=normalize_status(row.get("status"), amount))
    else:
        row.update(day=parse_day(row.get("at"), dayfirst),
                   satisfaction_value=parse_satisfaction(row.get("satisfaction")))
    return row


def _resolve_customers(loader: Any, records: list[Record], region: str) -> dict[int, int]:
    """id(record) -> contact id: by external_id, then email key, then phone key."""
    by_ext = {r["external_id"]: r["id"] for r in loader.rows_where_in(
        "contacts", "external_id", [rec.keys["customer_id"] for rec in records],
        "id, external_id")}
    plain: dict[int, tuple[str | None, str | None]] = {}
    for rec in records:
        ref = rec.keys["customer_id"]
        if ref is not None and ref in by_ext:
            continue
        ekey = rec.keys["email"] or (email_key(ref) if ref and "@" in ref else None)
        pkey = rec.keys["phone"] or (phone_key(ref, region) if ref and "@" not in ref else None)
        plain[id(rec)] = (ekey, pkey)
    emails = loader.blind("email", [e for e, _ in plain.values()])
    phones = loader.blind("phone", [p for _, p in plain.values()])
    wanted = dict(zip(plain, zip(emails, phones)))
    by_key: dict[tuple[str, str], int] = {}
    for pos, column in enumerate(("email_key", "phone_key")):
        for row in loader.rows_where_in("contacts", column, [w[pos] for w in wanted.values()],
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


def lines_in(stream: Any) -> int | None:
    """How many lines a regular text file holds from the stream's position (left where it
    was): the total of an import's progress. None for a pipe, a workbook or an unseekable
    stream, whose length is not known before it is read."""
    try:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            return None
        start = stream.tell()
    except (OSError, ValueError, AttributeError):
        return None
    lines, last = 0, b""
    try:
        while chunk := stream.read(1 << 20):
            if not lines and not last and chunk.startswith(b"PK\x03\x04"):
                return None  # an .xlsx workbook (a zip): rows are not lines
            lines += chunk.count(b"\n")
            last = chunk
    finally:
        stream.seek(start)
    return lines + (1 if last and not last.endswith(b"\n") else 0)
