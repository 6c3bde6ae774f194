"""One value -> canonical string, or InvalidValue. Pure: no I/O, no clock, no environment.

Import uses `email_key` / `phone_key` for its match keys; `clean` and `validate` use
the same functions, so a key computed at import always equals the key of the cleaned
value.

Phones and emails are judged by `phonenumbers` and `email-validator`; their verdicts are
final. To keep a million values cheap, both go through a cache keyed on a canonical
form that provably gives the same verdict (phones: optional "+" and the digits, for
values made only of digits and the separators space - . ( ) /; emails: the domain), and
through a fast path for the commonest shapes (11-digit Chinese mobiles, plain ASCII
addresses). `tests/test_normalize_fastpath.py` checks both against the bare libraries.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

import phonenumbers

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES as _MAILBOX_NAMES
from email_validator.rfc_constants import DOT_ATOM_TEXT
from phonenumbers import PhoneNumber, PhoneNumberFormat, PhoneNumberType
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

from custdata.errors import InvalidValue
from custdata.normalize_tables import (
    COUNTRIES, DOMAIN_TYPOS, KNOWN_DOMAINS, NAME_PARTICLES, NAME_UPPER_WORDS, POPULAR_DOMAINS,
    TLD_TYPOS, country_key,
)

# Caches are plain dicts cleared when full: lookups must stay cheaper than an LRU's.
_CACHE_MAX = 200_000

# --------------------------------------------------------------------------- text


def normalize_text(raw: str) -> str:
    """NFKC, whitespace runs collapsed to one space, trimmed: "　Ｊｏｈｎ  Doe " -> "John Doe"."""
    if raw.isascii():
        return " ".join(raw.split())
    return " ".join(unicodedata.normalize("NFKC", raw).split())


def _is_latin_letters(text: str) -> bool:
    return all(
        not c.isalpha() or c.isascii() or "LATIN" in unicodedata.name(c, "") for c in text
    )


_NAME_JOINERS = re.compile(r"([-'’])")


def _recase_word(word: str, *, first: bool, particle_next: bool, last: bool) -> str:
    lower = word.lower()
    if lower in NAME_PARTICLES and not last and (not first or particle_next):
        return lower
    if lower.rstrip(".") in NAME_UPPER_WORDS and not first:
        return word.upper()
    if "-" not in lower and "'" not in lower and "’" not in lower:
        word = lower[:1].upper() + lower[1:]
        return "Mc" + word[2].upper() + word[3:] if len(word) > 2 and word[:2] == "Mc" else word
    parts = _NAME_JOINERS.split(lower)
    out = []
    for i, part in enumerate(parts):
        if part in ("-", "'", "’"):
            out.append(part)
        elif i >= 2 and parts[i - 1] in ("'", "’") and len(parts[i - 2]) > 1:
            out.append(part)  # "don't": the apostrophe does not start a new name part
        else:
            out.append(part[:1].upper() + part[1:])
    word = "".join(out)
    if len(word) > 2 and word.startswith("Mc"):
        word = "Mc" + word[2].upper() + word[3:]
    return word


def normalize_name(raw: str) -> str:
    """A person's name: normalize_text, and Latin names in ALL CAPS or all lower re-cased.

    "JOHN MCDONALD" -> "John McDonald", "o'brien" -> "O'Brien", "jan van der berg" ->
    "Jan van der Berg". Mixed-case names ("DeShawn", "van der Berg") and names in any
    other script (张三, Ольга) are returned as written.
    """
    text = normalize_text(raw)
    # isupper/islower: every cased character one way, and at least one cased character
    if not (text.isupper() or text.islower()):
        return text
    if not text.isascii() and not _is_latin_letters(text):
        return text
    words = text.split(" ")
    particles = [w.lower() in NAME_PARTICLES for w in words]
    return " ".join(
        _recase_word(
            w, first=i == 0, last=i == len(words) - 1,
            particle_next=i + 1 < len(words) and particles[i + 1],
        )
        for i, w in enumerate(words)
    )


# -------------------------------------------------------------------------- phones

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
    if not phonenumbers.is_valid_number(number):
        return None, "phone.invalid", "not a valid number for its region"
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if number.extension:
        e164 += ";ext=" + number.extension
    return e164, _TYPE_NAMES.get(phonenumbers.number_type(number), "unknown"), ""


def _cn_mobile(digits: str) -> tuple[str | None, str, str]:
    """Verdict for an 11-digit national number starting with 1 at +86, without parsing."""
    kind = phonenumbers.number_type(PhoneNumber(country_code=86, national_number=int(digits)))
    if kind == PhoneNumberType.UNKNOWN:
        return None, "phone.invalid", "not a valid number for its region"
    return "+86" + digits, _TYPE_NAMES[kind], ""


def _fast_phone(canonical: str, region: str) -> tuple[str | None, str, str] | None:
    if len(canonical) == 11 and region == "CN" and canonical[0] == "1":
        return _cn_mobile(canonical)
    if len(canonical) == 14 and canonical.startswith("+861"):
        return _cn_mobile(canonical[3:])
    if len(canonical) == 15 and region == "CN" and canonical.startswith("00861"):
        return _cn_mobile(canonical[4:])
    return None


def phone_verdict(raw: str, region: str = "CN") -> tuple[str | None, str, str]:
    """(E.164 or None, number type or problem code, reason) for `raw` at `region`.

    The same verdict as phonenumbers.parse + is_valid_number on phone_input(raw),
    computed through the canonical-form cache and the fast path when possible.
    """
    canonical = phone_canonical(raw)
    if canonical is None:
        return _library_phone(phone_input(raw), region)
    key = (region, canonical)
    hit = _phone_cache.get(key)
    if hit is None:
        hit = _fast_phone(canonical, region) or _library_phone(canonical, region)
        if len(_phone_cache) >= _CACHE_MAX:
            _phone_cache.clear()
        _phone_cache[key] = hit
    return hit


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


# -------------------------------------------------------------------------- emails

_PLAIN_DOMAIN = re.compile(r"[A-Za-z0-9.\-]+")
_domain_cache: dict[str, str | None] = {}


def _library_email(text: str) -> str:
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValue("email", text, str(exc), "email.syntax") from exc
    return f"{result.local_part}@{result.ascii_domain}"


def _plain_domain(domain: str) -> str | None:
    """email-validator's ASCII form of an ASCII domain when it equals its display form."""
    if domain in _domain_cache:
        return _domain_cache[domain]
    try:
        result = validate_email("x@" + domain, check_deliverability=False)
        ascii_domain = result.ascii_domain if result.ascii_domain == result.domain else None
    except EmailNotValidError:
        ascii_domain = None
    if len(_domain_cache) >= _CACHE_MAX:
        _domain_cache.clear()
    _domain_cache[domain] = ascii_domain
    return ascii_domain


