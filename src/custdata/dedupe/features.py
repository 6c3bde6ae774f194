"""Contact rows -> `Record`s: every value folded once into the form the comparisons use.

Exact match keys (email_key, phone_key, id_number_key, external_id) are taken from the row
when it carries them: a store hands out its key columns, which are keyed blind indexes once
the store is encrypted, so exact matching works without plaintext. Fuzzy features come
from the readable values and are None where a value is missing, masked or unusable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

from custdata._lazy import lazy
from custdata.errors import InvalidValue
from custdata.normalize import email_key, normalize_date, normalize_text, phone_key, row_region
from custdata.normalize.phone import phone_canonical
from custdata.dedupe.names import Name, parse_name
from custdata.dedupe.orgs import fold_address

pypinyin = lazy("pypinyin")  # its dictionaries take a second to load

_HAN = re.compile(r"[\u3400-\u9fff]")
_PUNCT = re.compile(r"[^\w\u3400-\u9fff]+")
_E164 = re.compile(r"^\+\d{6,15}$")
DIGITS = re.compile(r"\d+")  # house numbers: another number is another address
_NON_DIGITS = re.compile(r"\D")
_SPACE = re.compile(r"\s")
_ID_SEPARATORS = re.compile(r"[\s-]")
_COMPANY_NOISE = re.compile(
    r"\b(?:co|company|corp|corporation|inc|incorporated|ltd|limited|llc|plc|gmbh|ag|sa|"
    r"group|holdings?|the)\b|股份有限公司|有限责任公司|有限公司|集团|公司"
)
_GENDERS = {
    "m": "m", "male": "m", "man": "m", "男": "m", "mr": "m", "f": "f", "female": "f",
    "woman": "f", "女": "f", "w": "f", "ms": "f", "mrs": "f",
}


@dataclass(slots=True)
class Record:
    """One contact folded for matching. `id` is the row's id (or its position)."""

    id: Any
    external_id: str | None
    email_key: str | None
    phone_key: str | None
    id_key: str | None
    email: str | None  # readable normalized address, for typo comparison
    phone: str | None  # readable digits of the E.164 form
    id_number: str | None
    name: Name | None
    birth: str | None  # "YYYYMMDD"
    gender: str | None
    company: str | None
    address: str | None
    city: str | None
    postal: str | None
    province: str | None = None
    other_id: str | None = None  # user-named identifiers from `extra`: "col=VALUE|…"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = normalize_text(value if type(value) is str else str(value))
    if not text or "***" in text:  # masked (138****8000)
        return None
    return text


@lru_cache(maxsize=50_000)
def _place(text: str) -> str:
    """City folded: 北京市 / Beijing / BEIJING CITY -> "beijing"."""
    text = text.casefold()
    if _HAN.search(text):
        text = re.sub(r"[市省区县]$", "", text)
        return "".join(pypinyin.lazy_pinyin(text, style=pypinyin.Style.NORMAL)).replace(" ", "")
    text = re.sub(r"\bcity\b", "", text)
    return _PUNCT.sub("", text)


@lru_cache(maxsize=100_000)
def _company(text: str) -> str | None:
    """Company folded; Chinese names as their sorted characters, so that
    远航餐饮管理（青岛）有限公司 and 青岛远航餐饮管理 agree."""
    folded = _COMPANY_NOISE.sub(" ", text.casefold())
    folded = " ".join(_PUNCT.sub(" ", folded).split())
    if _HAN.search(folded):
        return "".join(sorted(folded.replace(" ", ""))) or None
    return folded or None


