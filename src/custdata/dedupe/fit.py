"""A Fellegi–Sunter model fitted to the list being deduped.

u (how often strangers reach each agreement level) is counted over random pairs of the
list; m (how often duplicates do) and the share of duplicates among the candidate pairs
by expectation–maximisation over the candidate pairs, as splink and recordlinkage's ECM
do. The hand-set figures of `compare.DEFAULT_MU` are the starting values and act as priors:
each field's m is shrunk towards them by `M_PRIOR_PAIRS` pseudo-pairs and u by
`U_PRIOR_PAIRS`, so a small list, or a field that few rows fill, keeps weights close to
the defaults instead of wild ones. In a small list the random pairs are nearly all pairs,
duplicates included: the pairs the EM takes for matches are left out of the u count and
the fit is run again. Levels are counted only where both records have the field (a
missing field counts for nothing), and term-frequency adjustment (`Model.count_bits`)
applies to the fitted exact levels as to the defaults.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from custdata.dedupe.bulk import (
    LEVEL_CODES, LEVEL_COUNT, LEVEL_NAMES, NONE, record_table, table_levels,
)
from custdata.dedupe.columns import RecordColumns
from custdata.dedupe.compare import DEFAULT_MU, Model

MIN_FIT_RECORDS = 100  # below this, the defaults are used as they are
M_PRIOR_PAIRS = 60.0  # weight of the default m, in pseudo-pairs, per field
U_PRIOR_PAIRS = 100.0  # weight of the default u, in pseudo-pairs, per field
RANDOM_PAIRS = 150_000  # random pairs sampled for u (all pairs when fewer)
EM_PAIRS = 300_000  # candidate pairs the EM sees (a fixed sample when more)
EM_ROUNDS = 40
START_DUPLICATES_PER_RECORD = 0.25  # the EM's first guess of duplicate pairs per record
MIN_LABELS = 10  # labelled same pairs from which they refine a field's m
M_DRIFT = 10.0  # a fitted m stays within this factor of the default m
MAX_MATCHES_PER_RECORD = 2.0  # the prior never assumes more duplicate pairs than this
MIN_MATCHES_PER_RECORD = 0.02  # nor fewer than this (a list with almost no duplicates
# would otherwise get a prior so low that even its one true pair fails the threshold)
FORMAT = 2  # 2: address level street, postal code level close


def _normalised(levels: Mapping[str, tuple[float, float]], which: int) -> dict[str, float]:
    total = sum(v[which] for v in levels.values())
    return {level: v[which] / total for level, v in levels.items()}


def random_pairs(n: int, count: int, seed: int = 17) -> np.ndarray:
    """`count` pairs (i < j) of distinct positions below n, drawn with a fixed seed; every
    pair once when there are no more than `count` pairs in all."""
    total = n * (n - 1) // 2
    if total <= count:
        i, j = np.triu_indices(n, 1)
        return np.stack([i, j], axis=1).astype(np.int64)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=count * 2)
    j = rng.integers(0, n, size=count * 2)
    keep = i != j
    i, j = np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep])
    return np.stack([i, j], axis=1)[:count]


def level_table(columns: RecordColumns, model: Model, pairs: np.ndarray
                ) -> dict[str, np.ndarray]:
    """Each fitted field's level codes (bulk.NONE, EX, …) for every pair of positions."""
    if not len(pairs):
        return {name: np.zeros(0, np.int8) for name in DEFAULT_MU}
    table = record_table(columns, model)
    return dict(table_levels(table, pairs[:, 0], pairs[:, 1]))


def estimate_u(levels: Mapping[str, np.ndarray], mu: Mapping = DEFAULT_MU
               ) -> dict[str, dict[str, float]]:
    """u per field and level from random pairs' levels: each level's share among the pairs
    where both records have the field, with U_PRIOR_PAIRS pseudo-pairs at the default
    rates."""
    out = {}
    for name, defaults in mu.items():
        codes = levels.get(name)
        prior = _normalised(defaults, 1)
        present = int(np.count_nonzero(codes)) if codes is not None else 0
        raw = {}
        for level, u0 in prior.items():
            seen = int(np.count_nonzero(codes == LEVEL_CODES[level])) if present else 0
            # A level never seen among the sample is as rare as the sample can tell,
            # or as the default says when that is rarer still.
            floor = min(u0, 1.0 / (present + 1.0))
            raw[level] = max((seen + U_PRIOR_PAIRS * u0) / (present + U_PRIOR_PAIRS), floor)
        total = sum(raw.values())
        out[name] = {level: value / total for level, value in raw.items()}
    return out


