"""Churn risk: a BG/NBD model fitted on the store's own orders, adjusted by what else we know.

The model (Fader, Hardie & Lee 2005, "Counting your customers the easy way") says that
while a customer is active they order at their own Poisson rate, and after each order
they may drop out with their own probability. Fitted by maximum likelihood on every
customer's (x = repeat order days, t_x = first-to-last order, T = first order to as-of),
it gives the chance that a customer is still active and, from it, the chance of no
order within the horizon. That chance is then weighed, on the log-odds scale, with what
the model cannot see: how overdue the customer is against their own usual interval,
one-order and refunds-only customers, a recent interaction, the last satisfaction
rating. The weights are a logistic regression learned from the store's own past (the
same features one horizon earlier against who did reorder), each held to the sign its
reason reads; with too little past, DEFAULT_WEIGHTS. `customer_risks` returns the risk
in [0, 1] with a one-line reason; `backtest` measures it against the naive baseline.

Plain data in, plain data out: no clock, no store, no printing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np

from custdata._lazy import lazy
from custdata.errors import InsufficientHistory

optimize = lazy("scipy.optimize")
special = lazy("scipy.special")
stats = lazy("scipy.stats")

RISK_FLOOR, RISK_CEILING = 0.001, 0.999
# BG/NBD is over-sure that a quick buyer who went quiet has gone for good (and that a
# one-order customer has not): its chance of no order is clipped before it is weighed.
MODEL_CLIP = 0.98
MIN_LOOKBACK_DAYS = 30  # the shortest past worth learning weights from
MIN_OUTCOMES = 10  # learn weights only from a past with this many reorders and this many not


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters: purchase rate ~ Gamma(r, alpha), dropout ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_array(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.a, self.b], dtype=float)


def _arrays(*values: Any) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in values]


def bgnbd_log_likelihood(params: BGNBDParams, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """Per-customer log-likelihood of (x, t_x, T) under `params` (equation 6 of the paper)."""
    x, t_x, T = _arrays(x, t_x, T)
    return _ll_and_grad(params.as_array(), x, t_x, T, grad=False)[0]


def _ll_and_grad(
    theta: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, grad: bool = True,
    levels: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Log-likelihood per customer and, if asked, its gradient in (r, alpha, a, b).

    `levels` = np.unique(x, return_inverse=True): the special functions of x are then
    computed once per distinct x (a few hundred values) instead of once per customer.
    """
    r, alpha, a, b = theta
    xs, inv = levels if levels is not None else np.unique(x, return_inverse=True)
    repeat = x > 0
    head = (special.gammaln(r + xs) - special.gammaln(r) + r * math.log(alpha)
            + special.betaln(a, b + xs) - special.betaln(a, b))[inv]
    a3 = -(r + x) * np.log(alpha + T)
    bx1 = np.where(repeat, b + x - 1.0, 1.0)
    a4 = np.where(repeat, math.log(a) - np.log(bx1) - (r + x) * np.log(alpha + t_x), -np.inf)
    tail = np.logaddexp(a3, a4)
    ll = head + tail
    if not grad:
        return ll, None
    p4 = np.exp(a4 - tail)  # share of the "dropped out after the last order" branch
    p3 = 1.0 - p4
    psi = special.digamma
    d_r = ((psi(r + xs) - psi(r) + math.log(alpha))[inv]
           - p3 * np.log(alpha + T) - p4 * np.log(alpha + t_x))
    d_alpha = r / alpha - (r + x) * (p3 / (alpha + T) + p4 / (alpha + t_x))
    d_a = (psi(a + b) - psi(a + b + xs))[inv] + p4 / a
    d_b = (psi(b + xs) - psi(a + b + xs) - psi(b) + psi(a + b))[inv] - p4 / bx1
    return ll, np.stack([d_r, d_alpha, d_a, d_b])


