"""`tag`, `report rfm` and `report summary`: lifecycle stages, value tiers and RFM segments.

The store aggregates the orders in SQL (one GROUP BY); the rules (tier window, churn
days, currency and rates) come from the config here and reach the store as values;
custdata.segments scores the aggregates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from custdata._lazy import lazy
from custdata.api.session import Session
from custdata.errors import UsageError
from custdata.segments import (  # STAGE_ZH, TIER_ZH, TIERS: labels the CLI shows
    CN8_SEGMENTS, SEGMENTS, STAGE_ZH, STAGES, TIER_ZH, TIERS, TagRules, cells_digest, report_currency,
    rfm_scores, segment_label, segment_table, tag_plan,
)

pd = lazy("pandas")  # imported on first use: a second of start-up

__all__ = ["TagResult", "RfmReport", "SummaryReport", "tag", "report_rfm", "report_summary",
           "customer_aggregates", "rfm_of_contact", "segment_filter", "summary_rows",
           "customer_rows", "STAGE_ZH", "TIER_ZH", "TIERS"]


@dataclass
class TagResult:
    """What `tag` did (or, dry_run, would do): counts and, dry_run, every change."""

    as_of: date
    dry_run: bool
    contacts: int
    stage_changes: int
    tier_changes: int
    changes: list[dict] = field(default_factory=list)  # contact_id, external_id, field, old, new


@dataclass
class RfmReport:
    """`report rfm`: one row per segment (or per customer), the as-of date and currency."""

    as_of: date
    currency: str
    scheme: str
    lang: str
    customers: bool
    rows: list[dict]


@dataclass
class SummaryReport:
    """`report summary`: a row per stage x tier; the currency and the tier window in days."""

    rows: list[dict]
    currency: str
    window_days: int


def customer_aggregates(store: Any, config: Any, *, as_of: date, only: str | None = None,
                        for_tag: bool = False, external_ids: bool = False,
                        ) -> tuple[pd.DataFrame, str]:
    """(aggregates, report currency) with the [rfm] currency rules of `config` applied.

    Raises UsageError (exit 2) for several currencies without rates. With `for_tag` the
    gaps the lifecycle rules need are computed too.
    """
    configured = str(config.get("rfm", "currency") or "")
    rates = dict(config.get("rfm", "rates") or {})
    rules = TagRules.from_mapping(config.section("tag"))
    sql_rates = {k: v for k, v in rates.items()
                 if configured and k.strip().upper() != configured.strip().upper()}
    frame, seen = store.segments.order_aggregates(
        as_of=as_of, window_days=rules.tier_window_days,
        rates=None if only else sql_rates, only=only, for_tag=for_tag,
        gap_over=rules.churn_days if for_tag else None, external_ids=external_ids)
    if len(seen) > 1 and not only:
        seen = store.segments.order_currencies(as_of=as_of)
    currency, _ = report_currency(seen, configured=configured, rates=rates, only=only,
                                  one_allowed=not for_tag)
    return frame, currency


def rfm_of_contact(store: Any, config: Any, contact_id: int, as_of: date) -> dict | None:
    """The RFM cell, segment, recency_days, frequency, monetary of one customer, or None.

    Scores rank the customer among all customers, so this scores everybody. None for a
    contact without paid orders, or when currencies are mixed without rates.
    """
    try:
        frame, _ = customer_aggregates(store, config, as_of=as_of)
    except UsageError:
        return None
    if not (frame["contact_id"] == contact_id).any():
        return None
    row = rfm_scores(frame).set_index("contact_id").loc[contact_id]
    return {"cell": row["cell"], "segment": row["segment"],
            "recency_days": int(row["recency_days"]), "frequency": int(row["frequency"]),
            "monetary": round(float(row["monetary"]), 2)}


# ---- tag ---------------------------------------------------------------------------

def tag(session: Session, *, as_of: date | None = None, dry_run: bool = False) -> TagResult:
    """Set every contact's lifecycle stage and value tier as of `as_of` (default today).

    The plan is made again under the write lock against the stored values of that
    moment, and the order aggregates are read again when another command committed
    since they were read; the RFM cells `show` reads are saved with it. Returns the
    counts (and, with `dry_run`, the changes it would make, writing nothing).
    """
    day = as_of or session.today
    # three steps: the orders summed, the plan made, the plan written
    with session.store() as store, session.progress("tagging contacts", 3) as advance:
        rules = TagRules.from_mapping(session.config.section("tag"))
        seen = store.oplog.last_id()  # before the aggregates: a later commit is seen below
        agg, scored, cells = _tag_facts(store, session.config, day)
        advance(1)
        current = store.segments.contact_tags()
        plan = tag_plan(current, agg, rules)
        advance(1)
        cells_changed = store.segments.rfm_cells_state() != cells
        result = TagResult(day, dry_run, **_counts(plan, len(current)))
        if dry_run:
            ext = store.segments.external_ids([c for c, *_ in plan])
            result.changes = [{"contact_id": c, "external_id": e, "field": f, "old": o,
                               "new": n} for (c, f, o, n), e in zip(plan, ext)]
        elif plan or cells_changed:
            with store.write(session.command_line) as op:
                if store.oplog.last_id(besides=op) != seen:  # orders or contacts changed
                    agg, scored, cells = _tag_facts(store, session.config, day)
                    cells_changed = store.segments.rfm_cells_state() != cells
                current = store.segments.contact_tags()  # under the lock: re-plan
                plan = tag_plan(current, agg, rules)
                store.segments.apply_tags(op.id, plan, as_of=day)
                op.counts.update(_counts(plan, len(current)))
                if cells_changed:
                    op.counts["rfm_cells"] = store.segments.save_rfm_cells(
                        scored, as_of=day, digest=cells["digest"])
            result = TagResult(day, dry_run, **_counts(plan, len(current)))
        advance(1)
    return result


def _tag_facts(store: Any, config: Any, day: date) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(order aggregates, their RFM scores, the cells' state) as stored now, for `tag`."""
    agg, _ = customer_aggregates(store, config, as_of=day, for_tag=True)
    scored = rfm_scores(agg)  # kept for `show`, which then needs no pass over the orders
    return agg, scored, {"as_of": day.isoformat(), "digest": cells_digest(scored)}


