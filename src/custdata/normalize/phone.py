"""Phones -> E.164 and number type, judged by phonenumbers, through a verified cache.

Each verdict is cached on a canonical key (the region, and the "+" and digits of a value
made only of digits and separators phonenumbers ignores), and the commonest shapes skip
parsing: 11-digit Chinese mobiles and "+CC" numbers no national-prefix rule can touch are
judged by phonenumbers' own number-type check. Every invalid verdict comes from
phonenumbers.parse. `tests/test_normalize_fastpath.py` proves both agree with the bare
library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber, PhoneNumberFormat, PhoneNumberType,
)

from custdata.errors import InvalidValue

_CACHE_MAX = 50_000  # entries (~300 bytes each); the import budget is 200 MiB

# Chinese extension markers phonenumbers does not know: read as "ext.".
_CN_EXTENSION = re.compile(r"\s*(?:转|轉|分机|分機|内线|內線)\s*")
# Full-width forms phonenumbers treats exactly like their ASCII counterparts.
_PHONE_FOLD = str.maketrans(
    "０１２３４５６７８９＋－．／（）\u3000\u00a0", "0123456789+-./()  "
)
# A value made only of an optional leading "+", digits and separators phonenumbers
# strips without a trace: its verdict depends on the "+" and the digits alone.
_PHONE_SHAPE = re.compile(r"[ ()\-./]*(\+?)([0-9][0-9 \-.()/]*)")
_NON_DIGITS = re.compile(r"[^0-9]")
_TYPE_NAMES = {
    value: name.lower()
    for name, value in vars(PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}
_phone_cache: dict[tuple[str, str], tuple[str | None, str, str]] = {}


@dataclass(frozen=True)
class PhoneResult:
    """A valid phone: E.164 (with ";ext=N" when it has an extension) and its number type."""

    e164: str
    type: str

    @property
    def key(self) -> str:
        return self.e164.split(";", 1)[0]


def phone_input(raw: str) -> str:
    """The text handed to phonenumbers: trimmed, with 转/分机 read as an extension marker."""
    text = raw.strip()
    if not text.isascii():
        text = _CN_EXTENSION.sub(" ext. ", text)
    return text


def phone_canonical(raw: str) -> str | None:
    """"+" and digits of a value whose verdict depends on nothing else, else None.

    "(+86) 138-0013 8000" -> "+8613800138000". Values with letters, extensions, other
    separators or a "+" after the first digit have no canonical form (None).
    """
    text = raw.strip()
    if text.isdigit() and text.isascii():
        return text if 3 <= len(text) <= 17 else None
    if text[:4].lower() == "tel:":  # phonenumbers skips anything before the first digit or +
        text = text[4:]
    text = text.translate(_PHONE_FOLD)
    match = _PHONE_SHAPE.fullmatch(text)
    if match is None:
        return None
    digits = _NON_DIGITS.sub("", match.group(2))
    if not 3 <= len(digits) <= 17:
        return None
    return match.group(1) + digits


def _library_phone(text: str, region: str) -> tuple[str | None, str, str]:
    """phonenumbers' verdict: (formatted or None, type name, reason)."""
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException as exc:
        code = "phone.no_region" if exc.error_type == exc.INVALID_COUNTRY_CODE else "phone.invalid"
        return None, code, getattr(exc, "_msg", str(exc))
    # is_valid_number(n) is exactly number_type(n) != UNKNOWN (both look up the metadata
    # of the number's own region and match its national number against the same type
    # patterns), so one call gives both the verdict and the type: a third of the cost.
    kind = number_type(number.country_code,
                       phonenumbers.national_significant_number(number), number)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        return None, "phone.invalid", "not a valid number for its region"
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if number.extension:
        e164 += ";ext=" + number.extension
    return e164, _TYPE_NAMES.get(kind, "unknown"), ""


# phonenumbers' number_type tests these descriptions in this order, then fixed line and
# mobile (see _number_type_helper); each test is a length check and a full match.
_SPECIAL_TYPES = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE), ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST), ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER), ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN), ("voicemail", PhoneNumberType.VOICEMAIL),
)
_Desc = tuple[frozenset[int], re.Pattern[str]] | None


def _desc(desc: object) -> _Desc:
    """A PhoneNumberDesc as (allowed lengths or empty for any, compiled pattern); None never matches."""
    pattern = getattr(desc, "national_number_pattern", None)
    if not pattern:
        return None
    return frozenset(desc.possible_length or ()), re.compile(pattern)  # type: ignore[attr-defined]


