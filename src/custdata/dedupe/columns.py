"""Records as columns of integer codes, folded once and shared by blocking, the model's
value counts and bulk scoring (`bulk.py`).

Each column numbers a record field's distinct values in order of first appearance; a
record's code says which value it holds (-1: None). Equal codes mean equal values, so
comparing, grouping and counting values become numpy operations, and anything derived
from a value (a name's phonetic key, an e-mail's domain) is computed once per distinct
value, not once per record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress, count
from operator import attrgetter, not_
from typing import Any, Callable, Sequence

import numpy as np

from custdata.dedupe.features import Record
from custdata.dedupe.names import phonetic_key
from custdata.dedupe.orgs import (
    house_number, is_generic, street_key, street_name, street_part,
)

# Record attribute -> column. Names are numbered by their folded text ("nm", below).
ATTRIBUTES = {"external_id": "ext", "id_key": "idk", "id_number": "idn", "email_key": "ek",
              "email": "em", "phone_key": "pk", "phone": "ph", "birth": "bd", "gender": "gd",
              "company": "co", "address": "ad", "city": "ci", "postal": "po",
              "province": "pv", "other_id": "oid"}


# Block keys of one value, shared with the per-record rules (blocking.RULES).
def email_local(email: str | None) -> str | None:
    """A local part long enough to block on."""
    local = email.partition("@")[0] if email else None
    return local if local and len(local) >= 4 else None


def phone_tail(phone: str | None) -> str | None:
    return phone[-7:] if phone and len(phone) >= 9 else None


def initials(name: Any) -> str:
    return "".join(t[0] for t in sorted(name.canon))


def birth_year(birth: str | None) -> str | None:
    return birth[:4] if birth else None


def name_token(name: Any) -> str | None:
    """A name's longest distinctive word (4 letters or more, not a legal or generic word
    like Inc or restaurant), or a Chinese name's characters: for blocking names that
    differ in their other words."""
    if name.han:
        return name.han
    words = [t for t in name.canon if len(t) >= 4 and not is_generic(t)]
    return max(words, key=lambda t: (len(t), t)) if words else None


# Derived column -> (parent column, function of one parent value; None: no value).
DERIVED: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "nk": ("nm", lambda name: name.key),  # order-free canonical tokens
    "nh": ("nm", lambda name: name.han or None),  # the characters of a Chinese name
    "nph": ("nm", phonetic_key),
    "nin": ("nm", initials),
    "el": ("em", lambda email: email.partition("@")[0]),
    "ed": ("em", lambda email: email.partition("@")[2]),
    "elocal": ("em", email_local),
    "pt": ("ph", lambda phone: phone[-8:]),
    "ptail": ("ph", phone_tail),
    "by": ("bd", lambda birth: birth[:4]),
    "year": ("bd", birth_year),
    "adg": ("ad", house_number),  # another house number is another address
    "hno": ("ad", lambda address: house_number(address) or None),
    "stn": ("ad", street_key),
    "ast": ("ad", street_part),  # compare.streets_close
    "sna": ("ad", street_name),
    "asn": ("ast", lambda street: street.replace(" ", "")),
    "ans": ("ad", lambda address: address.replace(" ", "")),
    "ntok": ("nm", name_token),
    "cns": ("co", lambda company: company.replace(" ", "")),
}
# Term-frequency field (compare.TF_FIELDS) -> the column holding its value.
TF_COLUMNS = {"email": "ek", "phone": "pk", "name": "nk", "birth_date": "bd",
              "company": "co", "address": "ad", "city": "ci", "postal_code": "po"}


def factorize(values: Sequence[Any]) -> tuple[np.ndarray, list]:
    """Code per value (distinct values numbered in order of appearance; None is -1) and
    the distinct values: ["b", None, "a", "b"] -> [0, -1, 1, 0], ["b", "a"]."""
    first: dict[Any, int] = {}  # value -> position of its first appearance
    seen = np.fromiter(map(first.setdefault, values, count()), dtype=np.int64,
                       count=len(values))
    first.pop(None, None)
    number = np.full(len(values), -1, dtype=np.int64)  # position -> code
    number[np.fromiter(first.values(), dtype=np.int64, count=len(first))] = np.arange(len(first))
    return number[seen], list(first)


def with_missing(per_value: Sequence[Any] | np.ndarray, missing: Any = -1) -> np.ndarray:
    """`per_value` with `missing` appended: indexed by a code, code -1 gives `missing`."""
    return np.append(np.asarray(per_value, dtype=np.int64), missing)


def truthy_codes(codes: np.ndarray, values: list) -> np.ndarray:
    """`codes` (of `values`) with the codes of false values ("", 0) turned into -1."""
    false = np.fromiter(compress(count(), map(not_, values)), dtype=np.int64)
    if not len(false):
        return codes
    number = with_missing(np.arange(len(values)))
    number[false] = -1
    return number[codes]


def lengths(values: list) -> np.ndarray:
    """len() of each value, as an array."""
    return np.fromiter(map(len, values), dtype=np.int64, count=len(values))


@dataclass
class RecordColumns:
    """`codes[col]`: per record; `values[col]`: the distinct values. Names are numbered
    by their text and `values["nm"]` holds the parsed Names (a Name is a function of its
    text: see parse_name)."""

    size: int
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, list] = field(default_factory=dict)
    _derived: dict[str, tuple[np.ndarray, list]] = field(default_factory=dict)
    # Field levels already worked out per pair of distinct values (bulk's memo), shared by
    # every table made from these columns: the fit's pairs are not compared again when
    # scoring. A level is a function of the two values alone, whatever the model.
    level_memo: dict[str, dict[int, int]] = field(default_factory=dict, repr=False,
                                                  compare=False)
    # Other work on the distinct values shared by every table made from these columns
    # (bulk: the names' words for the screen of name_batch).
    shared: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def truthy(self, col: str) -> np.ndarray:
        """Codes with false values ("" as well as None) as -1, for the rules that test a
        value's truth."""
        return truthy_codes(self.codes[col], self.values[col])

    def mapping(self, col: str) -> tuple[np.ndarray, list]:
        """A derived column per distinct parent value (a stored column's, or a derived
        one's): (the derived code of each parent code, with -1 appended for code -1; the
        distinct derived values)."""
        if col not in self._derived:
            parent, fn = DERIVED[col]
            values = self.mapping(parent)[1] if parent in DERIVED else self.values[parent]
            codes, distinct = factorize([fn(v) for v in values])
            self._derived[col] = (with_missing(codes), distinct)
        return self._derived[col]

    def column(self, col: str) -> tuple[np.ndarray, list]:
        """Each record's code in a stored or derived column, and its distinct values."""
        if col not in DERIVED:
            return self.codes[col], self.values[col]
        mapped, distinct = self.mapping(col)
        return mapped[self.codes[DERIVED[col][0]]], distinct


def record_columns(records: Sequence[Record]) -> RecordColumns:
    """Every field `compare` and `blocking` use, as codes."""
    columns = RecordColumns(len(records))
    for attr, col in ATTRIBUTES.items():
        columns.codes[col], columns.values[col] = factorize(list(map(attrgetter(attr), records)))
    codes, _ = factorize([r.name.text if r.name is not None else None for r in records])
    _, first = np.unique(codes[codes >= 0], return_index=True)
    present = np.flatnonzero(codes >= 0)
    names = [records[i].name for i in present[first].tolist()]
    columns.codes["nm"], columns.values["nm"] = codes, names
    return columns


def value_counts(columns: RecordColumns, col: str) -> dict[Any, int]:
    """How many records hold each distinct value of `col`, in order of first appearance."""
    codes, distinct = columns.column(col)
    counts = np.bincount(codes[codes >= 0], minlength=len(distinct))
    return dict(zip(distinct, counts.tolist()))