def _counts(plan: list, contacts: int) -> dict[str, int]:
    return {"contacts": contacts,
            "stage_changes": sum(1 for p in plan if p[1] == "stage"),
            "tier_changes": sum(1 for p in plan if p[1] == "tier")}


# ---- report rfm --------------------------------------------------------------------

def report_rfm(session: Session, *, as_of: date | None = None, customers: bool = False,
               segment: str | None = None, scheme: str = "standard", lang: str = "en",
               currency: str | None = None) -> RfmReport:
    """RFM segments of every customer with a paid order as of `as_of` (default today).

    One row per segment (customers, shares, means, action), or with `customers` one row
    per customer; `segment` (any language or case) keeps that one; `currency` keeps the
    orders in that currency. Raises UsageError for an unknown segment or mixed
    currencies without rates.
    """
    day = as_of or session.today
    wanted = segment_filter(segment, scheme)
    with session.store(read_only=True) as store, \
            session.progress("scoring customers", 2) as advance:
        agg, report_cur = customer_aggregates(store, session.config, as_of=day, only=currency,
                                              external_ids=customers)
        advance(1)
        scored = rfm_scores(agg, scheme=scheme)
        advance(1)
    if customers:
        scored["external_id"] = agg["external_id"].to_numpy() if len(agg) else []
        if wanted:
            scored = scored[scored["segment"] == wanted]
        rows = customer_rows(scored, scheme, lang)
    else:
        rows = segment_table(scored, scheme=scheme, lang=lang) if len(scored) else []
        if wanted:
            rows = [r for r in rows if r["segment"] == segment_label(wanted, lang)]
    return RfmReport(day, report_cur, scheme, lang, customers, rows)


