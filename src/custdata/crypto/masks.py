"""Masked forms of sensitive values: what commands show when they run without the key.

"13800138000" -> "138****8000", "zhang@qq.com" -> "z***@qq.com". A sealed value carries
its masked form in clear (crypto.protector), so masks must never give the value away.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import phonenumbers

_COUNTRY_CODES = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_STAR = str.maketrans({d: "*" for d in "0123456789０１２３４５６７８９"})


_EXTENSION_HINTS = frozenset("xXtTn#=转机")
_EXTENSION = re.compile(r"(?i)\s*(?:x|ext\.?|extension|#|;\s*ext=|转|分机)\s*\d+\s*$")


def mask_phone(value: str) -> str:
    """Middle digits hidden, separators and extension kept: "13800138000" -> "138****8000"."""
    digits = value[1:] if value[:1] == "+" else value
    if digits.isascii() and digits.isdigit():  # the common shape, a third of the work
        head = len(value) - len(digits)
        skip = _country_code_length(digits[:3]) if head else 0
        return value[:head + skip] + _hide_national(digits[skip:])
    return _mask_written_phone(value)


def _mask_written_phone(value: str) -> str:
    """mask_phone of any text: separators, extensions, non-ASCII digits."""
    ext = None if _EXTENSION_HINTS.isdisjoint(value) else _EXTENSION.search(value)
    number, tail = (value[:ext.start()], value[ext.start():]) if ext else (value, "")
    digits = [i for i, ch in enumerate(number) if ch.isdecimal()]
    skip = 0
    if number.lstrip()[:1] == "+":
        skip = _country_code_length("".join([number[i] for i in digits[:3]]))
    national = digits[skip:]
    start, end = _hidden_span(len(national))
    hidden = national[start:end]
    if not hidden:
        return number + tail
    # The hidden digits are consecutive among the digits: star every digit in their span.
    first, end = hidden[0], hidden[-1] + 1
    return number[:first] + _DIGIT.sub("*", number[first:end]) + number[end:] + tail


@functools.lru_cache(maxsize=4096)
def _country_code_length(lead: str) -> int:
    """How many leading digits of an international number are its country code (0: none).

    Only the first 3 digits count: pass just those (`digits[:3]`), so the cache hits.
    """
    lead = lead[:3]
    return next((n for n in (1, 2, 3) if int(lead[:n] or 0) in _COUNTRY_CODES), 0)


def _hidden_span(n: int) -> tuple[int, int]:
    """Which of a national number's `n` digits a mask hides, as [start, end).

    10 or more digits: all but the first 3 and the last 4; 6 or more: all but the last 4;
    fewer: every one.
    """
    if n >= 10:
        return 3, n - 4
    if n >= 6:
        return 0, n - 4
    return 0, n


def _hide_national(digits: str) -> str:
    """A national number of ASCII digits masked as _mask_written_phone masks it."""
    start, end = _hidden_span(len(digits))
    return digits[:start] + "*" * (end - start) + digits[end:]


def mask_email(value: str) -> str:
    """First letter of the mailbox, then stars, domain kept: "zhang@qq.com" -> "z***@qq.com"."""
    local, at, domain = value.replace("\uff20", "@").rpartition("@")  # full-width ＠ too
    if not at:
        return mask_text(value)
    return (local[:1] if len(local) > 1 else "") + "***@" + domain


def mask_id_number(value: str) -> str:
    """First 3 and last 4 characters kept: "110101199003074578" -> "110***********4578"."""
    text = value.strip()
    if len(text) < 10:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def mask_address(value: str) -> str:
    """The first half (at most 6 characters, digits hidden), then "****"."""
    keep = min(6, len(value) // 2)
    return value[:keep].translate(_STAR) + "****"


_YEAR_FIRST = re.compile(r"\s*\d{4}(?=\D)")


def mask_date(value: str) -> str:
    """Year kept, month and day hidden: "1990-03-07" -> "1990-**-**"."""
    match = _YEAR_FIRST.match(value)
    head = match.end() if match else 0
    return value[:head] + value[head:].translate(_STAR)


def mask_text(value: str) -> str:
    """First character, then "***": "张三丰" -> "张***"."""
    return (value[:1] + "***") if len(value) > 1 else "*" * len(value)


_DIGIT = re.compile(r"\d")


def mask_reference(value: str) -> str:
    """A customer reference masked by what it looks like: email, phone, or other text."""
    if "@" in value:
        return mask_email(value)
    if len(_DIGIT.findall(value)) >= 7:
        return mask_phone(value)
    return mask_text(value)


COLUMN_MASKS: dict[str, Callable[[str], str]] = {
    "customer_ref": mask_reference,
    "email": mask_email,
    "phone": mask_phone,
    "id_number": mask_id_number,
    "address": mask_address,
    "birth_date": mask_date,
}


def mask_for(column: str) -> Callable[[str], str]:
    """The mask function of `column` (history's "email.old" masks as email)."""
    return COLUMN_MASKS.get(column.split(".")[0], mask_text)


def mask_value(column: str, value: str | None) -> str | None:
    """The masked form of `value` for `column` (history's "email.old" masks as email)."""
    if value is None or value == "":
        return value
    return mask_for(column)(value)
