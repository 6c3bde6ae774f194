"""Text and people's names -> canonical strings. Pure: no I/O, no clock, no environment.

normalize_text is shared by every normalizer: NFKC, whitespace collapsed, trimmed.
"""

from __future__ import annotations

import re
import unicodedata

from custdata.normalize.tables import (
    NAME_LOWER_WORDS, NAME_PARTICLES, NAME_UPPER_WORDS, NOT_ACRONYMS, ORG_ACRONYMS,
)


def normalize_text(raw: str) -> str:
    """NFKC, whitespace runs collapsed to one space, trimmed: "　Ｊｏｈｎ  Doe " -> "John Doe"."""
    if not raw.isascii() and not unicodedata.is_normalized("NFKC", raw):
        raw = unicodedata.normalize("NFKC", raw)
    if raw.isprintable() and "  " not in raw and raw[:1] != " " and raw[-1:] != " ":
        return raw  # the common case: nothing to collapse (isprintable: no tab, newline, ...)
    return " ".join(raw.split())


def _is_latin_letters(text: str) -> bool:
    return all(
        not c.isalpha() or c.isascii() or "LATIN" in unicodedata.name(c, "") for c in text
    )


_NAME_JOINERS = re.compile(r"([-'’])")


_DOTTED = re.compile(r"(?:[a-z]\.){2,}")
_VOWELS = frozenset("aeiouy")


def is_acronym(word: str) -> bool:
    """Whether a word is an organisation's acronym, kept in capitals: a known one (YMCA,
    IBM), dotted letters (I.B.M.), one with a digit or & (3M, AT&T), or three or more
    Latin letters without a vowel (BMW, KPMG) that are not a title or suffix (Mrs, Ltd)."""
    core = word.lower().strip(".,;:()\"")
    if core in ORG_ACRONYMS or _DOTTED.fullmatch(core + ("." if not core.endswith(".") else "")):
        return True
    if not core.isascii() or core in NOT_ACRONYMS:
        return False
    if "&" in core or (any(c.isdigit() for c in core) and any(c.isalpha() for c in core)):
        return True
    letters = [c for c in core if c.isalpha()]
    return len(letters) >= 3 and len(letters) == len(core) and not _VOWELS.intersection(core)


def _recase_word(word: str, *, first: bool, particle_next: bool, last: bool) -> str:
    lower = word.lower()
    if is_acronym(word):
        return word.upper()
    if lower in NAME_LOWER_WORDS and not first and not last:
        return lower
    if lower in NAME_PARTICLES and not last and (not first or particle_next):
        return lower
    if lower.rstrip(".") in NAME_UPPER_WORDS and not first:
        return word.upper()
    if "-" not in lower and "'" not in lower and "’" not in lower:
        word = lower[:1].upper() + lower[1:]
        return "Mc" + word[2].upper() + word[3:] if len(word) > 2 and word[:2] == "Mc" else word
    parts = _NAME_JOINERS.split(lower)
    out = []
    for i, part in enumerate(parts):
        if part in ("-", "'", "’"):
            out.append(part)
        elif i >= 2 and parts[i - 1] in ("'", "’") and len(parts[i - 2]) > 1:
            out.append(part)  # "don't": the apostrophe does not start a new name part
        else:
            out.append(part[:1].upper() + part[1:])
    word = "".join(out)
    if len(word) > 2 and word.startswith("Mc"):
        word = "Mc" + word[2].upper() + word[3:]
    return word


def normalize_name(raw: str) -> str:
    """A person's name: normalize_text, and Latin names in ALL CAPS or all lower re-cased.

    "JOHN MCDONALD" -> "John McDonald", "o'brien" -> "O'Brien", "jan van der berg" ->
    "Jan van der Berg". Acronyms stay in capitals (`is_acronym`): "YMCA OF GREATER NEW
    YORK" -> "YMCA of Greater New York", "IBM" -> "IBM". Mixed-case names ("DeShawn",
    "van der Berg") and names in any other script (张三, Ольга) are returned as written.
    """
    text = normalize_text(raw)
    # isupper/islower: every cased character one way, and at least one cased character
    if not (text.isupper() or text.islower()):
        return text
    if not text.isascii() and not _is_latin_letters(text):
        return text
    words = text.split(" ")
    particles = [w.lower() in NAME_PARTICLES for w in words]
    return " ".join(
        _recase_word(
            w, first=i == 0, last=i == len(words) - 1,
            particle_next=i + 1 < len(words) and particles[i + 1],
        )
        for i, w in enumerate(words)
    )
