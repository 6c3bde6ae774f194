"""Candidate pairs by blocking: only records that share some key are ever compared.

Each blocking rule gives every record at most one key. All pairs inside a block are
candidates; a block larger than `max_block` (a shared office phone, a very common name)
is too unspecific for all of its pairs, so it is sorted and only records within `window`
places of each other are paired (sorted neighbourhood); dedupe's own window is at least
BIG_WINDOW (`pipeline_window`), and the rules whose big blocks are mostly strangers keep
a smaller one (RULE_WINDOWS). A record gets at most its window of partners per rule in a
big block, so the pair count grows about linearly with the number of records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from custdata.dedupe.columns import (
    RecordColumns,
    birth_year,
    email_local,
    factorize,
    initials,
    name_token,
    phone_tail,
    record_columns,
    truthy_codes,
)
from custdata.dedupe.features import Record
from custdata.dedupe.names import phonetic_key
from custdata.dedupe.orgs import house_number, street_key, street_name


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


def _initials(r: Record) -> str | None:
    return initials(r.name) if r.name else None


# Rule name -> key function. Exact keys first; then name keys refined by a second field.
# A bare name is a weak key: its blocks get a much smaller cap (SMALL_CAP_RULES).
RULES: dict[str, Callable[[Record], str | None]] = {
    "email": lambda r: r.email_key,
    "phone": lambda r: r.phone_key,
    "id_number": lambda r: r.id_key,
    "external_id": lambda r: r.external_id,
    "name": _name,
    "name+birth_year": _both(_name, lambda r: birth_year(r.birth)),
    "phonetic+birth": _both(_phonetic, lambda r: r.birth),
    "phonetic+city": _both(_phonetic, lambda r: r.city),
    "postal+birth": _both(lambda r: r.postal, lambda r: r.birth),
    "company+initials": _both(lambda r: r.company, _initials),
    "email_local": lambda r: email_local(r.email),
    "phone_tail+initials": _both(lambda r: phone_tail(r.phone), _initials),
    "other_id": lambda r: r.other_id,
    "street+number": lambda r: street_key(r.address),
    "postal+number": _both(lambda r: r.postal, lambda r: house_number(r.address) or None),
    "birth+city": _both(lambda r: r.birth, lambda r: r.city),
    "name_word+city": _both(lambda r: name_token(r.name) if r.name else None,
                            lambda r: r.city),
    "birth": lambda r: r.birth,
    "postal": lambda r: r.postal,
    "address": lambda r: r.address,
    "postal+street": _both(lambda r: r.postal, lambda r: street_name(r.address)),
    "city+street": _both(lambda r: r.city, lambda r: street_name(r.address)),
    "name_word+postal": _both(lambda r: name_token(r.name) if r.name else None,
                              lambda r: r.postal),
}


SMALL_CAP_RULES = {"name": 8}  # rule -> its own cap
# Rules that pair only inside blocks within the cap: a bare birth date or postal code is
# the one key two records share when every other field has a slip, but a big block of
# them (a large list's common postal code) holds strangers only, and gives no pairs.
SMALL_BLOCK_RULES = frozenset({"birth", "postal", "postal+street", "city+street",
                               "name_word+postal"})
# The window dedupe uses at the least (`pipeline_window`): a block over the cap (a
# hotel's switchboard, a shared office address) is sorted by name, birth date, city and
# postal code and each record paired with this many neighbours, so look-alikes sort
# together and a block of up to BIG_WINDOW + 1 records keeps every pair.
BIG_WINDOW = 12
# Rules whose big blocks are mostly strangers keep a smaller window: the window is each
# record's budget of pairs in a big block, and these blocks grow with the list (a street
# and house number in every city, a common name in one city, a company's staff with the
# same initials), so a window of 12 made the candidates per record, and the time, grow
# with it. Sorted by name, a record's duplicates in such a block sit next to it; a
# window of 2 on the address and name keys lost 0.07 % of the true pairs at a million
# contacts and halved the candidates (benchmarks/RESULTS.md, issue 17 blocking).
LOOSE_WINDOW = 4
NARROW_WINDOW = 2
RULE_WINDOWS: dict[str, int] = {
    **dict.fromkeys(("phonetic+city", "name_word+city", "company+initials"), LOOSE_WINDOW),
    **dict.fromkeys(("name", "name+birth_year", "street+number", "postal+number", "address"),
                    NARROW_WINDOW),
}


def pipeline_window(window: int) -> int:
    """The sorted-neighbourhood window `find_duplicate_records` blocks with: the
    configured one, but never under BIG_WINDOW (a window of 3 lost true pairs)."""
    return max(window, BIG_WINDOW)


def rule_window(rule: str, window: int) -> int:
    """The sorted-neighbourhood window of `rule`'s blocks over the cap: 0 for the rules
    that pair only inside small blocks, at most RULE_WINDOWS[rule], else `window`."""
    if rule in SMALL_BLOCK_RULES:
        return 0
    return min(window, RULE_WINDOWS.get(rule, window))


@dataclass
class BlockingStats:
    """How many pairs each rule produced, and the total after removing repeats."""

    records: int = 0
    pairs: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    capped_blocks: int = 0


def _neighbourhood(r: Record) -> tuple:
    return (_name(r) or "", r.birth or "", r.city or "", r.postal or "")


# The default rules over columns (columns.DERIVED): a rule with two columns keys on both,
# like `_both`. What a column derives from a value is computed once per distinct value.
COLUMN_RULES: dict[str, tuple[str, ...]] = {
    "email": ("ek",), "phone": ("pk",), "id_number": ("idk",), "external_id": ("ext",),
    "name": ("nk",), "name+birth_year": ("nk", "year"), "phonetic+birth": ("nph", "bd"),
    "phonetic+city": ("nph", "ci"), "postal+birth": ("po", "bd"),
    "company+initials": ("co", "nin"), "email_local": ("elocal",),
    "phone_tail+initials": ("ptail", "nin"),
    "other_id": ("oid",), "street+number": ("stn",), "postal+number": ("po", "hno"), "birth+city": ("bd", "ci"),
    "name_word+city": ("ntok", "ci"), "birth": ("bd",), "postal": ("po",), "address": ("ad",),
    "postal+street": ("po", "sna"), "city+street": ("ci", "sna"),
    "name_word+postal": ("ntok", "po"),
}


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array, ascending: np.unique's result, by a sort
    (numpy 2.4's np.unique hashes first, 80 times slower on 20M pair codes)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _column_keys(columns: RecordColumns, parts: tuple[str, ...]) -> np.ndarray | None:
    """Block key codes of a default rule (-1: no key), or None when the codes could join
    keys the strings would keep apart (or the reverse): then the rule's strings are used."""
    if len(parts) == 1:
        codes, values = columns.column(parts[0])
        return truthy_codes(codes, values)  # `if key:` in the string rules
    (x, xs), (y, ys) = columns.column(parts[0]), columns.column(parts[1])
    if not all(isinstance(v, str) for v in (*xs, *ys)):
        return None
    if any("|" in v for v in xs) and any("|" in v for v in ys):
        return None  # f"{x}|{y}" might be one key for two pairs of parts
    return np.where((x >= 0) & (y >= 0), x * (len(ys) + 1) + y, -1)


