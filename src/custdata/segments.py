"""RFM scores and segments, lifecycle stages and value tiers over per-customer aggregates.

Pure core: plain DataFrames / numpy arrays in, plain data out; no clock (callers pass
`as_of`), no store, no printing.

Per-customer aggregates (one row per customer with at least one paid order dated on or
before `as_of`; orders without a parseable date are ignored):

    contact_id      the customer
    recency_days    days from the last paid order to `as_of` (0 = bought on `as_of`)
    frequency       number of paid orders
    monetary        net amount: paid amounts minus refunds (cancelled orders ignored)
    paid_days       number of distinct days with a paid order
    tenure_days     days from the first paid order to `as_of`
    gap_days        days between the last two distinct paid days (NaN with one paid day)
    window_revenue  net amount in the trailing tier window (as_of - window, as_of]
    prior_revenue   net amount in the window before that
    window_orders   paid orders in the trailing tier window

`customer_aggregates` computes them from order rows with pandas (the reference the
store's SQL is tested against).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from custdata._lazy import lazy
from custdata.errors import UsageError
from custdata.models import AGGREGATE_COLUMNS

pd = lazy("pandas")  # imported on first use: a second of start-up


# --- labels -----------------------------------------------------------------------------

SEGMENTS: tuple[str, ...] = (
    "Champions", "Loyal Customers", "Potential Loyalist", "New Customers", "Promising",
    "Need Attention", "About To Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
)
CN8_SEGMENTS: tuple[str, ...] = (
    "重要价值客户", "重要发展客户", "重要保持客户", "重要挽留客户",
    "一般价值客户", "一般发展客户", "一般保持客户", "一般挽留客户",
)
# Segment by R score (rows, 5 = most recent) and FM score (columns 1..5), where
# FM = (F + M + 1) // 2, the mean of F and M rounded half up.
SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New Customers", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalist", "Potential Loyalist", "Loyal Customers", "Champions"),
    3: ("Promising", "About To Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"),
    2: ("Hibernating", "About To Sleep", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Hibernating", "At Risk", "Can't Lose Them", "Can't Lose Them"),
}
# cn8: (recent, frequent, high spend) -> class; "recent" = recency below the mean.
CN8_MAP: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "重要价值客户", (True, False, True): "重要发展客户",
    (False, True, True): "重要保持客户", (False, False, True): "重要挽留客户",
    (True, True, False): "一般价值客户", (True, False, False): "一般发展客户",
    (False, True, False): "一般保持客户", (False, False, False): "一般挽留客户",
}
SEGMENT_ZH: dict[str, str] = {
    "Champions": "冠军客户", "Loyal Customers": "忠诚客户", "Potential Loyalist": "潜在忠诚客户",
    "New Customers": "新客户", "Promising": "有潜力客户", "Need Attention": "需要关注客户",
    "About To Sleep": "即将沉睡客户", "At Risk": "有流失风险客户",
    "Can't Lose Them": "不能失去的客户", "Hibernating": "休眠客户", "Lost": "已流失客户",
}
CN8_EN: dict[str, str] = {
    "重要价值客户": "Important value", "重要发展客户": "Important to develop",
    "重要保持客户": "Important to keep", "重要挽留客户": "Important to win back",
    "一般价值客户": "General value", "一般发展客户": "General to develop",
    "一般保持客户": "General to keep", "一般挽留客户": "General to win back",
}
ACTIONS: dict[str, tuple[str, str]] = {
    "Champions": ("Reward them; ask for referrals and reviews; offer early access.",
                  "给予奖励，邀请推荐和评价，优先体验新品。"),
    "Loyal Customers": ("Upsell higher-value products; invite to the loyalty programme.",
                        "推荐更高价值产品，邀请加入会员计划。"),
    "Potential Loyalist": ("Offer membership or a bundle to make buying a habit.",
                           "提供会员或组合优惠，培养购买习惯。"),
    "New Customers": ("Welcome call; help them get started; follow up on the first order.",
                      "欢迎回访，帮助上手，跟进首单体验。"),
    "Promising": ("Build the relationship: free trial, a useful tip, a small offer.",
                  "建立关系：试用、实用建议或小额优惠。"),
    "Need Attention": ("Call with a limited-time offer based on past purchases.",
                       "根据购买记录电话推荐限时优惠。"),
    "About To Sleep": ("Reconnect now: share popular products, a discount to come back.",
                       "尽快联系：推荐热门产品，提供回购折扣。"),
    "At Risk": ("Personal call: ask what changed; send a tailored win-back offer.",
                "一对一电话了解原因，发送定制挽回优惠。"),
    "Can't Lose Them": ("Senior contact calls today; win them back, whatever it takes.",
                        "由资深人员今天联系，全力挽回。"),
    "Hibernating": ("Low-cost reminder: newsletter or seasonal offer.",
                    "低成本提醒：简讯或节日优惠。"),
    "Lost": ("Try one reactivation campaign, then stop spending on them.",
             "尝试一次唤醒活动，无效则停止投入。"),
    "重要价值客户": ("Keep them delighted: VIP service and priority support.",
                   "保持满意：VIP服务与优先支持。"),
    "重要发展客户": ("Spends a lot but rarely: raise frequency with a membership or bundle.",
                   "消费高但频次低：用会员或组合提高频次。"),
    "重要保持客户": ("Frequent and valuable but not recent: call them now.",
                   "高频高价值但近期未购：立即主动联系。"),
    "重要挽留客户": ("Valuable but slipping away: personal win-back offer.",
                   "高价值但正在流失：一对一挽回优惠。"),
    "一般价值客户": ("Buys often but spends little: cross-sell and upsell.",
                   "购买频繁但金额低：交叉销售和向上销售。"),
    "一般发展客户": ("Recent but small: nurture with useful content and small offers.",
                   "近期新客但金额小：用内容和小优惠培育。"),
    "一般保持客户": ("Used to buy often: send a reminder with an offer.",
                   "曾经常购买：发送提醒和优惠。"),
    "一般挽留客户": ("Low value and inactive: low-cost campaigns only.",
                   "低价值且不活跃：仅做低成本营销。"),
}
STAGES: tuple[str, ...] = ("lead", "new", "repeat", "loyal", "at_risk", "churned", "reactivated")
TIERS: tuple[str, ...] = ("high", "potential", "nurture")
STAGE_ZH = {"lead": "潜在客户", "new": "新客户", "repeat": "复购客户", "loyal": "忠诚客户",
            "at_risk": "流失风险客户", "churned": "已流失客户", "reactivated": "已召回客户"}
TIER_ZH = {"high": "高价值", "potential": "潜力", "nurture": "培育"}
COLUMNS_ZH: dict[str, str] = {
    "segment": "客户分群", "customers": "客户数", "share": "客户占比", "revenue": "收入",
    "revenue_share": "收入占比", "mean_recency_days": "平均最近购买天数",
    "mean_frequency": "平均购买次数", "mean_monetary": "平均消费金额", "action": "建议行动",
    "contact_id": "客户ID", "external_id": "客户编号", "recency_days": "最近购买天数",
    "frequency": "购买次数", "monetary": "消费金额", "r": "R", "f": "F", "m": "M",
    "cell": "RFM", "stage": "生命周期", "tier": "价值层级",
}


def segment_label(name: str, lang: str = "en") -> str:
    """The label of segment `name` in `lang` ("en" or "zh").

    cn8 classes keep their Chinese names in both languages (that is what the model
    calls them); in English their meaning leads the suggested action instead.
    """
    if lang == "zh":
        return SEGMENT_ZH.get(name, name)
    return name


def action_for(name: str, lang: str = "en") -> str:
    """A suggested action a salesperson can take for customers in segment `name`."""
    en, zh = ACTIONS[name]
    if lang == "zh":
        return zh
    return f"{CN8_EN[name]}: {en}" if name in CN8_EN else en


# --- aggregates (reference implementation) -------------------------------------------

def customer_aggregates(orders: pd.DataFrame, *, as_of: date, window_days: int = 365) -> pd.DataFrame:
    """Per-customer aggregates (AGGREGATE_COLUMNS) of order rows as of `as_of`.

    `orders` has columns contact_id, day (ISO date text or None), amount_value (float or
    NaN) and status_norm (paid/refunded/cancelled). Orders dated after `as_of`, undated
    orders and orders without a customer are ignored; customers without a paid order
    are left out.
    """
    o = orders[orders["contact_id"].notna() & orders["day"].notna()].copy()
    o["d"] = pd.to_datetime(o["day"], format="%Y-%m-%d", errors="coerce")
    cut = pd.Timestamp(as_of)
    o = o[o["d"].notna() & (o["d"] <= cut)]
    amount = o["amount_value"].astype(float).fillna(0.0)
    paid = o["status_norm"].eq("paid")
    refund = o["status_norm"].eq("refunded")
    o["net"] = np.where(paid, amount, np.where(refund, -amount.abs(), 0.0))
    o["paid"] = paid.astype(int)
    age = (cut - o["d"]).dt.days
    in_win = age < window_days
    in_prior = (age >= window_days) & (age < 2 * window_days)
    o["wnet"] = np.where(in_win, o["net"], 0.0)
    o["pnet"] = np.where(in_prior, o["net"], 0.0)
    o["wpaid"] = np.where(in_win, o["paid"], 0)
    g = o.groupby("contact_id")
    out = pd.DataFrame({
        "frequency": g["paid"].sum(), "monetary": g["net"].sum(),
        "window_revenue": g["wnet"].sum(), "prior_revenue": g["pnet"].sum(),
        "window_orders": g["wpaid"].sum(),
    })
    pd_days = o[paid].groupby("contact_id")["d"]
    out = out[out["frequency"] > 0]
    last = pd_days.max().reindex(out.index)
    first = pd_days.min().reindex(out.index)
    out["recency_days"] = (cut - last).dt.days
    out["tenure_days"] = (cut - first).dt.days
    out["paid_days"] = pd_days.nunique().reindex(out.index)
    uniq = o.loc[paid, ["contact_id", "d"]].drop_duplicates().sort_values(["contact_id", "d"])
    gaps = uniq.groupby("contact_id")["d"].diff().dt.days
    last_gap = gaps.groupby(uniq["contact_id"]).last()
    out["gap_days"] = last_gap.reindex(out.index).astype(float)
    out = out.reset_index()
    return _typed(out[list(AGGREGATE_COLUMNS)])


def _typed(agg: pd.DataFrame) -> pd.DataFrame:
    agg = agg.copy()
    for col in ("contact_id", "recency_days", "frequency", "paid_days", "tenure_days",
                "window_orders"):
        agg[col] = agg[col].astype("int64")
    for col in ("monetary", "gap_days", "window_revenue", "prior_revenue"):
        agg[col] = agg[col].astype("float64")
    return agg.sort_values("contact_id", kind="stable").reset_index(drop=True)


# --- RFM -------------------------------------------------------------------------------

def quintile_scores(values: Any, *, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1..5 by quintile of the mid-rank: ties share a score, 5 = best.

    score = floor(5 * (midrank - 0.5) / n) + 1, midrank being the average 1-based rank of
    the tied group in best-last order. Equal values always get the same score; a lone
    customer, or a population where everybody ties, scores 3; five distinct values
    score 1, 2, 3, 4, 5. E.g. quintile_scores([1, 1, 1, 1, 2]) -> [3, 3, 3, 3, 5].
    """
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    key = arr if higher_is_better else -arr
    mid = pd.Series(key).rank(method="average").to_numpy()
    scores = np.floor(5 * (mid - 0.5) / arr.size).astype(np.int64) + 1
    return np.clip(scores, 1, 5)


