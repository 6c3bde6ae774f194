"""Emails -> the normalized address, a typo suggestion, or InvalidValue.

email-validator's verdict is final. To keep a million values cheap, addresses go through
a cache keyed on their domain and a fast path for plain ASCII addresses;
`tests/test_normalize_fastpath.py` checks it against the bare library.
"""

from __future__ import annotations

import functools
import re

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES as _MAILBOX_NAMES
from email_validator.rfc_constants import DOT_ATOM_TEXT

from custdata.errors import InvalidValue
from custdata.normalize.tables import DOMAIN_TYPOS, KNOWN_DOMAINS, POPULAR_DOMAINS, TLD_TYPOS
from custdata.normalize.text import normalize_text

# Caches are plain dicts cleared when full: lookups must stay cheaper than an LRU's.
_CACHE_MAX = 200_000

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
