"""Contact row -> the field values `clean` would rewrite. Pure: plain dicts in and out.

Rules (SPEC.md section 4): a value clean cannot normalize is left exactly as it is (and
reported by `validate`); clean never blanks a value; cleaning a cleaned row changes
nothing. `external_id`, `stage`, `tier`, `tags`, `created_at` and `updated_at` are
never touched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping

from custdata.errors import InvalidValue
from custdata.normalize import (
    normalize_consent, normalize_country, normalize_date, normalize_email, normalize_id_number,
    normalize_name, normalize_text, phone_verdict, row_region,
)
from custdata.parallel import map_chunks

# Free text: NFKC and whitespace only.
TEXT_FIELDS = (
    "gender", "company", "title", "industry", "company_size", "address", "city", "province",
    "postal_code", "source", "owner",
)
# Fields clean rewrites, in the order changes are reported.
CLEANED_FIELDS = (
    "name", "email", "phone", "id_number", "birth_date", "country", "consent", *TEXT_FIELDS,
)
# Stored columns derived from a field (not user values: no history row, no count).
DERIVED_COLUMNS = ("phone_type",)


def _cleaner(field: str, region: str, dayfirst: bool) -> Callable[[str], str]:
    if field == "name":
        return normalize_name
    if field == "email":
        return normalize_email
    if field == "phone":
        return functools.partial(_phone, region=region)
    if field == "id_number":
        return normalize_id_number
    if field == "birth_date":
        return functools.partial(normalize_date, dayfirst=dayfirst)
    if field == "country":
        return normalize_country
    if field == "consent":
        return normalize_consent
    return normalize_text


def _phone(raw: str, *, region: str) -> str:
    e164, code, reason = phone_verdict(raw, region)
    if e164 is None:
        raise InvalidValue("phone", raw, reason, code)
    return e164


@functools.lru_cache(maxsize=64)
def _cleaners(region: str, dayfirst: bool) -> tuple[tuple[str, Callable[[str], str]], ...]:
    return tuple((f, _cleaner(f, region, dayfirst)) for f in CLEANED_FIELDS)


def _apply(fn: Callable[[str], str], raw: str) -> str:
    try:
        new = fn(raw)
    except InvalidValue:
        return raw
    return new if new.strip() else raw


def clean_value(field: str, raw: str, *, region: str = "CN", dayfirst: bool = False) -> str:
    """The cleaned form of one value; `raw` itself when it cannot be normalized or would blank."""
    return _apply(_cleaner(field, region, dayfirst), raw)


def clean_contact(row: Mapping[str, object], *, region: str = "CN", dayfirst: bool = False
                  ) -> dict[str, str | None]:
    """Field -> new value for every field of `row` that clean rewrites (only changes).

    The phone is read at the row's own region (`phone_region`): a US number stays a US
    number in a CN store.

    Also "phone_type" (phonenumbers' type of the cleaned phone, e.g. "mobile") when it
    differs from the row's stored one; None when the phone is empty or invalid.

    >>> clean_contact({"name": "JOHN MCDONALD", "phone": "138 0013 8000"}, region="CN")
    {'name': 'John McDonald', 'phone': '+8613800138000', 'phone_type': 'mobile'}
    """
    changes: dict[str, str | None] = {}
    at = phone_region(row, region)
    for field, fn in _cleaners(at, dayfirst):
        raw = row.get(field)
        if raw is None or raw == "":
            continue
        raw = str(raw)
        new = _apply(fn, raw)
        if new != raw:
            changes[field] = new
    phone = row.get("phone")
    kind = None
    if phone is not None and str(phone).strip():
        e164, code, _ = phone_verdict(str(phone), at)
        kind = code if e164 is not None else None
    if kind != row.get("phone_type"):
        changes["phone_type"] = kind
    return changes


def phone_region(row: Mapping[str, object], region: str) -> str:
    """The region a row's phone is read at: the row's country (a code or a name) when it
    is a phone region and the number is valid there, else the store's `region` (a
    number that only reads at the store's region keeps that reading)."""
    country, phone = row.get("country"), row.get("phone")
    own = row_region(str(country), region) if country else region
    if own != region and phone and phone_verdict(str(phone), own)[0] is None \
            and phone_verdict(str(phone), region)[0] is not None:
        return region
    return own


def _chunk_changes(rows: list[dict[str, object]], *, region: str, dayfirst: bool
                   ) -> list[tuple[object, dict[str, str | None]]]:
    out = []
    for row in rows:
        changes = clean_contact(row, region=region, dayfirst=dayfirst)
        if changes:
            out.append((row.get("id"), changes))
    return out


def clean_rows(
    rows: Iterable[Mapping[str, object]], *, region: str = "CN", dayfirst: bool = False,
    workers: int | None = None,
) -> Iterator[tuple[object, dict[str, str | None]]]:
    """(row id, changes) for each row that clean would change, in input order.

    Batches of 20,000 rows and more are cleaned on every CPU core (workers=1: here only).
    """
    keep = ("id", "phone_type", *CLEANED_FIELDS)
    slim = ({k: row.get(k) for k in keep} for row in rows)
    work = functools.partial(_chunk_changes, region=region, dayfirst=dayfirst)
    return map_chunks(work, slim, workers=workers)


def _chunk_values(values: list[str | None], *, field: str, region: str, dayfirst: bool
                  ) -> list[str | None]:
    fn = _cleaner(field, region, dayfirst)
    return [v if v is None or v == "" else _apply(fn, v) for v in values]


def clean_values(
    field: str, values: Iterable[str | None], *, region: str = "CN", dayfirst: bool = False,
    workers: int | None = None,
) -> list[str | None]:
    """clean_value over many values of one field, in order (None and "" pass through).

    20,000 values and more are spread over every CPU core (workers=1: here only).
    """
    work = functools.partial(_chunk_values, field=field, region=region, dayfirst=dayfirst)
    return list(map_chunks(work, values, workers=workers))
