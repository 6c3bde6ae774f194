"""Evidence of many pairs at once: `compare.pair_bits` over numpy arrays.

`record_table` (bulk_table.py) folds each record's values once into integer codes (equal
codes, equal values), so exact agreement, term frequencies and weights become array
look-ups. Only pairs whose values differ are compared further (`table_levels`,
bulk_levels.py): edit distances and ratios by rapidfuzz's batch `cpdist` (the scorers
`compare` calls one pair at a time), names, addresses and cities once per distinct pair
of values.

`table_bits` returns, pair for pair, the float `pair_bits` returns: each field's bits
come from the same `Model` arithmetic and are added in the same order.
"""

from __future__ import annotations

import multiprocessing
from typing import Any, Sequence

import numpy as np

from custdata.dedupe.bulk_levels import table_levels
from custdata.dedupe.bulk_table import (  # noqa: F401  (names bulk's callers import)
    AL, CL, DI, EX, LEVEL_CODES, LEVEL_COUNT, LEVEL_NAMES, NONE, PA, SH, ST, RecordTable,
    _char_matrix, _near_digits, record_table,
)
from custdata.dedupe.columns import RecordColumns, record_columns
from custdata.dedupe.compare import SITE_OVERLAP, TF_FIELDS, Model
from custdata.dedupe.features import Record
from custdata.parallel import default_workers, map_chunks


def _field_bits(t: RecordTable, name: str, levels: np.ndarray, ia: np.ndarray,
                ib: np.ndarray) -> np.ndarray:
    """Each pair's bits for one field (0 where the level is none), as compare._field_bits."""
    out = np.zeros(len(levels))
    for code in np.flatnonzero(np.bincount(levels, minlength=LEVEL_COUNT)).tolist():
        if code == NONE:
            continue
        level = LEVEL_NAMES[code]
        at = levels == code
        weighed = np.zeros(len(levels), bool)
        if name in TF_FIELDS and code in (EX, AL):
            weighed = at
        elif name == "name":
            weighed = at & t.han[ia]
        if weighed.any():
            out[weighed] = _term_bits(t, name, level, ia[weighed], ib[weighed])
        fixed = at & ~weighed
        if fixed.any():
            out[fixed] = t.model.fixed[(name, level)]
    return out


def _term_bits(t: RecordTable, name: str, level: str, ia: np.ndarray, ib: np.ndarray
               ) -> np.ndarray:
    """Bits weighed by the frequency of the more common of the two values (the weaker
    evidence), as compare._field_bits picks it."""
    seen, weighed = t.tf[name]
    count = np.where(seen[ib] > seen[ia], weighed[ib], weighed[ia]) + 1  # -1 (fixed) -> 0
    model = t.model
    table = np.zeros(int(count.max(initial=0)) + 1)
    for c in np.flatnonzero(np.bincount(count)).tolist():
        table[c] = model.fixed[(name, level)] if c == 0 else model.count_bits(name, level, c - 1)
    return table[count]




def table_bits(t: RecordTable, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """`pair_bits(records[ia[k]], records[ib[k]], model)` for every k, as one array."""
    ia, ib = np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)
    fields = [(name, _field_bits(t, name, levels, ia, ib))
              for name, levels in table_levels(t, ia, ib)]
    bits = dict(fields)
    phone, address = bits["phone"], bits["address"]
    both = (phone > 0) & (address > 0)  # one site: the weaker counts SITE_OVERLAP
    weaker_phone = both & (phone <= address)
    phone[weaker_phone] *= SITE_OVERLAP
    address[both & ~weaker_phone] *= SITE_OVERLAP
    total = np.zeros(len(ia))
    for _, field_bits in fields:  # summed in compare._levels' order: the same float
        total += field_bits
    return total


_JOB: tuple = ()  # (table, pairs) for forked workers, which inherit it


def _chunk_bits(bounds: list[tuple[int, int]]) -> list[np.ndarray]:
    table, pairs = _JOB
    return [table_bits(table, pairs[lo:hi, 0], pairs[lo:hi, 1]) for lo, hi in bounds]


def many_pair_bits(records: Sequence[Record], pairs: Any, model: Model, *, workers: int = 0,
                   chunk: int = 100_000, columns: RecordColumns | None = None) -> np.ndarray:
    """`pair_bits` of each row (i, j) of `pairs` (record positions), as an array in order.

    `workers`: processes (0: one per core, at most 4, for 200,000 pairs or more). They are
    forked and share the records' table copy-on-write; the result does not depend on it.
    `columns`: `record_columns(records)`, if already made.
    """
    global _JOB
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if not len(pairs):
        return np.zeros(0)
    table = record_table(columns or record_columns(records), model)
    if workers <= 0:
        workers = min(default_workers(), 4) if len(pairs) >= 200_000 else 1
    if "fork" not in multiprocessing.get_all_start_methods():
        workers = 1  # a spawned worker would not inherit the table
    bounds = [(k, min(k + chunk, len(pairs))) for k in range(0, len(pairs), chunk)]
    _JOB = (table, pairs)
    try:
        parts = list(map_chunks(_chunk_bits, bounds, workers=workers, threshold=2, chunk_size=1))
    finally:
        _JOB = ()
    return np.concatenate(parts)
