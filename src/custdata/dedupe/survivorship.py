"""Which record survives a merge, and which value each of its fields keeps.

Rules (also in the README):
1. Survivor: the record with the most non-empty fields; ties go to the oldest (lowest id).
   It keeps its id; the others' orders and interactions move to it.
2. Per field, candidates are the members' non-empty values, most recent record first
   (by `updated_at`, then when custdata last changed it, then id).
3. Never an invalid value over a valid one: email, phone, birth_date and id_number values
   that fail validation are used only when no member has a valid one.
4. Most recent wins, except that for name, company, title and address a longer value
   that contains the chosen one (ignoring case and spacing) wins: it is more complete.
5. external_id, stage and tier: the survivor's own (the others' ids go away with them;
   stage and tier are recomputed by `tag`). created_at: the earliest; updated_at: the
   latest. tags: the union. consent: "no" if any member said no (the cautious answer),
   else the most recent. extra: all keys, the most recent record's value per key.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Sequence

from stdnum.cn import ric

from custdata.errors import InvalidValue
from custdata.models import CONTACT_FIELDS
from custdata.normalize import normalize_date, normalize_email, normalize_phone, normalize_text

_LONGEST = ("name", "company", "title", "address")
_OWN = ("external_id", "stage", "tier")


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_valid(field: str, value: str, *, region: str = "CN") -> bool:
    """Whether a non-empty value of a validated field passes its check."""
    try:
        if field == "email":
            normalize_email(value)
        elif field == "phone":
            normalize_phone(value, region)
        elif field == "birth_date":
            normalize_date(value)
        elif field == "id_number":
            return bool(ric.is_valid(normalize_text(value)))
    except (InvalidValue, ValueError):
        return False
    return True


def _recency(row: Mapping[str, Any]) -> tuple:
    try:
        updated = normalize_date(str(row.get("updated_at") or ""))
    except InvalidValue:
        updated = ""
    return (updated, str(row.get("updated_at") or ""), str(row.get("changed_at") or ""),
            row.get("id") or 0)


def choose_survivor(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The most complete record; ties to the lowest id."""
    return min(rows, key=lambda r: (-_filled(r), r.get("id") or 0))


def _filled(row: Mapping[str, Any]) -> int:
    """How many contact fields of `row` are not empty (`_empty`, inlined: a merge of a
    large store asks this of every member)."""
    filled = 0
    for value in map(row.get, CONTACT_FIELDS):
        if value is not None and not (isinstance(value, str) and not value.strip()):
            filled += 1
    return filled


def _fold(value: str) -> str:
    return re.sub(r"\s+", "", normalize_text(value).casefold())


def _pick(field: str, values: list[str], region: str) -> str:
    if field in ("email", "phone", "birth_date", "id_number"):
        valid = [v for v in values if is_valid(field, v, region=region)]
        values = valid or values
    chosen = values[0]
    if field in _LONGEST:
        folded = _fold(chosen)
        longer = [v for v in values if folded in _fold(v) and len(_fold(v)) > len(folded)]
        if longer:
            chosen = max(longer, key=lambda v: len(_fold(v)))
    return chosen


def _dated(values: list[str]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        try:
            out.append((normalize_date(value), value))
        except InvalidValue:
            continue
    return out


def _tags(values: list[str]) -> str:
    seen: dict[str, None] = {}
    for value in reversed(values):  # oldest first
        for tag in re.split(r"[,;]", value):
            if tag.strip():
                seen.setdefault(tag.strip(), None)
    return ",".join(seen)


def _extra(rows: list[Mapping[str, Any]]) -> str | None:
    merged: dict[str, Any] = {}
    for row in reversed(rows):  # oldest first: newer values overwrite
        raw = row.get("extra")
        try:
            merged.update(json.loads(raw) if isinstance(raw, str) and raw else raw or {})
        except (ValueError, TypeError):
            continue
    return json.dumps(merged, ensure_ascii=False, sort_keys=True) if merged else None


def merged_values(rows: Sequence[Mapping[str, Any]], *, region: str = "CN") -> dict[str, Any]:
    """The survivor's fields after the merge (CONTACT_FIELDS plus `extra`), by the rules above."""
    survivor = choose_survivor(rows)
    ordered = sorted(rows, key=_recency, reverse=True)
    out: dict[str, Any] = {}
    for field in CONTACT_FIELDS:
        values = [str(r[field]) for r in ordered if not _empty(r.get(field))]
        if field in _OWN or not values:
            out[field] = survivor.get(field)
            if field == "external_id" and _empty(out[field]) and values:
                out[field] = values[0]
            continue
        if field in ("created_at", "updated_at"):
            dated = _dated(values)
            pick = (min if field == "created_at" else max)(dated)[1] if dated else values[0]
            out[field] = pick
        elif field == "tags":
            out[field] = _tags(values)
        elif field == "consent" and any(v.strip().casefold() == "no" for v in values):
            out[field] = next(v for v in values if v.strip().casefold() == "no")
        else:
            out[field] = _pick(field, values, region)
    extra = _extra(list(ordered))
    own = _extra([survivor])
    # Keep the survivor's own text when the content is the same (no spurious change).
    out["extra"] = survivor.get("extra") if extra is None or extra == own else extra
    return out
