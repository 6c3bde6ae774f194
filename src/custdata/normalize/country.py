"""Country names and codes in English or Chinese -> ISO 3166-1 alpha-2, or InvalidValue."""

from __future__ import annotations

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
