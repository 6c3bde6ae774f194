"""Candidate pairs by blocking: only records that share some key are ever compared.

Each blocking rule gives every record at most one key. All pairs inside a block are
candidates; a block larger than `max_block` (a shared office phone, a very common name)
is too unspecific for all of its pairs, so it is sorted and only records within `window`
places of each other are paired (sorted neighbourhood). The pair count therefore grows
about linearly with the number of records.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from custdata.dedupe.features import Record
from custdata.dedupe.names import phonetic_key


def _name(r: Record) -> str | None:
    return r.name.key if r.name else None


def _phonetic(r: Record) -> str | None:
    return phonetic_key(r.name) if r.name else None


def _both(first: Callable[[Record], str | None], second: Callable[[Record], str | None]):
    def key(r: Record) -> str | None:
        x = first(r)
        if x is None:
            return None
        y = second(r)
        return None if y is None else f"{x}|{y}"
    return key


def _year(r: Record) -> str | None:
    return r.birth[:4] if r.birth else None


def _email_local(r: Record) -> str | None:
    if not r.email:
        return None
    local = r.email.partition("@")[0]
    return local if len(local) >= 4 else None


def _phone_tail(r: Record) -> str | None:
    return r.phone[-7:] if r.phone and len(r.phone) >= 9 else None


def _initials(r: Record) -> str | None:
    return "".join(t[0] for t in sorted(r.name.canon)) if r.name else None


# Rule name -> key function. Exact keys first; then name keys refined by a second field.
RULES: dict[str, Callable[[Record], str | None]] = {
    "email": lambda r: r.email_key,
    "phone": lambda r: r.phone_key,
    "id_number": lambda r: r.id_key,
    "external_id": lambda r: r.external_id,
    "name": _name,
    "name+birth_year": _both(_name, _year),
    "name+city": _both(_name, lambda r: r.city),
    "name+postal": _both(_name, lambda r: r.postal),
    "phonetic+birth": _both(_phonetic, lambda r: r.birth),
    "phonetic+city": _both(_phonetic, lambda r: r.city),
    "postal+birth_year": _both(lambda r: r.postal, _year),
    "company+initials": _both(lambda r: r.company, _initials),
    "email_local": _email_local,
    "phone_tail+initials": _both(_phone_tail, _initials),
}


@dataclass
class BlockingStats:
    """How many pairs each rule produced, and the total after removing repeats."""

    records: int = 0
    pairs: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    capped_blocks: int = 0


def _block_pairs(members: list[int], records: Sequence[Record], max_block: int,
                 window: int) -> tuple[np.ndarray, np.ndarray, bool]:
    idx = np.asarray(members, dtype=np.int64)
    if len(idx) <= max_block:
        i, j = np.triu_indices(len(idx), k=1)
        return idx[i], idx[j], False
    idx = np.asarray(sorted(members, key=lambda k: (_name(records[k]) or "", k)), dtype=np.int64)
    left, right = [], []
    for step in range(1, window + 1):
        left.append(idx[:-step])
        right.append(idx[step:])
    return np.concatenate(left), np.concatenate(right), True


def candidate_pairs(records: Sequence[Record], *, max_block: int = 30, window: int = 5,
                    rules: dict[str, Callable[[Record], str | None]] | None = None
                    ) -> tuple[np.ndarray, BlockingStats]:
    """Pairs of record positions (i < j) sharing a blocking key, as an (n, 2) array."""
    stats = BlockingStats(records=len(records))
    n = len(records)
    codes = []
    for rule, key_of in (rules or RULES).items():
        blocks: dict[str, list[int]] = defaultdict(list)
        for position, record in enumerate(records):
            key = key_of(record)
            if key:
                blocks[key].append(position)
        made = 0
        for members in blocks.values():
            if len(members) < 2:
                continue
            left, right, capped = _block_pairs(members, records, max_block, window)
            stats.capped_blocks += capped
            low, high = np.minimum(left, right), np.maximum(left, right)
            codes.append(low * n + high)
            made += len(low)
        stats.by_rule[rule] = made
        del blocks
    if not codes:
        return np.empty((0, 2), dtype=np.int64), stats
    unique = np.unique(np.concatenate(codes))
    stats.pairs = len(unique)
    return np.stack([unique // n, unique % n], axis=1), stats