def fit_bgnbd(
    x: Any, t_x: Any, T: Any, *, min_customers: int = 50, min_repeaters: int = 10
) -> BGNBDParams:
    """Maximum-likelihood BG/NBD parameters for customers with (x, t_x, T).

    x = number of repeat purchases, t_x = time of the last purchase and T = time since
    the first one, in any one unit (the fitted alpha is in that unit). Raises
    InsufficientHistory when there are too few customers or repeat customers to fit.
    """
    x, t_x, T = _arrays(x, t_x, T)
    if x.size < min_customers:
        raise InsufficientHistory(
            f"Only {x.size} customers with orders; the churn model needs at least "
            f"{min_customers}. Import more order history, or lower churn.min_customers."
        )
    repeaters = int(np.count_nonzero(x > 0))
    if repeaters < min_repeaters:
        raise InsufficientHistory(
            f"Only {repeaters} customers have ordered more than once; the churn model "
            f"needs at least {min_repeaters} repeat customers to learn how often people reorder."
        )
    if np.any(x < 0) or np.any(t_x < 0) or np.any(T < t_x):
        raise ValueError("need x >= 0 and 0 <= t_x <= T for every customer")
    # Customers with the same (x, t_x, T) share a likelihood term: fit on unique rows.
    order = np.lexsort((T, t_x, x))
    sx, st, sT = x[order], t_x[order], T[order]
    first = np.ones(sx.size, bool)
    first[1:] = (sx[1:] != sx[:-1]) | (st[1:] != st[:-1]) | (sT[1:] != sT[:-1])
    starts = np.flatnonzero(first)
    ux, ut, uT = sx[starts], st[starts], sT[starts]
    weights = np.diff(np.append(starts, sx.size)) / sx.size
    levels = np.unique(ux, return_inverse=True)

    def objective(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(log_theta)
        ll, g = _ll_and_grad(theta, ux, ut, uT, levels=levels)
        return -float(weights @ ll), -(g @ weights) * theta

    scale = max(float(np.mean(T)), 1e-6)
    start = np.log([1.0, scale, 1.0, 1.0])
    bounds = [(-15.0, 15.0), (math.log(scale) - 20, math.log(scale) + 20),
              (-15.0, 15.0), (-15.0, 15.0)]
    result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                               options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10})
    theta = np.exp(result.x)
    if not np.all(np.isfinite(theta)) or not math.isfinite(result.fun):
        raise InsufficientHistory(
            "The churn model could not be fitted to this order history; "
            "import more orders over a longer period."
        )
    return BGNBDParams(*(float(v) for v in theta))


