"""`compare.names_level` of many pairs of names at once, with the same answers.

Most name pairs that blocking hands over are strangers whose words have nothing in
common. Past the exact rules, every rule of `names_level` needs two related words, one
from each name (equal, one a nickname of the other, a slip or two apart, or alike by
fuzz.ratio, or sharing a slip key, `person_names.slip_keys`), except the two on the names
written without spaces (`Name.joined`). So the pairs are screened in bulk first: each
name's words are listed once and the word pairs of all name pairs are scored by
rapidfuzz in one batch; slip keys and joined spellings are tested as sets, pair by pair
(listing all pairs of keys costs more). A pair without a related word or a shared slip
key gets its level from the joined spellings alone; the rest go through `names_level`.

`tests/test_dedupe_name_batch.py` checks the screen against `names_level` pair by pair: a new
rule in `names_level` that needs no related word must be added to `_unrelated_levels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from custdata.dedupe.levels import ALIAS, CLOSE, DIFFERENT
from custdata.dedupe.names import Name, nickname_table
from custdata.dedupe.person_names import names_level, slip_keys

# Related words: equal, sharing a formal name (names.same_token), at most
# `_slips(shorter)` edits apart (person_names._tokens_close), or both of 5 letters or more and
# fuzz.ratio >= 85 (orgs._word_in). The screen uses a lower ratio: looser is still exact.
_RATIO = 84.0
_RATIO_LENGTH = 5
_SLIP_LENGTH = 4  # shorter words must be equal (person_names._tokens_close)


@dataclass
class Spellings:
    """Strings per distinct name (code): their ids, flat (`ids[start[k]:start[k + 1]]`),
    and the strings by id with their lengths."""

    start: np.ndarray
    ids: np.ndarray
    texts: np.ndarray  # object array of str
    sizes: np.ndarray

    @classmethod
    def of(cls, groups: list) -> Spellings:
        """The spellings of each name from `groups` (an iterable of strings per name)."""
        number: dict[str, int] = {}
        start, ids = [0], []
        for group in groups:
            ids.extend(number.setdefault(text, len(number)) for text in group)
            start.append(len(ids))
        texts = np.empty(len(number), dtype=object)
        texts[:] = list(number)
        sizes = np.fromiter(map(len, number), dtype=np.int64, count=len(number))
        return cls(np.array(start, np.int64), np.array(ids, np.int64), texts, sizes)


@dataclass
class NameWords:
    """What the screen needs of each distinct name: its words (tokens, canonical tokens
    and every formal name a token may stand for), its joined spellings, whether it is
    written in Chinese characters, the ids (in `joined`) of min(joined) and of the
    tokens written together, and its slip keys (`person_names.slip_keys`)."""

    words: Spellings
    joined: Spellings
    han: np.ndarray
    least: np.ndarray
    together: np.ndarray
    slips: np.ndarray  # object array of frozensets
    joined_sets: np.ndarray  # object array: Name.joined


def name_words(names: list[Name]) -> NameWords:
    """The screen's view of `names` (the distinct names, by code)."""
    nick = nickname_table()
    groups = []
    for name in names:
        words = {*name.tokens, *name.canon}
        for word in tuple(words):
            words.update(nick.get(word, ()))
        groups.append(words)
    joined = Spellings.of([n.joined for n in names])
    number = {text: k for k, text in enumerate(joined.texts.tolist())}
    return NameWords(
        Spellings.of(groups), joined,
        np.fromiter((bool(n.han) for n in names), dtype=bool, count=len(names)),
        np.fromiter((number[min(n.joined)] for n in names), dtype=np.int64, count=len(names)),
        np.fromiter((number["".join(n.tokens)] for n in names), dtype=np.int64,
                    count=len(names)),
        _objects([slip_keys(n.tokens) for n in names]), _objects([n.joined for n in names]))


