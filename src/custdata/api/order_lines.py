"""Orders as lines: the import's write path for an orders file (issue 18, case 2).

Every row of an orders file is a line of its order (`order_id`); a Shopify or Superstore
export has several rows to an order. A line is keyed by its own id column (`line_id`,
"Row ID") or else by its place among the order's rows in the file ("#1", "#2" ...), so a
re-import of the same file finds the same lines. An order's `amount_value` is the sum of
its lines' (each line counted once), its product and category are its first line's, and
its other fields (date, currency, status, customer) are the non-blank values its rows
give. Counts are lines; `Load.orders` says how many orders they made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from custdata.api.loading import Load, content_key, extra_text
from custdata.errors import CheckFailed
from custdata.ingest import Record, changed_values, normalize_status, parse_day
from custdata.models import Reject

# Order columns set from any of its rows (a blank cell never overwrites a stored value).
ORDER_LEVEL = ("order_date", "currency", "status")
ORDER_COLUMNS = ("order_id", "contact_id", "customer_ref", "order_date", "amount", "currency",
                 "product", "category", "status", "extra", "day", "amount_value",
                 "status_norm")
LINE_FIELDS = ("product", "category", "amount")


@dataclass
class _Batch:
    """The orders and lines one batch reads and writes, keyed as stored."""

    orders: dict[str, dict] = field(default_factory=dict)  # order_id -> working row
    old: dict[str, dict] = field(default_factory=dict)  # order_id -> row as stored
    lines: dict[str, dict[str, dict]] = field(default_factory=dict)  # order_id -> key -> line
    changed: set[str] = field(default_factory=set)  # orders whose lines changed


def upsert_orders(loader: Any, records: list[Record], rejects: list[Reject], run: Load,
                  owners: dict[int, int]) -> None:
    """Store a batch of order rows as lines of their orders; counts go to `run.tally`."""
    keyed = _keyed(records, rejects, run, owners)
    batch = _prefetch(loader, [k for k, _, _, _, _ in keyed])
    for okey, lkey, place, contact_id, rec in keyed:
        order = batch.orders.get(okey)
        made_here = order is None
        if made_here:
            order = batch.orders[okey] = _new_order(okey, contact_id, rec, loader.new_id())
            batch.lines[okey] = {}
        lines = batch.lines[okey]
        old_line = lines.get(lkey)
        if old_line is not None and run.on_conflict == "skip":
            run.tally["unchanged"] += 1
            continue
        order_diff = {} if made_here else \
            _order_diff(order, contact_id, rec, place == 1, run.mapped, run.dayfirst)
        line = _line(order["id"], lkey, rec, old_line, run.mapped)
        line_diff = line if old_line is None else \
            {c: v for c, v in line.items() if old_line.get(c) != v}
        if old_line is not None and (line_diff or order_diff) and run.on_conflict == "fail":
            raise CheckFailed(f"Line {rec.line} would change an existing order and the "
                              "import may not change stored records; nothing was imported.",
                              hint="on_conflict_fail")
        order.update(order_diff)
        if line_diff:
            line["_dirty"] = True
            lines[lkey] = line if old_line is None else {**old_line, **line}
            batch.changed.add(okey)
        outcome = "inserted" if old_line is None else \
            "updated" if line_diff or order_diff else "unchanged"
        run.tally[outcome] += 1
    _write(loader, batch)


def _keyed(records: list[Record], rejects: list[Reject], run: Load,
           owners: dict[int, int]) -> list[tuple[str, str, int, int, Record]]:
    """(order key, line key, place in its order, contact id, record) of the rows with a
    known customer. The place is counted under the order key's hash (memory: one small
    entry per order of the file)."""
    keyed = []
    for rec in records:
        contact_id = owners.get(id(rec))
        if contact_id is None:
            rejects.append(Reject(rec.line, rec.raw, "no contact matches the customer"))
            continue
        okey = rec.values.get("order_id")
        if not okey or not okey.strip():
            okey = "auto:" + content_key("orders", rec, run.seen)
        slot = hash(okey)
        place = run.lines[slot] = run.lines.get(slot, 0) + 1
        own = (rec.values.get("line_id") or "").strip()
        keyed.append((okey, own or f"#{place}", place, contact_id, rec))
    return keyed


def _prefetch(loader: Any, okeys: list[str]) -> _Batch:
    """The stored orders of `okeys` and all of their stored lines."""
    batch = _Batch()
    for row in loader.rows_where_in("orders", "order_id", okeys):
        batch.old[row["order_id"]] = row
        batch.orders[row["order_id"]] = dict(row)
        batch.lines[row["order_id"]] = {}
    by_pk = {row["id"]: okey for okey, row in batch.old.items()}
    for line in loader.rows_where_in("order_lines", "order_pk", by_pk):
        batch.lines[by_pk[line["order_pk"]]][line["line_key"]] = line
    return batch


def _new_order(okey: str, contact_id: int, rec: Record, new_id: int) -> dict:
    row = {c: None for c in ORDER_COLUMNS}
    row.update({f: rec.values.get(f) or None for f in ORDER_LEVEL})
    row.update(id=new_id, order_id=okey, contact_id=contact_id, day=rec.derived["day"],
               customer_ref=rec.derived["customer_ref"], extra=extra_text(rec.extra))
    return row


def _order_diff(order: dict, contact_id: int, rec: Record, first: bool,
                mapped: frozenset[str], dayfirst: bool) -> dict:
    """The order-level values this row changes (its extra only from the order's first row)."""
    diff: dict[str, Any] = changed_values(order, rec.values, ORDER_LEVEL)
    if "order_date" in diff or order.get("day") is None:
        day = parse_day(diff.get("order_date", order.get("order_date")), dayfirst)
        if day != order.get("day"):
            diff["day"] = day
    if order.get("contact_id") != contact_id:
        diff["contact_id"] = contact_id
    if rec.derived["customer_ref"] != order.get("customer_ref"):
        diff["customer_ref"] = rec.derived["customer_ref"]
    if first:
        stored = json.loads(order.get("extra") or "{}")
        extra = {**stored, **rec.extra}
        for gone in mapped & extra.keys():  # a column now read as a field leaves extra
            del extra[gone]
        if extra != stored:
            diff["extra"] = extra_text(extra)
    return diff


def _line(order_pk: int, lkey: str, rec: Record, old: dict | None,
          mapped: frozenset[str]) -> dict:
    """The line as this row gives it (blank cells keep the stored values)."""
    if old is None:
        line = {f: rec.values.get(f) or None for f in LINE_FIELDS}
        line.update(amount_value=rec.derived.get("amount_value"),
                    quantity=rec.derived.get("quantity"), extra=extra_text(rec.extra))
    else:
        line = {f: old.get(f) for f in LINE_FIELDS}
        line.update(changed_values(line, rec.values, LINE_FIELDS))
        amount = rec.derived.get("amount_value") if (rec.values.get("amount") or "").strip() \
            else old.get("amount_value")
        quantity = rec.derived.get("quantity") if (rec.values.get("quantity") or "").strip() \
            else old.get("quantity")
        extra = {**json.loads(old.get("extra") or "{}"), **rec.extra}
        for gone in mapped & extra.keys():
            del extra[gone]
        line.update(amount_value=amount, quantity=quantity, extra=extra_text(extra))
    line.update(order_pk=order_pk, line_key=lkey)
    return line


def _totals(order: dict, lines: list[dict]) -> dict:
    """The order's derived columns from its lines: amount (their sum), product, status."""
    if len(lines) == 1:  # most orders: one line, its own figures
        line = lines[0]
        total = line["amount_value"] if line.get("amount") else None
        return {"amount": line.get("amount"), "amount_value": total,
                "product": line.get("product"), "category": line.get("category"),
                "status_norm": normalize_status(order.get("status"), total)}
    amounts = [ln["amount_value"] for ln in lines if ln.get("amount")]
    unreadable = any(ln.get("amount") and ln["amount_value"] is None for ln in lines)
    total = None if unreadable or not amounts else \
        amounts[0] if len(amounts) == 1 else round(sum(amounts), 6)
    first = lines[0] if lines else {}
    if len(lines) == 1:
        text = first.get("amount")
    elif unreadable:  # kept as read, so that `audit` flags the order as unreadable
        text = next(ln["amount"] for ln in lines if ln.get("amount") and ln["amount_value"] is None)
    else:
        text = None if total is None else f"{total:.2f}"
    return {"amount": text, "amount_value": total, "product": first.get("product"),
            "category": first.get("category"), "status_norm": normalize_status(order.get("status"), total)}


def _write(loader: Any, batch: _Batch) -> None:
    """Recompute the touched orders from their lines; write orders, then lines."""
    inserts, updates, new_lines, changed_lines = [], [], [], []
    for okey, order in batch.orders.items():
        lines = list(batch.lines[okey].values())
        if len(lines) > 1:
            lines.sort(key=_line_order)
        order.update(_totals(order, lines))
        old = batch.old.get(okey)
        if old is None:
            inserts.append({c: order[c] for c in ("id", *ORDER_COLUMNS)})
        elif any(old.get(c) != order[c] for c in ORDER_COLUMNS):
            updates.append({c: order[c] for c in ("id", *ORDER_COLUMNS)})
        if okey in batch.changed:
            for line in lines:
                if "id" not in line:
                    line["id"] = loader.new_line_id()
                    new_lines.append(line)
                elif line.get("_dirty"):
                    changed_lines.append(line)
    loader.write_linked(inserts, updates)
    loader.write_lines(new_lines, changed_lines)


def _line_order(line: dict) -> tuple:
    """Stored lines by id first, new ones after in the order they came."""
    return (0, line["id"], "") if "id" in line else (1, 0, "")