def p_alive(params: BGNBDParams, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """P(the customer is still active at T | x, t_x, T); 1 for customers with no repeat."""
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = params.as_array()
    bx1 = np.where(x > 0, b + x - 1.0, 1.0)
    log_odds = math.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(x > 0, special.expit(-log_odds), 1.0)


def p_no_purchase(params: BGNBDParams, horizon: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """P(no purchase in (T, T + horizon] | x, t_x, T).

    Either the customer has dropped out (1 - P(alive)), or is active and their Poisson
    rate, whose posterior is Gamma(r + x, alpha + T), gives no purchase in the horizon.
    """
    x, t_x, T, h = _arrays(x, t_x, T, horizon)
    alive = p_alive(params, x, t_x, T)
    quiet_if_alive = np.exp((params.r + x) * (np.log(params.alpha + T)
                                              - np.log(params.alpha + T + h)))
    return 1.0 - alive * (1.0 - quiet_if_alive)


def expected_purchases(params: BGNBDParams, t: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """Expected number of purchases in (T, T + t] given x, t_x, T (equation 10)."""
    x, t_x, T, t = _arrays(x, t_x, T, t)
    r, alpha, a, b = params.as_array()
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
    part = 1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
    return (a + b + x - 1.0) / (a - 1.0) * part * p_alive(params, x, t_x, T)


# --- customers: facts from the store -> risk and reason -------------------------------


class ChurnScore(NamedTuple):
    """One customer's churn risk and what it rests on (a tuple: a million are made fast)."""

    contact_id: int
    risk: float  # in [0, 1]: chance of no paid order within the horizon, adjusted
    kind: str  # repeat | single | refunded
    p_alive: float
    days_since_order: int
    usual_interval: float | None  # the customer's own mean days between orders
    last_order: date | None  # last paid order
    value: float  # net revenue over the trailing year (never below 0)
    reason: str


_EPOCH = date(1970, 1, 1)


def _epoch_day(day: date) -> float:
    return float((day - _EPOCH).days)


def _day_numbers(facts: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    """Each fact's `key` (a date or ISO text) as days since 1970-01-01; NaN where missing."""
    values = [f.get(key) for f in facts]  # ISO text from SQLite; date objects numpy reads slowly
    days = np.array([v.isoformat() if isinstance(v, date) else v for v in values],
                    dtype="datetime64[D]")  # "" and None: NaT
    return np.where(np.isnat(days), np.nan, days.astype("int64").astype(float))


def history_arrays(facts: Sequence[Mapping[str, Any]], as_of: date) -> dict[str, np.ndarray]:
    """kind, x, t_x, T (days), days since the last order ("gap") and the last paid day
    (days since 1970-01-01, NaN if none) for each customer in `facts`.

    kind is "repeat" (paid orders on two or more days), "single" or "refunded" (no paid
    order kept): refunds-only customers are scored as one-off buyers from their first
    (refunded) order.
    """
    now = _epoch_day(as_of)
    first, last = _day_numbers(facts, "first_paid"), _day_numbers(facts, "last_paid")
    paid_days = np.array([int(f.get("paid_days") or 0) for f in facts], dtype=float)
    refunded = np.isnan(first) | np.isnan(last) | (paid_days == 0)
    start = _day_numbers(facts, "first_order")
    start = np.where(np.isnan(start), now, start)
    end = _day_numbers(facts, "last_order")
    end = np.where(np.isnan(end), start, end)
    kind = np.where(refunded, "refunded", np.where(paid_days > 1, "repeat", "single"))
    return {
        "kind": kind.astype(object),
        "x": np.where(refunded, 0.0, paid_days - 1),
        "t_x": np.where(refunded, 0.0, last - first),
        "T": np.where(refunded, now - start, now - first),
        "gap": np.where(refunded, now - end, now - last),
        "last_paid": last,
    }


def fit_customers(
    facts: Sequence[Mapping[str, Any]], *, as_of: date, min_customers: int = 50,
    min_repeaters: int = 10,
) -> BGNBDParams:
    """BG/NBD parameters (days) fitted on the customers with at least one paid order."""
    h = history_arrays(facts, as_of)
    buyers = h["kind"] != "refunded"
    return fit_bgnbd(h["x"][buyers], h["t_x"][buyers], h["T"][buyers],
                     min_customers=min_customers, min_repeaters=min_repeaters)


FEATURES = ("intercept", "model", "overdue", "single", "single_overdue", "refunded",
            "low_rating", "mid_rating", "high_rating", "recent_contact")
# Used when the store's own past is too short to learn from: the model's odds, x1.8 per
# doubling of the overdue ratio, x2 when everything was refunded, x2.5 / x1.25 / x0.8 for a
# last rating of 1-2 / 3 / 4-5, x0.7 for a recent interaction.
DEFAULT_WEIGHTS = (0.0, 1.0, 0.85, 0.0, 0.0, math.log(2.0), math.log(2.5), math.log(1.25),
                   math.log(0.8), math.log(0.7))
# Sign each learned weight must keep, so that every reason points the way it reads.
_BOUNDS = [(None, None), (0.0, None), (0.0, None), (None, None), (None, None), (0.0, None),
           (0.0, None), (None, None), (None, 0.0), (None, 0.0)]


def risk_features(
    params: BGNBDParams, *, horizon: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
    gap: np.ndarray, typical_interval: float, rating: np.ndarray | None = None,
    recent_contact: np.ndarray | None = None, refunded: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature matrix with a leading 1 column, p_alive, own usual interval) per customer.

    Features: logit of the model's chance of no order within `horizon`; log of how
    many usual intervals overdue (0 when not overdue; one-order customers measured
    against `typical_interval`); one-order and refunds-only flags; last rating 1-2, 3,
    4-5 (`rating` NaN where unknown); an interaction within the contact window.
    """
    n = x.size
    alive = p_alive(params, x, t_x, T)
    quiet = np.clip(p_no_purchase(params, horizon, x, t_x, T), 1 - MODEL_CLIP, MODEL_CLIP)
    own = np.divide(t_x, x, out=np.full(n, np.nan), where=x > 0)
    usual = np.where(np.isfinite(own) & (own > 0), own, typical_interval)
    ratio = np.divide(gap, usual, out=np.ones(n), where=np.isfinite(usual) & (usual > 0))
    rating = np.full(n, np.nan) if rating is None else rating
    refunded = np.zeros(n, bool) if refunded is None else refunded
    recent = np.zeros(n, bool) if recent_contact is None else recent_contact
    overdue = np.log(np.maximum(ratio, 1.0))
    single = (x == 0) & ~refunded
    columns = [np.ones(n), special.logit(quiet), overdue, single, single * overdue, refunded,
               rating <= 2, rating == 3, rating >= 4, recent]
    return np.column_stack(columns).astype(float), alive, own


def risk_from_features(features: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """Risk in [0, 1] per customer: the logistic of the weighted features."""
    return np.clip(special.expit(features @ np.asarray(weights, dtype=float)),
                   RISK_FLOOR, RISK_CEILING)


def learn_weights(features: np.ndarray, churned: np.ndarray, *, ridge: float = 1e-3) -> tuple:
    """Logistic-regression weights of `features` for `churned`, signs kept as in _BOUNDS.

    The weights combine the model with what it cannot see; they are learned from the
    store's own past (features one horizon before the as-of date, outcome after it).
    """
    y = np.asarray(churned, dtype=float)
    scale = np.maximum(np.abs(features).max(axis=0), 1e-12)
    z = features / scale  # comparable columns for the optimizer

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        eta = z @ w
        value = np.mean(np.logaddexp(0.0, eta) - y * eta) + ridge * (w[1:] @ w[1:]) / 2
        g = z.T @ (special.expit(eta) - y) / y.size
        g[1:] += ridge * w[1:]
        return float(value), g

    start = np.asarray(DEFAULT_WEIGHTS) * scale
    # A signal absent from the past (no ratings yet, say) keeps its default weight.
    bounds = [(lo, hi) if np.any(features[:, j] != features[0, j]) or j == 0
              else (start[j], start[j]) for j, (lo, hi) in enumerate(_BOUNDS)]
    result = optimize.minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return tuple(float(v) for v in result.x / scale)


def typical_interval(x: np.ndarray, t_x: np.ndarray) -> float:
    """Median of repeat customers' mean days between orders (NaN if there are none)."""
    own = t_x[x > 0] / x[x > 0]
    own = own[own > 0]
    return float(np.median(own)) if own.size else math.nan


@dataclass(frozen=True)
class ChurnModel:
    """BG/NBD parameters (days) and the weights that turn features into risk."""

    params: BGNBDParams
    weights: tuple[float, ...]
    learned: bool  # weights learned from the store's own past (else DEFAULT_WEIGHTS)
    lookback_days: int | None = None  # the past they were learned from: as_of - this


def _customers(facts: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [f for f in facts if f.get("first_paid") or f.get("first_order")]


def _features_for(
    facts: Sequence[Mapping[str, Any]], as_of: date, params: BGNBDParams,
    horizon_days: int, contact_days: int,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray, float, list]:
    h = history_arrays(facts, as_of)
    typical = typical_interval(h["x"], h["t_x"])
    rating = np.array([np.nan if f.get("last_rating") is None else float(f["last_rating"])
                       for f in facts])
    since_contact = _epoch_day(as_of) - _day_numbers(facts, "last_contact")  # NaN: never
    recent = (since_contact >= 0) & (since_contact <= contact_days)
    contact_gap = [None if math.isnan(g) else int(g) for g in since_contact.tolist()]
    features, alive, own = risk_features(
        params, horizon=horizon_days, x=h["x"], t_x=h["t_x"], T=h["T"], gap=h["gap"],
        typical_interval=typical, rating=rating, recent_contact=recent,
        refunded=h["kind"] == "refunded",
    )
    return features, h, alive, own, typical, contact_gap


Past = Callable[[int], tuple[Sequence[Mapping[str, Any]], set[int]]]


def fit_churn_model(
    facts: Sequence[Mapping[str, Any]], *, as_of: date, horizon_days: int = 90,
    contact_days: int = 30, past: Past | None = None, min_customers: int = 50,
    min_repeaters: int = 10,
) -> ChurnModel:
    """Fit BG/NBD on `facts` at `as_of` and learn how to weigh it against the other signals.

    `past(days)` returns the same facts as of `as_of - days` and the ids with a paid order
    after that date up to `as_of`: the weights are learned from the longest look-back that
    has enough history, one horizon, else half of it, and so on down to
    MIN_LOOKBACK_DAYS (a young store still learns from its last weeks). Without `past`,
    or when every look-back is too thin, DEFAULT_WEIGHTS.
    """
    params = fit_customers(facts, as_of=as_of, min_customers=min_customers,
                           min_repeaters=min_repeaters)
    days = horizon_days
    while past is not None and days >= min(MIN_LOOKBACK_DAYS, horizon_days):
        weights = _learned_weights(*past(days), cut=as_of - timedelta(days=days), window=days,
                                   contact_days=contact_days, min_customers=min_customers,
                                   min_repeaters=min_repeaters)
        if weights is not None:
            return ChurnModel(params, weights, True, days)
        days //= 2
    return ChurnModel(params, DEFAULT_WEIGHTS, False)


def _learned_weights(
    facts: Sequence[Mapping[str, Any]], reordered: set[int], *, cut: date, window: int,
    contact_days: int, min_customers: int, min_repeaters: int,
) -> tuple[float, ...] | None:
    """Weights learned from features at `cut` against who reordered within `window` days
    after it; None when that past is too thin to learn from."""
    customers = _customers(facts)
    try:
        params = fit_customers(customers, as_of=cut, min_customers=min_customers,
                               min_repeaters=min_repeaters)
    except InsufficientHistory:
        return None
    features = _features_for(customers, cut, params, window, contact_days)[0]
    churned = np.array([int(f["contact_id"]) not in reordered for f in customers])
    if min(churned.sum(), (~churned).sum()) < MIN_OUTCOMES:
        return None
    return learn_weights(features, churned)


def customer_risks(
    facts: Sequence[Mapping[str, Any]], *, as_of: date, model: ChurnModel,
    horizon_days: int = 90, contact_days: int = 30,
    explain: Callable[[list[ChurnScore]], Iterable[int]] | None = None,
) -> list[ChurnScore]:
    """A ChurnScore for every customer in `facts` with a paid or refunded order.

    Each fact has contact_id, first_paid, last_paid, paid_days (distinct days with a paid
    order), first_order, last_order (any paid or refunded order), value (trailing-year
    net revenue), last_contact (last interaction day), last_rating (1-5 or None) and
    last_rating_channel. Contacts without any order are not customers and are skipped.
    `explain`, given the scores without reasons, names the contact ids that need one (the
    rows a report will print); by default every score gets its reason.
    """
    facts = _customers(facts)
    if not facts:
        return []
    features, h, alive, own, typical, contact_gap = _features_for(
        facts, as_of, model.params, horizon_days, contact_days)
    risk = np.round(risk_from_features(features, model.weights), 4).tolist()
    alive = np.round(alive, 4).tolist()
    own = [None if math.isnan(v) else v for v in own.tolist()]
    gaps = h["gap"].astype(int).tolist()
    kinds = h["kind"].tolist()

    def reason(i: int) -> str:
        return _reason(facts[i], kinds[i], gaps[i], own[i], typical, contact_gap[i],
                       contact_days)

    ids = [int(f["contact_id"]) for f in facts]
    last_paid = [None if math.isnan(v) else _EPOCH + timedelta(days=int(v))
                 for v in h["last_paid"].tolist()]
    values = [max(0.0, round(float(f.get("value") or 0.0), 2)) for f in facts]
    reasons = map(reason, range(len(facts))) if explain is None else repeat("")
    scores = list(map(ChurnScore._make, zip(ids, risk, kinds, alive, gaps, own, last_paid,
                                            values, reasons)))
    if explain is not None:
        wanted = set(explain(scores))
        scores = [score._replace(reason=reason(i)) if score.contact_id in wanted else score
                  for i, score in enumerate(scores)]
    return scores


def _days(n: float) -> str:
    n = int(round(n))
    return "1 day" if n == 1 else f"{n} days"


def _reason(fact: Mapping[str, Any], kind: str, gap: int, usual: float | None,
            typical: float, contact_gap: int | None, contact_days: int) -> str:
    """One line a salesperson understands: why this customer's risk is what it is."""
    when = "ordered today" if gap == 0 else f"no order for {_days(gap)}"
    if kind == "repeat" and usual:
        parts = [f"{when}; usually orders every {_days(usual)}"]
    elif kind == "repeat":
        parts = [f"{when}; {int(fact.get('paid_days') or 0)} orders, all on one day"]
    elif kind == "single":
        usual_text = "" if math.isnan(typical) else \
            f"; repeat customers usually reorder every {_days(typical)}"
        parts = [f"one order only, {_days(gap)} ago{usual_text}"]
    else:
        parts = [f"every order was refunded, last {_days(gap)} ago; nothing kept"]
    rating = fact.get("last_rating")
    if rating is not None:
        channel = fact.get("last_rating_channel") or "interaction"
        parts.append(f"last {channel} rated {int(rating)}/5")
    if contact_gap is not None and 0 <= contact_gap <= contact_days:
        parts.append("in touch " + ("today" if contact_gap == 0 else f"{_days(contact_gap)} ago"))
    return "; ".join(parts)


# --- backtest ------------------------------------------------------------------------


def roc_auc(labels: Any, scores: Any) -> float | None:
    """Area under the ROC curve (ties count half); None when one class is missing."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    ranks = stats.rankdata(s)  # average ranks: a tie between a positive and a negative = 1/2
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def top_share_precision(labels: Any, scores: Any, share: float = 0.1) -> float | None:
    """Share of positives among the top `share` by score; ties at the cut shared pro rata."""
    y = np.asarray(labels, dtype=float)
    s = np.asarray(scores, dtype=float)
    if y.size == 0:
        return None
    k = max(1, math.ceil(share * y.size))
    cut = np.sort(s)[::-1][k - 1]
    above, tied = s > cut, s == cut
    hits = y[above].sum() + (k - above.sum()) * y[tied].mean()
    return float(hits / k)


def calibration_table(labels: Any, predicted: Any, bins: int = 10) -> list[dict[str, Any]]:
    """Predicted vs observed rate by risk decile (1 = lowest risk), equal-sized groups."""
    y = np.asarray(labels, dtype=float)
    p = np.asarray(predicted, dtype=float)
    order = np.argsort(p, kind="stable")
    rows = []
    for i, idx in enumerate(np.array_split(order, bins), start=1):
        if idx.size == 0:
            continue
        rows.append({"decile": i, "customers": int(idx.size),
                     "min_risk": round(float(p[idx].min()), 4),
                     "max_risk": round(float(p[idx].max()), 4),
                     "predicted": round(float(p[idx].mean()), 4),
                     "observed": round(float(y[idx].mean()), 4)})
    return rows


@dataclass(frozen=True)
class BacktestResult:
    """How well risk scored at a cut date predicted no order within the horizon after it."""

    customers: int
    churned: int  # customers with no paid order within the horizon
    horizon_days: int
    auc: float | None
    baseline_auc: float | None  # days since the last order as the score
    top_decile_precision: float | None
    baseline_top_decile_precision: float | None
    calibration: list[dict[str, Any]]
    model: ChurnModel


def backtest(
    scores: Sequence[ChurnScore], reordered: set[int], *, horizon_days: int,
    model: ChurnModel,
) -> BacktestResult:
    """Compare risk at the cut with what happened: `reordered` = ids with a paid order in
    the horizon. Raises InsufficientHistory if nobody, or everybody, reordered."""
    churned = np.array([s.contact_id not in reordered for s in scores], dtype=bool)
    risk = np.array([s.risk for s in scores], dtype=float)
    naive = np.array([s.days_since_order for s in scores], dtype=float)
    if churned.size == 0 or churned.all() or not churned.any():
        what = "nobody" if churned.all() else "everybody"
        raise InsufficientHistory(
            f"In the {horizon_days} days after the cut date {what} ordered again, so the "
            "backtest cannot tell good scores from bad: it needs another cut date.",
            hint="as_of",
        )
    return BacktestResult(
        customers=int(churned.size), churned=int(churned.sum()), horizon_days=horizon_days,
        auc=roc_auc(churned, risk), baseline_auc=roc_auc(churned, naive),
        top_decile_precision=top_share_precision(churned, risk),
        baseline_top_decile_precision=top_share_precision(churned, naive),
        calibration=calibration_table(churned, risk), model=model,
    )


def rank_scores(scores: Sequence[ChurnScore], *, top: int | None = None,
                min_risk: float | None = None) -> list[ChurnScore]:
    """Scores with risk >= `min_risk`, by value at risk x risk (then risk, then id), first `top`."""
    kept = [s for s in scores if min_risk is None or s.risk >= min_risk]
    if not kept:
        return kept
    risk = np.fromiter((s.risk for s in kept), float, len(kept))
    value = np.fromiter((s.value for s in kept), float, len(kept))
    ids = np.fromiter((s.contact_id for s in kept), np.int64, len(kept))
    order = np.lexsort((ids, -risk, -(value * risk)))  # the last key sorts first
    return [kept[i] for i in order[:top].tolist()]