def _birth(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_date(value).replace("-", "")
    except InvalidValue:
        return None


def _key(row: Mapping[str, Any], column: str, fallback: str | None) -> str | None:
    if column in row:
        stored = row[column]
        return str(stored) if stored not in (None, "") else None
    return fallback


def _folded(fold: Callable[[str], Any]) -> Callable[[Any], Any]:
    """fold(_text(value)) (None for a missing or masked value), remembered per raw string:
    names, companies, cities, postal codes, genders and birth dates repeat a lot."""
    @lru_cache(maxsize=200_000)
    def cached(raw: str) -> Any:
        text = _text(raw)
        return fold(text) if text else None

    def folded(value: Any) -> Any:
        if type(value) is str:
            return cached(value)
        text = _text(value)
        return fold(text) if text else None
    return folded


_fold_name = _folded(parse_name)
_fold_gender = _folded(lambda text: _GENDERS.get(text.casefold().rstrip(".")))
_fold_company = _folded(_company)
_fold_city = _folded(lambda text: _place(text) or None)
_fold_postal = _folded(lambda text: _SPACE.sub("", text).upper())
_fold_birth = _folded(_birth)


def _region(row: Mapping[str, Any], default: str) -> str:
    """The row's own country (a code or a name) when it is a phone region, else `default`."""
    country = row.get("country")
    return row_region(country, default) if isinstance(country, str) and country else default


def _phone(row: Mapping[str, Any], phone: str | None, region: str
           ) -> tuple[str | None, str | None]:
    """(readable E.164 or "#digits" form, match key) of the row's phone.

    The number is read at the row's own country, else at `region`. One that cannot be
    parsed is keyed by its digits ("#4042337673"), so punctuation never decides. A stored
    key is kept when it is a keyed blind index (an encrypted store) or the E.164 form read
    at the same region."""
    stored = row.get("phone_key") if "phone_key" in row else None
    if not phone:
        return None, (str(stored) if stored not in (None, "") else None)
    at = _region(row, region)
    readable_stored = isinstance(stored, str) and _E164.match(stored)
    if readable_stored and (at == region or _written_international(phone)):
        # "+CC..." reads as the same number at every region: the stored key is its reading
        return stored, stored
    own = _phone_digits_key(phone, at)
    if at != region and own is not None and not _E164.match(own):
        # as clean reads it: a number valid only at the store's region keeps that reading
        fallback = _phone_digits_key(phone, region)
        own = fallback if fallback is not None and _E164.match(fallback) else own
    blind = stored not in (None, "") and not readable_stored and stored != _raw_key(phone)
    return own, (str(stored) if blind else own)


def _written_international(phone: str) -> bool:
    """True when the phone is written "+" and digits only (its reading needs no region)."""
    canonical = phone_canonical(phone)
    return canonical is not None and canonical.startswith("+")


def _raw_key(phone: str) -> str:
    return normalize_text(phone).lower()


@lru_cache(maxsize=100_000)
def _phone_digits_key(phone: str, region: str) -> str | None:
    key = phone_key(phone, region)
    if key is None or _E164.match(key):
        return key
    digits = _NON_DIGITS.sub("", phone)
    return f"#{digits}" if len(digits) >= 5 else key


def _extra(row: Mapping[str, Any]) -> Mapping[str, Any]:
    extra = row.get("extra")
    if isinstance(extra, str) and extra.startswith("{"):
        try:
            extra = json.loads(extra)
        except ValueError:
            return {}
    return extra if isinstance(extra, Mapping) else {}


def other_ids(row: Mapping[str, Any], identifiers: tuple[str, ...]) -> str | None:
    """The user-named identifier columns of a row (from the row itself or its `extra`),
    folded (upper case, no spaces or dashes) as "col=VALUE|…" in the given order; None
    when the row has none of them."""
    if not identifiers:
        return None
    extra = _extra(row)
    parts = []
    for col in identifiers:
        value = _text(row.get(col, extra.get(col)))
        if value:
            parts.append(f"{col}={_ID_SEPARATORS.sub('', value).upper()}")
    return "|".join(parts) or None


def to_record(row: Mapping[str, Any], position: int = 0, *, region: str = "CN",
              identifiers: tuple[str, ...] = ()) -> Record:
    """The `Record` of one contact row (a dict with the contact fields, maybe key columns).
    `identifiers`: columns (kept in `extra` or in the row) to compare as identifiers."""
    get = row.get
    email = _text(get("email"))
    phone = _text(get("phone"))
    id_number = _text(get("id_number"))
    # Readable forms for typo comparisons. A stored key is reused when it is readable
    # (not a blind index); otherwise the key function runs here.
    phone_norm, phone_match = _phone(row, phone, region)
    stored_email = get("email_key")
    if email and isinstance(stored_email, str) and "@" in stored_email:
        email_norm = stored_email
    else:
        email_norm = email_key(email) if email else None
    id_norm = _ID_SEPARATORS.sub("", id_number).upper() if id_number else None
    address = _text(get("address"))
    external = get("external_id")
    return Record(
        id=get("id", position),
        external_id=str(external) if external not in (None, "") else None,
        email_key=_key(row, "email_key", email_norm),
        phone_key=phone_match,
        id_key=_key(row, "id_number_key", id_norm),
        email=email_norm if email_norm and "@" in email_norm else None,
        phone=_NON_DIGITS.sub("", phone_norm) or None if phone_norm else None,
        id_number=id_norm,
        name=_fold_name(get("name")),
        birth=_fold_birth(get("birth_date")),
        gender=_fold_gender(get("gender")),
        company=_fold_company(get("company")),
        address=fold_address(address) or None if address else None,
        city=_fold_city(get("city")),
        postal=_fold_postal(get("postal_code")),
        province=_fold_city(get("province")),
        other_id=other_ids(row, identifiers),
    )


def to_records(rows: list[Mapping[str, Any]], *, region: str = "CN",
               identifiers: tuple[str, ...] = ()) -> list[Record]:
    """`to_record` of every row, in order."""
    return [to_record(row, i, region=region, identifiers=identifiers)
            for i, row in enumerate(rows)]
