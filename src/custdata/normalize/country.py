"""Country names and codes in English or Chinese -> ISO 3166-1 alpha-2, or InvalidValue."""

from __future__ import annotations

from functools import lru_cache

from phonenumbers import SUPPORTED_REGIONS

from custdata.errors import InvalidValue
from custdata.normalize.tables import COUNTRIES, country_key


def normalize_country(raw: str) -> str:
    """ISO 3166-1 alpha-2 code of a country code or name in English or Chinese.

    "China", "中国", "PRC", "cn", "CHN" -> "CN"; "United Kingdom", "英国", "UK" -> "GB".
    """
    code = COUNTRIES.get(country_key(raw))
    if code is None:
        raise InvalidValue("country", raw, "not a known country name or code", "country.unknown")
    return code


@lru_cache(maxsize=4096)
def row_region(country: str | None, default: str) -> str:
    """The phone region of a contact: its country's ISO code (code or name, as
    `normalize_country` reads it) when it names a phone region, else `default`."""
    if not country or not str(country).strip():
        return default
    try:
        code = normalize_country(str(country))
    except InvalidValue:
        return default
    return code if code in SUPPORTED_REGIONS else default
