"""`report churn`: who is likely to stop buying, why, and how much is at stake; and its
backtest (score with data up to a cut date, compare with who ordered after it).

The store reads the order and interaction facts up to a date; custdata.churn fits the
model and scores; the settings ([churn], and [rfm]'s currency and rates for the value at
risk) come from the session's config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from custdata.api.session import Session
from custdata.churn import (
    BacktestResult, ChurnModel, ChurnScore, backtest, customer_risks, fit_churn_model,
    rank_scores,
)
from custdata.errors import ConfigError, InsufficientHistory
from custdata.segments import report_currency

SUMMARY_KEYS = ["customers", "churned", "horizon_days", "auc", "baseline_auc",
                "top_decile_precision", "baseline_top_decile_precision"]


@dataclass
class ChurnReport:
    """Scored customers: `rows` (a call list: contact_id, external_id, name, phone, company,
    owner, risk, value_at_risk, reason, last_order, days_since_order, stage, tier; phone
    masked without the key on an encrypted store), highest value at risk first; how many were
    scored, how many contacts have no order (not scored); the fitted model (None when
    nobody had an order)."""

    as_of: date
    rows: list[dict]
    scored: int
    leads: int
    model: ChurnModel | None


@dataclass
class BacktestReport:
    """The backtest at cut date `as_of`: `result` (None without orders) and its summary."""

    as_of: date
    horizon_days: int
    result: BacktestResult | None

    @property
    def end(self) -> date:
        """The last day of the horizon the outcome is read from."""
        return self.as_of + timedelta(days=self.horizon_days)

    def summary(self) -> dict[str, Any]:
        """The headline figures (SUMMARY_KEYS, rounded), as_of, calibration, params."""
        result, cut = self.result, self.as_of
        if result is None:
            obj: dict[str, Any] = {k: None for k in SUMMARY_KEYS}
            obj.update(customers=0, churned=0, horizon_days=self.horizon_days,
                       as_of=cut.isoformat(), calibration=[])
            return obj
        obj = {k: getattr(result, k) for k in SUMMARY_KEYS}
        for k in ("auc", "baseline_auc", "top_decile_precision",
                  "baseline_top_decile_precision"):
            obj[k] = None if obj[k] is None else round(obj[k], 4)
        p = result.model.params
        obj.update(as_of=cut.isoformat(), calibration=result.calibration,
                   params={k: round(v, 4) for k, v in vars(p).items()},
                   weights_learned=result.model.learned,
                   weights_lookback_days=result.model.lookback_days)
        return obj


def horizon_days(config: Any) -> int:
    """churn.horizon_days; ConfigError (exit 2) below 1."""
    horizon = int(config.get("churn", "horizon_days"))
    if horizon < 1:
        raise ConfigError("Setting churn.horizon_days must be at least 1 (days).")
    return horizon


def report_churn(session: Session, *, as_of: date | None = None, top: int | None = None,
                 min_risk: float | None = None) -> ChurnReport:
    """Churn risk of every customer as of `as_of` (default today); the first `top`, or
    those with risk at least `min_risk`, with a reason each."""
    day = as_of or session.today
    horizon = horizon_days(session.config)
    contact_days = int(session.config.get("churn", "contact_days"))
    # four steps: the facts read, the model fitted, the customers scored, the list named
    with session.store(read_only=True) as store, \
            session.progress("scoring churn risk", 4) as advance:
        rates = _rates(store, session.config)
        facts = store.churn.churn_facts(as_of=day, rates=rates)
        advance(1)
        if not facts:
            return ChurnReport(day, [], 0, 0, None)
        model = _fit(session.config, facts, day, horizon, _past(store, day, rates))
        advance(1)

        def listed(scores: list[ChurnScore]) -> list[int]:  # only listed rows need a reason
            return [s.contact_id for s in rank_scores(scores, top=top, min_risk=min_risk)]

        scores = customer_risks(facts, as_of=day, model=model, horizon_days=horizon,
                                contact_days=contact_days, explain=listed)
        ranked = rank_scores(scores, top=top, min_risk=min_risk)
        advance(1)
        contacts = store.churn.churn_contact_fields(s.contact_id for s in ranked)
        leads = store.contacts.count() - len(scores)
        advance(1)
    return ChurnReport(day, [_row(s, contacts) for s in ranked], len(scores), max(leads, 0),
                       model)


def report_churn_backtest(session: Session, *, as_of: date | None = None) -> BacktestReport:
    """`report churn --backtest`: score with the data up to `as_of` only, then compare with
    who placed a paid order in the horizon after it.

    Raises InsufficientHistory (exit 2) when the store's orders end before the horizon
    does, or nobody ordered by the cut date.
    """
    cut = as_of or session.today
    horizon = horizon_days(session.config)
    report = BacktestReport(cut, horizon, None)
    with session.store(read_only=True) as store:
        last = store.churn.last_order_day()
        if last is None:
            return report
        if last < report.end:
            raise InsufficientHistory(
                f"The backtest needs orders up to {report.end} ({horizon} days after the cut "
                f"{cut}), but the store's orders end on {last}. Cut on "
                f"{last - timedelta(days=horizon)} or earlier.", hint="as_of")
        rates = _rates(store, session.config)
        facts = store.churn.churn_facts(as_of=cut, rates=rates)
        if not facts:
            raise InsufficientHistory(
                f"No customers with orders on or before {cut}; choose a later cut date.",
                hint="as_of")
        outcome = store.churn.customers_ordering_between(cut, report.end)
        model = _fit(session.config, facts, cut, horizon, _past(store, cut, rates))
    scores = customer_risks(facts, as_of=cut, model=model, horizon_days=horizon,
                            contact_days=int(session.config.get("churn", "contact_days")),
                            explain=lambda _: ())  # the backtest gives no reasons
    report.result = backtest(scores, outcome, horizon_days=horizon, model=model)
    return report


def _rates(store: Any, config: Any) -> dict[str, float]:
    """Conversion rates for value at risk: the [rfm] currency and rates, as `report rfm`."""
    _, rates = report_currency(store.churn.churn_currencies(),
                               configured=config.get("rfm", "currency"),
                               rates=config.get("rfm", "rates"), one_allowed=False)
    return rates


Past = Callable[[int], "tuple[list[dict], set[int]]"]


def _past(store: Any, day: date, rates: dict[str, float]) -> Past:
    """past(days) for fit_churn_model: the facts as of `day - days`, and who reordered since."""
    def past(days: int) -> tuple[list[dict], set[int]]:
        then = day - timedelta(days=days)
        return (store.churn.churn_facts(as_of=then, rates=rates),
                store.churn.customers_ordering_between(then, day))
    return past


def _fit(config: Any, facts: list[dict], day: date, horizon: int, past: Past) -> ChurnModel:
    return fit_churn_model(
        facts, as_of=day, horizon_days=horizon,
        contact_days=int(config.get("churn", "contact_days")), past=past,
        min_customers=int(config.get("churn", "min_customers")),
        min_repeaters=int(config.get("churn", "min_repeat_customers")),
    )


def _row(score: ChurnScore, contacts: dict[int, dict]) -> dict:
    contact = contacts.get(score.contact_id, {})
    return {
        "contact_id": score.contact_id, "external_id": contact.get("external_id"),
        **{k: contact.get(k) for k in ("name", "phone", "company", "owner")},
        "risk": score.risk, "value_at_risk": score.value, "reason": score.reason,
        "last_order": score.last_order.isoformat() if score.last_order else None,
        "days_since_order": score.days_since_order,
        "stage": contact.get("stage"), "tier": contact.get("tier"),
    }
