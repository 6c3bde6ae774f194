"""One value -> canonical string, or InvalidValue. Pure: no I/O, no clock, no environment.

Import uses `email_key` / `phone_key` for its match keys; `clean` and `validate` use
the same functions, so a key computed at import always equals the key of the cleaned
value. This module holds text, names and emails, and re-exports the phone normalizers
(custdata.phones) and those of dates, countries and ID numbers (custdata.normalize_more):
import them all from here.

Phones and emails are judged by `phonenumbers` and `email-validator`; their verdicts are
final. To keep a million values cheap, both go through caches keyed on a canonical form
that gives the same verdict (phones: the "+" and digits of values written with
separators only; emails: the domain) and fast paths for the commonest shapes (Chinese
mobiles, +CC numbers, plain ASCII addresses). `tests/test_normalize_fastpath.py` checks
them against the bare libraries.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES as _MAILBOX_NAMES
from email_validator.rfc_constants import DOT_ATOM_TEXT

from custdata.errors import InvalidValue
from custdata.normalize_more import (  # noqa: F401 - re-exported
    MIN_YEAR, MAX_YEAR, id_number_key, normalize_country, normalize_date, normalize_id_number,
    upgrade_id_number,
)
from custdata.normalize_tables import (
    DOMAIN_TYPOS, KNOWN_DOMAINS, NAME_PARTICLES, NAME_UPPER_WORDS, POPULAR_DOMAINS, TLD_TYPOS,
)
from custdata.phones import (  # noqa: F401 - re-exported
    PhoneResult, normalize_phone, parse_phone, phone_canonical, phone_input, phone_type,
    phone_verdict,
)
from custdata.textnorm import normalize_text  # noqa: F401 - re-exported

# Caches are plain dicts cleared when full: lookups must stay cheaper than an LRU's.
_CACHE_MAX = 200_000

# --------------------------------------------------------------------------- text


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


# -------------------------------------------------------------------------- emails

_PLAIN_DOMAIN = re.compile(r"[A-Za-z0-9.\-]+")
_domain_cache: dict[str, str | None] = {}


def _library_email(text: str, raw: str) -> str:
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValue("email", raw, str(exc), "email.syntax") from exc
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
    return _fast_email(text) or _library_email(text, raw)


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


@functools.lru_cache(maxsize=65_536)  # domains repeat: a million emails, a few thousand domains
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


__all__ = [
    "MAX_YEAR", "MIN_YEAR", "PhoneResult", "email_key", "id_number_key", "normalize_country",
    "normalize_date", "normalize_email", "normalize_id_number", "normalize_name",
    "normalize_phone", "normalize_text", "parse_phone", "phone_canonical", "phone_input",
    "phone_key", "phone_type", "phone_verdict", "suggest_domain", "suggest_email",
    "upgrade_id_number",
]
