"""Churn numbers of `report html`: the scoring `report churn` does, bands of risk, the call
list, and the backtest `report churn --backtest` would print one horizon before as_of."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np

from custdata.churn import (
    ChurnModel, ChurnScore, InsufficientHistory, backtest, customer_risks, fit_churn_model,
    rank_scores,
)
from custdata.config import Config
from custdata.errors import ConfigError
from custdata.htmlreport.model import AT_RISK, Backtest, CallRow, Churn, Count
from custdata.segments import report_currency

BANDS = 10
Shown = Callable[[str, "str | None"], "str | None"]


def gather_churn(store: Any, config: Config, *, as_of: date, top: int, shown: Shown,
                 high_tier: np.ndarray) -> tuple[Churn | None, str | None]:
    """(Churn section, None), or (None, why not) when there is nothing to score.

    high_tier: the ids of contacts whose stored tier is high.
    """
    horizon = int(config.get("churn", "horizon_days"))
    if horizon < 1:
        raise ConfigError("Setting churn.horizon_days must be at least 1 (days).")
    rates = _rates(store, config)
    facts = store.churn.churn_facts(as_of=as_of, rates=rates)
    if not facts:
        return None, f"no customers with orders on or before {as_of}"
    seen: dict[date, tuple[list[dict], set[int]]] = {}
    try:
        model = _fit(store, config, facts, as_of, horizon, rates, seen=seen)
    except InsufficientHistory as exc:
        return None, str(exc)
    contact_days = int(config.get("churn", "contact_days"))
    scores = customer_risks(
        facts, as_of=as_of, model=model, horizon_days=horizon, contact_days=contact_days,
        explain=lambda s: [x.contact_id for x in rank_scores(s, top=top)])
    ranked = rank_scores(scores, top=top)
    risk = np.fromiter((s.risk for s in scores), float, len(scores))
    value = np.fromiter((s.value for s in scores), float, len(scores))
    hot = risk >= AT_RISK
    ids = np.fromiter((s.contact_id for s in scores), np.int64, len(scores))
    high = hot & np.isin(ids, high_tier)
    bt, note = _backtest(store, config, as_of=as_of, horizon=horizon, rates=rates,
                         facts=facts, seen=seen.get(as_of - timedelta(days=horizon)))
    return Churn(
        horizon_days=horizon, scored=len(scores), bands=risk_bands(risk, value),
        at_risk=int(hot.sum()), value_at_risk=round(float(value[hot].sum()), 2),
        high_at_risk=int(high.sum()), high_value_at_risk=round(float(value[high].sum()), 2),
        call_list=_call_list(store, ranked, shown), model=describe_model(model),
        backtest=bt, backtest_note=note), None


def risk_bands(risk: np.ndarray, value: np.ndarray) -> list[Count]:
    """Customers and trailing-year value per tenth of risk: "0.0-0.1" ... "0.9-1.0"."""
    band = np.minimum((risk * BANDS).astype(int), BANDS - 1)
    counts = np.bincount(band, minlength=BANDS)
    money = np.bincount(band, weights=value, minlength=BANDS)
    return [Count(f"{i / BANDS:.1f}-{(i + 1) / BANDS:.1f}", int(counts[i]),
                  round(float(money[i]), 2)) for i in range(BANDS)]


def describe_model(model: ChurnModel) -> str:
    """How the model was fitted, in `report churn`'s words."""
    p = model.params
    weights = (f"weights learned from the last {model.lookback_days} days" if model.learned
               else "default weights")
    return f"BG/NBD r={p.r:.3g} alpha={p.alpha:.3g} a={p.a:.3g} b={p.b:.3g}; {weights}"


def _call_list(store: Any, ranked: list[ChurnScore], shown: Shown) -> list[CallRow]:
    contacts = {row["id"]: row for row in store.contacts.by_ids(
        s.contact_id for s in ranked)}
    rows = []
    for rank, s in enumerate(ranked, 1):
        c = contacts.get(s.contact_id, {})
        rows.append(CallRow(
            rank=rank, external_id=c.get("external_id"), name=shown("name", c.get("name")),
            phone=shown("phone", c.get("phone")), owner=shown("owner", c.get("owner")),
            risk=s.risk, value_at_risk=s.value, stage=c.get("stage"), tier=c.get("tier"),
            reason=s.reason))
    return rows


def _rates(store: Any, config: Config) -> dict[str, float]:
    """The [rfm] currency and rates, as `report churn` converts value at risk."""
    _, rates = report_currency(store.churn.churn_currencies(),
                               configured=config.get("rfm", "currency"),
                               rates=config.get("rfm", "rates"))
    return rates


def reordered_since(facts: list[dict], after: date) -> set[int]:
    """Ids of the customers in `facts` (as of some day D) with a paid order after `after`,
    up to D: what `customers_ordering_between(after, D)` returns for every id that has an
    order on or before D, read from the facts instead of another pass over the orders."""
    cut = after.isoformat()
    return {int(f["contact_id"]) for f in facts
            if f["last_paid"] is not None and str(f["last_paid"]) > cut}


def _fit(store: Any, config: Config, facts: list[dict], day: date, horizon: int,
         rates: dict[str, float], seen: dict | None = None) -> ChurnModel:
    """fit_churn_model as `report churn` calls it. `seen` keeps what past(horizon) read:
    the facts one horizon back and who ordered since are exactly the backtest's inputs.
    Who ordered since a past day comes from `facts` (as of `day`): the same ids for every
    customer scored then (each has an order on or before `day`), without reading orders."""
    def past(days: int) -> tuple[list[dict], set[int]]:
        then = day - timedelta(days=days)
        got = (store.churn.churn_facts(as_of=then, rates=rates), reordered_since(facts, then))
        if seen is not None and days == horizon:
            seen[then] = got
        return got
    return fit_churn_model(
        facts, as_of=day, horizon_days=horizon,
        contact_days=int(config.get("churn", "contact_days")), past=past,
        min_customers=int(config.get("churn", "min_customers")),
        min_repeaters=int(config.get("churn", "min_repeat_customers")))


def _backtest(store: Any, config: Config, *, as_of: date, horizon: int,
              rates: dict[str, float], facts: list[dict],
              seen: tuple[list[dict], set[int]] | None = None,
              ) -> tuple[Backtest | None, str | None]:
    """`report churn --backtest --as-of CUT` with CUT one horizon before as_of, when the
    store's orders reach as_of; else (None, why). `facts`: the facts as of as_of;
    `seen`: (facts at CUT, who ordered after CUT up to as_of) when already read."""
    cut = as_of - timedelta(days=horizon)
    last = store.churn.last_order_day()
    if last is None or last < as_of:
        return None, (f"a backtest needs orders up to {as_of}; the store's end on {last}"
                      if last else "no orders to backtest")
    then, outcome = seen or (store.churn.churn_facts(as_of=cut, rates=rates),
                             reordered_since(facts, cut))
    if not then:
        return None, f"no customers with orders on or before {cut}"
    try:
        model = _fit(store, config, then, cut, horizon, rates)
        scores = customer_risks(then, as_of=cut, model=model, horizon_days=horizon,
                                contact_days=int(config.get("churn", "contact_days")),
                                explain=lambda _: ())
        result = backtest(scores, outcome, horizon_days=horizon, model=model)
    except InsufficientHistory as exc:
        return None, str(exc)
    return Backtest(cut=cut.isoformat(), customers=result.customers, churned=result.churned,
                    auc=_r4(result.auc), baseline_auc=_r4(result.baseline_auc),
                    calibration=list(result.calibration)), None


def _r4(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
