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
    parse_day,
    parse_satisfaction,
)
from custdata.models import CONTACT_FIELDS, Change, ImportCounts, Reject, Skipped
from custdata.normalize import email_key, id_number_key, phone_key

BATCH = 2000
ERASED = "erased at the person's request"  # PIPL art. 47, GDPR art. 17
NUL_REASON = "a NUL character (0x00), which the team store's text cannot hold"
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
    cleaned: Callable[[dict], dict] = lambda values: values
    track: bool = False
    mapped: frozenset[str] = frozenset()
    tally: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("read", "inserted", "updated", "unchanged", "rejected", "skipped", "erased"), 0))
    touched: set[int] = field(default_factory=set)
    seen: dict[int, int] = field(default_factory=dict)
    lines: dict[int, int] = field(default_factory=dict)  # order key's hash -> rows so far
    clean: bool = False  # `import --clean`: a contact whose values clean differently is touched


def load(store: Any, op: Any, kind: str, items: Iterable[Record | Reject | Skipped], *,
         input_file: str | None, on_conflict: str = "update", region: str = "CN",
         dayfirst: bool = False, on_reject: Callable[[Reject], None] | None = None,
         on_progress: Callable[[int], None] | None = None,
         cleaned_as: Callable[[dict], dict] | None = None, clean: bool = False,
         track_touched: bool = False,
         mapped: frozenset[str] = frozenset()) -> tuple[ImportCounts, list[int]]:
    """Store a stream of records inside the open write `op`; return counts and touched ids.

    `cleaned_as` maps incoming contact values to the form `clean` gives them: a value
    that differs from the stored one as read but not once cleaned is unchanged, so a
    re-import after `clean` (or with `clean`: `import --clean`) changes nothing. With
    `clean`, a contact whose stored values are not the cleaned ones is touched. The ids
    of inserted/updated contacts come back only with `track_touched` (memory stays flat).
    `mapped` names the input columns read as fields: a stored `extra` loses those keys.
    Skipped items (blank and totals rows) are only counted.
    """
    run = Load(kind, on_conflict, region, dayfirst, cleaned_as or (lambda values: values),
               track_touched, mapped, clean=clean)
    loader = store.imports.loader(op, kind, input_file)
    erased = store.suppression.active()  # nobody erased yet: nothing to look up
    nul_free = store.db.dialect == "postgres"  # its text cannot hold a NUL character
    for batch in _batches(items, BATCH):
        if erased:
            batch = _skip_erased(store.suppression, batch, run)
        if nul_free:
            batch = _without_nul(batch)
        records, rejects, skipped = _split(batch)
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
        run.tally["skipped"] += skipped
        if on_progress:
            on_progress(len(batch))
    loader.finish()
    if kind == "orders":
        run.tally["orders"] = len(run.lines)
    return ImportCounts(**run.tally), sorted(run.touched) if track_touched else []


def _split(batch: list) -> tuple[list[Record], list[Reject], int]:
    """(records, rejects, how many Skipped) of a batch, in one pass."""
    records: list[Record] = []
    rejects: list[Reject] = []
    for item in batch:
        if isinstance(item, Record):
            records.append(item)
        elif isinstance(item, Reject):
            rejects.append(item)
    return records, rejects, len(batch) - len(records) - len(rejects)


def _without_nul(batch: list) -> list:
    """The batch with each record holding a NUL (0x00) made a reject and NULs in a reject's
    raw text shown as U+2400: PostgreSQL's text refuses NUL (SQLite stores the row)."""
    out = list(batch)
    for pos, rec in enumerate(batch):
        if isinstance(rec, Record) and any("\x00" in v for v in (rec.raw, *rec.values.values(),
                                                                 *rec.extra.values())):
            out[pos] = Reject(rec.line, rec.raw.replace("\x00", "\u2400"), NUL_REASON)
        elif isinstance(rec, Reject) and "\x00" in rec.raw:
            out[pos] = Reject(rec.line, rec.raw.replace("\x00", "\u2400"), rec.reason)
    return out