def _field_arrays(mu: Mapping, levels: Mapping[str, np.ndarray]
                  ) -> list[tuple[str, np.ndarray, list[str]]]:
    """(field, level codes, level names) of the fields that have a level to learn."""
    out = []
    for name, defaults in mu.items():
        codes = levels.get(name)
        if codes is None or len(defaults) < 2 or not np.count_nonzero(codes):
            continue
        out.append((name, codes, list(defaults)))
    return out


def _patterns(fields: list[tuple[str, np.ndarray, list[str]]]
              ) -> tuple[list[tuple[str, np.ndarray, list[str]]], np.ndarray, np.ndarray]:
    """The distinct combinations of levels over the fields (EM works on these, weighted by
    how many pairs show each: the same sums as pair by pair, a few thousand rows instead
    of 300,000), each pair's combination, and the counts."""
    stacked = np.ascontiguousarray(np.stack([codes for _, codes, _ in fields], axis=1),
                                   dtype=np.int8)
    rows = stacked.view(np.dtype((np.void, stacked.shape[1]))).ravel()
    _, first, inverse, counts = np.unique(rows, return_index=True, return_inverse=True,
                                          return_counts=True)
    patterns = stacked[first]
    folded = [(name, patterns[:, k].astype(np.int64), names)
              for k, (name, _, names) in enumerate(fields)]
    return folded, inverse.ravel(), counts.astype(float)


def em_fit(levels: Mapping[str, np.ndarray], u: Mapping[str, dict[str, float]],
           mu: Mapping = DEFAULT_MU, *, rounds: int = EM_ROUNDS,
           prior_pairs: float = M_PRIOR_PAIRS, posteriors: list | None = None,
           start_share: float = 0.5, from_candidates: bool = False
           ) -> tuple[dict[str, dict[str, float]], float]:
    """m per field and level, and the share of matches, by EM over candidate pairs' levels.

    The non-matches among candidates get their own level shares (blocking makes them
    agree more often than random pairs do), started at `u`; m starts at, and is shrunk
    towards, the defaults' m by `prior_pairs` pseudo-pairs; the share of matches starts
    at `start_share`. `posteriors`: if given, each pair's final match probability is
    appended to it (one array).
    """
    fields = _field_arrays(mu, levels)
    size = len(next(iter(levels.values()))) if levels else 0
    m0 = {name: _normalised(mu[name], 0) for name, _, _ in fields}
    m = {name: dict(m0[name]) for name in m0}
    if not size or not fields:
        return m, 0.0
    fields, inverse, counts = _patterns(fields)
    # Non-matches start at u, or at the candidates' own level shares (when nearly all
    # candidates are non-matches, agreeing on blocking keys far more than random pairs).
    v = {name: (_m_step(codes, names, counts, u[name], 1.0)
                if from_candidates else dict(u[name])) for name, codes, names in fields}
    share = start_share
    for _ in range(rounds):
        odds = np.full(len(counts), math.log(share / (1.0 - share)))
        for name, codes, names in fields:
            ratio = np.zeros(LEVEL_COUNT)
            for level in names:
                ratio[LEVEL_CODES[level]] = math.log(m[name][level] / v[name][level])
            odds += ratio[codes]
        w = 1.0 / (1.0 + np.exp(-np.clip(odds, -60, 60)))
        share = float(min(max(float((w * counts).sum()) / size, 1e-6), 1 - 1e-6))
        for name, codes, names in fields:
            m[name] = _bounded(_m_step(codes, names, w * counts, m0[name], prior_pairs),
                               m0[name])
            v[name] = _m_step(codes, names, (1.0 - w) * counts, u[name], 1.0)
    if posteriors is not None:
        posteriors.append(w[inverse])
        posteriors.append(_log_likelihood(fields, m, v, share, counts))
    return m, share


