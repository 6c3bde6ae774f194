"""Organisation names and street addresses folded for comparison and blocking.

Organisation names: legal forms (Inc, LLC, Ltd, Co., GmbH, 有限公司, 股份, 集团, 分公司 …)
and generic words of a kind of place (restaurant, cafe, school, hotel, 餐厅, 学校 …) are
set apart from the distinctive words: "ciboulette restaurant" and "ciboulette" share
their core. Addresses: street words and directions abbreviated one way (street -> st,
avenue -> ave, east -> e), spelt ordinals as numbers (ninth -> 9th), 号 after a house
number dropped, so "1845 east 79th street" and "1845 e 79th st" are one address.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz

LEGAL = frozenset(
    "inc incorporated llc llp lp ltd limited co company corp corporation plc gmbh ag sa sas "
    "sarl srl spa bv nv pty pte kk oy ab as aps kg ohg ug the and of".split())
GENERIC = frozenset(
    "restaurant restaurants ristorante cafe caffe coffee bar grill bistro brasserie diner "
    "kitchen house inn hotel hotels motel school schools college university academy "
    "shop store stores market center centre club group holdings holding services service "
    "international intl public dept department office branch clinic hospital bank "
    "trading industries industry enterprises enterprise associates partners "
    "公司 有限 责任 股份 集团 分公司 控股 餐厅 饭店 酒店 酒家 学校 商店 中心 门店 店 "
    "分店 总店 厂 工厂 商行 贸易 科技 实业 发展 有限公司 有限责任公司".split())
_HAN_FORMS = re.compile(
    "股份有限公司|有限责任公司|有限公司|分公司|总公司|公司|集团|股份|控股|餐厅|饭店|酒店|学校|"
    "分店|总店|门店")
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[^\W_]+")
_STREET_WORD = re.compile(r"[^\W\d_]{3,}|\d+(?:st|nd|rd|th)")

STREET_WORDS = {
    "street": "st", "str": "st", "avenue": "ave", "av": "ave", "road": "rd", "boulevard": "blvd",
    "drive": "dr", "lane": "ln", "place": "pl", "court": "ct", "square": "sq",
    "parkway": "pkwy", "highway": "hwy", "terrace": "tce", "crescent": "cres",
    "circle": "cir", "suite": "ste", "apartment": "apt", "floor": "fl", "building": "bldg",
    "east": "e", "west": "w", "north": "n", "south": "s", "northeast": "ne",
    "northwest": "nw", "southeast": "se", "southwest": "sw", "saint": "st", "mount": "mt",
    "fort": "ft",
}
_ORDINALS = {
    "first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th",
    "sixth": "6th", "seventh": "7th", "eighth": "8th", "ninth": "9th", "tenth": "10th",
    "eleventh": "11th", "twelfth": "12th",
}
_STREET_ABBREVIATIONS = frozenset(STREET_WORDS.values())
PERSON_WORDS = 3  # names of more words (or with generic words) never count as "shared"
_HAN_NUMBER_MARK = re.compile(r"(\d+)\s*[号號]")


def org_tokens(text: str) -> tuple[str, ...]:
    """The words of an organisation name (folded text), Chinese legal and generic forms
    split off as words of their own."""
    spaced = _HAN_FORMS.sub(lambda m: f" {m.group(0)} ", text.casefold())
    return tuple(_WORD.findall(spaced))


@lru_cache(maxsize=100_000)
def org_core(text: str) -> frozenset[str]:
    """The distinctive words of a name: legal forms and generic words left out (all of
    them kept when nothing else is left). Chinese runs count as one word each."""
    words = org_tokens(text)
    core = frozenset(w for w in words if w not in LEGAL and w not in GENERIC)
    return core or frozenset(w for w in words if w not in LEGAL) or frozenset(words)


def is_generic(word: str) -> bool:
    return word in LEGAL or word in GENERIC


@lru_cache(maxsize=200_000)
def fold_address(text: str) -> str:
    """A folded address (lower case, punctuation as spaces) with street words, directions
    and spelt ordinals in one form, and 号 after a house number dropped."""
    text = _HAN_NUMBER_MARK.sub(r"\1 ", text)
    words = [_ORDINALS.get(w, STREET_WORDS.get(w, w)) for w in _WORD.findall(text.casefold())]
    return " ".join(words)


_DIGITS = re.compile(r"\d+")


@lru_cache(maxsize=200_000)
def house_number(address: str | None) -> str:
    """The first run of digits of a folded address ("" when none)."""
    if not address:
        return ""
    match = _DIGITS.search(address)
    return match.group(0) if match else ""


@lru_cache(maxsize=200_000)
def street_part(address: str | None) -> str | None:
    """A folded address without its house number (the first run of digits), or None when
    it has no number or no distinctive street word (3 letters or more, not st, rd, …):
    "75 daintree cres" -> "daintree cres"."""
    number = house_number(address)
    if not number or address is None:
        return None
    before, _, after = address.partition(number)
    rest = " ".join(f"{before} {after}".split())
    if not any(_STREET_WORD.fullmatch(w) and w not in _STREET_ABBREVIATIONS
               for w in rest.split()):
        return None
    return rest


@lru_cache(maxsize=200_000)
def street_name(address: str | None) -> str | None:
    """The first distinctive street word of a folded address, whatever its number ("paces"
    for "490 e paces ferry rd", "antill" for "antill st trewilga"); for a Chinese one, the
    street_key's characters. None when there is none."""
    if not address:
        return None
    if _CJK.search(address):
        key = street_key(address)
        return key.partition("|")[2] if key else None
    for word in address.split():
        if _STREET_WORD.fullmatch(word) and word not in _STREET_ABBREVIATIONS:
            return word
    return None


