"""Spreadsheet layout rows and joined columns: what a sheet holds besides data. Pure.

Excel sheets carry title lines above the header, blank rows and totals rows (合计, Total);
`is_blank` and `totals_label` tell them apart from data, `join_cells` and `join_name`
put "First Name" + "Last Name" (or 姓 + 名) back together.
"""

from __future__ import annotations

import re
import unicodedata

# Labels of totals and subtotal rows, compared after `label_key`.
TOTAL_LABELS = frozenset({
    "合计", "合計", "总计", "總計", "小计", "小計", "共计", "共計", "总合计", "累计", "汇总", "彙總",
    "总数", "总额", "总金额", "合计金额", "本页小计",
    "total", "totals", "sum", "grandtotal", "subtotal", "subtotals", "sumtotal", "overalltotal",
    "gesamt", "summe", "gesamtsumme", "zwischensumme", "insgesamt",
    "totale", "totalegenerale", "subtotale", "somme", "sommetotale", "totalgeneral",
    "totalgénéral", "soustotal", "suma", "sumatotal", "totalgeneral", "总计金额",
})
_INITIALS = frozenset(label[0] for label in TOTAL_LABELS)
# First characters a totals label may start with ("" too: a row whose first cell is empty).
TOTAL_INITIALS = _INITIALS | {c.upper() for c in _INITIALS} | {"", " ", "\u3000"} | \
    set("合總总小共累汇彙本")
_DIGIT = re.compile(r"\d")  # a decimal digit stays one under NFKC
_LABEL_JUNK = re.compile(r"[\s\-_.:：()（）\[\]【】]+")


def label_key(text: str) -> str:
    """Comparison form of a label: NFKC, lower case, without spaces and punctuation."""
    return _LABEL_JUNK.sub("", unicodedata.normalize("NFKC", text)).lower()


def is_blank(cells: list[str]) -> bool:
    """True when every cell is empty or white space (a row Excel left blank)."""
    return all(not c.strip() for c in cells)


def totals_label(cells: list[str]) -> bool:
    """True when the first filled cell is a totals label ("合计", "Grand Total:")."""
    first = cells[0] if cells and cells[0] else next((c for c in cells if c.strip()), "")
    first = first.strip()
    if not first or len(first) > 24 or first[0].lower() not in _INITIALS \
            or _DIGIT.search(first):  # no label has a digit (an order id "O0001" is no label)
        return False
    return label_key(first) in TOTAL_LABELS


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or ch >= "\U00020000"


def join_cells(parts: list[str]) -> str:
    """Filled `parts` in order, each trimmed: joined by a space, or by nothing between
    two Chinese/Japanese characters ("Peter"+"Bühler" -> "Peter Bühler", "张"+"伟" -> "张伟")."""
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if out and not (_is_cjk(out[-1]) and _is_cjk(part[0])):
            out += " "
        out += part
    return out


def join_name(given: str, family: str) -> str:
    """A full name from its parts: "Peter Bühler" (given first), "张伟" (family first when
    both are written in Chinese characters)."""
    g, f = given.strip(), family.strip()
    if g and f and _is_cjk(g[0]) and _is_cjk(f[-1]):
        return f + g
    return join_cells([g, f])
