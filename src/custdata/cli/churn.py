"""`custdata report churn`: who is likely to stop buying, why, and how much is at stake."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any

import typer

from custdata.churn import (
    BacktestResult, ChurnScore, backtest, customer_risks, fit_churn_model, rank_scores,
)
from custdata.cli._shared import (
    Format, FormatOpt, emit, open_store, parse_as_of, resolve_format, say, state,
)
from custdata.errors import ConfigError, InsufficientHistory
from custdata.segments import report_currency

COLUMNS = ["contact_id", "external_id", "risk", "value_at_risk", "last_order",
           "days_since_order", "stage", "tier", "reason"]
SUMMARY_KEYS = ["customers", "churned", "horizon_days", "auc", "baseline_auc",
                "top_decile_precision", "baseline_top_decile_precision"]
CALIBRATION_COLUMNS = ["decile", "customers", "min_risk", "max_risk", "predicted", "observed"]


def register(app: typer.Typer) -> None:
    """Add `report churn` to the `report` group that cli/segments.py owns."""
    from custdata.cli.segments import report_app

    report_app.command("churn")(report_churn)


def report_churn(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Score as of this date (orders dated on it count); default today. "
        "With --backtest: the cut date.", show_default=False)] = None,
    top: Annotated[int | None, typer.Option(
        "--top", min=1, help="Only the first N rows (default: every customer).",
        show_default=False)] = None,
    min_risk: Annotated[float | None, typer.Option(
        "--min-risk", min=0.0, max=1.0, help="Only customers with risk at least P (0-1).",
        show_default=False)] = None,
    run_backtest: Annotated[bool, typer.Option(
        "--backtest", help="Score with data up to --as-of only, then compare with who "
        "ordered in the horizon after it (churn.horizon_days) and print ROC AUC, "
        "top-decile precision and calibration beside the days-since-last-order baseline.",
    )] = False,
    fmt: FormatOpt = None,
) -> None:
    """Churn risk per customer, highest value at risk first, with a reason for each.

    Risk is the chance of no paid order within the horizon (config churn.horizon_days,
    default 90): a BG/NBD model fitted on the store's orders, weighed with how overdue
    the customer is, recent interactions and their last satisfaction rating.
    Contacts without any order (leads) are not listed.
    """
    day = parse_as_of(as_of)
    cfg = state.config
    horizon = int(cfg.get("churn", "horizon_days"))
    if horizon < 1:
        raise ConfigError("Setting churn.horizon_days must be at least 1 (days).")
    if run_backtest:
        _backtest(day, horizon, fmt)
        return
    with open_store() as store:
        rates = _rates(store)
        facts = store.churn.churn_facts(as_of=day, rates=rates)
        if not facts:
            emit([], fmt, COLUMNS)
            say(f"No customers with orders on or before {day}: nothing to score.")
            return
        model = _fit(facts, day, horizon, _past(store, day, rates))
        def listed(scores: list[ChurnScore]) -> list[int]:  # only printed rows need a reason
            return [s.contact_id for s in rank_scores(scores, top=top, min_risk=min_risk)]

        scores = customer_risks(facts, as_of=day, model=model, horizon_days=horizon,
                                contact_days=int(cfg.get("churn", "contact_days")),
                                explain=listed)
        ranked = rank_scores(scores, top=top, min_risk=min_risk)
        contacts = store.churn.churn_contact_fields(s.contact_id for s in ranked)
        leads = store.contacts.count() - len(scores)
    as_text = resolve_format(fmt) is Format.table  # ids, not quantities: no 1,234 in tables
    emit((_row(s, contacts, as_text) for s in ranked), fmt, COLUMNS)
    say(f"Scored {len(scores)} customers as of {day} ({_how(model)}); "
        f"{len(ranked)} listed" + (f"; {leads} contacts without orders not scored." if leads > 0
                                   else "."))


def _rates(store: Any) -> dict[str, float]:
    """Conversion rates for value at risk: the [rfm] currency and rates, as `report rfm`."""
    _, rates = report_currency(store.churn.churn_currencies(),
                               configured=state.config.get("rfm", "currency"),
                               rates=state.config.get("rfm", "rates"))
    return rates


def _past(store: Any, day: date, rates: dict[str, float]) -> Any:
    """past(days) for fit_churn_model: the facts as of `day - days`, and who reordered since."""
    def past(days: int) -> tuple[list[dict], set[int]]:
        then = day - timedelta(days=days)
        return (store.churn.churn_facts(as_of=then, rates=rates),
                store.churn.customers_ordering_between(then, day))
    return past


def _fit(facts: list[dict], day: date, horizon: int, past: Any) -> Any:
    cfg = state.config
    return fit_churn_model(
        facts, as_of=day, horizon_days=horizon,
        contact_days=int(cfg.get("churn", "contact_days")), past=past,
        min_customers=int(cfg.get("churn", "min_customers")),
        min_repeaters=int(cfg.get("churn", "min_repeat_customers")),
    )


def _how(model: Any) -> str:
    p = model.params
    weights = (f"weights learned from the last {model.lookback_days} days" if model.learned
               else "default weights")
    return f"BG/NBD r={p.r:.3g} alpha={p.alpha:.3g} a={p.a:.3g} b={p.b:.3g}; {weights}"


def _row(score: ChurnScore, contacts: dict[int, dict], as_text: bool = False) -> dict:
    contact = contacts.get(score.contact_id, {})
    return {
        "contact_id": str(score.contact_id) if as_text else score.contact_id,
        "external_id": contact.get("external_id"),
        "risk": score.risk, "value_at_risk": score.value,
        "last_order": score.last_order.isoformat() if score.last_order else None,
        "days_since_order": score.days_since_order,
        "stage": contact.get("stage"), "tier": contact.get("tier"), "reason": score.reason,
    }


def _backtest(cut: date, horizon: int, fmt: Format | None) -> None:
    end = cut + timedelta(days=horizon)
    with open_store() as store:
        last = store.churn.last_order_day()
        if last is None:
            say("No orders in the store: nothing to backtest.")
            _print_backtest(None, cut, horizon, fmt)
            return
        if last < end:
            latest = last - timedelta(days=horizon)
            raise InsufficientHistory(
                f"The backtest needs orders up to {end} ({horizon} days after the cut "
                f"{cut}), but the store's orders end on {last}. Use --as-of {latest} or earlier."
            )
        rates = _rates(store)
        facts = store.churn.churn_facts(as_of=cut, rates=rates)
        if not facts:
            raise InsufficientHistory(
                f"No customers with orders on or before {cut}; choose a later --as-of.")
        outcome = store.churn.customers_ordering_between(cut, end)
        model = _fit(facts, cut, horizon, _past(store, cut, rates))
    scores = customer_risks(facts, as_of=cut, model=model, horizon_days=horizon,
                            contact_days=int(state.config.get("churn", "contact_days")),
                            explain=lambda _: ())  # the backtest prints no reasons
    result = backtest(scores, outcome, horizon_days=horizon, model=model)
    say(f"Backtest: scored {result.customers} customers with data up to {cut} ({_how(model)}); "
        f"compared with paid orders from {cut + timedelta(days=1)} to {end}.")
    _print_backtest(result, cut, horizon, fmt)


def _summary(result: BacktestResult | None, cut: date, horizon: int) -> dict[str, Any]:
    if result is None:
        obj: dict[str, Any] = {k: None for k in SUMMARY_KEYS}
        obj.update(customers=0, churned=0, horizon_days=horizon, as_of=cut.isoformat(),
                   calibration=[])
        return obj
    obj = {k: getattr(result, k) for k in SUMMARY_KEYS}
    for k in ("auc", "baseline_auc", "top_decile_precision", "baseline_top_decile_precision"):
        obj[k] = None if obj[k] is None else round(obj[k], 4)
    p = result.model.params
    obj.update(as_of=cut.isoformat(), calibration=result.calibration,
               params={k: round(v, 4) for k, v in vars(p).items()},
               weights_learned=result.model.learned,
               weights_lookback_days=result.model.lookback_days)
    return obj


def _print_backtest(result: BacktestResult | None, cut: date, horizon: int,
                    fmt: Format | None) -> None:
    obj = _summary(result, cut, horizon)
    fmt = resolve_format(fmt)
    if fmt is Format.json:
        typer.echo(json.dumps(obj, ensure_ascii=False, indent=2))
    elif fmt is Format.jsonl:
        typer.echo(json.dumps(obj, ensure_ascii=False))
    elif fmt is Format.csv:
        # One tidy table: a row per risk decile, the headline figures repeated on each.
        head = {k: obj[k] for k in SUMMARY_KEYS}
        rows = ({**head, **{f"decile_{k}" if k == "customers" else k: v for k, v in r.items()}}
                for r in obj["calibration"])
        emit(rows, fmt, [*SUMMARY_KEYS, "decile", "decile_customers", "min_risk", "max_risk",
                         "predicted", "observed"])
    else:
        rows = [
            {"measure": "ROC AUC", "model": obj["auc"], "baseline": obj["baseline_auc"]},
            {"measure": "top-decile precision", "model": obj["top_decile_precision"],
             "baseline": obj["baseline_top_decile_precision"]},
            {"measure": "customers", "model": obj["customers"], "baseline": obj["customers"]},
            {"measure": f"no order within {horizon} days", "model": obj["churned"],
             "baseline": obj["churned"]},
        ]
        emit(rows, fmt, ["measure", "model", "baseline"],
             title=f"Churn backtest at {cut} (baseline: days since last order)")
        emit(obj["calibration"], fmt, CALIBRATION_COLUMNS,
             title="Calibration by risk decile (predicted vs observed share without an order)")
