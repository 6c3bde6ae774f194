"""Pure core of segments: aggregates, RFM scores, segments, stages, tiers, currencies."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from custdata.errors import UsageError
from custdata.segments import (
    ACTIONS, AGGREGATE_COLUMNS, CN8_SEGMENTS, SEGMENTS, TagRules, cn8_segments,
    customer_aggregates, lifecycle_stages, quintile_scores, report_currency, rfm_scores,
    segment_of, segment_table, tag_plan, value_tiers,
)

DATA = Path(__file__).parent / "data"


def generated_orders(seed: int = 7, customers: int = 60) -> pd.DataFrame:
    """Orders with refunds, cancellations, same-day orders, one-order customers, gaps."""
    rnd = random.Random(seed)
    rows = []
    start = date(2022, 1, 1)
    for cid in range(1, customers + 1):
        n = rnd.choice([1, 1, 2, 3, 5, 8])
        day = start + timedelta(days=rnd.randrange(0, 900))
        for _ in range(n):
            status = rnd.choices(["paid", "refunded", "cancelled"], [8, 1, 1])[0]
            amount = round(rnd.uniform(5, 500), 2)
            if status == "refunded" and rnd.random() < 0.5:
                amount = -amount
            rows.append((cid, day.isoformat(), amount, status))
            if rnd.random() < 0.2:  # same-day second order
                rows.append((cid, day.isoformat(), round(rnd.uniform(1, 50), 2), "paid"))
            day += timedelta(days=rnd.choice([0, 3, 30, 90, 400]))
    rows.append((None, "2023-01-01", 10.0, "paid"))  # no customer: ignored
    rows.append((3, None, 99.0, "paid"))  # undated: ignored
    rows.append((4, "2023-02-02", None, "paid"))  # paid without amount: counts, adds 0
    return pd.DataFrame(rows, columns=["contact_id", "day", "amount_value", "status_norm"])


def plain_aggregates(orders: pd.DataFrame, as_of: date, window: int) -> dict[int, dict]:
    """Independent per-customer loop (no pandas group-by) for the cross-check."""
    per: dict[int, list] = defaultdict(list)
    for cid, day, amount, status in orders.itertuples(index=False):
        if cid is None or pd.isna(cid) or not isinstance(day, str):
            continue
        d = date.fromisoformat(day)
        if d <= as_of:
            per[int(cid)].append((d, 0.0 if pd.isna(amount) else float(amount), status))
    out = {}
    for cid, rows in per.items():
        paid_days = sorted({d for d, _, s in rows if s == "paid"})
        if not paid_days:
            continue
        net = wnet = pnet = 0.0
        wpaid = 0
        for d, amount, status in rows:
            value = amount if status == "paid" else -abs(amount) if status == "refunded" else 0
            net += value
            age = (as_of - d).days
            if age < window:
                wnet += value
                wpaid += status == "paid"
            elif age < 2 * window:
                pnet += value
        out[cid] = {
            "recency_days": (as_of - paid_days[-1]).days,
            "frequency": sum(s == "paid" for _, _, s in rows),
            "monetary": net, "paid_days": len(paid_days),
            "tenure_days": (as_of - paid_days[0]).days,
            "gap_days": (paid_days[-1] - paid_days[-2]).days if len(paid_days) > 1 else None,
            "window_revenue": wnet, "prior_revenue": pnet, "window_orders": wpaid,
        }
    return out


@pytest.mark.parametrize("as_of", [date(2023, 6, 15), date(2024, 12, 31), date(2027, 1, 1)])
def test_aggregates_match_an_independent_loop(as_of: date) -> None:
    orders = generated_orders()
    agg = customer_aggregates(orders, as_of=as_of, window_days=180)
    expected = plain_aggregates(orders, as_of, 180)
    assert list(agg.columns) == list(AGGREGATE_COLUMNS)
    assert sorted(expected) == agg["contact_id"].tolist()
    for row in agg.to_dict("records"):
        want = expected[row["contact_id"]]
        for key, value in want.items():
            if value is None:
                assert np.isnan(row[key]), (row["contact_id"], key)
            else:
                assert row[key] == pytest.approx(value), (row["contact_id"], key)


def test_aggregates_ignore_later_orders_and_need_a_paid_order() -> None:
    orders = pd.DataFrame(
        [(1, "2024-01-10", 100.0, "paid"), (1, "2024-01-11", 999.0, "paid"),
         (2, "2024-01-05", -20.0, "refunded"), (3, "2024-01-05", 50.0, "cancelled")],
        columns=["contact_id", "day", "amount_value", "status_norm"])
    agg = customer_aggregates(orders, as_of=date(2024, 1, 10))
    assert agg["contact_id"].tolist() == [1]
    assert agg.loc[0, "recency_days"] == 0 and agg.loc[0, "monetary"] == 100.0


@pytest.mark.parametrize("values, higher, expected", [
    ([], True, []),
    ([7], True, [3]),
    ([7, 7, 7], True, [3, 3, 3]),
    ([1, 2], True, [2, 4]),
    ([1, 2, 3, 4, 5], True, [1, 2, 3, 4, 5]),
    ([5, 4, 3, 2, 1], True, [5, 4, 3, 2, 1]),
    ([1, 1, 1, 1, 2], True, [3, 3, 3, 3, 5]),
    ([10, 20, 30, 40, 50], False, [5, 4, 3, 2, 1]),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], True, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
    ([-5, 0, 0, 100], True, [1, 3, 3, 5]),
])
def test_quintile_tie_rule(values: list, higher: bool, expected: list) -> None:
    assert quintile_scores(values, higher_is_better=higher).tolist() == expected


def test_quintile_scores_are_monotone_and_ties_share_a_score() -> None:
    rnd = np.random.default_rng(3)
    values = rnd.integers(0, 6, size=500)
    scores = quintile_scores(values)
    for v in np.unique(values):
        assert len(set(scores[values == v])) == 1
    order = np.argsort(values, kind="stable")
    assert (np.diff(scores[order]) >= 0).all()


def segment_grid() -> dict[tuple[int, int], str]:
    with (DATA / "rfm_segments.csv").open(encoding="utf-8") as fh:
        return {(int(r["r"]), int(r["fm"])): r["segment"] for r in csv.DictReader(fh)}


def test_segment_mapping_table_covers_every_cell_and_every_segment() -> None:
    grid = segment_grid()
    seen = set()
    for r in range(1, 6):
        for f in range(1, 6):
            for m in range(1, 6):
                fm = int(np.floor((f + m) / 2 + 0.5))  # mean of F and M, half rounds up
                assert segment_of(r, f, m) == grid[(r, fm)], (r, f, m)
                seen.add(segment_of(r, f, m))
    assert seen == set(SEGMENTS)


def test_rfm_scores_cells_and_segments() -> None:
    agg = pd.DataFrame({"contact_id": [1, 2, 3, 4, 5], "recency_days": [1, 10, 100, 200, 400],
                        "frequency": [9, 5, 3, 2, 1], "monetary": [900.0, 50, 30, 20, 10]})
    scored = rfm_scores(agg)
    assert scored["cell"].tolist() == ["555", "444", "333", "222", "111"]
    assert scored["segment"].tolist() == [
        "Champions", "Loyal Customers", "Need Attention", "About To Sleep", "Lost"]


@pytest.mark.parametrize("recency, frequency, monetary, expected", [
    (10, 5, 500, "重要价值客户"), (10, 1, 500, "重要发展客户"), (90, 5, 500, "重要保持客户"),
    (90, 1, 500, "重要挽留客户"), (10, 5, 10, "一般价值客户"), (10, 1, 10, "一般发展客户"),
    (90, 5, 10, "一般保持客户"), (90, 1, 10, "一般挽留客户"),
])
def test_cn8_classes(recency: int, frequency: int, monetary: float, expected: str) -> None:
    # the other customers put the means at recency 50, frequency 3, monetary 255
    rec = [recency, 100 - recency]
    fr = [frequency, 6 - frequency]
    mo = [monetary, 510 - monetary]
    assert cn8_segments(rec, fr, mo)[0] == expected


def test_cn8_value_at_the_mean_counts_as_low() -> None:
    assert cn8_segments([5, 5], [2, 2], [0.1, 0.1]).tolist() == ["一般挽留客户"] * 2


def test_segment_table_lists_every_segment_with_shares_and_actions() -> None:
    agg = pd.DataFrame({"contact_id": [1, 2], "recency_days": [1, 300],
                        "frequency": [4, 1], "monetary": [300.0, 100.0]})
    rows = segment_table(rfm_scores(agg))
    assert [r["segment"] for r in rows] == list(SEGMENTS)
    assert sum(r["customers"] for r in rows) == 2
    assert sum(r["revenue_share"] for r in rows) == pytest.approx(1.0)
    assert all(r["action"] for r in rows)
    cn8 = segment_table(rfm_scores(agg, scheme="cn8"), scheme="cn8")
    assert [r["segment"] for r in cn8] == list(CN8_SEGMENTS)
    assert cn8[0]["action"].startswith("Important value: ")


def test_zh_labels_cover_every_segment_column_and_action() -> None:
    agg = pd.DataFrame({"contact_id": [1], "recency_days": [1], "frequency": [1],
                        "monetary": [1.0]})
    for scheme in ("standard", "cn8"):
        for row in segment_table(rfm_scores(agg, scheme=scheme), scheme=scheme, lang="zh"):
            for text in (row["segment"], row["action"]):
                assert any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    assert set(ACTIONS) == set(SEGMENTS) | set(CN8_SEGMENTS)


def test_empty_input_scores_nothing() -> None:
    agg = customer_aggregates(
        pd.DataFrame(columns=["contact_id", "day", "amount_value", "status_norm"]),
        as_of=date(2024, 1, 1))
    assert len(agg) == 0
    scored = rfm_scores(agg)
    assert len(scored) == 0
    assert all(r["customers"] == 0 for r in segment_table(scored))


def agg_row(recency: int, paid_days: int, tenure: int, gap: float | None = None,
            window: float = 0.0, prior: float = 0.0, orders: int = 0) -> dict:
    return {"recency_days": recency, "paid_days": paid_days, "frequency": paid_days,
            "tenure_days": tenure, "gap_days": np.nan if gap is None else gap,
            "window_revenue": window, "prior_revenue": prior, "window_orders": orders,
            "monetary": window}


@pytest.mark.parametrize("row, stage", [
    (agg_row(10, 1, 10), "new"),
    (agg_row(90, 1, 90), "new"),
    (agg_row(91, 1, 91), "at_risk"),
    (agg_row(366, 1, 366), "churned"),
    (agg_row(365, 3, 500, gap=30), "at_risk"),
    (agg_row(20, 2, 50, gap=30), "repeat"),
    (agg_row(65, 3, 105, gap=20), "at_risk"),      # usual interval 20, 65 > 2 * 20
    (agg_row(59, 3, 99, gap=20), "repeat"),        # overdue but under at_risk_min_days
    (agg_row(5, 6, 800, gap=30), "loyal"),
    (agg_row(5, 6, 300, gap=30), "repeat"),        # many orders but short span
    (agg_row(5, 2, 505, gap=500), "reactivated"),
    (agg_row(400, 2, 900, gap=500), "churned"),
])
def test_lifecycle_stage_rules(row: dict, stage: str) -> None:
    assert lifecycle_stages(pd.DataFrame([row]), TagRules()).tolist() == [stage]


def test_value_tiers_follow_revenue_shares_and_keep_ties_together() -> None:
    revenue = [500.0, 200.0, 100.0, 100.0, 50.0, 30.0, 20.0, 0.0, -10.0]
    agg = pd.DataFrame([agg_row(1, 1, 1, window=v, orders=1) for v in revenue])
    # total 1000: 500 first (0% before) high; 200 has 50% before -> potential up to 80%
    tiers = value_tiers(agg, TagRules()).tolist()
    assert tiers == ["high", "potential", "potential", "potential", "nurture", "nurture",
                     "nurture", "nurture", "nurture"]


def test_growing_customers_are_potential() -> None:
    agg = pd.DataFrame([agg_row(1, 5, 400, window=1000.0, orders=5),
                        agg_row(1, 3, 400, window=60.0, prior=30.0, orders=3),
                        agg_row(1, 3, 400, window=60.0, prior=50.0, orders=3),
                        agg_row(1, 1, 10, window=65.0, orders=1)])
    assert value_tiers(agg, TagRules()).tolist() == ["high", "potential", "nurture", "nurture"]


def test_tag_plan_lists_changes_and_is_empty_once_applied() -> None:
    agg = customer_aggregates(generated_orders(), as_of=date(2024, 6, 1))
    ids = list(range(1, 70))
    current = pd.DataFrame({"contact_id": ids, "stage": [None] * 69, "tier": ["x"] * 69})
    plan = tag_plan(current, agg, TagRules())
    assert {(c, f) for c, f, _, _ in plan} == {(i, f) for i in ids for f in ("stage", "tier")}
    assert all(old is None for _, f, old, _ in plan if f == "stage")
    assert [p for p in plan if p[0] == 69] == [(69, "stage", None, "lead"),
                                               (69, "tier", "x", "nurture")]
    applied = current.set_index("contact_id")
    for cid, field, _, new in plan:
        applied.loc[cid, field] = new
    assert tag_plan(applied.reset_index(), agg, TagRules()) == []


def test_tag_rules_from_config_ignore_unknown_keys() -> None:
    rules = TagRules.from_mapping({"churn_days": 200, "other": 1})
    assert rules.churn_days == 200


def test_report_currency_single_and_blank() -> None:
    assert report_currency(["CNY", "cny ", None, ""]) == ("CNY", {"CNY": 1.0})
    assert report_currency([None]) == ("", {})


def test_report_currency_mixed_without_rates_names_currencies_and_fix() -> None:
    with pytest.raises(UsageError) as info:
        report_currency(["CNY", "USD"])
    text = str(info.value)
    assert "CNY" in text and "USD" in text and "rates" in text
    # one currency alone is the other fix; the CLI names its option (test_error_hints)
    assert (info.value.hint, info.value.example) == ("currency", "CNY")
    assert info.value.exit_code == 2
    with pytest.raises(UsageError, match="EUR"):
        report_currency(["CNY", "USD", "EUR"], configured="CNY", rates={"USD": 7.1})


def test_report_currency_with_rates_or_filter() -> None:
    assert report_currency(["CNY", "USD"], configured="cny", rates={"usd": 7}) == (
        "CNY", {"CNY": 1.0, "USD": 7.0})
    assert report_currency(["CNY", "USD"], only="usd") == ("USD", {"USD": 1.0})


def test_unknown_scheme_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        rfm_scores(pd.DataFrame(columns=["contact_id", "recency_days", "frequency",
                                         "monetary"]), scheme="abc")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-5, 5), max_size=40), st.booleans())
def test_quintile_scores_properties(values: list[int], higher: bool) -> None:
    scores = quintile_scores(values, higher_is_better=higher)
    assert len(scores) == len(values)
    assert all(1 <= s <= 5 for s in scores)
    for a, sa in zip(values, scores):
        for b, sb in zip(values, scores):
            if a == b:
                assert sa == sb
            elif (a < b) == higher:
                assert sa <= sb
    if values and len(set(values)) == 1:
        assert set(scores.tolist()) == {3}