def _objects(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def overlap(sets: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For every k: do sets[x[k]] and sets[y[k]] (frozensets) have an element in common?
    (In Python: a set test per pair is cheaper than listing all pairs of elements.)"""
    disjoint = np.fromiter(map(frozenset.isdisjoint, sets[x].tolist(), sets[y].tolist()),
                           dtype=bool, count=len(x))
    return ~disjoint


def shared(spellings: Spellings, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For every k: do names x[k] and y[k] (codes) have a related pair of words?"""
    count_x = spellings.start[x + 1] - spellings.start[x]
    count_y = spellings.start[y + 1] - spellings.start[y]
    pairs = count_x * count_y
    owner = np.repeat(np.arange(len(x)), pairs)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(pairs) - pairs, pairs)
    wide = count_y[owner]
    wx = spellings.ids[spellings.start[x][owner] + offset // wide]
    wy = spellings.ids[spellings.start[y][owner] + offset % wide]
    size = len(spellings.texts)
    keys, inverse = np.unique(np.minimum(wx, wy) * size + np.maximum(wx, wy),
                              return_inverse=True)
    match = _words_related(spellings, keys // size, keys % size)[inverse.ravel()]
    out = np.zeros(len(x), bool)
    out[owner[match]] = True
    return out


def _words_related(words: Spellings, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    related = a == b
    shorter = np.minimum(words.sizes[a], words.sizes[b])
    slips = np.flatnonzero(~related & (shorter >= _SLIP_LENGTH))
    if len(slips):
        allowed = np.where(shorter[slips] < 6, 1, 2)
        distance = process.cpdist(words.texts[a[slips]].tolist(), words.texts[b[slips]].tolist(),
                                  scorer=DamerauLevenshtein.distance, score_cutoff=2,
                                  dtype=np.int64, workers=1)
        related[slips] = distance <= allowed
    alike = np.flatnonzero(~related & (shorter >= _RATIO_LENGTH))
    if len(alike):
        ratio = process.cpdist(words.texts[a[alike]].tolist(), words.texts[b[alike]].tolist(),
                               scorer=fuzz.ratio, dtype=np.float64, workers=1)
        related[alike] = ratio >= _RATIO
    return related


_LEVELS = np.array([DIFFERENT, ALIAS, CLOSE], dtype=object)


def names_levels(names: list[Name], words: NameWords, x: np.ndarray, y: np.ndarray
                 ) -> list[str | None]:
    """`names_level(names[x[k]], names[y[k]])` for every k (codes of distinct names)."""
    if not len(x):
        return []
    screened = ~(words.han[x] & words.han[y])
    screened[screened] = ~shared(words.words, x[screened], y[screened])
    screened[screened] = ~overlap(words.slips, x[screened], y[screened])
    plain = np.flatnonzero(screened)
    out = np.empty(len(x), dtype=object)
    out[plain] = _LEVELS[_unrelated_levels(words, x[plain], y[plain])]
    for k in np.flatnonzero(~screened).tolist():
        out[k] = names_level(names[x[k]], names[y[k]])
    return out.tolist()


def _unrelated_levels(words: NameWords, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`names_level` of distinct names, not both Chinese, without a related word, as an
    index into _LEVELS: alias when a joined spelling is shared; for two latin names, close
    when the tokens written together are a slip in eight apart and the least joined
    spellings differ (`person_names._joined_close`); else different."""
    alias = overlap(words.joined_sets, x, y)
    sa, sb = words.together[x], words.together[y]
    la, lb = words.joined.sizes[sa], words.joined.sizes[sb]
    check = np.flatnonzero(~alias & ~words.han[x] & ~words.han[y]
                           & (words.least[x] != words.least[y]) & (np.minimum(la, lb) >= 6))
    close = np.zeros(len(x), bool)
    if len(check):
        texts = words.joined.texts
        distance = process.cpdist(texts[sa[check]].tolist(), texts[sb[check]].tolist(),
                                  scorer=DamerauLevenshtein.distance, dtype=np.int64,
                                  workers=1)
        close[check] = distance <= np.maximum(la[check], lb[check]) // 8
    return np.where(alias, 1, np.where(close, 2, 0))
