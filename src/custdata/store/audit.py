"""Audit facts from SQL aggregates, value streams, and the stored audit runs (table audit_runs).

Counts only: the scoring lives in custdata.audit and the workflow in custdata.api.audit,
which pass in what the rules need (the consent values meaning yes, the match-key columns).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from operator import itemgetter
from typing import Any

from custdata.crypto import TOKEN_PREFIX
from custdata.errors import UsageError
from custdata.models import CONTACT_FIELDS
from custdata.store.crypto import META_COLUMNS
from custdata.store.component import Component

# The day a contact was last updated: its updated_at when that is an ISO date (as `clean`
# writes it), else the day custdata last stored or changed the record.
_LAST_UPDATE = (
    "COALESCE(CASE WHEN updated_at LIKE '____-__-__%' THEN date(substr(updated_at, 1, 10)) END, "
    "substr(changed_at, 1, 10))"
)

# Each check as an SQL condition, shared by the counts and by `audit --show`, so the
# listing always holds exactly the records counted. Contacts are read as `c` with a
# computed `last_update`; :stale, :retention and :today are ISO dates. "no-consent" is
# completed per call with the consent values that mean yes (contact_checks).
CONTACT_CHECKS: dict[str, str] = {
    "stale": "c.last_update < :stale",
    "no-consent": "lower(trim(COALESCE(c.consent, ''))) NOT IN ({consent_yes})",
    # CASE, not AND: the order and interaction look-ups run only for old records.
    "past-retention": """(CASE WHEN c.last_update >= :retention THEN 0
        WHEN EXISTS (SELECT 1 FROM orders o WHERE o.contact_id = c.id AND o.day >= :retention)
            THEN 0
        WHEN EXISTS (SELECT 1 FROM interactions i WHERE i.contact_id = c.id
                     AND i.day >= :retention) THEN 0
        ELSE 1 END)""",
}
# Orders are read as `o LEFT JOIN contacts c` (one pass, each flag computed once).
ORDER_CHECKS: dict[str, str] = {
    "orphan-orders": "(c.id IS NULL)",
    "future-orders": "(o.day > :today)",
    "negative-amounts": "(o.amount_value < 0 AND COALESCE(o.status_norm, '') != 'refunded')",
    "unreadable-orders": "(o.day IS NULL OR o.amount_value IS NULL OR o.status_norm IS NULL)",
}
INTERACTION_CHECKS: dict[str, str] = {
    "orphan-interactions": "(c.id IS NULL)",
}
_CONTACTS = f"(SELECT *, {_LAST_UPDATE} AS last_update FROM contacts) AS c"
_ORDERS = "orders AS o LEFT JOIN contacts AS c ON c.id = o.contact_id"
_INTERACTIONS = "interactions AS i LEFT JOIN contacts AS c ON c.id = i.contact_id"
SHOW_COLUMNS: dict[str, list[str]] = {
    "contacts": ["id", "external_id", "name", "email", "phone", "consent", "updated_at",
                 "last_update"],
    "orders": ["id", "order_id", "contact_id", "customer_ref", "order_date", "amount", "status"],
    "interactions": ["id", "contact_id", "customer_ref", "at", "channel"],
}


def _empty(column: str) -> str:
    return f"COALESCE(trim({column}), '') = ''"


def contact_checks(consent_yes: Iterable[str]) -> dict[str, str]:
    """CONTACT_CHECKS with "no-consent" completed: consent that is none of `consent_yes`."""
    listed = ", ".join("'" + v.lower().replace("'", "''") + "'" for v in consent_yes) or "''"
    return {**CONTACT_CHECKS, "no-consent": CONTACT_CHECKS["no-consent"].format(
        consent_yes=listed)}


def show_checks() -> list[str]:
    """Names `audit --show` accepts (empty:FIELD for each contact field)."""
    return [*CONTACT_CHECKS, *ORDER_CHECKS, *INTERACTION_CHECKS,
            *(f"empty:{f}" for f in CONTACT_FIELDS)]


class AuditFacts(Component):
    """Counts the audit's facts, streams values and failing records, keeps the audit runs."""

    def audit_facts(
        self, *, as_of: date, stale_days: int, retention_days: int,
        sensitive_columns: Iterable[str], consent_yes: Iterable[str],
        duplicate_keys: Iterable[str],
    ) -> dict[str, Any]:
        """The facts `custdata.audit.AuditSnapshot` holds, as keyword arguments (validity,
        file modes and paths excluded): counts from one read snapshot of SQL aggregates.

        consent_yes: the consent values that mean yes (any other is "no consent");
        duplicate_keys: the key columns whose shared values make exact-duplicate groups.
        """
        stale_cutoff = (as_of - timedelta(days=stale_days)).isoformat()
        retention_cutoff = (as_of - timedelta(days=retention_days)).isoformat()
        sensitive = [c for c in dict.fromkeys(sensitive_columns) if c in CONTACT_FIELDS]
        checks = contact_checks(consent_yes)
        self.db.execute("BEGIN")  # one read snapshot for every aggregate
        try:
            contacts = self._contact_facts(stale_cutoff, retention_cutoff, sensitive, checks)
            orders = self._order_facts(as_of.isoformat())
            groups, members, in_any = self._duplicate_facts(tuple(duplicate_keys))
            encrypted = self._encrypted_columns()
        finally:
            self.db.execute("COMMIT")
        # A column counts as encrypted when `encrypt` says so and no plaintext value is left.
        encrypted_clean = tuple(c for c in sensitive
                                if c in encrypted and contacts[f"plain_{c}"] == 0)
        return dict(
            contacts=contacts["n"], orders=orders["n"],
            interactions=orders["interactions"],
            empty={f: contacts[f] for f in CONTACT_FIELDS},
            duplicate_groups=groups, duplicate_members=members, contacts_in_duplicates=in_any,
            stale=contacts["stale"],
            orphan_orders=orders["orphan_orders"] or 0,
            orphan_interactions=orders["orphan_interactions"] or 0,
            future_orders=orders["future_orders"] or 0,
            negative_not_refund=orders["negative_amounts"] or 0,
            unreadable_orders=orders["unreadable_orders"] or 0,
            bad_orders=orders["bad"] or 0,
            sensitive_with_data=tuple(c for c in sensitive if contacts[c] < contacts["n"]),
            encrypted_columns=encrypted_clean,
            sealed_columns=tuple(c for c in sensitive
                                 if contacts["n"] - contacts[c] > contacts[f"plain_{c}"]),
            without_consent=contacts["no_consent"],
            past_retention=contacts["past_retention"],
            stale_days=stale_days, retention_days=retention_days,
        )

    def _contact_facts(self, stale_cutoff: str, retention_cutoff: str,
                       sensitive: list[str], contact_checks: dict[str, str]) -> dict[str, int]:
        plain = [
            f"SUM(COALESCE({c}, '') != '' AND substr({c}, 1, {len(TOKEN_PREFIX)}) != "
            f"'{TOKEN_PREFIX}') AS plain_{c}"
            for c in sensitive
        ]
        checks = [f"SUM({sql}) AS {name.replace('-', '_')}" for name, sql in contact_checks.items()]
        # Two passes are faster than one: the checks need the computed last_update column.
        facts = dict(self.db.execute(f"""
            SELECT COUNT(*) AS n,
                   {", ".join([f"SUM({_empty(f)}) AS {f}" for f in CONTACT_FIELDS] + plain)}
            FROM contacts
        """).fetchone())
        facts.update(self.db.execute(
            f"SELECT {', '.join(checks)} FROM {_CONTACTS}",
            {"stale": stale_cutoff, "retention": retention_cutoff}).fetchone())
        return {k: v or 0 for k, v in facts.items()}  # SUM() of no rows is NULL

    def _order_facts(self, today: str) -> dict[str, int]:
        # Most orders pass every check: a WHERE that drops them as soon as each check is
        # false costs less than a flag per check per order (2.0 s of CPU instead of 4.8 s
        # at 10M orders); the flags are then summed over the few bad orders only.
        sums = ", ".join(f"SUM({sql}) AS {name.replace('-', '_')}"
                         for name, sql in ORDER_CHECKS.items())
        orders = dict(self.db.execute(
            f"SELECT COUNT(*) AS bad, {sums} FROM {_ORDERS} "
            f"WHERE {' OR '.join(ORDER_CHECKS.values())}", {"today": today}).fetchone())
        orders["n"] = self.db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        orders["interactions"] = self.db.execute(
            "SELECT COUNT(*) FROM interactions").fetchone()[0]
        orders["orphan_interactions"] = self.db.execute(
            f"SELECT COUNT(*) FROM {_INTERACTIONS} "
            f"WHERE {INTERACTION_CHECKS['orphan-interactions']}").fetchone()[0]
        return orders

    def _duplicate_facts(self, duplicate_keys: tuple[str, ...],
                         ) -> tuple[dict[str, int], dict[str, int], int]:
        groups: dict[str, int] = {}
        members: dict[str, int] = {}
        # `key != ''` (NULL is not counted either) lets SQLite read a partial index
        # (external_id's skips NULLs) in key order instead of sorting the table.
        for key in duplicate_keys:
            row = self.db.execute(f"""
                SELECT COUNT(*), COALESCE(SUM(n), 0) FROM (
                    SELECT COUNT(*) AS n FROM contacts WHERE {key} != ''
                    GROUP BY {key} HAVING COUNT(*) > 1) AS g
            """).fetchone()
            groups[key], members[key] = row[0], row[1]
        wanted = [k for k in duplicate_keys if members[k]]
        if not wanted:
            return groups, members, 0
        where = " OR ".join(
            f"{k} IN (SELECT {k} FROM contacts WHERE {k} != '' "
            f"GROUP BY {k} HAVING COUNT(*) > 1)"
            for k in wanted
        )
        in_any = self.db.execute(f"SELECT COUNT(*) FROM contacts WHERE {where}").fetchone()[0]
        return groups, members, in_any

    def _encrypted_columns(self) -> set[str]:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (META_COLUMNS,)).fetchone()
        try:
            listed = json.loads(row[0]) if row else []
        except ValueError:
            listed = []
        return {c for c in listed if isinstance(c, str)}

    def audit_records(self, check: str, *, as_of: date, stale_days: int, retention_days: int,
                      consent_yes: Iterable[str], batch: int = 5000,
                      ) -> tuple[list[str], Iterator[dict]]:
        """Columns and streamed rows of the records that fail `check` (see show_checks()).

        The same conditions audit_facts counts (consent_yes: as given to it). An unknown
        check is a UsageError (hint "audit_show").
        """
        contact = contact_checks(consent_yes)
        params = {"stale": (as_of - timedelta(days=stale_days)).isoformat(),
                  "retention": (as_of - timedelta(days=retention_days)).isoformat(),
                  "today": as_of.isoformat()}
        if check.startswith("empty:") and check[6:] in CONTACT_FIELDS:
            kind, where = "contacts", _empty(f"c.{check[6:]}")
        elif check in contact:
            kind, where = "contacts", contact[check]
        elif check in ORDER_CHECKS:
            kind, where = "orders", ORDER_CHECKS[check]
        elif check in INTERACTION_CHECKS:
            kind, where = "interactions", INTERACTION_CHECKS[check]
        else:
            named = [*CONTACT_CHECKS, *ORDER_CHECKS, *INTERACTION_CHECKS]
            raise UsageError(f"{check!r} is not a check; choose one of "
                             f"{', '.join(named)}, or empty:FIELD with a contact field.",
                             hint="audit_show")
        alias, source = {"contacts": ("c", _CONTACTS), "orders": ("o", _ORDERS),
                         "interactions": ("i", _INTERACTIONS)}[kind]
        columns = SHOW_COLUMNS[kind]
        return columns, self._stream(kind, alias, source, where, params, batch)

    def _stream(self, kind: str, alias: str, source: str, where: str, params: dict,
                batch: int) -> Iterator[dict]:
        last = 0
        while True:
            rows = self.db.execute(
                f"SELECT {alias}.* FROM {source} WHERE {alias}.id > :last AND {where} "
                f"ORDER BY {alias}.id LIMIT {int(batch)}", {**params, "last": last}).fetchall()
            if not rows:
                return
            for row in rows:
                yield self.unseal_row(kind, dict(row))  # type: ignore[attr-defined]
            last = rows[-1]["id"]

    def audit_values(self, column: str, *, opened: bool = False) -> Iterator[str]:
        """Every non-empty value of a contact column, one per contact holding it.

        The stored text; opened=True: the values unsealed by the store's protector (an
        encrypted column read with the key), those blank once opened left out.
        """
        if column not in CONTACT_FIELDS:
            raise UsageError(f"{column!r} is not a contact field.")
        # plain tuples: sqlite3.Row costs ~1 s per million. Values, not GROUP BY counts:
        # SQLite sorts every value to group them, and the caller's count in Python
        # (validate.count_invalid) costs 40 % less.
        if not opened:
            yield from map(itemgetter(0), self.db.tuples(
                f"SELECT {column} FROM contacts WHERE NOT {_empty(column)}"))
            return
        unseal = self.protector.unsealer("contacts", column)
        for cid, stored in self.db.tuples(
                f"SELECT id, {column} FROM contacts WHERE {column} IS NOT NULL"):
            value = unseal(cid, stored)
            if value is not None and str(value).strip():
                yield value

    def save_audit_run(self, *, at: str, score: float, parts: dict[str, Any]) -> int:
        """Store one scored audit run; returns its id."""
        return self.db.insert(  # one autocommit statement: nothing half-written
            "INSERT INTO audit_runs (at, score, parts) VALUES (?, ?, ?)",
            (at, score, json.dumps(parts, sort_keys=True)))

    def audit_runs(self) -> list[dict[str, Any]]:
        """Every stored audit run, oldest first: id, at, score, parts ({part: score})."""
        rows = self.db.execute("SELECT id, at, score, parts FROM audit_runs ORDER BY id")
        return [{"id": r[0], "at": r[1], "score": r[2], "parts": _parts(r[3])} for r in rows]

    def last_audit_score(self) -> float | None:
        row = self.db.execute("SELECT score FROM audit_runs ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else float(row[0])


def _parts(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