def _string_keys(records: Sequence[Record], key_of: Callable[[Record], str | None]
                 ) -> np.ndarray:
    codes, values = factorize([key_of(r) for r in records])
    return truthy_codes(codes, values)


def neighbourhood_rank(columns: RecordColumns) -> np.ndarray:
    """Each record's place in the order of (_neighbourhood(record), position)."""
    ranks = []
    for codes, values in map(columns.column, ("nk", "bd", "ci", "po")):
        texts = [v or "" for v in values] + [""]
        place = {text: k for k, text in enumerate(sorted(set(texts)))}
        ranks.append(np.array([place[text] for text in texts], dtype=np.int64)[codes])
    order = np.lexsort((np.arange(columns.size), *reversed(ranks)))
    rank = np.empty(columns.size, dtype=np.int64)
    rank[order] = np.arange(columns.size)
    return rank


def _block_pairs(keys: np.ndarray, cap: int, window: int, rank: Callable[[], np.ndarray]
                 ) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """Pairs (left, right) of positions sharing a key: every pair of a block of at most
    `cap` (or 2), sorted neighbours within `window` places in a larger one; and how many
    blocks were larger."""
    members = np.flatnonzero(keys >= 0)
    if not len(members):
        return [], [], 0
    order = members[np.argsort(keys[members], kind="stable")]  # positions stay in order
    ordered_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered_keys[1:] != ordered_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    left, right = [], []
    paired = sizes[(sizes == 2) | ((sizes > 2) & (sizes <= cap))]
    for size in np.flatnonzero(np.bincount(paired)).tolist():
        block = order[starts[sizes == size][:, None] + np.arange(size)]
        i, j = np.triu_indices(size, 1)
        left.append(block[:, i].ravel())
        right.append(block[:, j].ravel())
    big = np.flatnonzero((sizes > 2) & (sizes > cap))
    if len(big) and window > 0:
        block_of = np.repeat(np.arange(len(big)), sizes[big])
        offsets = np.arange(len(block_of)) - np.repeat(np.cumsum(sizes[big]) - sizes[big],
                                                       sizes[big])
        positions = order[np.repeat(starts[big], sizes[big]) + offsets]
        by_rank = np.lexsort((rank()[positions], block_of))
        positions, block_of = positions[by_rank], block_of[by_rank]
        for step in range(1, window + 1):
            same = block_of[:-step] == block_of[step:]
            left.append(positions[:-step][same])
            right.append(positions[step:][same])
    return left, right, len(big)