def segment_of(r: int, f: int, m: int) -> str:
    """The standard segment of scores (r, f, m): SEGMENT_GRID[r][FM - 1], FM = (f+m+1)//2."""
    return SEGMENT_GRID[r][(f + m + 1) // 2 - 1]


def _grid_lookup(r: np.ndarray, fm: np.ndarray) -> np.ndarray:
    table = np.array([SEGMENT_GRID[i] for i in range(1, 6)], dtype=object)
    return table[r - 1, fm - 1]


def cn8_segments(recency_days: Any, frequency: Any, monetary: Any) -> np.ndarray:
    """Chinese eight-class labels: each of R, F, M above or below its population mean.

    Recent = recency below the mean recency; frequent / high spend = above the mean.
    A value equal to the mean (within float tolerance) counts as not above.
    """
    def above(x: np.ndarray) -> np.ndarray:
        if x.size == 0:
            return np.zeros(0, dtype=bool)
        mean = x.mean()
        return (x > mean) & ~np.isclose(x, mean, rtol=1e-9, atol=1e-9)

    rec = np.asarray(recency_days, dtype=float)
    fr = np.asarray(frequency, dtype=float)
    mo = np.asarray(monetary, dtype=float)
    recent, frequent, big = above(-rec), above(fr), above(mo)
    idx = (~recent).astype(int) * 1 + (~frequent).astype(int) * 2 + (~big).astype(int) * 4
    names = np.empty(8, dtype=object)
    for (rr, ff, mm), name in CN8_MAP.items():
        names[(not rr) * 1 + (not ff) * 2 + (not mm) * 4] = name
    return names[idx]


def rfm_scores(agg: pd.DataFrame, *, scheme: str = "standard") -> pd.DataFrame:
    """contact_id, recency_days, frequency, monetary, r, f, m, cell, segment per customer.

    `agg` needs contact_id, recency_days, frequency and monetary. Rows keep agg's order.
    """
    if scheme not in ("standard", "cn8"):
        raise UsageError(f"Unknown scheme {scheme!r}; use standard or cn8.")
    out = agg[["contact_id", "recency_days", "frequency", "monetary"]].reset_index(drop=True)
    r = quintile_scores(out["recency_days"], higher_is_better=False)
    f = quintile_scores(out["frequency"])
    m = quintile_scores(out["monetary"])
    out = out.assign(r=r, f=f, m=m)
    out["cell"] = (r * 100 + f * 10 + m).astype(str) if len(out) else pd.Series(dtype=str)
    if scheme == "cn8":
        out["segment"] = cn8_segments(out["recency_days"], out["frequency"], out["monetary"])
    else:
        out["segment"] = _grid_lookup(r, (f + m + 1) // 2) if len(out) else []
    return out


def cells_digest(scored: pd.DataFrame) -> str:
    """A fingerprint of every customer's (contact_id, cell, segment), in row order."""
    hashes = pd.util.hash_pandas_object(scored[["contact_id", "cell", "segment"]], index=False)
    return hashlib.sha256(hashes.to_numpy().tobytes()).hexdigest()


def segment_table(scored: pd.DataFrame, *, scheme: str = "standard", lang: str = "en") -> list[dict]:
    """One row per segment (all segments of the scheme, in order, empty ones included).

    Columns: segment, customers, share, revenue, revenue_share, mean_recency_days,
    mean_frequency, mean_monetary, action. Shares are fractions 0..1 rounded to 4 places.
    """
    names = CN8_SEGMENTS if scheme == "cn8" else SEGMENTS
    n = len(scored)
    total = float(scored["monetary"].sum()) if n else 0.0
    groups = scored.groupby("segment") if n else None
    rows = []
    for name in names:
        part = groups.get_group(name) if groups is not None and name in groups.groups else None
        count = 0 if part is None else len(part)
        revenue = 0.0 if part is None else float(part["monetary"].sum())
        rows.append({
            "segment": segment_label(name, lang), "customers": count,
            "share": round(count / n, 4) if n else 0.0,
            "revenue": round(revenue, 2),
            "revenue_share": round(revenue / total, 4) if total else 0.0,
            "mean_recency_days": _mean(part, "recency_days"),
            "mean_frequency": _mean(part, "frequency"),
            "mean_monetary": _mean(part, "monetary"),
            "action": action_for(name, lang),
        })
    return rows


def _mean(part: pd.DataFrame | None, col: str) -> float | None:
    return None if part is None or not len(part) else round(float(part[col].mean()), 2)


# --- lifecycle stage and value tier ----------------------------------------------------

@dataclass(frozen=True)
class TagRules:
    """Thresholds of `tag` (config section [tag]); see `lifecycle_stages`, `value_tiers`."""

    new_days: int = 90
    loyal_min_orders: int = 5
    loyal_min_span_days: int = 365
    at_risk_factor: float = 2.0
    at_risk_min_days: int = 60
    churn_days: int = 365
    tier_window_days: int = 365
    high_revenue_share: float = 0.5
    potential_revenue_share: float = 0.8
    growth_factor: float = 1.5
    growth_min_orders: int = 2

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TagRules:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in known})


