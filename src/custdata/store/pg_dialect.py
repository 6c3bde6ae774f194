"""The components' SQL (written for SQLite) said in PostgreSQL's dialect.

`translate(sql)` rewrites, outside quoted strings and identifiers: `?` and `:name`
placeholders into psycopg's `%s` / `%(name)s` (and a literal `%` into `%%`), the column
`user` (a reserved word) quoted, `rowid` into `seq` (the merges table's order column),
`temp.` into `pg_temp.`, SQLite's `IS` / `IS NOT` between values into `IS NOT DISTINCT
FROM` / `IS DISTINCT FROM`, `LIKE` into `ILIKE` (SQLite's LIKE ignores ASCII case),
`date(` into `sqlite_date(`, a bare `BEGIN` (a read snapshot) into a repeatable-read
transaction, and `INSERT OR IGNORE` / `INSERT OR REPLACE` into `ON CONFLICT` clauses.
The SQLite functions the SQL calls (julianday, total, instr...) exist on the server
(store/pg_schema.py). Results are cached per statement text.
"""

from __future__ import annotations

import re
from functools import lru_cache

# conflict targets of INSERT OR REPLACE, by table (the primary key, else id)
PRIMARY_KEYS = {"meta": "key", "rfm_cells": "contact_id", "custdata_schema": "version",
                "find_index": "contact_id", "find_fresh": "contact_id"}

_WORD_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<![\w\"])user(?![\w\"])", re.I), '"user"'),
    (re.compile(r"(?<![\w.])rowid\b", re.I), "seq"),
    (re.compile(r"(?<![\w.])temp\.", re.I), "pg_temp."),
    (re.compile(r"\bIS\s+NOT\s+(?!NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", re.I), "IS DISTINCT FROM "),
    (re.compile(r"\bIS\s+(?!NOT\b|NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", re.I),
     "IS NOT DISTINCT FROM "),
    (re.compile(r"(?<![\w.])LIKE\b", re.I), "ILIKE"),
    (re.compile(r"(?<![\w.])date\(", re.I), "sqlite_date("),
]
_NAME = re.compile(r"[A-Za-z_]\w*")
_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.I)
_OR_REPLACE = re.compile(r"^\s*INSERT\s+OR\s+REPLACE\s+INTO\s+([\w.]+)\s*\(([^)]*)\)", re.I)


def _segments(sql: str) -> list[tuple[bool, str]]:
    """(is_code, text) pieces: code, or a quoted string / identifier / comment kept as is."""
    out: list[tuple[bool, str]] = []
    i, start, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            out.append((True, sql[start:i]))
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:
                        end += 2
                        continue
                    break
                end += 1
            out.append((False, sql[i:end + 1]))
            i = start = end + 1
        elif ch == "-" and sql.startswith("--", i):
            out.append((True, sql[start:i]))
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append((False, sql[i:end]))
            i = start = end
        else:
            i += 1
    out.append((True, sql[start:]))
    return [(code, text) for code, text in out if text]


def _placeholders(code: str) -> str:
    """`?` -> %s, `:name` -> %(name)s (a `::` cast kept), `%` -> %%."""
    out, i, n = [], 0, len(code)
    while i < n:
        ch = code[i]
        if ch == "%":
            out.append("%%")
        elif ch == "?":
            out.append("%s")
        elif ch == ":" and code.startswith("::", i):
            out.append("::")
            i += 1
        elif ch == ":" and (match := _NAME.match(code, i + 1)):
            out.append(f"%({match.group()})s")
            i = match.end() - 1
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _code(text: str) -> str:
    for pattern, replacement in _WORD_RULES:
        text = pattern.sub(replacement, text)
    return _placeholders(text)


def _conflicts(sql: str) -> str:
    """INSERT OR IGNORE / OR REPLACE as INSERT ... ON CONFLICT."""
    if _OR_IGNORE.match(sql):
        return _OR_IGNORE.sub("INSERT INTO", sql, count=1).rstrip().rstrip(";") + \
            " ON CONFLICT DO NOTHING"
    match = _OR_REPLACE.match(sql)
    if match:
        table = match.group(1).lower().rsplit(".", 1)[-1]
        key = PRIMARY_KEYS.get(table, "id")
        columns = [c.strip() for c in match.group(2).split(",") if c.strip() != key]
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
        action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        body = re.sub(r"^\s*INSERT\s+OR\s+REPLACE\s+INTO", "INSERT INTO", sql, count=1, flags=re.I)
        return f"{body.rstrip().rstrip(';')} ON CONFLICT ({key}) {action}"
    return sql


@lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """The PostgreSQL statement for one of the components' SQLite statements."""
    if sql.strip().upper() == "BEGIN":
        return "BEGIN ISOLATION LEVEL REPEATABLE READ"
    sql = _conflicts(sql)
    return "".join(_code(text) if code else text.replace("%", "%%")
                   for code, text in _segments(sql))
