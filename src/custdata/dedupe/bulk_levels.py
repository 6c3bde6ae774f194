"""Each field's agreement level for many pairs at once (`table_levels`), as
`compare._levels` gives it pair by pair: exact agreement by codes; edit distances and
ratios by rapidfuzz's batch `cpdist`; names (`name_batch`), addresses and cities once per
distinct pair of values.
"""

from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein

from custdata.dedupe.bulk_table import (
    CL, DI, EX, GRID_LIMIT, LEVEL_NAMES, NONE, PA, ST, RecordTable, _exact_or_different,
    _key_misses, _near_digits, _per_distinct_pair, _scores,
)
from custdata.dedupe.columns import with_missing
from custdata.dedupe.compare import (
    ADDRESS_CLOSE, ADDRESS_PARTIAL, CITY_CLOSE, COMPANY_CLOSE, HAN_PERSON_CHARS,
    _address_level, _text_level, names_level, other_id_level,
)
from custdata.dedupe.name_batch import NameWords, name_words, names_levels


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