def lifecycle_stages(agg: pd.DataFrame, rules: TagRules) -> np.ndarray:
    """The stage of each customer row in `agg` (first matching rule wins).

    1. churned      no paid order for more than churn_days
    2. reactivated  the gap before the last paid day was longer than churn_days
    3. at_risk      at least at_risk_min_days since the last paid order, and either one
                    paid day that is older than new_days, or more than at_risk_factor
                    times the usual interval (first-to-last span / (paid days - 1))
    4. new          one paid day, within new_days
    5. loyal        at least loyal_min_orders paid days spanning loyal_min_span_days
    6. repeat       everybody else (two or more paid days)
    Contacts without a paid order are `lead` (not in `agg`).
    """
    rec = agg["recency_days"].to_numpy(dtype=float)
    days = agg["paid_days"].to_numpy(dtype=float)
    span = agg["tenure_days"].to_numpy(dtype=float) - rec
    gap = agg["gap_days"].to_numpy(dtype=float)
    interval = np.where(days > 1, span / np.maximum(days - 1, 1), np.nan)
    one = days <= 1
    overdue = np.where(one, rec > rules.new_days, rec > rules.at_risk_factor * interval)
    conditions = [
        rec > rules.churn_days,
        np.nan_to_num(gap, nan=0.0) > rules.churn_days,
        (rec >= rules.at_risk_min_days) & overdue,
        one,
        (days >= rules.loyal_min_orders) & (span >= rules.loyal_min_span_days),
    ]
    choices = ["churned", "reactivated", "at_risk", "new", "loyal"]
    return np.select(conditions, choices, default="repeat").astype(object)


