"""Why two records were, or were not, matched: blocking rules, field levels, score.

`explain_pair` answers for any two records of a list, compared or not: which blocking
rules give them the same key (and whether blocking really pairs them: a block over the
cap pairs only sorted neighbours), each rule's two keys when none does, each field's
agreement level and bits under the model, and the match probability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from custdata.dedupe.blocking import RULES, candidate_pairs, pipeline_window
from custdata.dedupe.columns import record_columns
from custdata.dedupe.compare import Model, build_model, score_pair
from custdata.dedupe.features import Record
from custdata.dedupe.fit import fit_model, with_counts


@dataclass(frozen=True)
class PairExplanation:
    """`compared`: blocking makes them a candidate pair; `rules`: the rules under which
    they share a key; `keys`: every rule's (key of a, key of b) (None: no key);
    `contributions`: (field, level, bits); `bits`, `probability`: the score."""

    a: Any
    b: Any
    compared: bool
    rules: tuple[str, ...]
    keys: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    contributions: tuple[tuple[str, str, float], ...] = ()
    bits: float = 0.0
    probability: float = 0.0

    def blocking_verdict(self) -> str:
        """One sentence: which rule pairs them, or why none does."""
        if self.compared:
            return f"compared: blocking rule(s) {', '.join(self.rules)}"
        if self.rules:
            return (f"never compared: they share a key under {', '.join(self.rules)}, but in "
                    "a block over the cap where they are not sorted neighbours")
        return "never compared: no blocking rule gives them the same key"


def _keys(ra: Record, rb: Record) -> dict[str, tuple[str | None, str | None]]:
    return {rule: (key_of(ra) or None, key_of(rb) or None) for rule, key_of in RULES.items()}


def explain_pair(records: Sequence[Record], a: Any, b: Any, *, model: Model | None = None,
                 max_block: int = 8, window: int = 3) -> PairExplanation:
    """The explanation of records with ids `a` and `b` within `records` (KeyError when
    either id is not there). Without `model`, the model is fitted as
    `find_duplicate_records` fits it."""
    position = {r.id: i for i, r in enumerate(records)}
    i, j = sorted((position[a], position[b]))
    columns = record_columns(records)
    pairs, _ = candidate_pairs(records, max_block=max_block, window=pipeline_window(window),
                               columns=columns)
    if model is None:
        model = fit_model(columns, pairs, build_model(records, columns=columns))
    elif not model.counts:  # a stored model: the term counts are those of these records
        model = with_counts(model, build_model(records, columns=columns))
    compared = bool(np.any((pairs[:, 0] == i) & (pairs[:, 1] == j))) if len(pairs) else False
    ra, rb = records[position[a]], records[position[b]]
    keys = _keys(ra, rb)
    shared = tuple(rule for rule, (x, y) in keys.items() if x is not None and x == y)
    scored = score_pair(ra, rb, model)
    return PairExplanation(a, b, compared, shared, keys, scored.contributions, scored.bits,
                           scored.probability)
