"""Rows as read -> records to store: header matching, `extra`, keys and rejects. Pure.

Values are kept exactly as read; only the match keys and the parsed helper columns of
orders and interactions (day, amount, status) are derived, with the same normalizers
that `clean` uses.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from custdata.errors import InvalidValue
from custdata.io import RawRecord
from custdata.layout import (
    TOTAL_INITIALS,
    is_blank,
    join_cells,
    join_name,
    totals_label,
)
from custdata.mapping import (  # noqa: F401 - the mapping names are re-exported
    _CUSTOMER_FIELDS,
    FAMILY_NAMES,
    GIVEN_NAMES,
    STORED_FIELDS,
    SYNONYMS,
    ColumnPlan,
    check_identifiable,
    describe_plan,
    header_key,
    header_matcher,
    mapped_columns,
    plan_columns,
    unmapped_people_fields,
)
from custdata.models import Reject, Skipped
from custdata.normalize import normalize_date, normalize_text
from custdata.normalize.keys import email_key, id_number_key, phone_key
from custdata.numbers import ColumnEvidence, parse_number


@dataclass
class Record:
    """One stored row to be: field values as read, extra, and derived keys/columns."""

    line: int
    raw: str
    values: dict[str, str]
    extra: dict[str, str]
    keys: dict[str, str | None]
    derived: dict[str, object]

    def __reduce__(self) -> tuple:  # pickled as a plain tuple: half the cost (read-ahead)
        return Record, (self.line, self.raw, self.values, self.extra, self.keys, self.derived)


def to_record(kind: str, rec: RawRecord, plan: list[ColumnPlan], *, region: str,
              dayfirst: bool, decimal: str | None = None) -> Record | Reject | Skipped:
    """A RawRecord as a Record, a Reject saying what is structurally wrong with it, or
    Skipped for a blank or totals row. `decimal` is the amount column's decimal mark
    ("," or "."; None: each amount is read only if it reads one way)."""
    if rec.error:
        return Reject(rec.line, rec.raw, rec.error)
    if rec.undecodable:
        return Reject(rec.line, rec.raw, "undecodable bytes for the file's encoding")
    if len(rec.cells) != len(plan):
        if is_blank(rec.cells):
            return Skipped(rec.line, "blank row")
        if totals_label(rec.cells) and not any("@" in c for c in rec.cells):
            return Skipped(rec.line, "totals row")
        return Reject(rec.line, rec.raw,
                      f"wrong number of fields: {len(rec.cells)} instead of {len(plan)}")
    values: dict[str, str] = {}
    extra: dict[str, str] = {}
    joins: dict[str, dict[int, str]] | None = None
    for cell, col in zip(rec.cells, plan):
        if col.field:
            values[col.field] = cell
        elif col.merge_extra:
            extra.update(_extra_object(cell))
        elif col.extra_key is not None:
            if cell != "":
                extra[col.extra_key] = cell
        elif col.join is not None:
            joins = joins or {}
            joins.setdefault(col.joined, {})[col.join] = cell
    if joins:
        values.update(_joined(joins, plan))
    if rec.cells[0][:1] in TOTAL_INITIALS and totals_label(rec.cells) \
            and not _names_someone(values, rec.cells):
        return Skipped(rec.line, "totals row")
    if kind == "contacts":
        return _contact(rec, values, extra, region)
    return _linked(kind, rec, values, extra, region, dayfirst, decimal)


def _names_someone(values: dict[str, str], cells: list[str]) -> bool:
    """Whether a row has a name or email besides its label ("合计" in the name column is
    no one; a number in the phone column does not make it a contact either)."""
    label = next((c for c in cells if c.strip()), "")
    return any((values.get(f) or "").strip() and values.get(f) != label
               for f in ("name", "email", "customer_email"))


def _joined(joins: dict[str, dict[int, str]], plan: list[ColumnPlan]) -> dict[str, str]:
    names = {col.joined for col in plan if col.names}
    return {fld: join_name(parts.get(0, ""), parts.get(1, "")) if fld in names
            else join_cells([parts[k] for k in sorted(parts)]) for fld, parts in joins.items()}


def _extra_object(cell: str) -> dict[str, str]:
    if not cell.strip():
        return {}
    try:
        data = json.loads(cell)
        if not isinstance(data, dict):
            return {"extra": cell}
        return {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                for k, v in data.items()}
    except (ValueError, RecursionError):  # not JSON, or nested too deep to read: kept as text
        return {"extra": cell}


def _contact(rec: RawRecord, values: dict[str, str], extra: dict[str, str],
             region: str) -> Record | Reject | Skipped:
    ext = values.get("external_id") or None
    # The keys of normalize.key_functions (which `clean` uses), called directly: per row.
    keys: dict[str, str | None] = {
        "external_id": ext if ext and ext.strip() else None,
        "email": email_key(values.get("email")),
        "phone": phone_key(values.get("phone"), region),
        "id_number": id_number_key(values.get("id_number")),
    }
    if not (keys["external_id"] or keys["email"] or keys["phone"]):
        if is_blank(rec.cells):
            return Skipped(rec.line, "blank row")
        return Reject(rec.line, rec.raw, "no identifying value (external_id, email or phone)")
    return Record(rec.line, rec.raw, values, extra, keys, {})


def _linked(kind: str, rec: RawRecord, values: dict[str, str], extra: dict[str, str],
            region: str, dayfirst: bool, decimal: str | None) -> Record | Reject | Skipped:
    ref = {f: values.pop(f, "") for f in _CUSTOMER_FIELDS}
    keys = {
        "customer_id": ref["customer_id"] if ref["customer_id"].strip() else None,
        "email": email_key(ref["customer_email"] or None),
        "phone": phone_key(ref["customer_phone"] or None, region),
    }
    if not any(keys.values()):
        if is_blank(rec.cells):
            return Skipped(rec.line, "blank row")
        return Reject(rec.line, rec.raw, "no customer (customer_id, email or phone is empty)")
    customer_ref = ref["customer_id"] if keys["customer_id"] else \
        next(v for v in ref.values() if v.strip())
    date_field = "order_date" if kind == "orders" else "at"
    derived: dict[str, object] = {"customer_ref": customer_ref,
                                  "day": parse_day(values.get(date_field), dayfirst)}
    if kind == "orders":
        amount = parse_amount(values.get("amount"), decimal)
        derived["amount_value"] = amount
        derived["status_norm"] = normalize_status(values.get("status"), amount)
        if "quantity" in values:  # a line's quantity: plain or grouped, never guessed
            derived["quantity"] = parse_amount(values["quantity"], None)
    else:
        derived["satisfaction_value"] = parse_satisfaction(values.get("satisfaction"))
    return Record(rec.line, rec.raw, values, extra, keys, derived)


def parse_day(raw: str | None, dayfirst: bool) -> str | None:
    """ISO date of a date or timestamp cell, or None when it does not parse."""
    if not raw or not raw.strip():
        return None
    if len(raw) == 10 and raw[4] == "-" and raw[7] == "-":  # the common ISO form, fast
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            pass
    text = normalize_text(raw)
    try:
        return normalize_date(text, dayfirst=dayfirst)
    except InvalidValue:
        pass
    head = re.split(r"[ T]", text, maxsplit=1)[0]
    try:
        return normalize_date(head, dayfirst=dayfirst)
    except InvalidValue:
        return None


_PLAIN_AMOUNT = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")


def parse_amount(raw: str | None, decimal: str | None = ".") -> float | None:
    """Number in an amount cell, None if not one: "¥1,234.50" -> 1234.5, "(200)" -> -200.0,
    "1.234,50 €" -> 1234.5. `decimal` is the column's decimal mark ("," or "."), None
    when its values did not tell (then "1,234" is None: it could be either)."""
    if raw is None:
        return None
    if decimal == "." and _PLAIN_AMOUNT.fullmatch(raw):  # the common "872.56", as it is
        return float(raw)
    try:
        return parse_number(raw, decimal=decimal)
    except InvalidValue:
        return None


def amount_evidence(rows: Iterable[tuple[int, list[str]]], plan: list[ColumnPlan]
                    ) -> ColumnEvidence | None:
    """What the amount column's values say about its decimal mark (None: no such column).

    `rows`: (physical line, cells) of every well-formed record (io.csv_rows, or a
    workbook's records): the first pass of an import whose amounts need deciding."""
    column = next((i for i, col in enumerate(plan) if col.field == "amount"), None)
    if column is None:
        return None
    found = ColumnEvidence()
    width = len(plan)
    for line, cells in rows:
        if len(cells) == width:
            found.add(cells[column], line)
    return found


_STATUS = {
    "paid": "paid", "complete": "paid", "completed": "paid", "success": "paid", "ok": "paid",
    "shipped": "paid", "delivered": "paid", "已支付": "paid", "已付款": "paid", "已完成": "paid",
    "完成": "paid", "成功": "paid",
    "refunded": "refunded", "refund": "refunded", "returned": "refunded", "已退款": "refunded",
    "退款": "refunded", "退货": "refunded",
    "cancelled": "cancelled", "canceled": "cancelled", "void": "cancelled", "已取消": "cancelled",
    "取消": "cancelled",
}


def normalize_status(raw: str | None, amount: float | None) -> str | None:
    """paid / refunded / cancelled: missing means paid, a negative amount is a refund.

    None for a status text that is none of these (the order is then left out of reports
    and flagged by `audit`).
    """
    status = _STATUS.get(raw)  # the common case: a value the table spells as it is
    if status is None:
        text = normalize_text(raw or "").lower()
        status = _STATUS.get(text) if text else "paid"
    if status == "paid" and amount is not None and amount < 0:
        return "refunded"
    return status


def parse_satisfaction(raw: str | None) -> int | None:
    """A 1-5 score from "4", "4/5", "4.0"; None when empty or out of range."""
    if not raw or not raw.strip():
        return None
    text = normalize_text(raw).split("/")[0].strip()
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value == int(value) and 1 <= value <= 5 else None


def content_key(kind: str, record: Record, seen: dict[int, int]) -> str:
    """A stable key for a row without a natural id: a hash of its content plus occurrence.

    The n-th identical row of a file gets "#n", so re-importing the file finds the same
    keys and two identical real events in one file are both kept.
    """
    payload = json.dumps([kind, record.keys, record.values, record.extra], sort_keys=True,
                         ensure_ascii=False)
    digest = hashlib.sha256(payload.encode("utf-8", "surrogatepass")).digest()[:16]
    # Counted under a 64-bit int (a third of the memory of the hex text, for files of
    # millions of rows); a clash would only number a row "#2" the same way every time.
    slot = int.from_bytes(digest[:8], "big")
    seen[slot] = seen.get(slot, 0) + 1
    return f"{digest.hex()}#{seen[slot]}"


def changed_values(stored: dict, incoming: dict[str, str], fields: Iterable[str]) -> dict[str, str]:
    """Fields whose non-blank incoming value differs from the stored one.

    A blank cell never overwrites a stored value: importing a partial file loses nothing.
    """
    out = {}
    for fld in fields:
        new = incoming.get(fld)
        if new is None or not new.strip():
            continue
        if stored.get(fld) != new:
            out[fld] = new
    return out
