"""Match keys: the ONLY place they are made. Plain value -> normalized key, or None.

Import stores these keys beside each contact to find it again; clean, forget, dedupe and
the re-keying of encrypt / decrypt / rotate-key recompute them with the same functions,
so a key computed at import always equals the key of the cleaned value. An encrypted
store keeps a blind index of the key (custdata.crypto), never the key itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from custdata.errors import InvalidValue
from custdata.normalize.email import normalize_email
from custdata.normalize.id_number import ID_SEPARATORS, normalize_id_number
from custdata.normalize.phone import phone_verdict
from custdata.normalize.text import normalize_text

# (kind, match-key column): the values contacts are matched on, and where their keys live.
KEY_KINDS = (("email", "email_key"), ("phone", "phone_key"), ("id_number", "id_number_key"))


def email_key(raw: str | None) -> str | None:
    """Match key of an email: the normalized address lower-cased as a whole.

    None for an empty value. An address that does not validate still gets a key (its
    NFKC, trimmed, lower-cased text), so re-importing it finds the same contact.
    """
    if raw is None or not raw.strip():
        return None
    try:
        return normalize_email(raw).lower()
    except InvalidValue:
        return normalize_text(raw).lower() or None


def phone_key(raw: str | None, default_region: str = "CN") -> str | None:
    """Match key of a phone: E.164 at the default region (extension dropped).

    None for an empty value; an unparseable phone keys on its NFKC, trimmed text.
    """
    if raw is None or not raw.strip():
        return None
    e164 = phone_verdict(raw, default_region)[0]
    if e164 is None:
        return normalize_text(raw).lower() or None
    return e164.split(";", 1)[0]


def id_number_key(raw: str | None) -> str | None:
    """Match key of an ID number: its checked 18-character form, else its NFKC text
    without separators, upper-cased; None for an empty value."""
    if raw is None or not raw.strip():
        return None
    try:
        return normalize_id_number(raw)
    except InvalidValue:
        return ID_SEPARATORS.sub("", normalize_text(raw)).upper() or None


KeyFunction = Callable[[str | None], str | None]


@functools.lru_cache(maxsize=64)
def key_functions(region: str) -> tuple[tuple[str, str, KeyFunction], ...]:
    """(kind, key column, value -> match key) for each of KEY_KINDS, phones read at `region`.

    Built once per region: import keys a million rows through it.
    """
    by_kind: dict[str, KeyFunction] = {
        "email": email_key,
        "phone": functools.partial(phone_key, default_region=region),
        "id_number": id_number_key,
    }
    return tuple((kind, column, by_kind[kind]) for kind, column in KEY_KINDS)


def key_function(kind: str, region: str) -> KeyFunction:
    """The match-key function of one kind ("email", "phone", "id_number"): value -> key.

    Phones are read at `region` (an ISO 3166 code such as "CN").
    """
    for known, _, function in key_functions(region):
        if known == kind:
            return function
    raise ValueError(f"no match key of kind {kind!r}; kinds: email, phone, id_number")


def key_of(kind: str, value: str | None, region: str = "CN") -> str | None:
    """The match key of one plain value: key_of("phone", "138 0013 8000") -> "+8613800138000"."""
    return key_function(kind, region)(value)


def contact_keys(row: Mapping[str, object], *, region: str = "CN") -> dict[str, str | None]:
    """Key column -> match key of a contact row (before any blind indexing).

    {"email_key": ..., "phone_key": ..., "id_number_key": ...}; a missing or empty value
    keys to None.
    """
    return {column: key(_str(row.get(kind))) for kind, column, key in key_functions(region)}


def _str(value: object) -> str | None:
    return None if value is None else str(value)