def customer_rows(scored: pd.DataFrame, scheme: str, lang: str) -> list[dict]:
    """Records in segment order, biggest spender first; plain Python values."""
    order = {name: i for i, name in enumerate(CN8_SEGMENTS if scheme == "cn8" else SEGMENTS)}
    scored = scored.assign(_o=scored["segment"].map(order)).sort_values(
        ["_o", "monetary", "contact_id"], ascending=[True, False, True], kind="stable")
    labels = {name: segment_label(name, lang) for name in order}
    columns = {
        "contact_id": scored["contact_id"].astype("int64").tolist(),
        "external_id": scored["external_id"].tolist(),
        "recency_days": scored["recency_days"].astype("int64").tolist(),
        "frequency": scored["frequency"].astype("int64").tolist(),
        "monetary": scored["monetary"].astype(float).round(2).tolist(),
        "r": scored["r"].astype("int64").tolist(), "f": scored["f"].astype("int64").tolist(),
        "m": scored["m"].astype("int64").tolist(), "cell": scored["cell"].tolist(),
        "segment": [labels[s] for s in scored["segment"].tolist()],
    }
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def _fold(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def segment_filter(name: str | None, scheme: str) -> str | None:
    """The canonical segment NAME means (English or Chinese, any case), or None for None.

    Raises UsageError (exit 2) naming the scheme's segments for anything else.
    """
    if name is None:
        return None
    names = CN8_SEGMENTS if scheme == "cn8" else SEGMENTS
    for canon in names:
        if _fold(name) in {_fold(canon), _fold(segment_label(canon, "zh")),
                           _fold(segment_label(canon, "en"))}:
            return canon
    raise UsageError(f"Segment {name!r} is not a segment of the {scheme} scheme; "
                     f"use one of: {', '.join(names)}.", hint="segment")


# ---- report summary ----------------------------------------------------------------

def report_summary(session: Session, *, currency: str | None = None) -> SummaryReport:
    """Customers and net revenue by lifecycle stage x value tier (as set by `tag`).

    Revenue counts every order up to `session.today`; window_revenue the [tag] tier
    window up to it. Untagged contacts have an empty stage and tier.
    """
    with session.store(read_only=True) as store, \
            session.progress("summing revenue", 2) as advance:
        agg, report_cur = customer_aggregates(store, session.config, as_of=session.today,
                                              only=currency, for_tag=True)
        advance(1)
        tags = store.segments.contact_tags()
        advance(1)
    window = int(session.config.get("tag", "tier_window_days"))
    return SummaryReport(summary_rows(tags, agg), report_cur, window)


def summary_rows(tags: pd.DataFrame, agg: pd.DataFrame) -> list[dict]:
    """stage, tier, customers, revenue, window_revenue per stage x tier (untagged = '')."""
    if not len(tags):
        return []
    merged = tags.merge(agg[["contact_id", "monetary", "window_revenue"]], on="contact_id",
                        how="left")
    merged["stage"] = merged["stage"].fillna("")
    merged["tier"] = merged["tier"].fillna("")
    grouped = merged.groupby(["stage", "tier"], sort=False).agg(
        customers=("contact_id", "size"), revenue=("monetary", "sum"),
        window_revenue=("window_revenue", "sum")).reset_index()
    s_order = {s: i for i, s in enumerate(STAGES)}
    t_order = {t: i for i, t in enumerate(TIERS)}
    grouped["_s"] = grouped["stage"].map(lambda s: s_order.get(s, len(s_order)))
    grouped["_t"] = grouped["tier"].map(lambda t: t_order.get(t, len(t_order)))
    grouped = grouped.sort_values(["_s", "stage", "_t", "tier"], kind="stable")
    return [{"stage": r.stage, "tier": r.tier, "customers": int(r.customers),
             "revenue": round(float(r.revenue), 2),
             "window_revenue": round(float(r.window_revenue), 2)}
            for r in grouped.itertuples(index=False)]
