"""Locale-aware numbers: per-value readings, per-column decisions, and property tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custdata.errors import InvalidValue
from custdata.numbers import AMBIGUOUS, COMMA, DOT, JUNK, NONE, ColumnEvidence, evidence, parse_number


@pytest.mark.parametrize("raw, decimal, expected", [
    ("12,50", None, 12.5), ("1 234,50", None, 1234.5), ("1.234,50", None, 1234.5),
    ("1\u00a0234,50 €", None, 1234.5), ("1\u202f234,50", None, 1234.5),
    ("1'234.50", None, 1234.5), ("CHF 1'234.50", None, 1234.5), ("$1,234.50", None, 1234.5),
    ("¥1,200.50", None, 1200.5), ("￥1,200.50", None, 1200.5), ("RMB 12,50", None, 12.5),
    ("1,234,567", None, 1234567.0), ("1.234.567", None, 1234567.0), ("(200)", None, -200.0),
    ("-45,00", None, -45.0), ("45,00-", None, -45.0), ("− 7.5", None, -7.5), ("0,125", None, 0.125),
    ("1234,567", None, 1234.567), ("1,234", ",", 1.234), ("1,234", ".", 1234.0),
    ("1.234", ",", 1234.0), ("872.56", ".", 872.56), ("２５０", None, 250.0), ("12 EUR", None, 12.0),
    ("1 234 567,00", None, 1234567.0), ("€ 99,90", None, 99.9), ("100 元", None, 100.0),
])
def test_parse_number(raw: str, decimal: str | None, expected: float) -> None:
    assert parse_number(raw, decimal=decimal) == pytest.approx(expected)


@pytest.mark.parametrize("raw, decimal, reason", [
    ("1,234", None, "three digits"), ("1.234", None, "three digits"), ("abc", None, "not a number"),
    ("1,234.50", ",", "decimal"), ("12,34,567", ".", "digit groups"), ("--5", None, "sign"),
    ("1.2.3,4.5", None, "separator"),
])
def test_unreadable_numbers_say_why(raw: str, decimal: str | None, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        parse_number(raw, decimal=decimal)


@pytest.mark.parametrize("raw, kind", [
    ("120", NONE), ("", NONE), ("12,50", COMMA), ("1.234,5", COMMA), ("1,234,567", DOT),
    ("261.96", DOT), ("1,234", AMBIGUOUS), ("1.234", AMBIGUOUS), ("n/a", JUNK), ("0,123", COMMA),
])
def test_evidence_of_one_value(raw: str, kind: str) -> None:
    assert evidence(raw) == kind


def test_a_column_decides_from_all_its_values() -> None:
    col = ColumnEvidence()
    for line, raw in enumerate(["1,234", "12,50", "800"], start=2):
        col.add(raw, line)
    assert col.decimal() == "," and col.unreadable() == 0
    mixed = ColumnEvidence()
    for line, raw in enumerate(["1,234", "12,50", "3.75"], start=2):
        mixed.add(raw, line)
    assert mixed.decimal() is None and mixed.unreadable() == 1
    assert "line 2" in mixed.explain() and "mixes" in mixed.explain()


amounts = st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False)


def _format(value, decimal: str, group: str) -> str:
    sign = "-" if value < 0 else ""
    whole, frac = f"{abs(value):.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{group.join(groups)}{decimal}{frac}"


@given(amounts, st.sampled_from([(",", "."), (",", " "), (",", "\u00a0"), (".", ","), (".", "'"),
                                 (".", "")]))
def test_any_grouped_amount_reads_back(value, marks) -> None:
    decimal, group = marks
    text = _format(value, decimal, group)
    assert parse_number(text) == pytest.approx(float(value))
    assert parse_number(text, decimal=decimal) == pytest.approx(float(value))


@given(st.text(max_size=20), st.sampled_from([None, ",", "."]))
def test_parse_number_raises_only_invalid_value(raw: str, decimal: str | None) -> None:
    try:
        value = parse_number(raw, decimal=decimal)
    except InvalidValue:
        return
    assert value == value  # a number, never NaN
    assert evidence(raw) != JUNK
