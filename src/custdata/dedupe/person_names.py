"""The agreement level of two parsed names (`names.Name`): exact, alias (the same
name written another way), close (slips), shared (one word kept), or different; names in
Chinese characters by character and reading, longer ones as organisations."""

from __future__ import annotations

from functools import lru_cache

from rapidfuzz.distance import DamerauLevenshtein

from custdata.dedupe.levels import ALIAS, CLOSE, DIFFERENT, EXACT, SHARED
from custdata.dedupe.names import Name, alias_equal, same_token
from custdata.dedupe.orgs import PERSON_WORDS, han_org_level, is_generic, words_level

HAN_PERSON_CHARS = 4  # a name in more Chinese characters than this is an organisation's


def names_level(x: Name | None, y: Name | None) -> str | None:
    """Agreement level of two parsed names (None when either is missing)."""
    if x is None or y is None:
        return None
    if x.text == y.text or (x.han and x.han == y.han):
        return EXACT
    if x.han and y.han:
        if max(len(x.han), len(y.han)) > HAN_PERSON_CHARS:  # an organisation
            return han_org_level(x.han, y.han) or DIFFERENT
        # Different characters: a homophone (章伟 / 张伟) is a different name unless
        # only one character differs and it reads the same.
        same_len = len(x.han) == len(y.han)
        diff = sum(c != d for c, d in zip(x.han, y.han)) if same_len else 9
        return CLOSE if diff == 1 and x.key == y.key else DIFFERENT
    if alias_equal(x, y):
        return ALIAS
    if x.han or y.han:
        return DIFFERENT  # one letter off in pinyin is another character: 王勇 is not Wang Yang
    if len(x.tokens) == len(y.tokens) and _tokens_close(x.canon, y.canon):
        return CLOSE
    if min(x.joined) != min(y.joined) and _joined_close(x, y):
        return CLOSE  # "paul cole man" / "palu coleman"
    level = words_level(x.tokens, y.tokens)
    if level is None and _person_word_shared(x.tokens, y.tokens):
        return SHARED  # "rily gloster" / "riley excell": one word kept, give or take a slip
    return level or DIFFERENT


def _person_word_shared(xs: tuple[str, ...], ys: tuple[str, ...]) -> bool:
    """Two short names without generic words (a person's) have a word in common, give or
    take one slip, in words of 4 and 5 letters or more (anna / anne are two names; rily /
    riley, jakob / jakib one): see `slip_keys`."""
    return not slip_keys(xs).isdisjoint(slip_keys(ys))


@lru_cache(maxsize=200_000)
def slip_keys(tokens: tuple[str, ...]) -> frozenset[str]:
    """The words of a person's name (none for a longer name or one with generic words):
    words of 4 letters as they are, longer ones also with each letter left out. Two words
    one slip apart (a letter changed, added, dropped, or two swapped) share a key."""
    if len(tokens) > PERSON_WORDS or any(map(is_generic, tokens)):
        return frozenset()
    keys = set()
    for token in tokens:
        if len(token) >= 4:
            keys.add(token)
        if len(token) >= 5:
            keys.update(token[:k] + token[k + 1:] for k in range(len(token)))
    return frozenset(keys)


def _token_slip(token: str, other: str) -> bool:
    """The same name word: equal, a nickname, or at most one slip (two if 6 letters or
    more; none under 4)."""
    shorter = min(len(token), len(other))
    allowed = 0 if shorter < 4 else 1 if shorter < 6 else 2
    return same_token(token, other) or DamerauLevenshtein.distance(token, other) <= allowed


def _joined_close(x: Name, y: Name) -> bool:
    """The names written without spaces are at most one slip in eight apart."""
    a, b = "".join(x.tokens), "".join(y.tokens)
    if min(len(a), len(b)) < 6:
        return False
    return DamerauLevenshtein.distance(a, b) <= max(len(a), len(b)) // 8


def _tokens_close(xs: tuple[str, ...], ys: tuple[str, ...]) -> bool:
    """Each token matches one of the other's with at most one slip (two if long)."""
    rest = list(ys)
    for token in xs:
        for i, other in enumerate(rest):
            if _token_slip(token, other):
                rest.pop(i)
                break
        else:
            return False
    return True
