"""Duplicate detection: blocking -> pair scoring -> clustering, over plain contact rows.

`find_duplicates(rows)` runs the three stages; each stage is usable on its own
(`candidate_pairs`, `score_pair`, `clusters`), and `merged_values` applies the
survivorship rules to one cluster's rows.

For large stores the records are first folded into integer columns (`record_columns`),
which blocking keys on and the model counts from, and the candidate pairs are scored in
bulk (`many_pair_bits`: the same bits as `pair_bits`, pair for pair) by forked workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from custdata.dedupe.blocking import (
    BlockingReport, BlockingStats, blocking_report, candidate_pairs, pipeline_window,
)
from custdata.dedupe.bulk import many_pair_bits
from custdata.dedupe.cluster import Cluster, JoinRule, clusters, evidence_probability
from custdata.dedupe.columns import RecordColumns, record_columns
from custdata.dedupe.compare import (
    Model, PairScore, build_model, pair_bits, probability, score_pair, threshold_bits,
)
from custdata.dedupe.explain import PairExplanation, explain_pair
from custdata.dedupe.features import Record, to_record, to_records
from custdata.dedupe.fit import (
    MIN_FIT_RECORDS, fit_model, model_from_dict, model_table, model_to_dict, with_counts,
)
from custdata.dedupe.survivorship import choose_survivor, merged_values

DEFAULT_THRESHOLD = 0.99
DEFAULT_MIN_COHERENCE = 0.5
DEFAULT_DUPLICATE_RATE = 0.25
JOIN_FLOOR = 0.01  # least probability of any pair across two joining groups: none may be
# a plain non-match; the mean evidence across them must clear the threshold as well. (Not
# 0.5: in a group of five records typed by hand, two copies that each lost a different
# field score under 0.5 against each other while each matches the other three.)


@dataclass
class DedupeResult:
    """Clusters (members are row ids), the scored links, and the blocking figures."""

    clusters: list[Cluster]
    links: Mapping[tuple, PairScore] = field(default_factory=dict)
    stats: BlockingStats = field(default_factory=BlockingStats)
    model: Model | None = None
    records: dict[Any, Record] = field(default_factory=dict)
    # (id a, id b, probability, bits) of the pairs under the threshold kept for review
    uncertain: list[tuple[Any, Any, float, float]] = field(default_factory=list)

    def explain(self, a: Any, b: Any) -> PairScore:
        """The pair's score with per-field contributions (scored now if not a link)."""
        if (a, b) in self.links:
            return self.links[(a, b)]
        return score_pair(self.records[a], self.records[b], self.model)


