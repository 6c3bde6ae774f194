"""Chinese resident ID numbers -> the checked 18-character form, or InvalidValue."""

from __future__ import annotations

import re

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from custdata.errors import InvalidValue
from custdata.normalize.text import normalize_text

# Separators people write inside ID numbers: dropped before checking (and in match keys).
ID_SEPARATORS = re.compile(r"[\s\-.]")


def normalize_id_number(raw: str) -> str:
    """A checked Chinese resident ID: 18 characters, separators removed, check "X" upper-case.

    Codes: id_number.length, id_number.format, id_number.checksum, id_number.birth_date,
    id_number.region (birth-place code unknown).
    """
    number = ric.compact(ID_SEPARATORS.sub("", normalize_text(raw)))
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


def upgrade_id_number(raw: str) -> str | None:
    """The 18-character form of a valid 15-digit first-generation ID, else None."""
    number = ric.compact(ID_SEPARATORS.sub("", normalize_text(raw)))
    if len(number) != 15 or not number.isdigit():
        return None
    body = number[:6] + "19" + number[6:]
    candidate = body + ric.calc_check_digit(body + "0")
    try:
        return ric.validate(candidate)
    except ValidationError:
        return None