def value_tiers(agg: pd.DataFrame, rules: TagRules) -> np.ndarray:
    """The value tier of each customer row in `agg`.

    Customers are ranked by net revenue in the trailing window. `high`: the customers
    whose higher-earning peers together make less than high_revenue_share of the
    window's revenue (the smallest group making the top share; equal revenue, equal
    tier). `potential`: the next ones up to potential_revenue_share, or growing ones
    (at least growth_min_orders paid orders in the window and window revenue at least
    growth_factor times the window before). `nurture`: everybody else, including
    customers with no positive revenue in the window (and all leads).
    """
    rev = agg["window_revenue"].to_numpy(dtype=float)
    positive = rev > 0
    total = rev[positive].sum()
    if total <= 0:
        before = np.full(rev.shape, np.inf)
    else:
        # revenue of customers earning strictly more, as a share of the total
        vals = np.sort(rev[positive])[::-1]
        cum = np.concatenate([[0.0], np.cumsum(vals)])
        idx = np.searchsorted(-vals, -rev, side="left")
        before = cum[idx] / total
    prior = agg["prior_revenue"].to_numpy(dtype=float)
    orders = agg["window_orders"].to_numpy(dtype=float)
    growing = positive & (orders >= rules.growth_min_orders) & (
        rev >= rules.growth_factor * np.maximum(prior, 0.0))
    high = positive & (before < rules.high_revenue_share - 1e-12)
    potential = positive & ((before < rules.potential_revenue_share - 1e-12) | growing)
    return np.select([high, potential], ["high", "potential"], default="nurture").astype(object)


