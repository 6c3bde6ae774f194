"""The cache and fast paths give exactly the bare libraries' verdicts (issue 3, "Speed").

The references below call phonenumbers and email-validator directly, the way a user
would, with none of custdata's shortcuts.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberFormat

from custdata.normalize import email, phone
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
    phone._phone_cache.clear()
    email._domain_cache.clear()


def test_cn_mobile_fast_path_matches_phonenumbers() -> None:
    """Every 4-digit prefix 1000-1999, in four written forms each."""
    rng = random.Random(3)
    checked = fast = 0
    for prefix in range(1000, 2000):
        for _ in range(1):
            national = f"{prefix}{rng.randrange(10**7):07d}"
            forms = [
                (national, "CN"), (scatter(rng, national), "CN"),
                ("+86 " + scatter(rng, national), rng.choice(["CN", "US", "GB", ""])),
                ("0086" + scatter(rng, national), "CN"),
            ]
            for raw, region in forms:
                canonical = phone_canonical(raw)
                assert canonical is not None
                fast += phone._fast_phone(canonical, region) is not None
                assert ours(raw, region) == reference_phone(raw, region), (raw, region)
                checked += 1
    assert checked == 4_000 and fast == checked
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
            raw = rng.choice(["tel:", "TEL:", "tel: "]) + raw
        if rng.random() < 0.1:
            raw = raw.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        expected = reference_phone(raw, region)
        assert ours(raw, region) == expected, (raw, region)
        # the second call is a cache hit and still agrees
        assert ours(raw, region) == expected, (raw, region)


def test_international_fast_path_matches_phonenumbers() -> None:
    """Valid numbers of a third of the regions and 3 types, mutated, in +CC, 00CC, tel: forms."""
    rng = random.Random(9)
    fast = checked = 0
    types = [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE,
             phonenumbers.PhoneNumberType.TOLL_FREE]
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)[::3]  # 82 regions: loading all is slow
    for region in regions:
        for kind in types:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
            variants = [e164]
            for _ in range(1):  # same length, last digits changed: valid or not
                tail = "".join(rng.choice("0123456789") for _ in range(3))
                variants.append(e164[:-3] + tail)
            variants.append(e164 + rng.choice("0123456789"))
            variants.append(e164[:-1])
            for number in variants:
                for raw, default in ((scatter(rng, number), rng.choice(["CN", "US", "DE"])),
                                     ("00" + scatter(rng, number[1:]), "CN"),
                                     ("tel:" + number, "GB")):
                    canonical = phone_canonical(raw)
                    fast += canonical is not None and phone._fast_phone(
                        canonical, default) is not None
                    assert ours(raw, default) == reference_phone(raw, default), (raw, default)
                    checked += 1
    assert checked > 1000 and fast > checked // 4


def test_values_outside_the_canonical_shape_go_to_the_library() -> None:
    for raw in ["1-800-FLOWERS", "138 0013 8000 ext 5", "13800138000#1", "86+13800138000",
                "tel:+86-10-65529988", "\t13800138000", "N/A", "12", "1-2"]:
        if phone_canonical(raw) is None:
            assert ours(raw, "CN") == reference_phone(raw, "CN"), raw
    assert phone_canonical("1-800-FLOWERS") is None
    assert phone_canonical("86+13800138000") is None
    assert phone_canonical("(+86) 138-0013 8000") == "+8613800138000"
    assert phone_canonical("tel:+86-138-0013-8000") == "+8613800138000"
    assert phone_canonical("tel:+86-10-65529988;ext=1") is None


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
        fast += email._fast_email(text) is not None
        expected = reference_email(text)
        assert ours_email(text) == expected, text
        plain = "xn--" not in text and not text.lower().startswith(("postmaster@", "abuse@"))
        valid += expected is not None and plain
    # the fast path really carries the valid plain addresses (IDNA and role names: library)
    assert valid > 1000 and fast >= 0.95 * valid


PHONE_TEXT = st.from_regex(
    r"\A(tel:)?[ (]?(\+|00|＋)?[0-9０-９][0-9 \-.()/]{4,18}\Z", fullmatch=False)


@settings(max_examples=100, deadline=None)
@given(PHONE_TEXT, st.sampled_from(["CN", "US", "GB", "DE", "IN", "BR", ""]))
def test_any_phone_shape_same_verdict_as_phonenumbers(raw: str, region: str) -> None:
    phone._phone_cache.clear()
    assert ours(raw, region) == reference_phone(raw, region)
    assert ours(raw, region) == reference_phone(raw, region)  # cached


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"\A[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{0,20}@[A-Za-z0-9.\-]{0,20}\Z"))
def test_any_ascii_email_same_verdict_as_email_validator(text: str) -> None:
    email._domain_cache.clear()
    assert ours_email(text) == reference_email(text)


def test_e164_forms_remembered_from_a_verdict_are_the_library_verdicts() -> None:
    rng = random.Random(21)
    seen = []
    for region in ["CN", "US", "GB"]:
        for example_region in sorted(phonenumbers.SUPPORTED_REGIONS)[::7]:
            example = phonenumbers.example_number(example_region)
            if example is None:
                continue
            national = phonenumbers.format_number(example, PhoneNumberFormat.INTERNATIONAL)
            e164, _, _ = phone_verdict(scatter(rng, national), region)
            if e164:
                seen.append((e164, region))
    assert len(seen) > 50
    for e164, region in seen:  # now answered from the cache
        assert ours(e164, region) == reference_phone(e164, region)


def _library_type(cc: int, nsn: str) -> int:
    return phonenumbers.number_type(phonenumbers.PhoneNumber(country_code=cc,
                                                             national_number=int(nsn)))


def test_number_type_table_agrees_with_phonenumbers_for_every_country_code() -> None:
    # Every calling code, numbers of every length 2-17 built from the example numbers'
    # prefixes and random digits: the compiled table gives phonenumbers' own type.
    rng = random.Random(5)
    checked = 0
    for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        for _ in range(300):
            size = rng.randint(2, 17)
            nsn = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(size - 1))
            assert phone.number_type(cc, nsn) == _library_type(cc, nsn), (cc, nsn)
            checked += 1
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[cc]:
            for kind in range(11):
                example = phonenumbers.example_number_for_type(region, kind)
                if example is None:
                    continue
                nsn = phonenumbers.national_significant_number(example)
                if nsn.startswith("0"):
                    continue
                for variant in (nsn, nsn[:-1] + rng.choice("0123456789"), nsn + "5", nsn[:-1]):
                    if len(variant) >= 2:
                        assert phone.number_type(cc, variant) == _library_type(cc, variant), \
                            (cc, variant)
                        checked += 1
    assert checked > 60_000


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
       st.from_regex(r"[1-9][0-9]{1,16}", fullmatch=True))
def test_number_type_table_property(cc: int, nsn: str) -> None:
    assert phone.number_type(cc, nsn) == _library_type(cc, nsn)


def test_cn_mobile_prefixes_exhaustive() -> None:
    # Every 1xx-xxxx prefix at +86 (with a fixed tail): the commonest shape of all.
    for head in range(1_000_000, 2_000_000, 7):
        nsn = f"{head}{head % 10000:04d}"
        assert phone.number_type(86, nsn) == _library_type(86, nsn), nsn
