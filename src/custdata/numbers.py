"""Amounts and quantities as written by people in any locale. Pure.

"1 234,50 €", "1.234,50", "1'234.50", "$1,234.50", "(200)" and "RMB 12,50" are all
numbers; which separator is the decimal one is decided per column, from the evidence of
all its values (`ColumnEvidence`), because a single "1,234" or "1.234" cannot tell
(a thousands separator, or a decimal one followed by three digits?). A value that stays
ambiguous after that is unreadable with its reason, never guessed.

    >>> parse_number("1.234,50")
    1234.5
    >>> parse_number("1,234", decimal=",")
    1.234
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from custdata.errors import InvalidValue

DECIMALS = (",", ".")
# Evidence a single value gives about its column's decimal separator.
COMMA, DOT, AMBIGUOUS, NONE, JUNK = "comma", "dot", "ambiguous", "none", "junk"

_INT = re.compile(r"[-+]?[0-9]{1,15}")
_DOT_PLAIN = re.compile(r"-?[0-9]{1,15}\.[0-9]{1,15}")
_DOT_NOT3 = re.compile(r"-?[0-9]{1,15}\.(?:[0-9]{1,2}|[0-9]{4,15})")
_SPACES = re.compile(r"[\s\u00a0\u2007\u202f\u2009\u2008]+")
_CURRENCY = (r"(?:US\$|HK\$|NT\$|R\$|A\$|C\$|S\$|[$¥￥€£₹₩₽₺]|元|"
             r"RMB|CNY|USD|EUR|GBP|JPY|HKD|CHF|CAD|AUD|SGD|TWD|INR|KRW|SEK|NOK|DKK|PLN|"
             r"RUB|BRL|MXN|NZD|ZAR|Fr\.|kr\.?|zł)")
_SHAPE = re.compile(
    rf"(?P<lsign>[-+−])?(?:{_CURRENCY})?(?P<msign>[-+−])?"
    r"(?P<num>[0-9][0-9.,' ]*|[.,][0-9]+)"
    rf"(?P<tsign>-)?(?:{_CURRENCY})?", re.IGNORECASE)
_GROUPED = re.compile(r"[0-9]{1,3}(?:[' ][0-9]{3})*")


@dataclass(frozen=True)
class _Parts:
    """A number's text split up: sign, integer part (grouping marks kept) and the marks."""

    negative: bool
    body: str