def _log_likelihood(fields: list, m: dict, v: dict, share: float, counts: np.ndarray
                    ) -> float:
    """log P(levels) of every pair under the two-class mixture, summed (`counts`: pairs
    per row of `fields`)."""
    size = len(fields[0][1])
    log_m, log_v = np.full(size, math.log(share)), np.full(size, math.log(1.0 - share))
    for name, codes, names in fields:
        lm, lv = np.zeros(LEVEL_COUNT), np.zeros(LEVEL_COUNT)
        for level in names:
            lm[LEVEL_CODES[level]] = math.log(m[name][level])
            lv[LEVEL_CODES[level]] = math.log(v[name][level])
        log_m += lm[codes]
        log_v += lv[codes]
    return float((np.logaddexp(log_m, log_v) * counts).sum())


def _m_step(codes: np.ndarray, names: list[str], weight: np.ndarray, prior: dict[str, float],
            strength: float) -> dict[str, float]:
    """Level shares of the pairs weighted by `weight`, blended with `prior` as `strength`
    pseudo-pairs (pairs without the field do not count)."""
    sums = np.bincount(codes, weights=weight, minlength=LEVEL_COUNT)
    sums[NONE] = 0.0  # pairs missing the field
    total = float(sums.sum()) + strength
    return {level: max((float(sums[LEVEL_CODES[level]]) + strength * prior[level]) / total,
                       1e-9) for level in names}


def _bounded(m: dict[str, float], prior: dict[str, float]) -> dict[str, float]:
    """m kept within a factor M_DRIFT of the default m, level by level, renormalised: EM
    over a list made mostly of look-alikes must not turn a level's meaning around."""
    kept = {level: min(max(value, prior[level] / M_DRIFT), prior[level] * M_DRIFT)
            for level, value in m.items()}
    total = sum(kept.values())
    return {level: value / total for level, value in kept.items()}


def fitted_mu(m: Mapping[str, dict[str, float]], u: Mapping[str, dict[str, float]],
              mu: Mapping = DEFAULT_MU) -> dict[str, dict[str, tuple[float, float]]]:
    """The (m, u) table: fitted where a field was learnt, the defaults elsewhere."""
    out = {}
    for name, defaults in mu.items():
        if name in m and name in u:
            out[name] = {level: (m[name][level], u[name][level]) for level in defaults}
        else:
            out[name] = dict(defaults)
    return out


def matches_prior_bits(share: float, candidates: int, population: int) -> float:
    """log2 prior odds of a random pair matching, from the share of matches among the
    candidate pairs (between MIN_ and MAX_MATCHES_PER_RECORD per record)."""
    total = population * (population - 1) / 2.0
    matches = min(max(share * candidates, MIN_MATCHES_PER_RECORD * population, 1.0),
                  MAX_MATCHES_PER_RECORD * population)
    return math.log2(matches / max(total - matches, 1.0))


def with_counts(model: Model, base: Model) -> Model:
    """A stored `model`'s weights with `base`'s term counts (those of the current data)."""
    out = Model(mu=model.mu, prior_bits=model.prior_bits, counts=base.counts,
                population=base.population, fitted_at=model.fitted_at,
                fitted_rows=model.fitted_rows)
    out.counted_from = base.counted_from
    return out


def label_m(m: dict[str, dict[str, float]], levels: Mapping[str, np.ndarray],
            mu: Mapping = DEFAULT_MU) -> dict[str, dict[str, float]]:
    """m refined by pairs labelled "same": each field's level shares among the labelled
    pairs that have it, blended with `m` as if `m` were M_PRIOR_PAIRS pairs. Fields with
    fewer than MIN_LABELS labelled pairs keep `m`."""
    out = {name: dict(levels_m) for name, levels_m in m.items()}
    for name, codes, names in _field_arrays(mu, levels):
        present = int(np.count_nonzero(codes))
        if name not in out or present < MIN_LABELS:
            continue
        seen = {level: float(np.count_nonzero(codes == LEVEL_CODES[level])) for level in names}
        out[name] = {level: max((seen[level] + M_PRIOR_PAIRS * out[name][level])
                                / (present + M_PRIOR_PAIRS), 1e-9) for level in names}
    return out