@lru_cache(maxsize=200_000)
def street_key(address: str | None) -> str | None:
    """House number and the first distinctive street word ("490|paces" for "490 e paces
    ferry rd"; for Chinese, the three characters before the number), for blocking."""
    number = house_number(address)
    if not number or address is None:
        return None
    before, _, after = address.partition(number)
    if _CJK.search(before):
        han = "".join(_CJK.findall(before))[-3:]
        return f"{number}|{han}" if han else None
    for word in after.split():
        if _STREET_WORD.fullmatch(word) and word not in STREET_WORDS.values():
            return f"{number}|{word}"
    return None


@lru_cache(maxsize=200_000)
def _word_in(word: str, others: tuple[str, ...]) -> bool:
    """`word` is one of `others`, or one slip away from one (words of 5 letters or more).
    Remembered: the words of common names meet again and again."""
    if word in others:
        return True
    return len(word) >= 5 and any(len(o) >= 5 and fuzz.ratio(word, o, score_cutoff=85)
                                  for o in others)


def _all_in(xs: tuple[str, ...], ys: tuple[str, ...]) -> bool:
    return all(_word_in(x, ys) for x in xs)


@lru_cache(maxsize=200_000)
def _word_parts(words: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...],
                                                 frozenset[str], bool]:
    """A name's words for `words_level`, once per name: without legal forms; its core
    (without generic words either); its generic words; whether a word has 3 letters."""
    kept = tuple(w for w in words if w not in LEGAL)
    core = tuple(w for w in kept if w not in GENERIC)
    return kept, core, frozenset(kept) - frozenset(core), any(len(w) >= 3 for w in kept)


def words_level(xs: tuple[str, ...], ys: tuple[str, ...]) -> str | None:
    """"close" when two names differ only by generic words that one of them leaves out
    ("ciboulette restaurant" / "ciboulette"), "partial" when one name's words are all in
    the other ("henson" / "chicago public schools henson matthew a"), "shared" when two
    short names without generic words have a word in common, else None.
    Legal forms (Inc, Ltd, the …) count for nothing."""
    xs, core_x, gen_x, long_x = _word_parts(xs)
    ys, core_y, gen_y, long_y = _word_parts(ys)
    if not xs or not ys or not (long_x or long_y):
        return None
    if (core_x and core_y and _all_in(core_x, core_y) and _all_in(core_y, core_x)
            and (gen_x <= gen_y or gen_y <= gen_x)):
        return "close"
    short, long = (xs, ys) if len(xs) <= len(ys) else (ys, xs)
    if any(len(w) >= 3 and w not in GENERIC for w in short) and _all_in(short, long):
        return "partial"
    if (max(len(xs), len(ys)) <= PERSON_WORDS and not gen_x and not gen_y
            and any(len(w) >= 3 and _word_in(w, core_y) for w in core_x)):
        return "shared"  # a person's name with one word replaced: "connor millar" / "connor rawlings"
    return None


def han_org_level(x: str, y: str) -> str | None:
    """Chinese organisation names (characters): "close" when the same characters remain
    once legal forms (有限公司, 集团 …) are left out, in any order (远航餐饮管理（青岛）有限公司
    / 青岛远航餐饮管理); "partial" when one's remaining characters are all in the other."""
    cx, cy = _HAN_FORMS.sub("", x), _HAN_FORMS.sub("", y)
    if len(cx) < 2 or len(cy) < 2:
        return None
    if sorted(cx) == sorted(cy):
        return "close"
    short, long = (cx, cy) if len(cx) <= len(cy) else (cy, cx)
    return "partial" if short in long or (len(short) >= 3 and set(short) <= set(long)) else None
