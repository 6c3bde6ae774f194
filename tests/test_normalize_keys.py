"""normalize.keys: the one place match keys are made (import, clean, forget, re-keying)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custdata.clean import clean_contact
from custdata.ingest import Record, plan_columns, to_record
from custdata.io import RawRecord
from custdata.normalize.keys import (
    KEY_KINDS, contact_keys, email_key, id_number_key, key_function, key_of, phone_key,
)


def test_contact_keys() -> None:
    keys = contact_keys({"email": "Joe@Example.COM", "phone": "138 0013 8000",
                         "id_number": "11010519491231002x"}, region="CN")
    assert keys == {"email_key": "joe@example.com", "phone_key": "+8613800138000",
                    "id_number_key": "11010519491231002X"}
    assert contact_keys({}, region="CN") == dict.fromkeys(keys)


def test_key_kinds_name_the_stored_key_columns() -> None:
    assert KEY_KINDS == (("email", "email_key"), ("phone", "phone_key"),
                         ("id_number", "id_number_key"))


@pytest.mark.parametrize(("kind", "value", "region", "key"), [
    ("email", " Joe@Example.COM ", "CN", "joe@example.com"),
    ("email", "not an address", "CN", "not an address"),
    ("phone", "138 0013 8000", "CN", "+8613800138000"),
    ("phone", "(202) 555-0142", "US", "+12025550142"),
    ("phone", "(202) 555-0142 x12", "US", "+12025550142"),
    ("id_number", "110105 19491231 002x", "CN", "11010519491231002X"),
    ("email", "  ", "CN", None),
    ("phone", None, "CN", None),
])
def test_key_of_examples(kind: str, value: str | None, region: str, key: str | None) -> None:
    assert key_of(kind, value, region) == key
    assert key_function(kind, region)(value) == key


def test_an_unknown_kind_is_a_bug_not_a_key() -> None:
    with pytest.raises(ValueError, match="shoe_size"):
        key_of("shoe_size", "42")


@given(email=st.text(max_size=30), phone=st.text(max_size=20), id_number=st.text(max_size=20),
       region=st.sampled_from(["CN", "US", "GB"]))
def test_every_path_makes_the_same_keys(email: str, phone: str, id_number: str,
                                        region: str) -> None:
    row = {"email": email, "phone": phone, "id_number": id_number}
    expected = {"email_key": email_key(email), "phone_key": phone_key(phone, region),
                "id_number_key": id_number_key(id_number)}
    assert contact_keys(row, region=region) == expected
    assert {column: key_of(kind, row[kind], region) for kind, column in KEY_KINDS} == expected


def test_import_keys_equal_the_keys_of_the_cleaned_values() -> None:
    row = {"name": "Joe", "email": " Joe@Example.COM", "phone": "１３８ ００１３ ８０００",
           "id_number": "110105 19491231 002x"}
    header = list(row)
    raw = RawRecord(2, ",".join(row.values()), list(row.values()))
    record = to_record("contacts", raw, plan_columns("contacts", header, {}), region="CN",
                       dayfirst=False)
    assert isinstance(record, Record)
    imported = record.keys
    cleaned = contact_keys({**row, **clean_contact(row, region="CN")}, region="CN")
    assert {column: imported[kind] for kind, column in KEY_KINDS} == cleaned
    assert cleaned["phone_key"] == "+8613800138000"
