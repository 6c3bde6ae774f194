"""Pure churn core: BG/NBD fit on CDNOW, probabilities, risk and reasons, backtest metrics."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custdata.churn import (
    DEFAULT_WEIGHTS,
    BGNBDParams,
    ChurnScore,
    ChurnModel,
    _ll_and_grad,
    backtest,
    bgnbd_log_likelihood,
    calibration_table,
    customer_risks,
    expected_purchases,
    fit_bgnbd,
    fit_churn_model,
    history_arrays,
    p_alive,
    p_no_purchase,
    rank_scores,
    roc_auc,
    top_share_precision,
)
from custdata.errors import CustdataError, ExitCode, InsufficientHistory

DATA = Path(__file__).parent / "data"
CDNOW = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # Fader, Hardie & Lee (2005)


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    with open(DATA / "cdnow_summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[c]) for r in rows])
            for k, c in (("x", "frequency"), ("t_x", "recency"), ("T", "T"))}


def test_fit_reproduces_published_cdnow_parameters(cdnow: dict[str, np.ndarray]) -> None:
    fitted = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert len(cdnow["x"]) == 2357
    assert round(fitted.r, 2) == 0.24
    assert round(fitted.alpha, 2) == 4.41
    assert round(fitted.a, 2) == 0.79
    assert round(fitted.b, 2) == 2.43
    ll = bgnbd_log_likelihood(fitted, cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert ll == pytest.approx(-9582.4, abs=0.1)  # the paper's maximised log-likelihood


def test_paper_example_customer() -> None:
    # The paper's worked example: x=2, t_x=30.43, T=38.86 weeks expects 1.226 purchases in 39.
    assert expected_purchases(CDNOW, 39, [2], [30.43], [38.86])[0] == pytest.approx(1.226, abs=2e-3)


def test_gradient_matches_finite_differences(cdnow: dict[str, np.ndarray]) -> None:
    theta = np.array([0.3, 5.0, 0.7, 2.0])
    x, t_x, T = cdnow["x"][:200], cdnow["t_x"][:200], cdnow["T"][:200]
    _, grad = _ll_and_grad(theta, x, t_x, T)
    for j in range(4):
        step = np.zeros(4)
        step[j] = 1e-6 * theta[j]
        up = _ll_and_grad(theta + step, x, t_x, T, grad=False)[0].sum()
        down = _ll_and_grad(theta - step, x, t_x, T, grad=False)[0].sum()
        assert grad[j].sum() == pytest.approx((up - down) / (2 * step[j]), rel=1e-5)


@pytest.mark.parametrize(("x", "t_x", "T", "expected"), [
    (0, 0.0, 38.86, 1.0),  # no repeat purchase: the model cannot have seen a dropout
    (2, 38.86, 38.86, None),  # bought at the very end: almost surely active
    (2, 5.0, 38.86, None),
])
def test_p_alive(x: int, t_x: float, T: float, expected: float | None) -> None:
    value = float(p_alive(CDNOW, [x], [t_x], [T])[0])
    assert 0.0 <= value <= 1.0
    if expected is not None:
        assert value == expected


def test_p_alive_falls_as_the_customer_goes_quiet() -> None:
    values = p_alive(CDNOW, [3, 3, 3], [35, 20, 5], [38.86] * 3)
    assert values[0] > values[1] > values[2]


def test_p_no_purchase_between_dead_and_one() -> None:
    x, t_x, T = np.array([0, 4, 4]), np.array([0.0, 30.0, 5.0]), np.array([30.0, 30.0, 30.0])
    quiet = p_no_purchase(CDNOW, 13, x, t_x, T)
    dead = 1 - p_alive(CDNOW, x, t_x, T)
    assert np.all(quiet >= dead) and np.all(quiet <= 1)
    assert quiet[2] > quiet[1]


@pytest.mark.parametrize(("n", "repeaters", "phrase"), [(10, 5, "at least 50"), (200, 3, "repeat")])
def test_too_little_history_is_a_usage_error(n: int, repeaters: int, phrase: str) -> None:
    x = np.zeros(n)
    x[:repeaters] = 2
    with pytest.raises(InsufficientHistory, match=phrase) as info:
        fit_bgnbd(x, x * 3.0, np.full(n, 100.0))
    assert isinstance(info.value, CustdataError) and info.value.exit_code == ExitCode.USAGE


AS_OF = date(2024, 6, 30)


def fact(cid: int, days: list[int] | None, *, refunds: list[int] = (), value: float = 100.0,
         contact: int | None = None, rating: int | None = None, channel: str = "call") -> dict:
    """A store fact for a customer with paid orders `days` days before AS_OF."""
    paid = sorted(AS_OF - timedelta(days=d) for d in days or [])
    all_days = sorted(paid + [AS_OF - timedelta(days=d) for d in refunds])
    return {
        "contact_id": cid, "first_paid": paid[0] if paid else None,
        "last_paid": paid[-1] if paid else None, "paid_days": len(set(paid)),
        "first_order": all_days[0] if all_days else None,
        "last_order": all_days[-1] if all_days else None, "value": value,
        "last_contact": None if contact is None else AS_OF - timedelta(days=contact),
        "last_rating": rating, "last_rating_channel": channel if rating else None,
    }


def population(n: int = 120) -> list[dict]:
    """Regular buyers every 30 days, some of whom stopped, plus one-order customers."""
    rng = np.random.default_rng(7)
    out = []
    for cid in range(1, n + 1):
        step = int(rng.integers(20, 60))
        stop = int(rng.integers(0, 400))
        days = [d for d in range(700, stop, -step)] or [stop]
        out.append(fact(cid, days if cid % 4 else days[:1]))
    return out


def test_customer_risks_reasons_and_special_cases() -> None:
    facts = population() + [
        fact(1001, [210, 255, 300, 345], rating=2),
        fact(1002, [120]),
        fact(1003, None, refunds=[60], value=-50.0),
        fact(1004, None),  # a lead: no orders, not scored
        fact(1005, [5, 35, 65], contact=3, rating=5, channel="visit"),
        fact(1006, [60]),  # bought at the same time as 1003, and kept it
    ]
    model = fit_churn_model(facts, as_of=AS_OF)
    scores = {s.contact_id: s for s in customer_risks(facts, as_of=AS_OF, model=model)}
    assert 1004 not in scores
    assert all(0.0 <= s.risk <= 1.0 for s in scores.values())
    lapsed, single, refunded, happy = scores[1001], scores[1002], scores[1003], scores[1005]
    assert lapsed.reason == (
        "no order for 210 days; usually orders every 45 days; last call rated 2/5")
    assert lapsed.kind == "repeat" and lapsed.usual_interval == 45
    assert single.kind == "single" and single.reason.startswith("one order only, 120 days ago")
    assert "repeat customers usually reorder every" in single.reason
    assert refunded.kind == "refunded" and refunded.value == 0.0
    assert refunded.reason.startswith("every order was refunded")
    assert happy.reason.endswith("last visit rated 5/5; in touch 3 days ago")
    assert happy.risk < lapsed.risk
    assert refunded.risk > scores[1006].risk


def test_signals_move_risk_the_way_the_reason_reads() -> None:
    facts = population()
    model = ChurnModel(fit_churn_model(facts, as_of=AS_OF).params, DEFAULT_WEIGHTS, False)
    base = [fact(1, [100, 140, 180])]
    variants = {
        "low": [fact(1, [100, 140, 180], rating=1)],
        "high": [fact(1, [100, 140, 180], rating=5)],
        "contact": [fact(1, [100, 140, 180], contact=2)],
    }
    risk = customer_risks(base, as_of=AS_OF, model=model)[0].risk
    got = {k: customer_risks(v, as_of=AS_OF, model=model)[0].risk for k, v in variants.items()}
    assert got["low"] > risk > got["high"] and got["contact"] < risk


def test_learned_weights_keep_their_signs() -> None:
    facts = population(300)
    model = fit_churn_model(facts, as_of=AS_OF, past=_past_of(facts, longest=90)[0])
    assert model.learned
    w = model.weights
    assert w[1] >= 0 and w[2] >= 0 and w[8] <= 0 and w[9] <= 0


def _past_of(facts: list[dict], longest: int):
    """past(days) of a store whose order history reaches back only `longest` days."""
    asked: list[int] = []

    def past(days: int) -> tuple[list[dict], set[int]]:
        asked.append(days)
        if days > longest:
            return [], set()
        cut = AS_OF - timedelta(days=days)
        shifted = [fact(f["contact_id"], [(AS_OF - d).days for d in _paid_days(f) if d <= cut])
                   for f in facts]
        return ([s for s in shifted if s["first_paid"]],
                {f["contact_id"] for f in facts if f["last_paid"] > cut})
    return past, asked


def test_a_store_with_a_short_past_learns_from_a_shorter_look_back() -> None:
    facts = population(300)
    past, asked = _past_of(facts, longest=45)
    model = fit_churn_model(facts, as_of=AS_OF, horizon_days=90, past=past)
    assert model.learned and model.lookback_days == 45
    assert asked == [90, 45]


def test_without_a_learnable_past_the_default_weights_are_used() -> None:
    past, asked = _past_of(population(300), longest=0)
    model = fit_churn_model(population(300), as_of=AS_OF, horizon_days=90, past=past)
    assert not model.learned and model.weights == DEFAULT_WEIGHTS
    assert model.lookback_days is None
    assert asked == [90, 45]  # and no shorter than 30 days


def _paid_days(f: dict) -> list[date]:
    # population() spaces orders evenly: rebuild them from first, last and count.
    first, last, n = f["first_paid"], f["last_paid"], f["paid_days"]
    if n == 1:
        return [first]
    step = (last - first).days // (n - 1)
    return [first + timedelta(days=step * i) for i in range(n)]


def test_no_customers_gives_no_scores() -> None:
    model = ChurnModel(CDNOW, DEFAULT_WEIGHTS, False)
    assert customer_risks([fact(1, None)], as_of=AS_OF, model=model) == []


@pytest.mark.parametrize(("labels", "scores", "expected"), [
    ([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1], 1.0),
    ([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9], 0.0),
    ([1, 0], [0.5, 0.5], 0.5),  # a tie counts half
    ([1, 0, 1, 0], [3, 3, 2, 1], 0.625),  # pairs: 1/2 + 1 + 0 + 1
    ([1, 1], [0.2, 0.3], None),  # one class only: undefined
])
def test_roc_auc(labels: list[int], scores: list[float], expected: float | None) -> None:
    assert roc_auc(labels, scores) == expected


def test_top_decile_precision_shares_ties_at_the_cut() -> None:
    labels = [1] * 5 + [0] * 15
    assert top_share_precision(labels, list(range(20, 0, -1))) == 1.0  # top 2 are positives
    # Everyone tied: the expected precision of a random top 2 is the base rate.
    assert top_share_precision(labels, [1.0] * 20) == pytest.approx(0.25)


def test_calibration_table_by_decile() -> None:
    p = np.linspace(0, 1, 100)
    y = (p > 0.5).astype(int)
    table = calibration_table(y, p)
    assert [r["decile"] for r in table] == list(range(1, 11))
    assert sum(r["customers"] for r in table) == 100
    assert table[0]["observed"] == 0.0 and table[-1]["observed"] == 1.0
    assert table[0]["predicted"] < table[-1]["predicted"]


def test_backtest_against_the_naive_baseline() -> None:
    facts = population(200)
    model = fit_churn_model(facts, as_of=AS_OF)
    scores = customer_risks(facts, as_of=AS_OF, model=model)
    recent = {s.contact_id for s in scores if s.days_since_order < 60}
    result = backtest(scores, recent, horizon_days=90, model=model)
    assert result.customers == 200 and result.churned == 200 - len(recent)
    assert result.baseline_auc == 1.0  # the outcome was made from days since the last order
    assert 0.5 < result.auc <= 1.0
    assert len(result.calibration) == 10
    with pytest.raises(InsufficientHistory, match="nobody"):
        backtest(scores, set(), horizon_days=90, model=model)


@given(
    params=st.tuples(*[st.floats(0.05, 20.0) for _ in range(2)],
                     *[st.floats(0.05, 20.0) for _ in range(2)]),
    x=st.integers(0, 200), t_x=st.floats(0, 2000), extra=st.floats(0, 2000),
    horizon=st.floats(1, 365),
)
@settings(max_examples=200, deadline=None)
def test_probabilities_stay_in_range(params: tuple, x: int, t_x: float, extra: float,
                                     horizon: float) -> None:
    p = BGNBDParams(*params)
    t_x = t_x if x > 0 else 0.0
    T = t_x + extra
    alive = float(p_alive(p, [x], [t_x], [T])[0])
    quiet = float(p_no_purchase(p, horizon, [x], [t_x], [T])[0])
    assert 0.0 <= alive <= 1.0 and 0.0 <= quiet <= 1.0
    assert quiet >= 1.0 - alive - 1e-12
    assert np.isfinite(bgnbd_log_likelihood(p, [x], [t_x], [T])[0])


def test_explain_gives_reasons_only_to_the_named_customers() -> None:
    model = ChurnModel(BGNBDParams(0.5, 30.0, 0.8, 2.5), DEFAULT_WEIGHTS, False)
    facts = [fact(i, [300, 200, 20 * i]) for i in range(1, 6)]
    every = customer_risks(facts, as_of=AS_OF, model=model)
    some = customer_risks(facts, as_of=AS_OF, model=model, explain=lambda scores: [2, 4])
    assert [s.reason != "" for s in some] == [False, True, False, True, False]
    assert [s.risk for s in some] == [s.risk for s in every]
    assert {s.contact_id: s.reason for s in some if s.reason} == \
        {s.contact_id: s.reason for s in every if s.contact_id in (2, 4)}


AS_OF = date(2026, 6, 30)


@st.composite
def order_facts(draw: st.DrawFn) -> dict:
    """One customer's facts: paid days spread between a first and a last paid day, or
    refunds only; days as dates or as ISO text (what SQLite returns)."""
    def when(offset: int | None) -> date | str | None:
        if offset is None:
            return None
        day = AS_OF - timedelta(days=offset)
        return draw(st.sampled_from([day, day.isoformat(), day.isoformat() + "T09:30:00"]))
    first_order, last_order = sorted(draw(st.lists(st.integers(0, 2000), min_size=2,
                                                   max_size=2)), reverse=True)
    fact = {"contact_id": 1, "first_order": when(first_order), "last_order": when(last_order)}
    if draw(st.booleans()):  # has paid orders
        first, last = sorted(draw(st.lists(st.integers(last_order, first_order), min_size=2,
                                           max_size=2)), reverse=True)
        fact.update(first_paid=when(first), last_paid=when(last),
                    paid_days=1 if first == last else draw(st.integers(2, 40)))
    else:
        fact.update(first_paid=None, last_paid=None, paid_days=draw(st.sampled_from([0, None])))
    return fact


def reference_timeline(fact: dict, as_of: date) -> tuple:
    """(kind, x, t_x, T, gap) of one customer, straight from the definitions."""
    def day(v):
        return None if v is None else v if isinstance(v, date) else date.fromisoformat(v[:10])
    first, last, days = day(fact["first_paid"]), day(fact["last_paid"]), fact["paid_days"] or 0
    if first is None or days == 0:
        start = day(fact["first_order"])
        return "refunded", 0, 0, (as_of - start).days, (as_of - day(fact["last_order"])).days
    return ("repeat" if days > 1 else "single", days - 1, (last - first).days,
            (as_of - first).days, (as_of - last).days)


@given(st.lists(order_facts(), max_size=30))
def test_history_arrays_follow_the_definitions(facts: list[dict]) -> None:
    h = history_arrays(facts, AS_OF)
    got = list(zip(h["kind"], h["x"], h["t_x"], h["T"], h["gap"]))
    assert got == [reference_timeline(f, AS_OF) for f in facts]


@given(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 0.9, 1.0]),
                          st.sampled_from([0.0, 10.0, 12.5, 99.99])), max_size=40),
       st.one_of(st.none(), st.integers(1, 50)),
       st.one_of(st.none(), st.sampled_from([0.5, 0.9])))
def test_rank_scores_by_value_at_risk_then_risk_then_id(
        cells: list[tuple[float, float]], top: int | None, min_risk: float | None) -> None:
    scores = [ChurnScore(i, risk, "single", 1.0, 10, None, None, value, "")
              for i, (risk, value) in enumerate(cells, start=1)]
    expected = sorted((s for s in scores if min_risk is None or s.risk >= min_risk),
                      key=lambda s: (-s.value * s.risk, -s.risk, s.contact_id))
    assert rank_scores(scores[::-1], top=top, min_risk=min_risk) == expected[:top]
