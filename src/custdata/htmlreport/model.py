"""The plain data behind the HTML report: aggregates only, plus the top-N call list.

`gather` (htmlreport/gather.py) fills a `ReportData` from a store; `render_html` turns one
into a page. Every value here is already safe to print: personal values are masked, clear
(a call-list phone with the store's key) or None (left out with --no-pii).
"""

from __future__ import annotations

from dataclasses import dataclass, field

AT_RISK = 0.5  # a customer "at risk" on the page: risk of no order in the horizon >= 50 %


@dataclass(frozen=True)
class Count:
    """A labelled count and, where it means something, the money behind it."""

    name: str  # the stable code (stage, tier, segment, bucket)
    count: int
    revenue: float | None = None


@dataclass(frozen=True)
class Move:
    """How many contacts the last `tag` run moved from one stage to another."""

    old: str  # "" when the contact had no stage before
    new: str
    count: int


@dataclass(frozen=True)
class Base:
    """The customer base: contacts, paying customers, stages, tiers, the last stage moves."""

    contacts: int
    customers: int  # contacts with a paid order on or before as_of
    stages: list[Count]  # as stored by the last `tag` ("" = untagged), funnel order
    tiers: list[Count]  # revenue: net, every order up to as_of
    moves: list[Move] = field(default_factory=list)
    moves_at: str | None = None  # when the last `tag` run that moved a stage ran
    moves_as_of: str | None = None  # the as-of date that run used


@dataclass(frozen=True)
class Segment:
    """One RFM segment: what `report rfm --format json` prints for it."""

    name: str  # canonical (English, or the cn8 Chinese name)
    label: str  # in the page's language
    customers: int
    share: float
    revenue: float
    revenue_share: float
    action: str


@dataclass(frozen=True)
class Rfm:
    """Segments of the chosen scheme and the R x F grid (grid[r-1][f-1] = customers)."""

    scheme: str
    currency: str
    segments: list[Segment]
    grid: list[list[int]]


@dataclass(frozen=True)
class CallRow:
    """One line of the call list; personal values masked, clear or None (--no-pii)."""

    rank: int
    external_id: str | None
    name: str | None
    phone: str | None
    owner: str | None
    risk: float
    value_at_risk: float
    stage: str | None
    tier: str | None
    reason: str


@dataclass(frozen=True)
class Backtest:
    """`report churn --backtest` at `cut`: AUC beside the baseline, and the calibration."""

    cut: str
    customers: int
    churned: int
    auc: float | None
    baseline_auc: float | None
    calibration: list[dict]  # decile, customers, min_risk, max_risk, predicted, observed


@dataclass(frozen=True)
class Churn:
    """Risk of every scored customer in ten bands, the call list, and an optional backtest."""

    horizon_days: int
    scored: int
    bands: list[Count]  # "0.0-0.1" ... "0.9-1.0": customers and trailing-year value
    at_risk: int  # customers with risk >= AT_RISK
    value_at_risk: float  # their trailing-year value
    high_at_risk: int  # of them, customers in the high value tier
    high_value_at_risk: float  # and their trailing-year value
    call_list: list[CallRow]
    model: str  # how the model was fitted, as `report churn` says it
    backtest: Backtest | None = None
    backtest_note: str | None = None  # why there is no backtest


@dataclass(frozen=True)
class Finding:
    """One failing audit check."""

    part: str
    count: int
    total: int
    message: str


@dataclass(frozen=True)
class Audit:
    """The audit as `audit` scores it now, and the stored history of scores."""

    score: float | None
    parts: dict[str, float | None]
    weights: dict[str, float]
    findings: list[Finding]  # biggest first
    history: list[dict]  # run, at, score, change (from `audit --history`)


@dataclass(frozen=True)
class Duplicates:
    """Exact-key duplicate groups still open, and the merges `dedupe --merge` made."""

    groups: dict[str, int]  # match key -> groups of contacts sharing it
    contacts_in_groups: int
    merges: int  # merges in force (not undone)
    merged_contacts: int  # contacts those merges removed
    undone: int
    last_merge_at: str | None


@dataclass(frozen=True)
class ReportData:
    """Everything one page shows. Sections are None when the store has nothing for them."""

    as_of: str
    generated_at: str
    currency: str
    base: Base
    rfm: Rfm | None
    churn: Churn | None
    audit: Audit | None
    duplicates: Duplicates
    personal: str  # "masked", "clear-phones" or "none": how personal values are shown
    churn_note: str | None = None  # why there is no churn section
