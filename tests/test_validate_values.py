"""One field's values at a time (what `audit` uses): value_is_invalid agrees with
row_issues, verdict_key never changes a verdict, and count_invalid judges each key once."""

from __future__ import annotations

import functools
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custdata import validate
from custdata.errors import InvalidValue
from custdata.normalize import normalize_date
from custdata.parallel import map_chunks
from custdata.validate import (
    CHECKED_FIELDS, count_invalid, find_issues, row_issues, value_is_invalid, verdict_key,
)

FIELDS = [f for f in CHECKED_FIELDS if f != "name"]  # name is only ever "missing"
# ISO dates and date-times, real or not, with the tails seen in exports (and odd ones).
STAMPS = st.from_regex(
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9:.Z+\- ]{0,14}|[ T]\S{0,6}|\s.{0,6})?\Z")
VALUES = (STAMPS | st.text(max_size=30) | st.from_regex(r"\A[+(]?[0-9 ()\-]{0,16}\Z")
          | st.from_regex(r"\A\w{0,8}@\w{0,8}\.?\w{0,4}\Z")
          | st.sampled_from(["", "  ", "\t", "China", "中国", "Narnia", "yes", "maybe",
                             "110105198501010020", "110105198501010021", "2024/1/5",
                             "2024年1月5日", "05/04/1986", "45296", "li@gmial.com"]))


def date_verdict(raw: str, dayfirst: bool) -> str:
    try:
        return normalize_date(raw, dayfirst=dayfirst)
    except InvalidValue as exc:
        return exc.code


@settings(max_examples=300, deadline=None)
@given(STAMPS | st.text(max_size=30), st.booleans())
def test_verdict_key_keeps_the_date_verdict(raw: str, dayfirst: bool) -> None:
    key = verdict_key("updated_at", raw)
    assert date_verdict(key, dayfirst) == date_verdict(raw, dayfirst)
    assert verdict_key("updated_at", key) == key


@pytest.mark.parametrize(("field", "raw", "key"), [
    ("created_at", "2024-01-05 10:00:00", "2024-01-05"),
    ("updated_at", "2024-02-30T08:00:00Z", "2024-02-30"),
    ("birth_date", "2024-01-05", "2024-01-05"),
    ("birth_date", "2024/01/05 10:00", "2024/01/05 10:00"),  # only ISO days stand for others
    ("created_at", "2024-01-05\t10:00", "2024-01-05\t10:00"),
    ("created_at", "2024-01-05 ９", "2024-01-05 ９"),  # NFKC could change the tail
    ("created_at", None, None),
    ("phone", "2024-01-05 10:00", "2024-01-05 10:00"),  # not a date field
])
def test_verdict_key_examples(field: str, raw: str | None, key: str | None) -> None:
    assert verdict_key(field, raw) == key


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(FIELDS), VALUES, st.sampled_from(["CN", "US"]), st.booleans())
def test_value_is_invalid_agrees_with_row_issues(field: str, raw: str, region: str,
                                                 dayfirst: bool) -> None:
    issues = row_issues({"id": 1, field: raw}, region=region, dayfirst=dayfirst, fields=[field])
    expected = any(i.field == field and i.code != "required.missing" for i in issues)
    assert value_is_invalid(field, raw, region=region, dayfirst=dayfirst) is expected


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(FIELDS), st.lists(VALUES, max_size=12), st.booleans())
def test_count_invalid_counts_like_find_issues(field: str, values: list[str],
                                               dayfirst: bool) -> None:
    issues = find_issues([{"id": n, field: v} for n, v in enumerate(values)],
                         dayfirst=dayfirst, fields=[field])
    flagged = {i.contact_id for i in issues if i.field == field and i.code != "required.missing"}
    assert count_invalid(field, values, dayfirst=dayfirst) == len(flagged)


def test_date_times_are_judged_once_per_day(monkeypatch: pytest.MonkeyPatch) -> None:
    judged: list[str] = []
    real = validate._value_issues

    def counting(cid, field, raw, region, dayfirst):
        judged.append(raw)
        return real(cid, field, raw, region, dayfirst)

    monkeypatch.setattr(validate, "_value_issues", counting)
    stamps = [f"2024-02-{day} {hour:02}:{minute:02}:00"
              for day in (28, 29, 30) for hour in range(24) for minute in (0, 30)]
    assert count_invalid("created_at", stamps + ["2024-02-28", "bad", "bad"]) == 48 + 2
    assert sorted(judged) == ["2024-02-28", "2024-02-29", "2024-02-30", "bad"]


def test_worker_processes_flag_what_this_process_flags() -> None:
    values = ["bob@", "a@x.com", "N/A", "2024-13-01", "Narnia", "中国", "maybe", "",
              "13800138000"]
    for field in FIELDS:
        work = functools.partial(validate._invalid_values, field=field, region="CN",
                                 dayfirst=False)
        pooled = list(map_chunks(work, values * 5, workers=2, threshold=10, chunk_size=4))
        here = [v for v in values * 5 if value_is_invalid(field, v)]
        assert pooled == here and here, field


def test_count_invalid_of_nothing_is_zero() -> None:
    assert count_invalid("email", []) == 0
    assert count_invalid("phone", itertools.repeat("13800138000", 3)) == 0
