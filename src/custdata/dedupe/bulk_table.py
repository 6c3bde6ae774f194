"""The table bulk scoring compares (`bulk.py`): each record's values as integer codes
(equal codes, equal values), derived values once per distinct value, and what the
field levels (`bulk_levels.py`) share: level codes, the memo of distinct pairs,
rapidfuzz batches, digit slips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from custdata.dedupe.columns import (
    TF_COLUMNS, RecordColumns, factorize, lengths, with_missing,
)
from custdata.dedupe.compare import (
    ALIAS, CLOSE, DIFFERENT, EXACT, PARTIAL, SHARED, STREET, Model,
)

NONE, EX, AL, CL, DI, PA, SH, ST = 0, 1, 2, 3, 4, 5, 6, 7  # agreement levels as integers
LEVEL_NAMES = {EX: EXACT, AL: ALIAS, CL: CLOSE, DI: DIFFERENT, PA: PARTIAL, SH: SHARED,
               ST: STREET}
LEVEL_COUNT = 8
LEVEL_CODES = {None: NONE, **{name: code for code, name in LEVEL_NAMES.items()}}

_TRUTHY = ("ext", "idk", "idn", "ek", "em", "pk", "ph", "bd", "gd", "po", "pv", "oid")
# Derived columns (columns.DERIVED) the levels read, and the columns rapidfuzz scores.
_MAPPED = ("nh", "nk", "el", "ed", "pt", "by", "adg", "cns", "ast", "asn", "ans", "stn")
_SCORED = ("idn", "el", "ed", "ph", "bd", "co", "cns", "po", "ast", "asn", "ad", "ans")
GRID_LIMIT = 4096  # distinct companies up to which pair verdicts are kept in a grid


@dataclass
class RecordTable:
    """What `table_bits` looks up. `codes`/`truthy`: per record (see RecordColumns);
    `derived[col]`: per distinct value of its parent column, the derived value's code;
    `values`/`lengths`/`objects`: each column's distinct values, their lengths, and (for
    the columns rapidfuzz scores) the values as an array; `chars[col]`: digit columns as
    code point rows (`_char_matrix`); `tf[field]`: per record, the count that picks the
    more common side and the count `Model.count_bits` weighs (-1: fixed weights);
    `memo[col]` and `grids[col]`: verdicts already worked out, by pair of codes (each
    process keeps its own)."""

    model: Model
    codes: dict[str, np.ndarray]
    values: dict[str, list]
    truthy: dict[str, np.ndarray] = field(default_factory=dict)
    derived: dict[str, np.ndarray] = field(default_factory=dict)
    lengths: dict[str, np.ndarray] = field(default_factory=dict)
    objects: dict[str, np.ndarray] = field(default_factory=dict)
    chars: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    memo: dict[str, dict[int, int]] = field(default_factory=dict)
    grids: dict[str, np.ndarray] = field(default_factory=dict)
    han: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    shared: dict[str, Any] = field(default_factory=dict)  # RecordColumns.shared
    tf: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def record_table(columns: RecordColumns, model: Model) -> RecordTable:
    """The table `table_bits` compares, for records folded into `columns`."""
    t = RecordTable(model, columns.codes, dict(columns.values))  # columns stay as they are
    t.memo = columns.level_memo
    t.shared = columns.shared
    for col in _TRUTHY:
        t.truthy[col] = columns.truthy(col)
    for col in _MAPPED:
        t.derived[col], t.values[col] = columns.mapping(col)
    # Month and day share one numbering, so a swapped month and day compare equal.
    births = t.values["bd"]
    parts, _ = factorize([b[4:6] for b in births] + [b[6:8] for b in births])
    t.derived["bm"], t.derived["bdd"] = with_missing(parts[:len(births)]), with_missing(
        parts[len(births):])
    for col in ("idn", "el", "ph", "bd", "po"):
        t.lengths[col] = with_missing(lengths(t.values[col]))
    for col in _SCORED:
        t.objects[col] = np.empty(len(t.values[col]), dtype=object)
        t.objects[col][:] = t.values[col]
    for col in ("idn", "ph", "bd", "po"):
        t.chars[col] = _char_matrix(t.values[col])
    t.han = t.derived["nh"][t.codes["nm"]] >= 0
    for name, col in TF_COLUMNS.items():
        t.tf[name] = _term_counts(columns, name, col, model)
    return t


def _term_counts(columns: RecordColumns, name: str, col: str, model: Model
                 ) -> tuple[np.ndarray, np.ndarray]:
    codes, distinct = columns.column(col)
    counts = model.counts.get(name)
    if counts is None:
        return np.zeros(len(codes), np.int64), np.full(len(codes), -1, np.int64)
    if model.counted_over(columns):  # the counts are these codes' counts
        held = np.bincount(codes[codes >= 0], minlength=len(distinct))
        return with_missing(held, 0)[codes], with_missing(held, -1)[codes]
    seen = with_missing([counts.get(v, 0) for v in distinct], 0)[codes]
    weighed = with_missing([counts.get(v, 2) for v in distinct], -1)[codes]
    return seen, weighed


def _per_distinct_pair(t: RecordTable, col: str, x: np.ndarray, y: np.ndarray,
                       level: Callable[[Any, Any], str | None],
                       many: Callable[[np.ndarray, np.ndarray], list] | None = None
                       ) -> np.ndarray:
    """The level code of level(values[x[k]], values[y[k]]) for every k, worked out once per
    distinct (x, y) and remembered in `t.memo[col]`. `many(xs, ys)`: the levels of many
    pairs of codes at once (the same as `level`'s), used for the pairs not remembered."""
    if not len(x):
        return np.zeros(0, np.int8)
    memo = t.memo.setdefault(col, {})
    values = t.values[col]
    keys, first, inverse = np.unique(x * (len(values) + 1) + y, return_index=True,
                                     return_inverse=True)
    key_list = keys.tolist()
    codes = np.fromiter(map(memo.get, key_list, [-1] * len(key_list)), dtype=np.int8,
                        count=len(key_list))
    todo = np.flatnonzero(codes < 0)
    if len(todo):
        tx, ty = x[first[todo]], y[first[todo]]
        found = (many(tx, ty) if many is not None else
                 [level(values[a], values[b]) for a, b in zip(tx.tolist(), ty.tolist())])
        codes[todo] = [LEVEL_CODES[f] for f in found]
        memo.update(zip(keys[todo].tolist(), codes[todo].tolist()))
    return codes[inverse.ravel()]


def _scores(column: np.ndarray, x: np.ndarray, y: np.ndarray, scorer: Callable,
            cutoff: float | None = None) -> np.ndarray:
    """scorer(column[x[k]], column[y[k]]) for every k, in one rapidfuzz batch (with a
    `cutoff`: 0 for scores under it)."""
    if not len(x):
        return np.zeros(0)
    dtype = np.float64 if scorer is not DamerauLevenshtein.distance else np.int64
    return process.cpdist(column[x].tolist(), column[y].tolist(), scorer=scorer, dtype=dtype,
                          workers=1, score_cutoff=cutoff)


def _near_digits(t: RecordTable, col: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """compare._near_digits of the values coded x and y: same length, one slip at most.

    Only pairs that differ in at most two places (a swap changes two) are scored.
    """
    out = np.zeros(len(x), bool)
    matrix, long = t.chars[col]
    same = np.flatnonzero(t.lengths[col][x] == t.lengths[col][y])
    few = ((matrix[x[same]] != matrix[y[same]]).sum(axis=1) <= 2) | long[x[same]]
    check = same[few]
    out[check] = _scores(t.objects[col], x[check], y[check], DamerauLevenshtein.distance) <= 1
    return out


def _char_matrix(values: list[str], width: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Values as rows of code points (zero-padded to the longest, at most `width`), and
    which values are longer than that (their rows are empty)."""
    sizes = lengths(values)
    size = max(1, min(int(sizes.max(initial=0)), width))
    long = sizes > size
    if long.any():
        values = [v if len(v) <= size else "" for v in values]
    matrix = np.array(values, dtype=f"<U{size}").view(np.uint32).reshape(len(values), size)
    if matrix.size and int(matrix.max()) < 256:
        matrix = matrix.astype(np.uint8)
    return matrix, long


def _exact_or_different(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both = (a >= 0) & (b >= 0)
    return np.where(both, np.where(a == b, EX, DI), NONE).astype(np.int8)


def _key_levels(t: RecordTable, col: str, ia: np.ndarray, ib: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Exact if a key agrees, different if both have keys, else none; and `exact`."""
    levels = _exact_or_different(t.truthy[col][ia], t.truthy[col][ib])
    return levels, levels == EX


def _key_misses(t: RecordTable, key: str, value: str, ia: np.ndarray, ib: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The key's levels, and the pairs (positions, value codes x, y) whose keys do not
    agree but who both have a `value`: the ones a typing-slip check may still bring close."""
    levels, exact = _key_levels(t, key, ia, ib)
    x, y = t.truthy[value][ia], t.truthy[value][ib]
    rest = np.flatnonzero(~exact & (x >= 0) & (y >= 0))
    return levels, rest, x[rest], y[rest]
