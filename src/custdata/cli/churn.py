"""`custdata report churn`: who is likely to stop buying, why, and how much is at stake."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any

import typer

from custdata.api import churn as api
from custdata.cli._shared import Format, FormatOpt, emit, parse_as_of, resolve_format, say

COLUMNS = ["contact_id", "external_id", "risk", "value_at_risk", "last_order",
           "days_since_order", "stage", "tier", "reason"]
SUMMARY_KEYS = api.SUMMARY_KEYS
CALIBRATION_COLUMNS = ["decile", "customers", "min_risk", "max_risk", "predicted", "observed"]


def register(app: typer.Typer) -> None:
    """Add `report churn` to the `report` group that cli/segments.py owns."""
    from custdata.cli.segments import report_app

    report_app.command("churn")(report_churn)


def report_churn(
    ctx: typer.Context,
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
    if run_backtest:
        _backtest(api.report_churn_backtest(ctx.obj, as_of=day), fmt)
        return
    report = api.report_churn(ctx.obj, as_of=day, top=top, min_risk=min_risk)
    as_text = resolve_format(fmt) is Format.table  # ids, not quantities: no 1,234 in tables
    emit(({**r, "contact_id": str(r["contact_id"])} if as_text else r for r in report.rows),
         fmt, COLUMNS)
    if report.model is None:
        say(f"No customers with orders on or before {day}: nothing to score.")
        return
    say(f"Scored {report.scored} customers as of {day} ({_how(report.model)}); "
        f"{len(report.rows)} listed" + (f"; {report.leads} contacts without orders not scored."
                                        if report.leads > 0 else "."))


def _how(model: Any) -> str:
    p = model.params
    weights = (f"weights learned from the last {model.lookback_days} days" if model.learned
               else "default weights")
    return f"BG/NBD r={p.r:.3g} alpha={p.alpha:.3g} a={p.a:.3g} b={p.b:.3g}; {weights}"


def _backtest(report: api.BacktestReport, fmt: Format | None) -> None:
    cut = report.as_of
    if report.result is None:
        say("No orders in the store: nothing to backtest.")
    else:
        say(f"Backtest: scored {report.result.customers} customers with data up to {cut} "
            f"({_how(report.result.model)}); compared with paid orders from "
            f"{cut + timedelta(days=1)} to {report.end}.")
    _print_backtest(report.summary(), cut, report.horizon_days, fmt)


def _print_backtest(obj: dict[str, Any], cut: date, horizon: int, fmt: Format | None) -> None:
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