def strong_links(records: Sequence[Record], pairs: Any, model: Model, need: float, *,
                 workers: int = 0, columns: RecordColumns | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (rows of record positions) with at least `need` bits of evidence,
    in order, and their bits (`pair_bits`).

    Large jobs are split over forked worker processes (see `many_pair_bits`); the result
    does not depend on the number of workers. `columns`: `record_columns(records)`.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    bits = many_pair_bits(records, pairs, model, workers=workers, columns=columns)
    keep = bits >= need
    return pairs[keep], bits[keep]


def strong_pairs(records: Sequence[Record], pairs: Any, model: Model, need: float, *,
                 workers: int = 0) -> list[tuple[int, int]]:
    """Candidate pairs (positions) with at least `need` bits of evidence, in order."""
    kept, _ = strong_links(records, pairs, model, need, workers=workers)
    return [(i, j) for i, j in kept.tolist()]


class Links(Mapping):
    """Scored links by (id a, id b). Probability and bits are known up front; the
    per-field detail (`PairScore`) is worked out when a link is looked up."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._pairs: dict[tuple, tuple[Record, Record, float, float]] = {}

    def add(self, a: Record, b: Record, bits: float) -> None:
        self._pairs[(a.id, b.id)] = (a, b, probability(bits, self.model), bits)

    def pairs(self) -> Iterator[tuple[Any, Any, float, float]]:
        """(a, b, probability, bits) of every link, in order."""
        for (a, b), (_, _, p, bits) in self._pairs.items():
            yield a, b, p, bits

    def __getitem__(self, key: tuple) -> PairScore:
        ra, rb, _, _ = self._pairs[key]
        return score_pair(ra, rb, self.model)

    def __contains__(self, key: object) -> bool:
        return key in self._pairs

    def __iter__(self) -> Iterator[tuple]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)


def find_duplicates(rows: Sequence[Mapping[str, Any]], *, threshold: float = DEFAULT_THRESHOLD,
                    min_coherence: float = DEFAULT_MIN_COHERENCE, region: str = "CN",
                    prior_bits: float | None = None, duplicate_rate: float = DEFAULT_DUPLICATE_RATE,
                    max_block: int = 8, window: int = 3, identifiers: tuple[str, ...] = (),
                    labels: Iterable[tuple[Any, Any, bool]] = ()) -> DedupeResult:
    """Clusters of rows that describe the same customer. Rows need distinct `id`s
    (their position is used when they have none). `identifiers`: columns (in the row or
    its `extra`) compared, blocked on and fitted as identifiers; `labels`: see
    `find_duplicate_records`."""
    records = to_records(list(rows), region=region, identifiers=tuple(identifiers))
    return find_duplicate_records(records, threshold=threshold, min_coherence=min_coherence,
                                  prior_bits=prior_bits, duplicate_rate=duplicate_rate,
                                  max_block=max_block, window=window, labels=labels)


def find_duplicate_records(records: Sequence[Record], *, threshold: float = DEFAULT_THRESHOLD,
                           min_coherence: float = DEFAULT_MIN_COHERENCE,
                           prior_bits: float | None = None,
                           duplicate_rate: float = DEFAULT_DUPLICATE_RATE, max_block: int = 8,
                           window: int = 3, workers: int = 0, fit: bool = True,
                           fitted_at: str | None = None, model: Model | None = None,
                           labels: Iterable[tuple[Any, Any, bool]] = (),
                           review_floor: float | None = None) -> DedupeResult:
    """`find_duplicates` over records already folded with `to_record`.

    `workers`: processes that score the candidate pairs (0: one per CPU for large jobs).
    `fit`: fit the model to these records (`fit.fit_model`; lists of fewer than
    MIN_FIT_RECORDS, or a given `prior_bits`, keep the hand-set defaults); `fitted_at`:
    the date to stamp on the fitted model. `model`: a stored model (`model_from_dict`) to
    use instead of fitting. `labels`: (id a, id b, same) decisions: a pair labelled same is
    always clustered, one labelled different never is, and enough same labels refine m.
    `review_floor`: also keep the unlabelled candidate pairs scored from this probability
    up to the threshold (`DedupeResult.uncertain`, likeliest first) for a person to review.
    """
    columns = record_columns(records)
    base = build_model(records, prior_bits=prior_bits, duplicate_rate=duplicate_rate,
                       columns=columns)
    pairs, stats = candidate_pairs(records, max_block=max_block,
                                   window=pipeline_window(window), columns=columns)
    labels = [(a, b, bool(same)) for a, b, same in labels]
    same = _same_positions(records, labels)
    if model is not None:
        model = with_counts(model, base)
    elif fit and prior_bits is None:
        model = fit_model(columns, pairs, base, fitted_at=fitted_at, same_pairs=same)
    else:
        model = base
    links = Links(model)
    need = threshold_bits(threshold, model)
    floor = need if review_floor is None else min(need, threshold_bits(review_floor, model))
    kept, bits = strong_links(records, pairs, model, floor, workers=workers, columns=columns)
    uncertain = []
    for (i, j), evidence in zip(kept.tolist(), bits.tolist()):
        if evidence >= need:
            links.add(records[i], records[j], evidence)
        else:
            uncertain.append((records[i].id, records[j].id, probability(evidence, model),
                              evidence))
    by_id = {r.id: r for r in records}
    rule = _join_rule(labels, need, threshold_bits(JOIN_FLOOR, model))
    for a, b, yes in labels:
        if yes and a in by_id and b in by_id and (a, b) not in links and (b, a) not in links:
            links.add(by_id[a], by_id[b], pair_bits(by_id[a], by_id[b], model))

    def rescore(a: Any, b: Any) -> tuple[float, float]:
        scored = score_pair(by_id[a], by_id[b], model)
        return scored.probability, scored.bits

    found = clusters(links.pairs(), threshold, min_coherence=min_coherence, rescore=rescore,
                     rule=rule)
    decided = {frozenset((a, b)) for a, b, _ in labels}
    uncertain = sorted((u for u in uncertain if frozenset(u[:2]) not in decided),
                       key=lambda u: -u[3])
    return DedupeResult(found, links, stats, model, by_id, uncertain)


def _same_positions(records: Sequence[Record], labels: Iterable[tuple[Any, Any, bool]]
                    ) -> np.ndarray:
    """Pairs (positions in `records`) labelled the same customer, as an (n, 2) array."""
    position = {r.id: i for i, r in enumerate(records)}
    return np.array([(position[a], position[b]) for a, b, yes in labels
                     if yes and a in position and b in position], dtype=np.int64).reshape(-1, 2)


def learn_model(records: Sequence[Record], *, duplicate_rate: float = DEFAULT_DUPLICATE_RATE,
                max_block: int = 8, window: int = 3, fitted_at: str | None = None,
                labels: Iterable[tuple[Any, Any, bool]] = (), **_: Any) -> Model:
    """The model `find_duplicate_records` would fit to `records` (with `labels`), without
    scoring or clustering: for storing and showing it. Lists under MIN_FIT_RECORDS get the
    hand-set defaults (fitted_rows 0). Other keyword options are accepted and ignored."""
    columns = record_columns(records)
    base = build_model(records, duplicate_rate=duplicate_rate, columns=columns)
    pairs, _ = candidate_pairs(records, max_block=max_block, window=pipeline_window(window),
                               columns=columns)
    return fit_model(columns, pairs, base, fitted_at=fitted_at,
                     same_pairs=_same_positions(records, list(labels)))


def _join_rule(labels: list[tuple[Any, Any, bool]], need: float, floor: float) -> JoinRule:
    return JoinRule(need=need, floor=floor,
                    forbid=frozenset(frozenset((a, b)) for a, b, yes in labels if not yes),
                    force=frozenset(frozenset((a, b)) for a, b, yes in labels if yes))


__all__ = [
    "BlockingReport", "BlockingStats", "Cluster", "DedupeResult", "JoinRule", "Links", "Model",
    "PairExplanation", "PairScore", "Record", "blocking_report", "explain_pair",
    "JOIN_FLOOR", "RecordColumns", "build_model", "candidate_pairs", "choose_survivor", "clusters",
    "evidence_probability", "find_duplicate_records", "fit_model", "learn_model", "model_from_dict",
    "model_table", "model_to_dict", "MIN_FIT_RECORDS", "with_counts", "find_duplicates", "many_pair_bits",
    "merged_values", "pair_bits", "pipeline_window", "probability", "record_columns", "score_pair",
    "strong_links", "strong_pairs", "threshold_bits", "to_record", "to_records",
]