def _rule_pairs(records: Sequence[Record], columns: RecordColumns | None, rule: str,
                key_of: Callable[[Record], str | None], max_block: int, window: int,
                rank: Callable[[], np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """One rule's pairs (left, right positions) and how many of its blocks were over the
    cap. `columns`: key on the default rule's column codes; None: call `key_of`."""
    keys = _column_keys(columns, COLUMN_RULES[rule]) if columns is not None else None
    if keys is None:
        keys = _string_keys(records, key_of)
    cap = min(max_block, SMALL_CAP_RULES.get(rule, max_block))
    step = rule_window(rule, window)
    left, right, capped = _block_pairs(keys, cap, step, rank)
    empty = np.zeros(0, np.int64)
    return (np.concatenate(left) if left else empty,
            np.concatenate(right) if right else empty, capped)


def candidate_pairs(records: Sequence[Record], *, max_block: int = 8, window: int = 3,
                    rules: dict[str, Callable[[Record], str | None]] | None = None,
                    columns: RecordColumns | None = None) -> tuple[np.ndarray, BlockingStats]:
    """Pairs of record positions (i < j) sharing a blocking key, as an (n, 2) array.

    `columns`: `record_columns(records)`, if already made. The default rules are keyed
    on its codes; other `rules` call their key functions record by record.
    """
    stats = BlockingStats(records=len(records))
    n = len(records)
    if columns is None and rules is None:
        columns = record_columns(records)
    rank: list[np.ndarray] = []

    def ranked() -> np.ndarray:
        if not rank:
            rank.append(neighbourhood_rank(columns or record_columns(records)))
        return rank[0]

    codes = []
    for rule, key_of in (rules or RULES).items():
        a, b, capped = _rule_pairs(records, columns if rules is None else None, rule, key_of,
                                   max_block, window, ranked)
        stats.capped_blocks += capped
        codes.append(np.minimum(a, b) * n + np.maximum(a, b))
        stats.by_rule[rule] = len(a)
    if not codes:
        return np.empty((0, 2), dtype=np.int64), stats
    unique = sorted_unique(np.concatenate(codes))
    stats.pairs = len(unique)
    return np.stack([unique // n, unique % n], axis=1), stats


@dataclass
class BlockingReport:
    """How many of the given true pairs blocking makes candidates (`recall`), and which
    ones it misses (as id pairs)."""

    candidates: int
    true_pairs: int
    found: int
    missed: list[tuple] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.true_pairs if self.true_pairs else 1.0


def blocking_report(records: Sequence[Record], true_pairs: Iterable[tuple], *,
                    max_block: int = 8, window: int = 3) -> BlockingReport:
    """Blocking recall of dedupe's candidate pairs (`candidate_pairs` at
    `pipeline_window(window)`) over `records` against `true_pairs` (pairs of record ids):
    the candidates, the true pairs found and those missed."""
    position = {r.id: i for i, r in enumerate(records)}
    pairs, stats = candidate_pairs(records, max_block=max_block,
                                   window=pipeline_window(window))
    n = len(records)
    made = set((pairs[:, 0] * n + pairs[:, 1]).tolist())
    found, missed, total = 0, [], 0
    for a, b in true_pairs:
        if a not in position or b not in position:
            continue
        total += 1
        i, j = sorted((position[a], position[b]))
        if i * n + j in made:
            found += 1
        else:
            missed.append((a, b))
    return BlockingReport(stats.pairs, total, found, missed)
