"""Evidence of many pairs at once: `compare.pair_bits` over numpy arrays.

`record_table` folds each record's values once into integer codes (equal codes, equal
values), so exact agreement, term frequencies and weights become array look-ups. Only
pairs whose values differ are compared further: edit distances and ratios by rapidfuzz's
batch `cpdist` (the scorers `compare` calls one pair at a time), and names, addresses
and cities by `compare`'s own rules in Python, once per distinct pair of values.

`table_bits` returns, pair for pair, the float `pair_bits` returns: each field's bits
come from the same `Model` arithmetic and are added in the same order.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from custdata.dedupe.compare import (
    ADDRESS_CLOSE, ADDRESS_PARTIAL, ALIAS, CITY_CLOSE, CLOSE, COMPANY_CLOSE, DIFFERENT, EXACT,
    HAN_PERSON_CHARS, PARTIAL, SHARED, SITE_OVERLAP, STREET, TF_FIELDS, Model,
    _address_level, _text_level, names_level, other_id_level,
)
from custdata.dedupe.columns import (
    TF_COLUMNS, RecordColumns, factorize, lengths, record_columns, with_missing,
)
from custdata.dedupe.features import Record
from custdata.dedupe.name_batch import NameWords, name_words, names_levels
from custdata.parallel import default_workers, map_chunks

NONE, EX, AL, CL, DI, PA, SH, ST = 0, 1, 2, 3, 4, 5, 6, 7  # agreement levels as integers
LEVEL_NAMES = {EX: EXACT, AL: ALIAS, CL: CLOSE, DI: DIFFERENT, PA: PARTIAL, SH: SHARED,
               ST: STREET}
LEVEL_COUNT = 8
LEVEL_CODES = {None: NONE, **{name: code for code, name in LEVEL_NAMES.items()}}

_TRUTHY = ("ext", "idk", "idn", "ek", "em", "pk", "ph", "bd", "gd", "po", "pv", "oid")
_MAPPED = ("nh", "nk", "el", "ed", "pt", "by", "adg", "cns", "ast", "asn", "ans", "stn")  # columns.DERIVED
GRID_LIMIT = 4096  # distinct companies up to which pair verdicts are kept in a grid
_SCORED = ("idn", "el", "ed", "ph", "bd", "co", "cns", "po", "ast", "asn", "ad", "ans")  # by rapidfuzz


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


def _external_id(t: RecordTable, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    a, b = t.truthy["ext"][ia], t.truthy["ext"][ib]
    return np.where((a >= 0) & (a == b), EX, NONE).astype(np.int8)


def _id_number(t: RecordTable, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    levels = _exact_or_different(t.truthy["idk"][ia], t.truthy["idk"][ib])
    rest = np.flatnonzero(levels == DI)
    x, y = t.truthy["idn"][ia[rest]], t.truthy["idn"][ib[rest]]
    readable = (x >= 0) & (y >= 0)
    rest, x, y = rest[readable], x[readable], y[readable]
    levels[rest[_near_digits(t, "idn", x, y)]] = CL
    return levels


def _email(t: RecordTable, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    levels, rest, x, y = _key_misses(t, "ek", "em", ia, ib)
    la, lb = t.derived["el"][x], t.derived["el"][y]
    da, db = t.derived["ed"][x], t.derived["ed"][y]
    size = t.lengths["el"][la]
    close = np.zeros(len(rest), bool)
    same_local = np.flatnonzero((la == lb) & (size >= 3))  # gmial.com / gmail.com
    close[same_local] = _scores(t.objects["ed"], da[same_local], db[same_local],
                                DamerauLevenshtein.distance) <= 2
    same_domain = np.flatnonzero(~close & (da == db) & (size >= 5))
    close[same_domain] = _scores(t.objects["el"], la[same_domain], lb[same_domain],
                                 DamerauLevenshtein.distance) <= 1
    levels[rest[close]] = CL
    return levels


def _phone(t: RecordTable, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    levels, rest, x, y = _key_misses(t, "pk", "ph", ia, ib)
    long_enough = np.flatnonzero(t.lengths["ph"][x] >= 8)
    rest, x, y = rest[long_enough], x[long_enough], y[long_enough]
    close = t.derived["pt"][x] == t.derived["pt"][y]  # same last eight digits
    other = np.flatnonzero(~close)
    close[other] = _near_digits(t, "ph", x[other], y[other])
    levels[rest[close]] = CL
    return levels


def _name(t: RecordTable, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    a, b = t.codes["nm"][ia], t.codes["nm"][ib]
    both = (a >= 0) & (b >= 0)
    ha, hb = t.derived["nh"][a], t.derived["nh"][b]
    exact = both & ((a == b) | ((ha >= 0) & (ha == hb)))
    levels = np.where(exact, EX, np.where(both, DI, NONE)).astype(np.int8)
    both_han = (ha >= 0) & (hb >= 0)
    # Two different Chinese names are close only when their readings agree, unless one
    # is an organisation's (more characters than a person's name).
    same_key = t.derived["nk"][a] == t.derived["nk"][b]
    long = with_missing([len(h) > HAN_PERSON_CHARS for h in t.values["nh"]], 0)
    org = (long[ha] == 1) | (long[hb] == 1)
    rest = np.flatnonzero(both & ~exact & (~both_han | same_key | org))
    levels[rest] = _per_distinct_pair(t, "nm", a[rest], b[rest], names_level,
                                      lambda xs, ys: names_levels(t.values["nm"],
                                                                  _name_words(t), xs, ys))
    return levels


def _name_words(t: RecordTable) -> NameWords:
    """The distinct names' words for `name_batch`'s screen, listed once per columns."""
    if "name_words" not in t.shared:
        t.shared["name_words"] = name_words(t.values["nm"])
    return t.shared["name_words"]


def _birth(t: RecordTable, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    levels = _exact_or_different(t.truthy["bd"][ia], t.truthy["bd"][ib])
    rest = np.flatnonzero(levels == DI)
    x, y = t.truthy["bd"][ia[rest]], t.truthy["bd"][ib[rest]]
    month, day = t.derived["bm"], t.derived["bdd"]
    close = ((t.derived["by"][x] == t.derived["by"][y]) & (month[x] == day[y])
             & (day[x] == month[y]))  # month and day swapped
    other = np.flatnonzero(~close)
    close[other] = _near_digits(t, "bd", x[other], y[other])
    levels[rest[close]] = CL
    return levels


def _gender(t: RecordTable, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    return _exact_or_different(t.truthy["gd"][ia], t.truthy["gd"][ib])


def _company(t: RecordTable, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    levels = _exact_or_different(t.codes["co"][ia], t.codes["co"][ib])
    rest = np.flatnonzero(levels == DI)
    x, y = t.codes["co"][ia[rest]], t.codes["co"][ib[rest]]
    size = len(t.values["co"])
    if size > GRID_LIMIT:
        levels[rest[_companies_close(t, x, y)]] = CL
        return levels
    # Few distinct companies: remember each pair's verdict in a size x size grid.
    grid = t.grids.setdefault("co", np.full((size, size), -1, dtype=np.int8))
    known = grid[x, y]
    todo = np.flatnonzero(known < 0)
    if len(todo):
        keys = np.unique(x[todo] * size + y[todo])
        gx, gy = keys // size, keys % size
        grid[gx, gy] = _companies_close(t, gx, gy)
        known[todo] = grid[x[todo], y[todo]]
    levels[rest[known == 1]] = CL
    return levels


def _companies_close(t: RecordTable, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """compare._text_level's fuzzy test of the companies coded x and y."""
    close = _scores(t.objects["co"], x, y, fuzz.token_set_ratio) >= COMPANY_CLOSE
    other = np.flatnonzero(~close)
    spaceless = t.derived["cns"]
    close[other] = _scores(t.objects["cns"], spaceless[x[other]], spaceless[y[other]],
                           fuzz.ratio) >= COMPANY_CLOSE
    return close