def _split(raw: str, what: str) -> _Parts:
    """Sign and digit body of `raw` without currency, spaces or brackets; raises if none."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", raw)).strip()
    negative = text.startswith("(") and text.endswith(")")
    if negative:
        text = text[1:-1].strip()
    compact = text.replace(" ", "\x00")  # keep group spaces inside the digits only
    compact = re.sub(r"(?<=[0-9])\x00(?=[0-9])", " ", compact).replace("\x00", "")
    match = _SHAPE.fullmatch(compact)
    if match is None:
        raise InvalidValue(what, raw, "not a number")
    signs = [s for s in (match["lsign"], match["msign"], match["tsign"]) if s]
    if len(signs) > 1 or (signs and negative):
        raise InvalidValue(what, raw, "more than one sign")
    negative = negative or (bool(signs) and signs[0] in "-−")
    return _Parts(negative, match["num"].rstrip(" "))


def evidence(raw: str | None) -> str:
    """What one value says about its column's decimal separator.

    COMMA or DOT when it can only be read one way ("12,50", "1.234,5", "1,234,567"),
    AMBIGUOUS for a single separator followed by exactly three digits ("1,234"), NONE
    when it has no decimal part ("120", "1'234", blank) and JUNK when it is no number.
    """
    if raw is None or _INT.fullmatch(raw) or not raw.strip():
        return NONE
    if _DOT_NOT3.fullmatch(raw):
        return DOT
    try:
        body = _split(raw, "number").body
    except InvalidValue:
        return JUNK
    return _body_evidence(body)


def _body_evidence(body: str) -> str:
    commas, dots = body.count(","), body.count(".")
    if commas and dots:
        last = body.rfind(",") > body.rfind(".")
        return COMMA if last else DOT
    if not commas and not dots:
        return NONE
    sep = "," if commas else "."
    if commas + dots > 1:  # repeated: a thousands separator, the other one is decimal
        return DOT if sep == "," else COMMA
    head, tail = body.split(sep)
    if len(tail) != 3 or " " in head or "'" in head or head in ("", "0") \
            or len(head) > 3 or not tail.isdigit():
        return COMMA if sep == "," else DOT
    return AMBIGUOUS


def parse_number(raw: str, *, decimal: str | None = None, what: str = "amount") -> float:
    """The number in `raw`, reading `decimal` ("," or ".") as the decimal separator.

    Without `decimal`, a value is read only if it can be read one way ("12,50" is 12.5,
    "1,234,567" is 1234567); "1,234" raises InvalidValue saying why. Currency symbols
    and codes, spaces, apostrophes and NBSPs as thousands separators, a leading or
    trailing minus and accounting brackets "(200)" are understood.
    """
    if _INT.fullmatch(raw):
        return float(raw)
    if decimal == "." and _DOT_PLAIN.fullmatch(raw):
        return float(raw)
    parts = _split(raw, what)
    body = parts.body
    if decimal is None:
        seen = _body_evidence(body)
        if seen == AMBIGUOUS:
            raise InvalidValue(what, raw, "one separator followed by three digits: a "
                               "thousands separator or a decimal one, and no other value "
                               "of the column tells which", code=f"{what}.ambiguous")
        decimal = "," if seen == COMMA else "."
    value = _read_body(body, decimal, raw, what)
    return -value if parts.negative else value


def _read_body(body: str, decimal: str, raw: str, what: str) -> float:
    group = "." if decimal == "," else ","
    whole, sep, frac = body.partition(decimal)
    if decimal in frac or not frac.isdigit() and sep and frac != "":
        raise InvalidValue(what, raw, f"does not read with {decimal!r} as the decimal separator")
    if group in whole:
        groups = whole.replace("'", group).replace(" ", group).split(group)
        ok = groups[0].isdigit() and len(groups[0]) <= 3 and all(
            len(g) == 3 and g.isdigit() for g in groups[1:])
    else:
        ok = whole == "" or bool(_GROUPED.fullmatch(whole)) or whole.isdigit()
    if not ok or (whole == "" and not frac):
        raise InvalidValue(what, raw, f"digit groups do not read with {decimal!r} as the "
                           "decimal separator")
    digits = whole.replace(group, "").replace("'", "").replace(" ", "")
    value = float(f"{digits or '0'}.{frac or '0'}")
    if value in (float("inf"),):
        raise InvalidValue(what, raw, "too large")
    return value


@dataclass
class ColumnEvidence:
    """Counts of what a column's values say about its decimal separator (flat memory)."""

    comma: int = 0
    dot: int = 0
    ambiguous: int = 0
    junk: int = 0
    first_lines: dict[str, int] = field(default_factory=dict)

    def add(self, raw: str | None, line: int = 0) -> None:
        """Count one value (read at physical `line`)."""
        kind = evidence(raw)
        if kind == NONE:
            return
        if kind == COMMA:
            self.comma += 1
        elif kind == DOT:
            self.dot += 1
        elif kind == AMBIGUOUS:
            self.ambiguous += 1
        else:
            self.junk += 1
        self.first_lines.setdefault(kind, line)

    def decimal(self) -> str | None:
        """"," or "." when the values that can tell all agree; None when none can or they
        disagree (a mixed column: each value is then read only if it can be read one way)."""
        if self.comma and not self.dot:
            return ","
        if self.dot and not self.comma:
            return "."
        return None

    def unreadable(self) -> int:
        """How many values will not be read under `decimal()`."""
        return self.junk + (self.ambiguous if self.decimal() is None else 0)

    def explain(self) -> str:
        """Why values of the column are unreadable, naming the first line; "" if none are."""
        reasons = []
        if self.ambiguous and self.decimal() is None:
            why = ("the column mixes decimal commas and points" if self.comma and self.dot
                   else "no value of the column shows which separator is the decimal one")
            reasons.append(f"{self.ambiguous} with one separator followed by three digits "
                           f"(first at line {self.first_lines[AMBIGUOUS]}; {why})")
        if self.junk:
            reasons.append(f"{self.junk} that are not numbers "
                           f"(first at line {self.first_lines[JUNK]})")
        return "; ".join(reasons)


def checked_decimal(value: str) -> str | None:
    """"," or "." from a user's choice ("auto" -> None); raises ValueError otherwise."""
    aliases = {"comma": ",", "point": ".", "dot": ".", "period": ".", "auto": ""}
    value = aliases.get(value.strip().lower(), value.strip())
    if value and value not in DECIMALS:
        raise ValueError(value)
    return value or None
