"""Duplicate detection: blocking -> pair scoring -> clustering, over plain contact rows.

`find_duplicates(rows)` runs the three stages; each stage is usable on its own
(`candidate_pairs`, `score_pair`, `clusters`), and `merged_values` applies the
survivorship rules to one cluster's rows.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from custdata.dedupe.blocking import BlockingStats, candidate_pairs
from custdata.dedupe.cluster import Cluster, clusters, evidence_probability
from custdata.dedupe.compare import (
    Model, PairScore, build_model, pair_bits, probability, score_pair, threshold_bits,
)
from custdata.dedupe.features import Record, to_record, to_records
from custdata.dedupe.survivorship import choose_survivor, merged_values

DEFAULT_THRESHOLD = 0.99
DEFAULT_MIN_COHERENCE = 0.5
DEFAULT_DUPLICATE_RATE = 0.25


@dataclass
class DedupeResult:
    """Clusters (members are row ids), the scored links, and the blocking figures."""

    clusters: list[Cluster]
    links: dict[tuple, PairScore] = field(default_factory=dict)
    stats: BlockingStats = field(default_factory=BlockingStats)
    model: Model | None = None
    records: dict[Any, Record] = field(default_factory=dict)

    def explain(self, a: Any, b: Any) -> PairScore:
        """The pair's score with per-field contributions (scored now if not a link)."""
        if (a, b) in self.links:
            return self.links[(a, b)]
        return score_pair(self.records[a], self.records[b], self.model)


_JOB: tuple = ()


def _score_chunk(bounds: tuple[int, int]) -> list[tuple[int, int]]:
    records, pairs, model, need = _JOB
    out = []
    for i, j in pairs[bounds[0]:bounds[1]].tolist():
        if pair_bits(records[i], records[j], model) >= need:
            out.append((i, j))
    return out


def strong_pairs(records: Sequence[Record], pairs: Any, model: Model, need: float, *,
                 workers: int = 0) -> list[tuple[int, int]]:
    """Candidate pairs (positions) with at least `need` bits of evidence, in order.

    Large jobs are split over forked worker processes (they share the records
    copy-on-write); the result does not depend on the number of workers.
    """
    global _JOB
    if workers <= 0:
        workers = min(os.cpu_count() or 1, 4) if len(pairs) >= 200_000 else 1
    chunk = 50_000
    bounds = [(k, min(k + chunk, len(pairs))) for k in range(0, len(pairs), chunk)]
    _JOB = (records, pairs, model, need)
    try:
        if workers == 1 or len(bounds) < 2 or "fork" not in mp.get_all_start_methods():
            return [p for b in bounds for p in _score_chunk(b)]
        with mp.get_context("fork").Pool(workers) as pool:
            return [p for part in pool.map(_score_chunk, bounds) for p in part]
    finally:
        _JOB = ()


def find_duplicates(rows: Sequence[Mapping[str, Any]], *, threshold: float = DEFAULT_THRESHOLD,
                    min_coherence: float = DEFAULT_MIN_COHERENCE, region: str = "CN",
                    prior_bits: float | None = None, duplicate_rate: float = DEFAULT_DUPLICATE_RATE,
                    max_block: int = 8, window: int = 3) -> DedupeResult:
    """Clusters of rows that describe the same customer. Rows need distinct `id`s
    (their position is used when they have none)."""
    records = to_records(list(rows), region=region)
    return find_duplicate_records(records, threshold=threshold, min_coherence=min_coherence,
                                  prior_bits=prior_bits, duplicate_rate=duplicate_rate,
                                  max_block=max_block, window=window)


def find_duplicate_records(records: Sequence[Record], *, threshold: float = DEFAULT_THRESHOLD,
                           min_coherence: float = DEFAULT_MIN_COHERENCE,
                           prior_bits: float | None = None,
                           duplicate_rate: float = DEFAULT_DUPLICATE_RATE, max_block: int = 8,
                           window: int = 3, workers: int = 0) -> DedupeResult:
    """`find_duplicates` over records already folded with `to_record`.

    `workers`: processes that score the candidate pairs (0: one per CPU for large jobs).
    """
    model = build_model(records, prior_bits=prior_bits, duplicate_rate=duplicate_rate)
    pairs, stats = candidate_pairs(records, max_block=max_block, window=window)
    links: dict[tuple, PairScore] = {}
    need = threshold_bits(threshold, model)
    for i, j in strong_pairs(records, pairs, model, need, workers=workers):
        scored = score_pair(records[i], records[j], model)
        links[(scored.a, scored.b)] = scored
    by_id = {r.id: r for r in records}

    def rescore(a: Any, b: Any) -> tuple[float, float]:
        scored = score_pair(by_id[a], by_id[b], model)
        return scored.probability, scored.bits

    found = clusters(((s.a, s.b, s.probability, s.bits) for s in links.values()), threshold,
                     min_coherence=min_coherence, rescore=rescore)
    return DedupeResult(found, links, stats, model, by_id)


__all__ = [
    "BlockingStats", "Cluster", "DedupeResult", "Model", "PairScore", "Record",
    "build_model", "candidate_pairs", "pair_bits", "probability", "threshold_bits", "choose_survivor", "clusters", "evidence_probability",
    "find_duplicates", "find_duplicate_records", "strong_pairs", "merged_values", "score_pair", "to_record",
    "to_records",
]
