"""clean_contact: only changes, never blanks, idempotent; clean_rows in order, with a pool."""

from __future__ import annotations

import pytest

from custdata.clean import clean_contact, clean_rows, clean_value, clean_values


def test_clean_contact_rewrites_each_kind_of_field() -> None:
    row = {
        "id": 1, "external_id": " C1 ", "name": "  JOHN  MCDONALD ", "email": " Joe@Example.COM",
        "phone": "１３８ ００１３ ８０００", "country": "中国", "birth_date": "2024年1月5日",
        "consent": "是", "company": "ＡＢＣ　公司", "id_number": "110105 19850101 0020",
        "city": "上海", "tags": " vip ", "stage": " new",
    }
    assert clean_contact(row, region="CN", dayfirst=False) == {
        "name": "John McDonald", "email": "Joe@example.com", "phone": "+8613800138000",
        "id_number": "110105198501010020", "birth_date": "2024-01-05", "country": "CN",
        "consent": "yes", "company": "ABC 公司", "phone_type": "mobile",
    }


def test_unnormalizable_values_stay_exactly_as_they_are() -> None:
    row = {"id": 1, "email": "Joe <joe@x.com>", "phone": " N/A ", "country": "Narnia ",
           "birth_date": " soon", "id_number": "1234", "consent": "maybe"}
    changes = clean_contact(row, region="CN", dayfirst=False)
    assert changes == {}


def test_never_blanks() -> None:
    row = {"id": 1, "name": "   ", "company": "\u3000", "email": " ", "phone": "  "}
    assert clean_contact(row, region="CN", dayfirst=False) == {}
    assert clean_value("company", "  ") == "  "


def test_empty_and_missing_fields_are_skipped() -> None:
    assert clean_contact({"id": 1}, region="CN", dayfirst=False) == {}
    assert clean_contact({"id": 1, "name": None, "email": ""}, region="CN", dayfirst=False) == {}


def test_phone_type_follows_the_phone() -> None:
    row = {"id": 1, "phone": "+8613800138000", "phone_type": None}
    assert clean_contact(row, region="CN", dayfirst=False) == {"phone_type": "mobile"}
    assert clean_contact({**row, "phone_type": "mobile"}, region="CN", dayfirst=False) == {}
    bad = {"id": 1, "phone": "N/A", "phone_type": "mobile"}
    assert clean_contact(bad, region="CN", dayfirst=False) == {"phone_type": None}


def test_region_and_dayfirst() -> None:
    row = {"id": 1, "phone": "(650) 253-0000", "birth_date": "5.1.1990"}
    assert clean_contact(row, region="US", dayfirst=True)["phone"] == "+16502530000"
    assert clean_contact(row, region="US", dayfirst=True)["birth_date"] == "1990-01-05"
    assert clean_contact(row, region="US", dayfirst=False)["birth_date"] == "1990-05-01"
    assert "phone" not in clean_contact(row, region="CN", dayfirst=False)


def test_twice_equals_once() -> None:
    row = {"id": 7, "name": "van der berg", "email": "A@B.COM", "phone": "010 65529988 转 808",
           "country": "united kingdom", "birth_date": "45296", "address": " 1  Main  St "}
    once = {**row, **clean_contact(row, region="CN", dayfirst=False)}
    assert clean_contact(once, region="CN", dayfirst=False) == {}
    assert once["phone"] == "+861065529988;ext=808"


@pytest.mark.parametrize("workers", [1, 2])
def test_clean_rows_in_order_across_workers(workers: int) -> None:
    rows = [{"id": i, "name": "ZHANG SAN" if i % 3 == 0 else "Zhang San"}
            for i in range(1, 21_001)]
    result = list(clean_rows(rows, region="CN", dayfirst=False, workers=workers))
    assert [cid for cid, _ in result] == list(range(3, 21_001, 3))
    assert all(diff == {"name": "Zhang San"} for _, diff in result)


def test_clean_values_batch() -> None:
    values = ["138 0013 8000", None, "", "N/A", "+86 138-0013-8000"] * 5000
    out = clean_values("phone", values, region="CN", workers=2)
    assert out[:5] == ["+8613800138000", None, "", "N/A", "+8613800138000"]
    assert out == clean_values("phone", values, region="CN", workers=1)
