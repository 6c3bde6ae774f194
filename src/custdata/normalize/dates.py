"""Dates in the forms exports use -> ISO 8601, or InvalidValue."""

from __future__ import annotations

import re
from datetime import date, timedelta

from custdata.errors import InvalidValue
from custdata.normalize.text import normalize_text

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
