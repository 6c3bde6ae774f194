"""Property tests: normalizers raise only InvalidValue, are idempotent; keys never raise."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from custdata.clean import CLEANED_FIELDS, clean_contact
from custdata.errors import InvalidValue
from custdata.normalize import (
    email_key, id_number_key, normalize_country, normalize_date, normalize_email,
    normalize_id_number, normalize_name, normalize_phone, normalize_text, phone_key,
)
from custdata.validate import find_issues

PHONEISH = st.from_regex(r"\A[+＋(]?[0-9０-９ ()./\-]{0,20}(ext|x|#|转)?[0-9]{0,4}\Z")
EMAILISH = st.from_regex(r"\A[A-Za-z0-9._+'\- ]{0,12}@[A-Za-zü0-9.\-]{0,15}\Z")
TEXT = st.text(max_size=40) | PHONEISH | EMAILISH

NORMALIZERS: dict[str, Callable[[str], str]] = {
    "text": normalize_text,
    "name": normalize_name,
    "phone_cn": lambda s: normalize_phone(s, "CN"),
    "phone_us": lambda s: normalize_phone(s, "US"),
    "email": normalize_email,
    "date": lambda s: normalize_date(s, dayfirst=False),
    "date_dayfirst": lambda s: normalize_date(s, dayfirst=True),
    "country": normalize_country,
    "id_number": normalize_id_number,
}


def check(fn: Callable[[str], str], raw: str) -> None:
    try:
        once = fn(raw)
    except InvalidValue:
        return
    assert isinstance(once, str)
    assert fn(once) == once


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(NORMALIZERS)), TEXT)
def test_normalizers_raise_only_invalid_value_and_are_idempotent(name: str, raw: str) -> None:
    check(NORMALIZERS[name], raw)


@settings(max_examples=150, deadline=None)
@given(PHONEISH, st.sampled_from(["CN", "US", "GB", ""]))
def test_phone_shapes_idempotent_in_any_region(raw: str, region: str) -> None:
    check(lambda s: normalize_phone(s, region), raw)


@settings(max_examples=150, deadline=None)
@given(st.none() | TEXT)
def test_keys_never_raise(raw: str | None) -> None:
    for key in (email_key(raw), phone_key(raw), phone_key(raw, "US"), id_number_key(raw)):
        assert key is None or (isinstance(key, str) and key)
    if raw is None or not raw.strip():
        assert email_key(raw) is None and phone_key(raw) is None


ROW = st.fixed_dictionaries({"id": st.integers(1, 10**6)}, optional={
    f: TEXT for f in (*CLEANED_FIELDS[:7], "company")
})


@settings(max_examples=100, deadline=None)
@given(ROW, st.booleans())
def test_clean_contact_is_idempotent_and_never_blanks(row: dict, dayfirst: bool) -> None:
    changes = clean_contact(row, region="CN", dayfirst=dayfirst)
    for field, new in changes.items():
        if field != "phone_type":
            assert new and new.strip(), field
            assert row[field] and row[field] != new
    cleaned = {**row, **changes}
    assert clean_contact(cleaned, region="CN", dayfirst=dayfirst) == {}
    # keys do not move when clean rewrites a value
    assert email_key(cleaned.get("email")) == email_key(row.get("email"))
    assert phone_key(cleaned.get("phone")) == phone_key(row.get("phone"))


@settings(max_examples=60, deadline=None)
@given(st.lists(ROW, max_size=3))
def test_find_issues_never_raises_and_names_known_codes(rows: list[dict]) -> None:
    from custdata.validate import ISSUE_CODES

    for issue in find_issues(rows, region="CN"):
        assert issue.code in ISSUE_CODES
        assert issue.field in ("name", "email", "phone", "id_number", "birth_date",
                               "created_at", "updated_at", "country", "consent")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_normalize_text_is_nfkc_with_whitespace_collapsed(raw: str) -> None:
    import unicodedata

    assert normalize_text(raw) == " ".join(unicodedata.normalize("NFKC", raw).split())