def _address(t: RecordTable, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    levels = _exact_or_different(t.codes["ad"][ia], t.codes["ad"][ib])
    rest = np.flatnonzero(levels == DI)
    x, y = t.codes["ad"][ia[rest]], t.codes["ad"][ib[rest]]
    digits = t.derived["adg"]
    numbered = with_missing([bool(v) for v in t.values["adg"]], 0)
    dx, dy = digits[x], digits[y]
    # Another house number is another address; one without a number may still agree.
    agree = (dx == dy) | (numbered[dx] == 0) | (numbered[dy] == 0)
    same = np.flatnonzero(agree)
    levels[rest[same]] = _per_distinct_pair(t, "ad", x[same], y[same], _address_level,
                                            lambda xs, ys: _addresses_agreeing(t, xs, ys))
    # On the same street (compare.streets_close of the street parts)?
    street, spaceless = t.derived["ast"], t.derived["asn"]
    other = np.flatnonzero(~agree)
    sx, sy = street[x[other]], street[y[other]]
    named = np.flatnonzero((sx >= 0) & (sy >= 0))
    other, sx, sy = other[named], sx[named], sy[named]
    close = _scores(t.objects["ast"], sx, sy, fuzz.token_set_ratio) >= ADDRESS_CLOSE
    left = np.flatnonzero(~close)
    close[left] = _scores(t.objects["asn"], spaceless[sx[left]], spaceless[sy[left]],
                          fuzz.ratio) >= ADDRESS_CLOSE
    levels[rest[other[close]]] = ST
    return levels


def _addresses_agreeing(t: RecordTable, x: np.ndarray, y: np.ndarray) -> list[str]:
    """compare._address_level of the distinct addresses coded x and y whose house numbers
    agree (the same, or one has none): close when one ends the other (spaces left out) or
    the best of three fuzzy scores is ADDRESS_CLOSE; partial from ADDRESS_PARTIAL or with
    the same street key; else different."""
    spaceless, ax, ay = t.objects["ans"], t.derived["ans"][x], t.derived["ans"][y]
    levels = np.full(len(x), DI, np.int8)
    ends = np.fromiter(map(_ends, spaceless[ax].tolist(), spaceless[ay].tolist()), dtype=bool,
                       count=len(x))
    score = np.zeros(len(x))
    for column, cx, cy, scorer in ((t.objects["ad"], x, y, fuzz.token_set_ratio),
                                   (spaceless, ax, ay, fuzz.ratio),
                                   (t.objects["ad"], x, y, fuzz.token_sort_ratio)):
        left = np.flatnonzero(~ends & (score < ADDRESS_CLOSE))
        score[left] = np.maximum(score[left], _scores(column, cx[left], cy[left], scorer,
                                                      cutoff=ADDRESS_PARTIAL))
    key = t.derived["stn"]
    levels[(score >= ADDRESS_PARTIAL) | ((key[x] == key[y]) & (key[y] >= 0))] = PA
    levels[ends | (score >= ADDRESS_CLOSE)] = CL
    return [LEVEL_NAMES[code] for code in levels.tolist()]


def _ends(a: str, b: str) -> bool:
    return a.endswith(b) or b.endswith(a)


def _city_level(x: str, y: str) -> str | None:
    return _text_level(x, y, CITY_CLOSE)


def _postal_and_city(t: RecordTable, ia: np.ndarray, ib: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    postal = _exact_or_different(t.truthy["po"][ia], t.truthy["po"][ib])
    off = np.flatnonzero(postal == DI)
    near = _near_digits(t, "po", t.truthy["po"][ia[off]], t.truthy["po"][ib[off]])
    postal[off[near]] = CL
    city = _exact_or_different(t.codes["ci"][ia], t.codes["ci"][ib])
    rest = np.flatnonzero(city == DI)
    city[rest] = _per_distinct_pair(t, "ci", t.codes["ci"][ia[rest]], t.codes["ci"][ib[rest]],
                                    _city_level)
    # A shared postal code already says what a shared city would.
    city[(postal == EX) & ((city == EX) | (city == CL))] = NONE
    return postal, city


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


def table_levels(t: RecordTable, ia: np.ndarray, ib: np.ndarray
                 ) -> list[tuple[str, np.ndarray]]:
    """Each field's agreement level codes (NONE, EX, AL, CL, DI) for the pairs
    (records[ia[k]], records[ib[k]]), in compare._levels' field order."""
    ia, ib = np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)
    postal, city = _postal_and_city(t, ia, ib)
    return [("external_id", _external_id(t, ia, ib)), ("id_number", _id_number(t, ia, ib)),
            ("email", _email(t, ia, ib)), ("phone", _phone(t, ia, ib)),
            ("name", _name(t, ia, ib)), ("birth_date", _birth(t, ia, ib)),
            ("gender", _gender(t, ia, ib)), ("company", _company(t, ia, ib)),
            ("address", _address(t, ia, ib)), ("postal_code", postal), ("city", city),
            ("province", _exact_or_different(t.truthy["pv"][ia], t.truthy["pv"][ib])),
            ("other_id", _other_id(t, ia, ib))]


def _other_id(t: RecordTable, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    levels = _exact_or_different(t.truthy["oid"][ia], t.truthy["oid"][ib])
    rest = np.flatnonzero(levels == DI)
    levels[rest] = _per_distinct_pair(t, "oid", t.truthy["oid"][ia[rest]],
                                      t.truthy["oid"][ib[rest]], other_id_level)
    return levels


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
