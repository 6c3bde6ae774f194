"""Sealed copies of encrypted fields inside a row's `extra` JSON (phone_2, email_3, ...).

A file with two phone columns keeps the second as the `extra` key `phone_2` (import's
duplicate-header rule); an orders file with a delivery address keeps it as `address`.
When `phone` (or `address`) is encrypted, that copy is sealed too: the value becomes a
token bound to the row and the key (row id "<id>.<key>" in contacts, "<table>:<id>.<key>"
in orders and interactions), sealed and masked as its field. An extra key maps to a
field when it is the field's name, or the name followed by `_<n>`. Numbers (a phone
read from a spreadsheet cell) are sealed as their text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from custdata.crypto import TOKEN_PREFIX

_SUFFIX = re.compile(r"^(.*?)_\d+$")
# The tables whose rows keep an `extra` JSON object.
EXTRA_TABLES = ("contacts", "orders", "interactions", "order_lines")


def extra_field(key: str, columns: Iterable[str]) -> str | None:
    """The encrypted field (one of `columns`) whose copy the extra key `key` holds, or None."""
    columns = set(columns)
    if key in columns:
        return key
    found = _SUFFIX.match(key)
    return found.group(1) if found and found.group(1) in columns else None


def _load(text: str | None) -> dict[str, Any] | None:
    if not text or text == "{}":
        return None
    try:
        extra = json.loads(text)
    except ValueError:
        return None
    return extra if isinstance(extra, dict) else None


def _dump(extra: dict[str, Any]) -> str:
    return json.dumps(extra, ensure_ascii=False, sort_keys=True)


def _rid(table: str, row_id: int | str, key: str) -> str:
    """The row id a copy is sealed under: bound to its table, row and extra key."""
    return f"{row_id}.{key}" if table == "contacts" else f"{table}:{row_id}.{key}"


def _text(value: Any) -> str | None:
    """A copy's value as the text to seal (numbers too), or None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def recode_extra(old: Any, new: Any, row_id: int, text: str | None,
                 table: str = "contacts") -> str | None:
    """`text` (a row's extra JSON) with its field copies moved from `old`'s form to `new`'s.

    Returns None when nothing changes (no field copy, or not an object).
    """
    extra = _load(text)
    if extra is None:
        return None
    columns = set(old.encrypted_columns) | set(new.encrypted_columns)
    changed = False
    for key, value in extra.items():
        field = extra_field(key, columns)
        if field is None or (value := _text(value)) is None:
            continue
        rid = _rid(table, row_id, key)
        plain = old.unsealer("contacts", field)(rid, value)
        stored = new.sealer("contacts", field)(rid, plain)
        if stored != value:
            extra[key], changed = stored, True
    return _dump(extra) if changed else None


def seal_extra(protector: Any, row_id: int, text: str | None,
               table: str = "contacts") -> str | None:
    """`text` (a row of `table`'s extra JSON) with the copies of `protector`'s encrypted
    fields sealed: what every writer of `extra` stores.

    Values already sealed are kept: a writer may merge stored and new extra objects.
    """
    columns = getattr(protector, "encrypted_columns", ())
    if not columns:
        return text
    extra = _load(text)
    if extra is None:
        return text
    for key, value in extra.items():
        field = extra_field(key, columns)
        if field is not None and (value := _text(value)) and not value.startswith(TOKEN_PREFIX):
            extra[key] = protector.sealer("contacts", field)(_rid(table, row_id, key), value)
    return _dump(extra)


def unseal_extra(protector: Any, row_id: int, text: str | None,
                 table: str = "contacts") -> str | None:
    """`text` with sealed field copies opened (or masked, without the key)."""
    extra = _load(text)
    if extra is None or TOKEN_PREFIX not in (text or ""):
        return text
    columns = protector.encrypted_columns
    for key, value in extra.items():
        field = extra_field(key, columns)
        if field is not None and isinstance(value, str):
            extra[key] = protector.unsealer("contacts", field)(_rid(table, row_id, key), value)
    return _dump(extra)
