"""`audit`: score the store 0-100 for quality and security; list failing records; the trend.

    from custdata.api import Session, audit
    run = audit.audit(Session(db=Path("crm.db")))
    run.report.score, run.report.parts["validity"].score, run.document()
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from custdata.api.session import Session
from custdata.audit import (
    DUPLICATE_KEYS, PARTS, REPORT_COLUMNS, AuditReport, AuditSnapshot, audit_report, below,
    change_since, check_field_weights, check_validity_fields, effective_weights, history_rows,
    report_document, report_rows, validity_facts,
)
from custdata.config import DEFAULTS
from custdata.models import CONTACT_FIELDS
from custdata.store import utc_now
from custdata.normalize import CONSENT_VALUES
from custdata.validate import CHECKED_FIELDS, count_invalid

__all__ = ["AuditReport", "AuditRun", "HISTORY_COLUMNS", "PARTS", "REPORT_COLUMNS", "audit", "history",
           "records", "score_store"]

HISTORY_COLUMNS = ("run", "at", "score", "change", *PARTS)
CONSENT_YES = tuple(value for value, meaning in CONSENT_VALUES.items() if meaning == "yes")
VALIDATE_FIELDS = tuple(f for f in CHECKED_FIELDS if f != "name")  # name: only "missing"
_PRIVATE_BITS = 0o077  # any access by group or others


@dataclass(frozen=True)
class AuditRun:
    """One audit: the report, the day it judged, the previous run's score and the change.

    failed: the score is below the fail_under given to `audit` (never for an empty store).
    saved: the run was stored (an empty store has no score and is not recorded, and a
    read-only store cannot record it: `session.notify` says so).
    """

    report: AuditReport
    as_of: date
    previous: float | None
    change: float | None
    failed: bool = False
    saved: bool = False

    def document(self) -> dict[str, Any]:
        """The report as one JSON-ready object (the `--format json` schema)."""
        return report_document(self.report, as_of=self.as_of.isoformat(),
                               previous_score=self.previous, change=self.change)

    def rows(self) -> list[dict[str, Any]]:
        """The report as flat rows of REPORT_COLUMNS: overall, parts, findings."""
        return report_rows(self.report)


def audit(session: Session, *, as_of: date | None = None, fail_under: float | None = None,
          save: bool = True) -> AuditRun:
    """Score the store as of `as_of` (default: session.today) and store the run (save).

    Progress reaches session.progress ("auditing the store", one step per part gathered).
    """
    day = as_of or session.today
    with session.store(read_only=True) as store:
        report = score_store(session, store, as_of=day)
        previous = store.audit.last_audit_score()
        saved = save and not report.empty and not store.read_only
        if save and not report.empty and store.read_only:
            session.notify(f"The store {session.db} is read-only here: this audit run "
                           "could not be recorded (the audit history will not show it).")
        if saved:
            store.audit.save_audit_run(at=utc_now(), score=report.score,
                                       parts={n: p.score for n, p in report.parts.items()})
    return AuditRun(report, day, previous, change_since(report.score, previous),
                    failed=below(report.score, fail_under), saved=saved)


def score_store(session: Session, store: Any, *, as_of: date) -> AuditReport:
    """Gather the facts (SQL aggregates, validity of stored values, file modes) and score."""
    return scored_snapshot(session, store, as_of=as_of)[0]


def scored_snapshot(session: Session, store: Any, *, as_of: date,
                    ) -> tuple[AuditReport, AuditSnapshot]:
    """The audit report and the facts it was scored from (the html page shows both)."""
    cfg = session.config
    weights = effective_weights(cfg.get("audit", "weights"), DEFAULTS["audit"]["weights"][0])
    field_weights = check_field_weights(cfg.get("audit", "field_weights"), CONTACT_FIELDS)
    fields = check_validity_fields(cfg.get("audit", "validity_fields"), VALIDATE_FIELDS)
    with session.progress("auditing the store", 1 + len(fields)) as advance:
        facts = store.audit.audit_facts(
            as_of=as_of, stale_days=int(cfg.get("audit", "stale_days")),
            retention_days=int(cfg.get("audit", "retention_days")),
            sensitive_columns=cfg.get("crypto", "columns"), consent_yes=CONSENT_YES,
            duplicate_keys=DUPLICATE_KEYS)
        advance(1)
        snapshot = AuditSnapshot(**facts)
        validity = _validity(session, store, snapshot, fields, advance)
    key_file = session.key_file
    snapshot = AuditSnapshot(**{
        **facts, "validity": validity,
        # a team store has no file: exposed means every login of the server may read it
        "database_exposed": store.db.exposed() if session.on_server
        else file_exposed(Path(store.path)),
        "database_path": str(store.path),
        "key_file_exposed": file_exposed(Path(key_file)) if key_file else None,
        "key_file_path": str(key_file or "")})
    return audit_report(snapshot, weights=weights, field_weights=field_weights), snapshot


def _validity(session: Session, store: Any, snapshot: AuditSnapshot, fields: Iterable[str],
              advance: Any) -> dict[str, Any]:
    """Validity facts per field: encrypted values are judged only when the key opens them."""
    protector = store.protector
    readable = protector.encrypted_columns if getattr(protector, "has_key", False) else ()
    sealed = set(snapshot.sealed_columns)
    unreadable = [c for c in sealed if c not in readable]

    def values(name: str) -> Iterator[Any]:
        yield from store.audit.audit_values(name, opened=name in sealed)
        advance(1)

    checked = {f: snapshot.contacts - snapshot.empty.get(f, 0) for f in fields}
    return validity_facts(values, checked=checked, unreadable=unreadable,
                          count_invalid=count_invalid, region=session.region,
                          dayfirst=session.dayfirst)


def file_exposed(path: Path) -> bool | None:
    """True when group or others may access `path`; None when it cannot be checked."""
    try:
        return bool(os.stat(path).st_mode & _PRIVATE_BITS)
    except OSError:
        return None


@contextmanager
def records(session: Session, check: str, *, as_of: date | None = None
            ) -> Iterator[tuple[list[str], Iterator[dict[str, Any]]]]:
    """(columns, rows) of the records that fail `check`, the same rule the score counts.

    A context manager: the rows stream from the store, open until the block ends.

        with audit.records(session, "stale") as (columns, rows):
            for row in rows: ...
    """
    cfg = session.config
    with session.store(read_only=True) as store:
        yield store.audit.audit_records(
            check.strip(), as_of=as_of or session.today,
            stale_days=int(cfg.get("audit", "stale_days")),
            retention_days=int(cfg.get("audit", "retention_days")), consent_yes=CONSENT_YES)


def history(session: Session) -> list[dict[str, Any]]:
    """Every stored audit run, oldest first, as rows of HISTORY_COLUMNS (change: vs the one
    before, None for the first)."""
    with session.store(read_only=True) as store:
        return history_rows(store.audit.audit_runs())