def _matches(nsn: str, desc: _Desc) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    return (not lengths or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None


class _TypeTable:
    """One region's number-type descriptions, compiled once: number_type without its overhead.

    Built only for country codes served by a single region, where phonenumbers' own
    region look-up has nothing to choose; `tests/test_normalize_fastpath.py` checks it
    against phonenumbers.number_type number by number.
    """

    def __init__(self, meta: PhoneMetadata) -> None:
        self.general = _desc(meta.general_desc)
        self.special = [(d, kind) for attr, kind in _SPECIAL_TYPES
                        if (d := _desc(getattr(meta, attr))) is not None]
        self.fixed = _desc(meta.fixed_line)
        self.mobile = _desc(meta.mobile)
        self.same = bool(meta.same_mobile_and_fixed_line_pattern)

    def number_type(self, nsn: str) -> int:
        if not _matches(nsn, self.general):
            return PhoneNumberType.UNKNOWN
        for desc, kind in self.special:
            if _matches(nsn, desc):
                return kind
        if _matches(nsn, self.fixed):
            if self.same or _matches(nsn, self.mobile):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not self.same and _matches(nsn, self.mobile):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


_type_tables: dict[int, _TypeTable | None] = {}


def number_type(cc: int, nsn: str, number: PhoneNumber | None = None) -> int:
    """phonenumbers.number_type of `number`, or of +cc nsn (digits, no leading zero).

    `nsn` is the national significant number (phonenumbers.national_significant_number).
    """
    if cc not in _type_tables:
        regions = COUNTRY_CODE_TO_REGION_CODE.get(cc, ())
        meta = None
        if len(regions) == 1:
            meta = PhoneMetadata.metadata_for_region_or_calling_code(cc, regions[0])
        _type_tables[cc] = _TypeTable(meta) if meta is not None else None
    table = _type_tables[cc]
    if table is None:
        return phonenumbers.number_type(
            number or PhoneNumber(country_code=cc, national_number=int(nsn)))
    return table.number_type(nsn)


def _cn_mobile(digits: str) -> tuple[str | None, str, str]:
    """Verdict for an 11-digit national number starting with 1 at +86, without parsing."""
    kind = number_type(86, digits)
    if kind == PhoneNumberType.UNKNOWN:
        return None, "phone.invalid", "not a valid number for its region"
    return "+86" + digits, _TYPE_NAMES[kind], ""


_national_prefix: dict[int, re.Pattern[str] | None] = {}


def _international(digits: str) -> tuple[str | None, str, str] | None:
    """Valid verdict for the digits after "+" built without parsing, or None (library).

    Mirrors phonenumbers.parse: the country code is the first 1-3 digit prefix it knows;
    any national number its national-prefix rule could strip, or starting with 0, goes
    to the library, as does every number that is not valid.
    """
    if not digits or digits[0] == "0":
        return None
    for size in (1, 2, 3):
        cc = int(digits[:size])
        if cc in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    nsn = digits[size:]
    if not 2 <= len(nsn) <= 17 or nsn[0] == "0":
        return None
    if cc not in _national_prefix:
        main = phonenumbers.region_code_for_country_code(cc)
        meta = (PhoneMetadata.metadata_for_nongeo_region(cc) if main == "001"
                else PhoneMetadata.metadata_for_region(main))
        rule = meta.national_prefix_for_parsing if meta is not None else None
        _national_prefix[cc] = re.compile(rule) if rule else None
    rule = _national_prefix[cc]
    if rule is not None and rule.match(nsn):
        return None
    kind = number_type(cc, nsn)
    if kind == PhoneNumberType.UNKNOWN:
        return None
    return f"+{cc}{nsn}", _TYPE_NAMES[kind], ""


def _fast_phone(canonical: str, region: str) -> tuple[str | None, str, str] | None:
    if len(canonical) == 11 and region == "CN" and canonical[0] == "1":
        return _cn_mobile(canonical)
    if len(canonical) == 14 and canonical.startswith("+861"):
        return _cn_mobile(canonical[3:])
    if len(canonical) == 15 and region == "CN" and canonical.startswith("00861"):
        return _cn_mobile(canonical[4:])
    if canonical[0] == "+":
        return _international(canonical[1:])
    if region == "CN" and canonical.startswith("00"):  # CN's IDD is 00 (0 after it: not IDD)
        return _international(canonical[2:])
    return None


def phone_verdict(raw: str, region: str = "CN") -> tuple[str | None, str, str]:
    """(E.164 or None, number type or problem code, reason) for `raw` at `region`.

    The same verdict as phonenumbers.parse + is_valid_number on phone_input(raw),
    computed through the canonical-form cache and the fast path when possible.
    """
    canonical = phone_canonical(raw)
    if canonical is None:
        hit = _library_phone(phone_input(raw), region)
    else:
        hit = _phone_cache.get((region, canonical))
        if hit is not None:
            return hit
        hit = _fast_phone(canonical, region) or _library_phone(canonical, region)
        _remember(region, canonical, hit)
    e164 = hit[0]
    if e164 is not None and e164 != canonical and ";" not in e164:
        # The E.164 form of a valid number parses back to the same number anywhere, and
        # it is what clean stores: its key and type are asked for next.
        _remember(region, e164, hit)
    return hit


def _remember(region: str, canonical: str, hit: tuple[str | None, str, str]) -> None:
    if len(_phone_cache) >= _CACHE_MAX:
        _phone_cache.clear()
    _phone_cache[(region, canonical)] = hit


def parse_phone(raw: str, default_region: str = "CN") -> PhoneResult:
    """E.164 and number type of `raw`, or InvalidValue (code phone.invalid / phone.no_region)."""
    e164, kind, reason = phone_verdict(raw, default_region)
    if e164 is None:
        raise InvalidValue("phone", raw, reason, kind)
    return PhoneResult(e164, kind)


def normalize_phone(raw: str, default_region: str = "CN") -> str:
    """E.164 form of `raw`: "138 0013 8000" -> "+8613800138000".

    An extension is kept in RFC 3966 style: "010-6552 9988 转 808" -> "+861065529988;ext=808".
    """
    return parse_phone(raw, default_region).e164


def phone_type(raw: str, default_region: str = "CN") -> str:
    """phonenumbers' number type in lower case (mobile, fixed_line, toll_free, ...)."""
    return parse_phone(raw, default_region).type
