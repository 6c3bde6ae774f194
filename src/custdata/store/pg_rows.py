"""Result rows of the team store as the components expect them from SQLite: tuples that
answer row["column"] and dict(row) (like sqlite3.Row), numbers as int or float."""

from __future__ import annotations

from typing import Any


class RowBase(tuple):
    """A result row: a tuple that also answers row["column"] and dict(row)."""

    __slots__ = ()
    _names: tuple[str, ...] = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self._names


_row_classes: dict[tuple[str, ...], type] = {}


def named_row(cursor: Any) -> Any:
    """psycopg row factory: rows of a RowBase subclass knowing this result's columns."""
    names = tuple(c.name for c in cursor.description or ())
    cls = _row_classes.get(names)
    if cls is None:
        cls = type("Row", (RowBase,), {"__slots__": (), "_names": names,
                                        "_index": {n: i for i, n in enumerate(names)}})
        _row_classes[names] = cls
    return cls


def register_numbers(conn: Any) -> None:
    """numeric results as int (no fraction) or float, like SQLite's integer and real."""
    from psycopg.adapt import Loader

    class NumberLoader(Loader):
        def load(self, data: Any) -> int | float:
            text = bytes(data).decode()
            return float(text) if ("." in text or "e" in text.lower() or "N" in text) else int(text)

    conn.adapters.register_loader("numeric", NumberLoader)