def _skip_erased(suppression: Any, batch: list, run: Load) -> list:
    """The batch with the rows of erased people (on the suppression list) made Skipped:
    counted, and their text kept nowhere (not even among the rejects)."""
    found: dict[int, list[tuple[str, str]]] = {}
    wanted: dict[str, set[str]] = {}
    for pos, rec in enumerate(batch):
        if isinstance(rec, Record):
            found[pos] = _identifiers_of(rec, run.kind, run.region)
            for kind, key in found[pos]:
                wanted.setdefault(kind, set()).add(key)
    hits = {kind: suppression.matching(kind, keys) for kind, keys in wanted.items()}
    out = list(batch)
    for pos, pairs in found.items():
        if any(key in hits[kind] for kind, key in pairs):
            out[pos] = Skipped(batch[pos].line, ERASED)
            run.tally["erased"] += 1
    return out


def _identifiers_of(rec: Record, kind: str, region: str) -> list[tuple[str, str]]:
    """(kind, match key) of the person a row names: a contact's own keys, or the
    customer reference of an order or interaction (an id, an email or a phone)."""
    keys = rec.keys
    if kind == "contacts":
        pairs = [("external_id", keys["external_id"]), ("email", keys["email"]),
                 ("phone", keys["phone"]), ("id_number", keys["id_number"])]
    else:
        ref = keys["customer_id"]
        pairs = [("external_id", ref), ("email", keys["email"]), ("phone", keys["phone"])]
        if ref:
            pairs.append(("email", email_key(ref)) if "@" in ref
                         else ("phone", phone_key(ref, region)))
    return [(k, v) for k, v in pairs if v]


# ---- contacts ----------------------------------------------------------------------

def _contact_diff(row: dict, rec: Record, run: Load) -> tuple[dict[str, str], bool]:
    """(field -> incoming value as read, for each field that changes; whether `clean`
    would still change a stored value). A value changes when it differs from the stored
    one both as read and as `clean` writes it; `extra` is merged, less the keys of the
    columns that now map to a field (`run.mapped`)."""
    diff = changed_values(row, rec.values, CONTACT_FIELDS)
    stale = False
    if diff or run.clean:
        cleaned = run.cleaned(rec.values)
        diff = {f: v for f, v in diff.items() if cleaned.get(f) != row.get(f)}
        stale = run.clean and any(cleaned.get(f) != row.get(f) for f, v in rec.values.items()
                                  if f not in diff and f in row and v and v.strip())
    stored_extra = json.loads(row["extra"] or "{}")
    extra = {**stored_extra, **rec.extra}
    for key in run.mapped & extra.keys():
        del extra[key]
    if extra != stored_extra:
        diff["extra"] = extra_text(extra)
    return diff, stale


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
        diff, stale = _contact_diff(row, rec, run)
        if not (diff or stale) or run.on_conflict == "skip":
            run.tally["unchanged"] += 1
            continue
        if run.on_conflict == "fail":
            raise CheckFailed(
                f"Line {rec.line} would change an existing contact (id {row['id']}) and "
                "the import may not change stored records; nothing was imported.",
                hint="on_conflict_fail")
        run.tally["updated"] += 1
        if run.track:
            run.touched.add(row["id"])
        if not diff:  # only `--clean` has something to do
            continue
        changes.extend(Change(row["id"], f, row.get(f), v, "import") for f, v in diff.items())
        _apply_update(loader, row, diff, now, run.region)
        _index_contact(index, row)
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
    if kind == "orders":
        from custdata.api.order_lines import upsert_orders

        upsert_orders(loader, records, rejects, run, owners)
        return
    key_col = "row_key"
    keyed: list[tuple[str, int, Record]] = []
    for rec in records:
        contact_id = owners.get(id(rec))
        if contact_id is None:
            rejects.append(Reject(rec.line, rec.raw, "no contact matches the customer"))
            continue
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
    key_col = "row_key"
    if old is None:  # a new row: ingest already parsed its day and satisfaction
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
