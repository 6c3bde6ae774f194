"""Dates, countries and Chinese resident ID numbers -> canonical strings, or InvalidValue."""

from __future__ import annotations

import re
from datetime import date, timedelta

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from custdata.errors import InvalidValue
from custdata.normalize_tables import COUNTRIES, country_key
from custdata.textnorm import normalize_text

# --------------------------------------------------------------------------- dates

_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?")
_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T].*)?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")
_MONTHS = {
    m: i + 1 for i, names in enumerate((
        "jan january", "feb february", "mar march", "apr april", "may", "jun june",
        "jul july", "aug august", "sep sept september", "oct october", "nov november",
        "dec december",
    )) for m in names.split()
}
_MONTH_FIRST = re.compile(r"([a-z]+)\.?[ -](\d{1,2})(?:st|nd|rd|th)?,?[ -](\d{4})")
_DAY_FIRST = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?[ -]([a-z]+)\.?,?[ -](\d{4})")
_EXCEL_EPOCH = date(1899, 12, 30)
MIN_YEAR, MAX_YEAR = 1800, 2200


def _ymd(y: int, m: int, d: int) -> date:
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise ValueError("year out of range")
    return date(y, m, d)


def _parse_date(text: str, dayfirst: bool) -> date:
    if match := _YMD.fullmatch(text):
        return _ymd(*(int(g) for g in match.groups()))
    if match := _COMPACT.fullmatch(text):
        return _ymd(*(int(g) for g in match.groups()))
    if _SERIAL.fullmatch(text):
        return _EXCEL_EPOCH + timedelta(days=int(float(text)))
    if match := _DMY.fullmatch(text):
        a, b, y = (int(g) for g in match.groups())
        d, m = (a, b) if dayfirst else (b, a)
        if m > 12 and d <= 12:  # unambiguous: 25/12/2024 is day-first whatever the setting
            d, m = m, d
        return _ymd(y, m, d)
    lower = text.lower()
    if (match := _MONTH_FIRST.fullmatch(lower)) and match.group(1) in _MONTHS:
        return _ymd(int(match.group(3)), _MONTHS[match.group(1)], int(match.group(2)))
    if (match := _DAY_FIRST.fullmatch(lower)) and match.group(2) in _MONTHS:
        return _ymd(int(match.group(3)), _MONTHS[match.group(2)], int(match.group(1)))
    raise ValueError("no known date form")


def normalize_date(raw: str, *, dayfirst: bool = False) -> str:
    """ISO 8601 date of `raw`: "2024/1/5", "2024年1月5日", "45296" (Excel) -> "2024-01-05".

    Also 2024-01-05T10:00, 20240105, 1/5/2024 (5.1.2024 with dayfirst), Jan 5, 2024 and
    5 January 2024. Excel serials are read for 5-digit numbers (1927-05-18 .. 2173-10-14).
    """
    text = normalize_text(raw)
    try:
        return _parse_date(text, dayfirst).isoformat()
    except (ValueError, OverflowError) as exc:
        raise InvalidValue("date", raw, "not a recognised date", "date.unparseable") from exc


# ----------------------------------------------------------------------- countries


def normalize_country(raw: str) -> str:
    """ISO 3166-1 alpha-2 code of a country code or name in English or Chinese.

    "China", "中国", "PRC", "cn", "CHN" -> "CN"; "United Kingdom", "英国", "UK" -> "GB".
    """
    code = COUNTRIES.get(country_key(raw))
    if code is None:
        raise InvalidValue("country", raw, "not a known country name or code", "country.unknown")
    return code


# ---------------------------------------------------------------------- id numbers


_ID_SEPARATORS = re.compile(r"[\s\-.]")


def normalize_id_number(raw: str) -> str:
    """A checked Chinese resident ID: 18 characters, separators removed, check "X" upper-case.

    Codes: id_number.length, id_number.format, id_number.checksum, id_number.birth_date,
    id_number.region (birth-place code unknown).
    """
    number = ric.compact(_ID_SEPARATORS.sub("", normalize_text(raw)))
    if len(number) != 18:
        raise InvalidValue("id_number", raw, "must have 18 characters", "id_number.length")
    if not (number[:-1].isdigit() and number[:-1].isascii()):
        raise InvalidValue(
            "id_number", raw, "must be 17 digits and a digit or X", "id_number.format")
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidValue("id_number", raw, "check digit does not match", "id_number.checksum")
    try:
        ric.get_birth_date(number)
    except ValidationError as exc:
        raise InvalidValue(
            "id_number", raw, "birth date is not a real date", "id_number.birth_date"
        ) from exc
    # stdnum's validate() also rejects a county code that did not exist in the birth year,
    # but the code is that of the place of registration, often later: only an unknown
    # code is a problem.
    if not _known_region(number[:6]):
        raise InvalidValue("id_number", raw, "birth-place code is unknown", "id_number.region")
    return number


_region_cache: dict[str, bool] = {}


def _known_region(code: str) -> bool:
    known = _region_cache.get(code)
    if known is None:
        from stdnum import numdb

        info = {k: v for _, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
        known = _region_cache[code] = "county" in info
    return known


def id_number_key(raw: str | None) -> str | None:
    """Match key of an ID number: its checked 18-character form, else its NFKC text
    without separators, upper-cased; None for an empty value."""
    if raw is None or not raw.strip():
        return None
    try:
        return normalize_id_number(raw)
    except InvalidValue:
        return _ID_SEPARATORS.sub("", normalize_text(raw)).upper() or None


def upgrade_id_number(raw: str) -> str | None:
    """The 18-character form of a valid 15-digit first-generation ID, else None."""
    number = ric.compact(_ID_SEPARATORS.sub("", normalize_text(raw)))
    if len(number) != 15 or not number.isdigit():
        return None
    body = number[:6] + "19" + number[6:]
    candidate = body + ric.calc_check_digit(body + "0")
    try:
        return ric.validate(candidate)
    except ValidationError:
        return None