def tag_plan(current: pd.DataFrame, agg: pd.DataFrame, rules: TagRules) -> list[tuple[int, str, str | None, str]]:
    """(contact_id, field, old, new) for every stage/tier that differs from `current`.

    `current` has contact_id, stage, tier for every contact (None = never tagged);
    contacts missing from `agg` are leads with tier nurture. Sorted by contact, field.
    """
    computed = agg[["contact_id"]].copy()
    computed["stage_new"] = lifecycle_stages(agg, rules) if len(agg) else []
    computed["tier_new"] = value_tiers(agg, rules) if len(agg) else []
    new = current.merge(computed, on="contact_id", how="left")
    new["stage_new"] = new["stage_new"].fillna("lead")
    new["tier_new"] = new["tier_new"].fillna("nurture")
    changes: list[tuple[int, str, str | None, str]] = []
    for field in ("stage", "tier"):
        diff = new[new[field].isna() | new[field].ne(new[f"{field}_new"])]
        changes.extend(zip(diff["contact_id"].astype(int).tolist(), [field] * len(diff),
                           diff[field].astype(object).where(diff[field].notna(), None).tolist(),
                           diff[f"{field}_new"].tolist()))
    changes.sort(key=lambda c: (c[0], c[1]))
    return changes


# --- currencies --------------------------------------------------------------------------

