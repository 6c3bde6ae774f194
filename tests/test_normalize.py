"""Table tests for the value normalizers (tables in tests/data/normalize_*.csv)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from custdata.errors import InvalidValue
from custdata.normalize import (
    email_key, id_number_key, normalize_consent, normalize_country, normalize_date,
    normalize_email, normalize_id_number, normalize_name, normalize_phone, normalize_text,
    parse_phone, phone_key, phone_type, suggest_email, upgrade_id_number,
)

DATA = Path(__file__).parent / "data"


def table(name: str) -> list[dict[str, str]]:
    with open(DATA / f"normalize_{name}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def ids(rows: list[dict[str, str]]) -> list[str]:
    return [repr(r["raw"]) for r in rows]


PHONES = table("phones")
EMAILS = table("emails")


def test_tables_are_long_enough() -> None:
    assert len(PHONES) >= 40 and len(EMAILS) >= 30
    assert sum(1 for r in PHONES if not r["expected"]) >= 10
    assert sum(1 for r in EMAILS if not r["expected"]) >= 10


@pytest.mark.parametrize("row", PHONES, ids=ids(PHONES))
def test_phone_table(row: dict[str, str]) -> None:
    if row["expected"]:
        result = parse_phone(row["raw"], row["region"])
        assert result.e164 == row["expected"]
        assert result.type == row["type"]
        assert normalize_phone(row["raw"], row["region"]) == row["expected"]
        assert phone_type(row["raw"], row["region"]) == row["type"]
        # a cleaned value is its own normal form, whatever the region
        assert normalize_phone(row["expected"], "US") == row["expected"]
    else:
        with pytest.raises(InvalidValue) as exc:
            normalize_phone(row["raw"], row["region"])
        assert exc.value.code == row["code"]
        assert exc.value.field == "phone"
        assert exc.value.value == row["raw"]


@pytest.mark.parametrize("row", EMAILS, ids=ids(EMAILS))
def test_email_table(row: dict[str, str]) -> None:
    if row["expected"]:
        assert normalize_email(row["raw"]) == row["expected"]
        assert normalize_email(row["expected"]) == row["expected"]
        assert email_key(row["raw"]) == row["expected"].lower()
    else:
        with pytest.raises(InvalidValue) as exc:
            normalize_email(row["raw"])
        assert exc.value.code == "email.syntax"
    if row["code"] == "email.typo_domain":
        assert suggest_email(row["raw"]) == row["suggestion"]
    elif row["expected"]:
        assert suggest_email(row["raw"]) is None


NAMES = table("names")


@pytest.mark.parametrize("row", NAMES, ids=ids(NAMES))
def test_name_table(row: dict[str, str]) -> None:
    assert normalize_name(row["raw"]) == row["expected"]
    assert normalize_name(row["expected"]) == row["expected"]


DATES = table("dates")


@pytest.mark.parametrize("row", DATES, ids=[f"{r['raw']!r}-{r['dayfirst']}" for r in DATES])
def test_date_table(row: dict[str, str]) -> None:
    dayfirst = row["dayfirst"] == "1"
    if row["expected"]:
        assert normalize_date(row["raw"], dayfirst=dayfirst) == row["expected"]
        assert normalize_date(row["expected"], dayfirst=not dayfirst) == row["expected"]
    else:
        with pytest.raises(InvalidValue) as exc:
            normalize_date(row["raw"], dayfirst=dayfirst)
        assert exc.value.code == "date.unparseable"


COUNTRIES = table("countries")


@pytest.mark.parametrize("row", COUNTRIES, ids=ids(COUNTRIES))
def test_country_table(row: dict[str, str]) -> None:
    if row["expected"]:
        assert normalize_country(row["raw"]) == row["expected"]
    else:
        with pytest.raises(InvalidValue) as exc:
            normalize_country(row["raw"])
        assert exc.value.code == "country.unknown"


ID_NUMBERS = table("id_numbers")


@pytest.mark.parametrize("row", ID_NUMBERS, ids=ids(ID_NUMBERS))
def test_id_number_table(row: dict[str, str]) -> None:
    if row["expected"]:
        assert normalize_id_number(row["raw"]) == row["expected"]
        assert id_number_key(row["raw"]) == row["expected"]
    else:
        with pytest.raises(InvalidValue) as exc:
            normalize_id_number(row["raw"])
        assert exc.value.code == row["code"]


def test_upgrade_first_generation_id() -> None:
    assert upgrade_id_number("110105850101002") == "110105198501010020"
    assert upgrade_id_number("110105198501010020") is None
    assert upgrade_id_number("abc") is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("　Ｊｏｈｎ  Doe ", "John Doe"),
    ("a\tb\nc", "a b c"),
    ("北京市　朝阳区", "北京市 朝阳区"),
    ("", ""),
    ("   ", ""),
])
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_keys_are_total_and_none_for_empty() -> None:
    for empty in (None, "", "   ", "\u3000"):
        assert email_key(empty) is None
        assert phone_key(empty) is None
        assert id_number_key(empty) is None
    assert email_key(" Joe@Example.COM ") == "joe@example.com"
    assert email_key("Joe <JOE@x.com>") == "joe <joe@x.com>"
    assert phone_key("138 0013 8000") == "+8613800138000"
    assert phone_key("010 65529988 转 808") == "+861065529988"
    assert phone_key("N/A") == "n/a"
    assert phone_key("13800138000", "CN") == phone_key("+86 138-0013-8000", "US")


def test_invalid_value_carries_the_value_not_in_message() -> None:
    with pytest.raises(InvalidValue) as exc:
        normalize_email("secret-person@")
    assert exc.value.value == "secret-person@"
    assert "secret-person" not in str(exc.value)


def test_invalid_email_carries_the_raw_value() -> None:
    with pytest.raises(InvalidValue) as exc:
        normalize_email("  Joe <joe@x.com> ")
    assert exc.value.value == "  Joe <joe@x.com> "


@pytest.mark.parametrize(("raw", "expected"), [
    ("yes", "yes"), ("Y", "yes"), ("TRUE", "yes"), ("是", "yes"), ("同意", "yes"),
    ("no", "no"), ("否", "no"), ("opt-out", "no"), ("unknown", "unknown"), ("未知", "unknown"),
])
def test_consent_synonyms(raw: str, expected: str) -> None:
    assert normalize_consent(raw) == expected