def _fast_email(text: str) -> str | None:
    """Normalized plain ASCII address, or None when the library must decide."""
    if len(text) > 254 or not text.isascii():
        return None
    local, at, domain = text.rpartition("@")
    if not at or len(local) > 64 or not _PLAIN_DOMAIN.fullmatch(domain):
        return None
    if not DOT_ATOM_TEXT.fullmatch(local) or local.lower() in _MAILBOX_NAMES:
        return None
    ascii_domain = _plain_domain(domain)
    return None if ascii_domain is None else f"{local}@{ascii_domain}"


def normalize_email(raw: str) -> str:
    """The address with its domain lower-cased and IDNA-encoded, checked offline.

    "Joe@Example.COM" -> "Joe@example.com"; "user@Bücher.de" -> "user@xn--bcher-kva.de".
    email-validator's verdict is final: "Joe <joe@x.com>" is an InvalidValue.
    """
    text = normalize_text(raw)
    return _fast_email(text) or _library_email(text)


def suggest_email(raw: str) -> str | None:
    """The address with a likely typo in its domain corrected, or None.

    "li@gmial.com" -> "li@gmail.com", "wang@qq.con" -> "wang@qq.com". Only a suggestion:
    nothing in custdata applies it.
    """
    text = normalize_text(raw)
    local, at, domain = text.rpartition("@")
    if not at or not local:
        return None
    fixed = suggest_domain(domain.lower())
    return None if fixed is None else f"{local}@{fixed}"


def suggest_domain(domain: str) -> str | None:
    """A popular mailbox domain `domain` is probably a typo of, or None."""
    if domain in KNOWN_DOMAINS:
        return None
    if domain in DOMAIN_TYPOS:
        return DOMAIN_TYPOS[domain]
    name, dot, tld = domain.rpartition(".")
    if dot and tld in TLD_TYPOS:
        for popular in POPULAR_DOMAINS:
            if popular.rpartition(".")[0] == name:
                return popular
    if len(domain) >= 7:
        close = [p for p in POPULAR_DOMAINS if _one_edit_apart(domain, p)]
        if len(close) == 1:
            return close[0]
    return None


def _one_edit_apart(a: str, b: str) -> bool:
    """True when one insertion, deletion, substitution or adjacent swap turns a into b."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (len(diff) == 2 and diff[1] == diff[0] + 1
                and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


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
    id_number.region (birth-place code unknown for the birth year).
    """
    number = ric.compact(_ID_SEPARATORS.sub("", normalize_text(raw)))
    try:
        ric.validate(number)
    except InvalidLength as exc:
        raise InvalidValue("id_number", raw, "must have 18 characters", "id_number.length") from exc
    except InvalidFormat as exc:
        raise InvalidValue(
            "id_number", raw, "must be 17 digits and a digit or X", "id_number.format"
        ) from exc
    except InvalidChecksum as exc:
        raise InvalidValue(
            "id_number", raw, "check digit does not match", "id_number.checksum"
        ) from exc
    except ValidationError as exc:
        try:
            ric.get_birth_date(number)
        except ValidationError:
            raise InvalidValue(
                "id_number", raw, "birth date is not a real date", "id_number.birth_date"
            ) from exc
        # stdnum also rejects a county code that did not exist in the birth year, but the
        # code is that of the place of registration, often later: only an unknown code is.
        if not _known_region(number[:6]):
            raise InvalidValue(
                "id_number", raw, "birth-place code is unknown", "id_number.region"
            ) from exc
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