def _em_twice(columns: RecordColumns, base: Model, sample: np.ndarray
              ) -> tuple[dict, float, dict]:
    """(m, share of matches, u): u from random pairs, EM over `sample`; then u again
    without the random pairs the EM took for matches, and the EM once more."""
    n = columns.size
    randoms = random_pairs(n, RANDOM_PAIRS)
    random_levels = level_table(columns, base, randoms)
    u = estimate_u(random_levels, base.mu)
    candidate_levels = level_table(columns, base, sample)
    start = min(max(START_DUPLICATES_PER_RECORD * n / max(len(sample), 1), 0.01), 0.5)
    m, share, posteriors, starts = _best_em(candidate_levels, u, base.mu, start)
    likely = sample[posteriors[0] > 0.5] if len(sample) else sample
    taken = np.isin(randoms[:, 0] * n + randoms[:, 1], likely[:, 0] * n + likely[:, 1])
    if not taken.any():
        return m, share, u
    u = estimate_u({name: codes[~taken] for name, codes in random_levels.items()}, base.mu)
    m, share = em_fit(candidate_levels, u, base.mu, **starts)
    return m, share, u


def _best_em(levels: Mapping[str, np.ndarray], u: Mapping, mu: Mapping, start: float
             ) -> tuple[dict, float, list, dict]:
    """EM from two starts (non-matches like random pairs, half the candidates matches;
    non-matches like the candidates, `start` of them matches): the fit with the higher
    likelihood, its posteriors and log-likelihood, and its start."""
    best: tuple | None = None
    for starts in ({"start_share": 0.5}, {"start_share": start, "from_candidates": True}):
        posteriors: list = []
        m, share = em_fit(levels, u, mu, posteriors=posteriors, **starts)
        if posteriors and (best is None or posteriors[1] > best[2][1]):
            best = (m, share, posteriors, starts)
    if best is None:
        m, share = em_fit(levels, u, mu)
        return m, share, [np.zeros(0), 0.0], {}
    return best


def fit_model(columns: RecordColumns, candidates: np.ndarray, base: Model, *,
              fitted_at: str | None = None, same_pairs: np.ndarray | None = None) -> Model:
    """A model fitted to the records folded into `columns` and their candidate pairs
    (positions); `base`'s term counts are kept. `same_pairs`: pairs (positions) labelled
    as the same customer, which refine m once there are MIN_LABELS of them. Returns
    `base` itself for lists smaller than MIN_FIT_RECORDS."""
    n = columns.size
    if n < MIN_FIT_RECORDS:
        return base
    sample = candidates
    if len(sample) > EM_PAIRS:
        sample = candidates[np.random.default_rng(23).choice(len(candidates), EM_PAIRS,
                                                              replace=False)]
    m, share, u = _em_twice(columns, base, sample)
    if same_pairs is not None and len(same_pairs) >= MIN_LABELS:
        m = label_m(m, level_table(columns, base, same_pairs), base.mu)
    model = Model(mu=fitted_mu(m, u, base.mu),
                  prior_bits=matches_prior_bits(share, len(candidates), n),
                  counts=base.counts, population=base.population,
                  fitted_at=fitted_at, fitted_rows=n)
    model.counted_from = base.counted_from
    return model


def model_to_dict(model: Model) -> dict[str, Any]:
    """The model as JSON-able data: format, fit date and row count, prior, m/u table.
    Term counts are not kept (they are counted again from the data)."""
    return {"format": FORMAT, "fitted_at": model.fitted_at, "rows": model.fitted_rows,
            "prior_bits": model.prior_bits,
            "mu": {name: {level: [m, u] for level, (m, u) in levels.items()}
                   for name, levels in model.mu.items()}}


def model_from_dict(data: Mapping[str, Any]) -> Model:
    """The model `model_to_dict` gave (ValueError when it is not one)."""
    if data.get("format") != FORMAT or not isinstance(data.get("mu"), dict):
        raise ValueError(f"not a stored dedupe model (format {FORMAT})")
    mu = {name: {level: (float(m), float(u)) for level, (m, u) in levels.items()}
          for name, levels in data["mu"].items()}
    return Model(mu=mu, prior_bits=float(data["prior_bits"]), fitted_at=data.get("fitted_at"),
                 fitted_rows=int(data.get("rows") or 0))


def model_table(model: Model) -> list[dict[str, Any]]:
    """One row per field and level: field, level, m, u, bits (log2 m/u), for `--model`."""
    return [{"field": name, "level": level, "m": round(m, 6), "u": float(f"{u:.4g}"),
             "bits": round(math.log2(m / u), 2)}
            for name, levels in model.mu.items() for level, (m, u) in levels.items()]


__all__ = ["LEVEL_NAMES", "em_fit", "label_m", "with_counts", "estimate_u", "fit_model", "fitted_mu", "level_table",
           "matches_prior_bits", "model_from_dict", "model_table", "model_to_dict",
           "random_pairs"]
