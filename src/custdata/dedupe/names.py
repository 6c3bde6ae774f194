"""Person names as comparable tokens: pinyin for Chinese, nicknames folded, order-free keys.

"张伟", "Zhang Wei", "Wei Zhang" and "ZHANG, Wei" all become the tokens ("zhang", "wei");
"Bob Smith" and "Robert Smith" share the canonical tokens ("robert", "smith").
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import jellyfish

from custdata._lazy import lazy
from custdata.normalize import normalize_text

pypinyin = lazy("pypinyin")  # its dictionaries take a second to load

# Two-character family names (复姓): "欧阳娜娜" is ouyang + nana, not ou + yangnana.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 令狐 慕容 夏侯 尉迟 公孙 司徒 宇文 长孙 轩辕 端木 澹台 "
    "百里 南宫 西门 独孤 呼延 闻人 万俟 钟离 赫连 第五 左丘 申屠 太史".split()
)
# Family names whose reading differs from the character's everyday reading.
SURNAME_READINGS = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha",
    "朴": "piao", "盖": "ge", "乐": "yue", "覃": "qin", "召": "shao", "缪": "miao",
    "尉迟": "yuchi", "万俟": "moqi", "长孙": "zhangsun", "翟": "zhai", "折": "she",
}

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SPLIT = re.compile(r"[^0-9a-z\u3400-\u9fff\uf900-\ufaff]+")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def nickname_table() -> dict[str, frozenset[str]]:
    """Token -> the formal names it may stand for (a formal name maps to itself)."""
    table: dict[str, set[str]] = {}
    text = resources.files("custdata.dedupe").joinpath("data/nicknames.csv").read_text("utf-8")
    for row in csv.DictReader(text.splitlines()):
        formal = row["name"].strip()
        table.setdefault(formal, set()).add(formal)
        for nick in row["nicknames"].split(";"):
            if nick.strip():
                table.setdefault(nick.strip(), set()).add(formal)
    return {token: frozenset(names) for token, names in table.items()}


def _han_tokens(han: str) -> tuple[str, ...]:
    """("zhang", "wei") for 张伟: family name, then the given name as one token."""
    family = han[:2] if han[:2] in COMPOUND_SURNAMES and len(han) > 2 else han[:1]
    given = han[len(family):]
    family_py = SURNAME_READINGS.get(family) or "".join(pypinyin.lazy_pinyin(family, style=pypinyin.Style.NORMAL))
    given_py = "".join(pypinyin.lazy_pinyin(given, style=pypinyin.Style.NORMAL))
    return (family_py, given_py) if given_py else (family_py,)


@dataclass(frozen=True, slots=True)
class Name:
    """A name ready for comparison.

    `text`: folded written form; `han`: the Chinese characters if the name is written in
    them; `tokens`: pinyin/latin tokens in written order; `canon`: tokens with nicknames
    folded to one formal name each; `key`: the sorted canonical tokens joined (order-free);
    `joined`: spellings with spaces removed in written and rotated order.
    """

    text: str
    han: str
    tokens: tuple[str, ...]
    canon: tuple[str, ...]
    key: str
    joined: frozenset[str]


@lru_cache(maxsize=200_000)
def parse_name(raw: str) -> Name | None:
    """The comparable form of a name, or None when it holds no letters."""
    text = _strip_accents(normalize_text(raw)).casefold()
    han = "".join(_HAN.findall(text))
    if han and len(han) >= 2 and not re.search(r"[a-z]", text):
        tokens = _han_tokens(han)
    else:
        han = ""
        tokens = tuple(t for t in _SPLIT.split(text) if t and not t.isdigit())
    if not tokens:
        return None
    nick = nickname_table()
    canon = tuple(min(nick[t]) if t in nick else t for t in tokens)
    key = " ".join(sorted(canon))
    joined = {"".join(tokens), "".join(canon)}
    if len(tokens) > 1:
        joined.add("".join(tokens[-1:] + tokens[:-1]))
        joined.add("".join(tokens[1:] + tokens[:1]))
    return Name(text, han, tokens, canon, key, frozenset(joined))


@lru_cache(maxsize=100_000)  # names repeat, and so do the token pairs compared
def same_token(a: str, b: str) -> bool:
    """True if two tokens may name the same person: equal, or nickname and formal name."""
    if a == b:
        return True
    nick = nickname_table()
    return bool(nick.get(a, frozenset((a,))) & nick.get(b, frozenset((b,))))


def alias_equal(a: Name, b: Name) -> bool:
    """Same person's name in another script, order or with a nickname: 张伟 = Wei Zhang."""
    if not a.joined.isdisjoint(b.joined):
        return True
    if len(a.tokens) != len(b.tokens):
        return False
    rest = list(b.tokens)
    for token in a.tokens:
        for i, other in enumerate(rest):
            if same_token(token, other):
                del rest[i]
                break
        else:
            return False
    return True


def phonetic_key(name: Name) -> str:
    """Order-free sound-alike key (Metaphone of each canonical token), for blocking."""
    return " ".join(sorted(jellyfish.metaphone(t) or t for t in name.canon))
