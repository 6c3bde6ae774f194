"""find_issues: one Issue per problem, stable codes, missing is not invalid."""

from __future__ import annotations

import pytest

from custdata import validate
from custdata.errors import UsageError
from custdata.validate import ISSUE_CODES, Issue, find_issues, row_issues

OK = {"id": 1, "name": "张三", "email": "zhang@qq.com", "phone": "13800138000"}


def codes(row: dict, **kw) -> list[tuple[str, str]]:
    return [(i.field, i.code) for i in row_issues({**OK, **row}, **kw)]


def test_a_clean_contact_has_no_issues() -> None:
    assert find_issues([OK]) == []
    assert find_issues([]) == []


@pytest.mark.parametrize(("row", "expected"), [
    ({"email": "Joe <joe@x.com>"}, [("email", "email.syntax")]),
    ({"email": "joe@"}, [("email", "email.syntax")]),
    ({"email": "li@gmial.com"}, [("email", "email.typo_domain")]),
    ({"phone": "N/A"}, [("phone", "phone.invalid")]),
    ({"phone": "-"}, [("phone", "phone.invalid")]),
    ({"phone": "0"}, [("phone", "phone.invalid")]),
    ({"phone": "12345"}, [("phone", "phone.invalid")]),
    ({"phone": "44 20 7946 0958"}, [("phone", "phone.no_region")]),
    ({"id_number": "110105198501010021"}, [("id_number", "id_number.checksum")]),
    ({"id_number": "110105198501010"}, [("id_number", "id_number.length")]),
    ({"id_number": "1101051985O1010020"}, [("id_number", "id_number.format")]),
    ({"id_number": "510104198702290012"}, [("id_number", "id_number.birth_date")]),
    ({"id_number": "990105198501010024"}, [("id_number", "id_number.region")]),
    ({"birth_date": "not a date"}, [("birth_date", "date.unparseable")]),
    ({"updated_at": "2024-02-30"}, [("updated_at", "date.unparseable")]),
    ({"country": "Narnia"}, [("country", "country.unknown")]),
    ({"consent": "maybe"}, [("consent", "consent.invalid")]),
    ({"name": ""}, [("name", "required.missing")]),
    ({"name": None, "email": None, "phone": "  "},
     [("name", "required.missing"), ("email", "required.missing")]),
])
def test_each_code(row: dict, expected: list[tuple[str, str]]) -> None:
    assert codes(row) == expected
    for _, code in expected:
        assert code in ISSUE_CODES


def test_empty_email_or_phone_is_missing_not_invalid() -> None:
    assert codes({"email": "", "phone": "13800138000"}) == []
    assert codes({"email": "a@b.com", "phone": None}) == []
    assert codes({"id_number": "", "birth_date": " ", "country": None}) == []


def test_phone_region_is_respected() -> None:
    assert codes({"phone": "(650) 253-0000"}, region="US") == []
    assert codes({"phone": "(650) 253-0000"}, region="CN") != []
    assert codes({"phone": "+8613800138000"}, region="US") == []


def test_dayfirst() -> None:
    assert codes({"birth_date": "25.12.1990"}, dayfirst=True) == []
    assert codes({"birth_date": "13.13.1990"}, dayfirst=True) == [("birth_date", "date.unparseable")]


def test_suggestions_and_messages() -> None:
    [issue] = row_issues({**OK, "email": "Joe <joe@x.com>"})
    assert issue == Issue(1, "email", "Joe <joe@x.com>", "email.syntax", issue.message,
                          "joe@x.com")
    [issue] = row_issues({**OK, "email": "wang@qq.con"})
    assert issue.suggestion == "wang@qq.com"
    [issue] = row_issues({**OK, "phone": "44 20 7946 0958"})
    assert issue.suggestion == "+442079460958"
    [issue] = row_issues({**OK, "id_number": "110105850101002"})
    assert (issue.code, issue.suggestion) == ("id_number.length", "110105198501010020")
    # messages say what is wrong without repeating the value
    [issue] = row_issues({**OK, "email": "secretname@"})
    assert "secretname" not in issue.message


def test_fields_filter() -> None:
    row = {**OK, "email": "bad@", "phone": "N/A", "country": "Narnia"}
    assert [i.field for i in find_issues([row], fields=["phone"])] == ["phone"]
    assert [i.field for i in find_issues([row], fields=["email", "country"])] == ["email", "country"]
    with pytest.raises(UsageError):
        find_issues([row], fields=["nonsense"])


def test_issue_rows_have_the_documented_columns() -> None:
    [issue] = find_issues([{**OK, "phone": "N/A"}])
    assert list(issue.as_row()) == list(validate.ISSUE_COLUMNS)
    assert issue.as_row()["contact"] == 1


def test_check_dns_uses_the_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "domain_is_deliverable", lambda d: d != "nowhere.example")
    rows = [{**OK, "email": "a@nowhere.example"}, {**OK, "id": 2, "email": "b@qq.com"}]
    assert [(i.contact_id, i.code) for i in find_issues(rows, check_dns=True)] == [
        (1, "email.undeliverable")]
    assert find_issues(rows) == []  # offline by default


def test_large_batches_keep_row_order() -> None:
    rows = [{**OK, "id": i, "phone": "N/A" if i % 1000 == 0 else "13800138000"}
            for i in range(1, 25_001)]
    issues = find_issues(rows)
    assert [i.contact_id for i in issues] == list(range(1000, 25_001, 1000))
