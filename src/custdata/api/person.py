"""Recognising one person in free text (a rejected row's raw line, a logged command line).

`forget` erases what the store holds of a person; the rows it keeps as free text are
judged here, by the person's values and match keys as import computes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from custdata.normalize.keys import key_of as plain_key

_FIELDS = ("external_id", "name", "email", "phone", "id_number")


@dataclass
class Person:
    """How to recognise one person in free text such as a rejected row's raw line."""

    cells: set[str]      # whole cells: external id, name, and the raw values (lower case)
    contained: set[str]  # long unique keys found anywhere: emails, ID numbers
    digits: set[str]     # phone digits found inside a cell's digits

    @classmethod
    def of(cls, row: dict, region: str) -> "Person":
        """The person of one contact row (values in clear)."""
        cells = {str(row[f]).strip().lower() for f in _FIELDS if row.get(f)}
        contained = {k.lower() for k in (plain_key("email", row.get("email"), region),
                                         plain_key("id_number", row.get("id_number"), region))
                     if k and len(k) >= 6}
        contained |= {c for c in cells if "@" in c}
        phone = plain_key("phone", row.get("phone"), region) or ""
        digits = re.sub(r"\D", "", phone)
        return cls(cells - {""}, contained,
                   {d for d in (digits, digits[-11:], digits[-10:]) if len(d) >= 7})

    @classmethod
    def of_rows(cls, rows: Iterable[dict], region: str) -> "Person":
        """The person of several rows: a contact and the records merged into it."""
        person = cls(set(), set(), set())
        for row in rows:
            one = cls.of(row, region)
            person.cells |= one.cells
            person.contained |= one.contained
            person.digits |= one.digits
        return person

    def words(self) -> set[str]:
        return self.cells | self.contained | self.digits

    def found_in(self, text: str) -> bool:
        """True when `text` holds one of the person's values (a whole cell, or a key inside)."""
        lower = text.lower()
        if any(k in lower for k in self.contained):
            return True
        for cell in re.split(r"[,;\t|\r\n]", lower):
            cell = cell.strip().strip('"').strip()
            if cell in self.cells:
                return True
            if self.digits and any(d in re.sub(r"\D", "", cell) for d in self.digits):
                return True
        return False