def report_currency(currencies: Iterable[str | None], *, configured: str = "",
                    rates: Mapping[str, float] | None = None,
                    only: str | None = None, one_allowed: bool = True,
                    ) -> tuple[str, dict[str, float]]:
    """(report currency, rate per order currency) or UsageError for unconvertible mixes.

    Orders without a currency count as the report currency. `only` keeps orders in that
    currency alone. Without it, several currencies need `configured`
    (the [rfm] currency) and a rate for every other one ([rfm] rates). `one_allowed`:
    the caller can be asked for one currency alone (said in the error, with its hint);
    False for work that needs every order (tag, churn): only the rates can help.
    """
    seen = sorted({c.strip().upper() for c in currencies if c and c.strip()})
    rates = {k.strip().upper(): float(v) for k, v in (rates or {}).items()}
    if only:
        cur = only.strip().upper()
        return cur, {cur: 1.0}
    cur = configured.strip().upper() or (seen[0] if len(seen) == 1 else "")
    missing = [c for c in seen if c != cur and c not in rates]
    if missing or (len(seen) > 1 and not cur):
        example = seen[0]
        others = ", ".join(f"{c} = 1.0" for c in seen if c != example)
        alone = f", or report one currency alone (such as {example})" if one_allowed else ""
        raise UsageError(
            f"Orders are in several currencies ({', '.join(seen)}) and no conversion rate "
            f"is configured for {', '.join(missing or seen)}. Set [rfm] currency = "
            f"\"{example}\" and rates = {{{others}}} in custdata.toml{alone}.",
            hint="currency" if one_allowed else None, example=example,
        )
    table = {c: (1.0 if c == cur else rates[c]) for c in seen}
    return cur, table
