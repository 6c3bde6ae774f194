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
from functools import lru_cache
from itertools import combinations
from typing import Callable, Sequence

import numpy as np

from custdata.dedupe.features import Record
from custdata.dedupe.names import phonetic_key


def _name(r: Record) -> str | None:
    return r.name.key if r.name else None


def _phonetic(r: Record) -> str | None:
    return _phonetic_of(r.name) if r.name else None


@lru_cache(maxsize=200_000)
def _phonetic_of(name) -> str:
    return phonetic_key(name)


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
# A bare name is a weak key: its blocks get a much smaller cap (SMALL_CAP_RULES).
RULES: dict[str, Callable[[Record], str | None]] = {
    "email": lambda r: r.email_key,
    "phone": lambda r: r.phone_key,
    "id_number": lambda r: r.id_key,
    "external_id": lambda r: r.external_id,
    "name": _name,
    "name+birth_year": _both(_name, _year),
    "phonetic+birth": _both(_phonetic, lambda r: r.birth),
    "phonetic+city": _both(_phonetic, lambda r: r.city),
    "postal+birth": _both(lambda r: r.postal, lambda r: r.birth),
    "company+initials": _both(lambda r: r.company, _initials),
    "email_local": _email_local,
    "phone_tail+initials": _both(_phone_tail, _initials),
}


SMALL_CAP_RULES = {"name": 8}  # rule -> its own cap (and a window of at most 2)


@dataclass
class BlockingStats:
    """How many pairs each rule produced, and the total after removing repeats."""

    records: int = 0
    pairs: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    capped_blocks: int = 0


def _neighbourhood(r: Record) -> tuple:
    return (_name(r) or "", r.birth or "", r.city or "", r.postal or "")


def _sorted_window(members: list[int], records: Sequence[Record], window: int,
                   left: list[int], right: list[int]) -> None:
    ordered = sorted(members, key=lambda k: (_neighbourhood(records[k]), k))
    for step in range(1, window + 1):
        left.extend(ordered[:-step])
        right.extend(ordered[step:])


def candidate_pairs(records: Sequence[Record], *, max_block: int = 8, window: int = 3,
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
        left: list[int] = []
        right: list[int] = []
        cap = min(max_block, SMALL_CAP_RULES.get(rule, max_block))
        for members in blocks.values():
            size = len(members)
            if size < 2:
                continue
            if size == 2:
                left.append(members[0])
                right.append(members[1])
            elif size <= cap:
                for i, j in combinations(members, 2):
                    left.append(i)
                    right.append(j)
            else:
                stats.capped_blocks += 1
                step = min(window, 2) if rule in SMALL_CAP_RULES else window
                _sorted_window(members, records, step, left, right)
        del blocks
        a = np.asarray(left, dtype=np.int64)
        b = np.asarray(right, dtype=np.int64)
        codes.append(np.minimum(a, b) * n + np.maximum(a, b))
        stats.by_rule[rule] = len(a)
    if not codes:
        return np.empty((0, 2), dtype=np.int64), stats
    unique = np.unique(np.concatenate(codes))
    stats.pairs = len(unique)
    return np.stack([unique // n, unique % n], axis=1), stats
