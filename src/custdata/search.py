"""Finding people by what someone remembers of them: pure core, no store, no clock.

A contact's *search text* is one line of tagged, folded fields that `find` scans::

    |n:王伟|p:wangwei|p:wang wei|i:ww|c:acme trading|e:wang@qq.com|t:8613800138000|x:c-1|

Tags: n name, p its pinyin (joined and spaced), i pinyin initials, c company, e email,
t phone digits, x external id. Everything is NFKC-folded (full-width to half-width) and
case-folded, so a query folded the same way matches with a plain substring test.

Sealed columns (an encrypted store) enter only as their masked form (138****8000,
z***@qq.com): the search text never holds more of a sealed value than its mask, which
the store already keeps in clear. `query_terms` turns a query into words, each with the
spellings that may match it (as typed, its pinyin, its digits).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from custdata._lazy import lazy
from custdata.dedupe.names import COMPOUND_SURNAMES, SURNAME_READINGS

pypinyin = lazy("pypinyin")  # its dictionaries take a second to load

SEP = "|"
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NOT_DIGIT = re.compile(r"\D")
_NOT_MASKED_DIGIT = re.compile(r"[^0-9*]")
_SPACES = re.compile(r"\s+")


def fold(text: str | None) -> str:
    """NFKC, case-folded, whitespace collapsed, separators removed: "Ｗａｎｇ  Wei" -> "wang wei"."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text)).casefold().replace(SEP, " ")
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=50_000)
def _char_pinyin(char: str) -> str:
    return "".join(pypinyin.lazy_pinyin(char, style=pypinyin.Style.NORMAL))


def pinyin_syllables(han: str) -> list[str]:
    """The pinyin of a Chinese name, one syllable per character, family readings as names
    use them: "单伟" -> ["shan", "wei"], "欧阳娜娜" -> ["ouyang", "na", "na"]."""
    family = han[:2] if han[:2] in COMPOUND_SURNAMES and len(han) > 2 else han[:1]
    head = SURNAME_READINGS.get(family)
    if head is None:
        return [_char_pinyin(c) for c in han]
    return [head] + [_char_pinyin(c) for c in han[len(family):]]


def _name_parts(name: str) -> list[str]:
    """Tagged parts of a folded name: the name, and for Chinese its pinyin and initials."""
    parts = [f"n:{name}"]
    han = "".join(_HAN.findall(name))
    if len(han) >= 2 or (han and han == name):
        syllables = pinyin_syllables(han)
        parts += [f"p:{''.join(syllables)}", f"p:{' '.join(syllables)}",
                  f"i:{''.join(s[:1] for s in syllables)}"]
    elif " " in name:
        parts.append(f"p:{name.replace(' ', '')}")  # "wang wei" is found as "wangwei" too
    return parts


def search_text(row: dict) -> str:
    """The search text of one contact row (values in clear, or masked where sealed)."""
    parts: list[str] = []
    name = fold(row.get("name"))
    if name:
        parts += _name_parts(name)
    for tag, field in (("c", "company"), ("e", "email"), ("x", "external_id")):
        value = fold(row.get(field))
        if value:
            parts.append(f"{tag}:{value}")
    phone = fold(row.get("phone"))
    if phone:
        digits = _NOT_MASKED_DIGIT.sub("", phone)  # a mask keeps its stars: "138****8000"
        parts.append(f"t:{digits}")
        key_digits = _NOT_DIGIT.sub("", fold(row.get("phone_key")) if "*" not in phone else "")
        if key_digits and key_digits != digits:
            parts.append(f"t:{key_digits}")
    return SEP + SEP.join(parts) + SEP if parts else SEP


@dataclass(frozen=True)
class Term:
    """One word of a query and the spellings that find it (each already folded)."""

    word: str
    spellings: tuple[str, ...]


def query_terms(query: str) -> list[Term]:
    """The words of a query, each with its spellings: as typed, its pinyin when it is
    Chinese, its digits when it looks like a phone ("138-0013" -> "1380013").

    A query written as pinyin with spaces ("wang wei") also counts as one word
    ("wangwei"); the caller tries it both ways. Returns [] for a blank query.
    """
    text = fold(query)
    if not text:
        return []
    words = text.split(" ")
    terms = [_term(w) for w in words]
    if len(words) > 1:
        terms.insert(0, _term(text))  # the whole query, as one phrase (see find_sql)
    return terms


def _term(word: str) -> Term:
    spellings = [word]
    han = "".join(_HAN.findall(word))
    if han and han == word.replace(" ", ""):
        syllables = pinyin_syllables(han)
        spellings += ["".join(syllables)]
    digits = _NOT_DIGIT.sub("", word)
    if len(digits) >= 3 and len(digits) >= len(word.replace(" ", "")) - 3:
        spellings.append(digits)  # "+86 138-0013" is a partial phone
    if " " in word and not han:
        spellings.append(word.replace(" ", ""))
    return Term(word, tuple(dict.fromkeys(spellings)))


# How much a match counts, by where it is: a whole field beats its start beats a word
# start beats anywhere; names over emails and phones over companies. See find_sql.
RANKS: tuple[tuple[str, str, int], ...] = (
    ("whole", "n", 100), ("whole", "p", 95), ("whole", "e", 95), ("whole", "t", 95),
    ("whole", "x", 95), ("whole", "c", 90), ("whole", "i", 70),
    ("start", "n", 80), ("start", "p", 75), ("start", "e", 70), ("start", "c", 65),
    ("start", "x", 60), ("start", "i", 50), ("start", "t", 45),
)
ANYWHERE = 30  # a substring somewhere else (inside a word, a phone's last digits)
WORD_START = 55  # a word's start: after a space, or an email's domain after @
FIELD_END = 50  # the end of a field: a phone's last digits


def pattern(kind: str, tag: str, spelling: str) -> str:
    """The text that `instr` looks for: "|n:王伟|" for a whole name, "|n:王" for its start."""
    return f"{SEP}{tag}:{spelling}{SEP}" if kind == "whole" else f"{SEP}{tag}:{spelling}"
