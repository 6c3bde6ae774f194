"""The cache and fast paths give exactly the bare libraries' verdicts (issue 3, "Speed").

The references below call phonenumbers and email-validator directly, the way a user
would, with none of custdata's shortcuts.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberFormat

from custdata import normalize
from custdata.errors import InvalidValue
from custdata.normalize import normalize_email, phone_canonical, phone_verdict

SEPARATORS = [" ", "-", ".", "", "", "(", ")", "/", "  ", " - "]


def reference_phone(raw: str, region: str) -> tuple[str | None, str]:
    """(E.164[;ext=N] or None, type name or "invalid") straight from phonenumbers."""
    try:
        number = phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException:
        return None, "invalid"
    if not phonenumbers.is_valid_number(number):
        return None, "invalid"
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if number.extension:
        e164 += ";ext=" + number.extension
    kind = phonenumbers.number_type(number)
    names = {v: k.lower() for k, v in vars(phonenumbers.PhoneNumberType).items() if k.isupper()}
    return e164, names[kind]


def ours(raw: str, region: str) -> tuple[str | None, str]:
    e164, kind, _ = phone_verdict(raw, region)
    return (e164, kind) if e164 is not None else (None, "invalid")


def scatter(rng: random.Random, digits: str) -> str:
    """`digits` with random separators between random groups."""
    out = []
    for ch in digits:
        if rng.random() < 0.3:
            out.append(rng.choice(SEPARATORS))
        out.append(ch)
    return "".join(out)


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    normalize._phone_cache.clear()
    normalize._domain_cache.clear()


def test_cn_mobile_fast_path_matches_phonenumbers() -> None:
    """Every 4-digit prefix 1000-1999, three numbers each, in four written forms."""
    rng = random.Random(3)
    checked = fast = 0
    for prefix in range(1000, 2000):
        for _ in range(3):
            national = f"{prefix}{rng.randrange(10**7):07d}"
            forms = [
                (national, "CN"), (scatter(rng, national), "CN"),
                ("+86 " + scatter(rng, national), rng.choice(["CN", "US", "GB", ""])),
                ("0086" + scatter(rng, national), "CN"),
            ]
            for raw, region in forms:
                canonical = phone_canonical(raw)
                assert canonical is not None
                fast += normalize._fast_phone(canonical, region) is not None
                assert ours(raw, region) == reference_phone(raw, region), (raw, region)
                checked += 1
    assert checked == 12_000 and fast == checked
    # the generated set covers both verdicts
    assert 0 < sum(ours(f"{p}0000000", "CN")[0] is None for p in range(1000, 2000)) < 1000


@pytest.mark.parametrize("region", ["CN", "US", "GB", "DE", "HK", "JP", ""])
def test_canonical_cache_matches_phonenumbers(region: str) -> None:
    """Random digit strings, random separators, with and without "+": same verdict."""
    rng = random.Random(region)
    codes = ["86", "1", "44", "49", "852", "81", "33", "7", "91", "61", "0", "00", "001"]
    for _ in range(1500):
        digits = rng.choice(codes) + "".join(
            rng.choice("0123456789") for _ in range(rng.randrange(1, 14))
        )
        raw = scatter(rng, digits)
        if rng.random() < 0.4:
            raw = rng.choice(["+", "+ ", "(+", "＋", "-+", "/ +"]) + raw
        if rng.random() < 0.2:
            raw = rng.choice(SEPARATORS) + raw + rng.choice(SEPARATORS)
        if rng.random() < 0.1:
            raw = raw.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        expected = reference_phone(raw, region)
        assert ours(raw, region) == expected, (raw, region)
        # the second call is a cache hit and still agrees
        assert ours(raw, region) == expected, (raw, region)


def test_values_outside_the_canonical_shape_go_to_the_library() -> None:
    for raw in ["1-800-FLOWERS", "138 0013 8000 ext 5", "13800138000#1", "86+13800138000",
                "tel:+86-10-65529988", "\t13800138000", "N/A", "12", "1-2"]:
        if phone_canonical(raw) is None:
            assert ours(raw, "CN") == reference_phone(raw, "CN"), raw
    assert phone_canonical("1-800-FLOWERS") is None
    assert phone_canonical("86+13800138000") is None
    assert phone_canonical("(+86) 138-0013 8000") == "+8613800138000"


def reference_email(text: str) -> str | None:
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None
    return f"{result.local_part}@{result.ascii_domain}"


def ours_email(text: str) -> str | None:
    try:
        return normalize_email(text)
    except InvalidValue:
        return None


ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
DOMAINS = [
    "example.com", "Example.COM", "qq.com", "163.com", "mail.sub.example.co.uk", "a.io",
    "localhost", "example.local", "example.test", "foo.invalid", "x.onion", "1.2.3.4",
    "a-.com", "-a.com", "a..com", ".a.com", "a.com.", "ab--cd.com", "xn--bcher-kva.de",
    "xn--zz.com", "a.b", "example.c0m", "123.456", "a" * 64 + ".com", "a" * 63 + ".com",
    "under_score.com", "UPPER.Example.Org", "example", "ex-ample.cn", "e.x.a.m.p.l.e.com",
]


def test_plain_email_fast_path_matches_email_validator() -> None:
    rng = random.Random(55)
    valid = fast = 0
    for _ in range(6000):
        parts = ["".join(rng.choice(ATEXT) for _ in range(rng.randrange(0, 9)))
                 for _ in range(rng.randrange(1, 4))]
        local = ".".join(parts)
        if rng.random() < 0.05:
            local = rng.choice(["postmaster", "Abuse", "POSTMASTER", "a" * 65, "a" * 64])
        domain = rng.choice(DOMAINS)
        text = f"{local}@{domain}"
        if rng.random() < 0.02:
            text = f"{'x' * 200}@{'y' * 50}.com"
        fast += normalize._fast_email(text) is not None
        expected = reference_email(text)
        assert ours_email(text) == expected, text
        plain = "xn--" not in text and not text.lower().startswith(("postmaster@", "abuse@"))
        valid += expected is not None and plain
    # the fast path really carries the valid plain addresses (IDNA and role names: library)
    assert valid > 1000 and fast >= 0.95 * valid
