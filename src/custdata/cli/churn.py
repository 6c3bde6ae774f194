"""`custdata report churn`: who is likely to stop buying, why, and how much is at stake."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any

import typer

from custdata.api import churn as api
from custdata.cli._shared import Format, FormatOpt, emit, parse_as_of, resolve_format, say

COLUMNS = ["contact_id", "external_id", "name", "phone", "company", "owner", "risk",
           "value_at_risk", "reason", "last_order", "days_since_order", "stage", "tier"]
# The call list at a terminal: who to call, how to reach them, what is at stake and why.
TABLE_COLUMNS = ["contact_id", "name", "phone", "company", "owner", "value_at_risk", "risk",
                 "reason"]
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
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Also say how the model was fitted (its parameters).")] = False,
    fmt: FormatOpt = None,
) -> None:
    """A call list: who is likely to stop buying, highest value at risk first.

    Each row names the customer (name, phone, company, owner), the value at risk, the
    risk (two decimals in the table; csv and json keep the full number) and the reason.

    Risk is the chance of no paid order within the horizon (config churn.horizon_days,
    default 90): a BG/NBD model fitted on the store's orders, weighed with how overdue
    the customer is, recent interactions and their last satisfaction rating.
    Contacts without any order (leads) are not listed.
    """
    day = parse_as_of(as_of)
    if run_backtest:
        _backtest(api.report_churn_backtest(ctx.obj, as_of=day), fmt, verbose=verbose)
        return
    report = api.report_churn(ctx.obj, as_of=day, top=top, min_risk=min_risk)
    if resolve_format(fmt) is Format.table:
        emit((_for_table(r) for r in report.rows), fmt, TABLE_COLUMNS,
             title=f"Call list: churn risk as of {day}" if report.rows else None,
             no_wrap=("contact_id", "phone", "value_at_risk", "risk"),
             labels={"contact_id": "id", "value_at_risk": "at risk"})
    else:
        emit(report.rows, fmt, COLUMNS)
    if report.model is None:
        say(f"No customers with orders on or before {day}: nothing to score.")
        return
    how = f" ({_how(report.model)})" if verbose else ""
    say(f"Scored {report.scored} customers as of {day}{how}; "
        f"{len(report.rows)} listed" + (f"; {report.leads} contacts without orders not scored."
                                        if report.leads > 0 else "."))


def risk_text(risk: float) -> str:
    """A risk with two decimals for people: 0.8234 -> "0.82"; below 1 never shows as 1.00,
    above 0 never as 0.00 (0.997 -> "0.99", 0.001 -> "0.01")."""
    text = f"{risk:.2f}"
    if text == "1.00" and risk < 1:
        return "0.99"
    if text == "0.00" and risk > 0:
        return "0.01"
    return text


def _for_table(row: dict) -> dict:
    """A call-list row as the table shows it: the id as text (no 1,234), risk as text."""
    return {**row, "contact_id": str(row["contact_id"]), "risk": risk_text(row["risk"])}


def _how(model: Any) -> str:
    p = model.params
    weights = (f"weights learned from the last {model.lookback_days} days" if model.learned
               else "default weights")
    return f"BG/NBD r={p.r:.3g} alpha={p.alpha:.3g} a={p.a:.3g} b={p.b:.3g}; {weights}"


def _backtest(report: api.BacktestReport, fmt: Format | None, *, verbose: bool) -> None:
    cut = report.as_of
    if report.result is None:
        say("No orders in the store: nothing to backtest.")
    else:
        how = f" ({_how(report.result.model)})" if verbose else ""
        say(f"Backtest: scored {report.result.customers} customers with data up to {cut}"
            f"{how}; compared with paid orders from "
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
