"""`clean` and `validate`: rewrite stored contacts to their normalized form, or list problems.

    from custdata.api import Session, quality
    result = quality.clean(Session(db=Path("crm.db")), region="CN")
    result.counts  # {"checked": 1000, "changed": 120, "phone": 80, ...}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


from custdata.api.common import counted, phone_region
from custdata.api.session import Session
from custdata.clean import CLEANED_FIELDS, DERIVED_COLUMNS, clean_rows
from custdata.errors import UsageError
from custdata.models import Change, CleanedContact
from custdata.normalize import KEY_KINDS, key_functions
from custdata.api.people import WHO_COLUMNS, who
from custdata.validate import CHECKED_FIELDS, ISSUE_COLUMNS, Issue, find_issues

__all__ = ["CHECKED_FIELDS", "ISSUE_COLUMNS", "VALIDATE_COLUMNS", "CHANGE_COLUMNS", "CleanResult", "ValidateResult",
           "clean", "clean_contacts", "resolve_region", "validate"]

CHANGE_COLUMNS = ("contact", "field", "old", "new")
# validate's rows: who the contact is beside its id, then the problem (ISSUE_COLUMNS)
VALIDATE_COLUMNS = ("contact", *WHO_COLUMNS, *ISSUE_COLUMNS[1:])
_REMEMBERED = (*CLEANED_FIELDS, *(column for _, column in KEY_KINDS))
_FLUSH = 5000  # cleaned contacts per write_cleaned call (one batch of UPDATEs)


@dataclass
class CleanResult:
    """What `clean` did (or would do, dry_run): counts, changes, undeliverable domains.

    counts: contacts "checked" and "changed", then changed values per field (in the
    order clean reports them, fields without changes left out). changes: the history
    rows, kept only for a dry run (a real run writes them to the history instead).
    undeliverable: email domains without a mail server (check_dns only; else None).
    """

    counts: dict[str, int]
    dry_run: bool = False
    changes: list[Change] = field(default_factory=list)
    undeliverable: int | None = None

    def change_rows(self) -> Iterator[dict[str, Any]]:
        """The changes as rows of CHANGE_COLUMNS."""
        return ({"contact": c.contact_id, "field": c.field, "old": c.old, "new": c.new}
                for c in self.changes)


@dataclass
class ValidateResult:
    """Every problem found, in contact then field order, and its summary counts."""

    issues: list[Issue]
    people: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> who (api.people)

    @property
    def by_code(self) -> dict[str, int]:
        """Problems per issue code, sorted by code."""
        return dict(sorted(Counter(i.code for i in self.issues).items()))

    @property
    def contacts(self) -> int:
        """How many contacts have at least one problem."""
        return len({i.contact_id for i in self.issues})

    def rows(self) -> Iterator[dict[str, Any]]:
        """The problems as rows of VALIDATE_COLUMNS: ISSUE_COLUMNS with who the contact is
        (name, company, phone_or_email) after its id."""
        blank = dict.fromkeys(WHO_COLUMNS, "")
        for issue in self.issues:
            row = issue.as_row()
            yield {"contact": row["contact"], **self.people.get(issue.contact_id, blank), **row}


def resolve_region(session: Session, region: str | None = None) -> str:
    """`region`, or the config's general.region, checked against phonenumbers' regions."""
    return phone_region(region or session.region)


def clean(session: Session, *, region: str | None = None, dry_run: bool = False,
          check_dns: bool = False) -> CleanResult:
    """Clean every stored contact in one write (dry_run: write nothing, return the changes).

    With check_dns, also count the email domains that have no mail server (network).
    """
    region = resolve_region(session, region)
    dayfirst = session.dayfirst
    with session.store(need_key=True) as store:
        with session.progress("cleaning", store.contacts.count()) as advance:
            if dry_run:
                counts, changes = clean_contacts(store, None, region=region, dayfirst=dayfirst,
                                                 dry_run=True, advance=advance)
            else:
                with store.write(session.command_line) as op:
                    counts, changes = clean_contacts(store, op, region=region,
                                                     dayfirst=dayfirst, collect=False,
                                                     advance=advance)
                    op.counts = counts
        undeliverable = _count_undeliverable(store, region) if check_dns else None
    return CleanResult(counts, dry_run=dry_run, changes=changes, undeliverable=undeliverable)


def _count_undeliverable(store: Any, region: str) -> int:
    issues = find_issues(store.contacts.iter(), region=region, fields=["email"], check_dns=True)
    return sum(1 for i in issues if i.code == "email.undeliverable")


def validate(session: Session, *, fields: Iterable[str] | None = None,
             region: str | None = None, check_dns: bool = False) -> ValidateResult:
    """Every problem in the stored contacts (only `fields`, when given). Writes nothing."""
    wanted = [f.strip().lower() for f in fields or [] if f.strip()]
    region = resolve_region(session, region)
    with session.store(need_key=True, read_only=True) as store, \
            session.progress("validating contacts", store.contacts.count()) as advance:
        issues = find_issues(counted(store.contacts.iter(), advance), region=region,
                             dayfirst=session.dayfirst, fields=wanted or None,
                             check_dns=check_dns)
        people = who(store, {i.contact_id for i in issues if i.contact_id is not None})
    return ValidateResult(issues, people)


def clean_contacts(store: Any, op: Any, *, region: str, dayfirst: bool,
                   contact_ids: Iterable[int] | None = None, dry_run: bool = False,
                   collect: bool = True, workers: int | None = None,
                   advance: Callable[[int], None] | None = None,
                   ) -> tuple[dict[str, int], list[Change]]:
    """Clean every contact (or those in `contact_ids`) inside the open write `op`.

    Returns counts (contacts "checked", contacts "changed", then changed values per field,
    for the fields that changed) and the changes (history rows, operation "clean"). With
    dry_run nothing is written and `op` may be None. collect=False keeps memory flat on
    big stores by returning no changes (they are still written to the history). Contacts
    cross the store boundary in batches: streamed out, written back _FLUSH at a time.
    """
    run = _CleanRun(store, op, region=region, collect=collect, write=not dry_run)
    rows = run.remembered(store.cleaning.contacts_to_clean(contact_ids), advance)
    for cid, diff in clean_rows(rows, region=region, dayfirst=dayfirst, workers=workers):
        run.add(int(cid), diff)
    run.flush()
    counts = {k: v for k, v in run.counts.items() if v or k in ("checked", "changed")}
    return counts, run.kept


class _CleanRun:
    """One clean pass: the counts, the old values of the rows in flight, the batch to write."""

    def __init__(self, store: Any, op: Any, *, region: str, collect: bool, write: bool) -> None:
        self.store, self.op, self.collect, self.write = store, op, collect, write
        self.keys = key_functions(region)  # the same keys import computes
        self.counts: dict[str, int] = {"checked": 0, "changed": 0,
                                       **dict.fromkeys(CLEANED_FIELDS, 0)}
        self.kept: list[Change] = []
        self.batch: list[CleanedContact] = []
        # clean_rows reports only new values; the old ones are remembered per chunk in
        # flight (bounded by the pool's look-ahead) and dropped once the row is seen.
        self.old_of: dict[int, dict[str, Any]] = {}

    def remembered(self, rows: Iterator[dict], advance: Callable[[int], None] | None
                   ) -> Iterator[dict]:
        """The rows, counted, their old values remembered, progress advanced per 5,000."""
        counts, old_of = self.counts, self.old_of
        for row in rows:
            counts["checked"] += 1
            old_of[row["id"]] = {f: row.get(f) for f in _REMEMBERED}
            if advance is not None and counts["checked"] % _FLUSH == 0:
                advance(_FLUSH)
            yield row
        if advance is not None:
            advance(counts["checked"] % _FLUSH)

    def add(self, cid: int, diff: dict[str, str | None]) -> None:
        """Count one contact's changes and queue its write (flushing a full batch)."""
        old = self.old_of.pop(cid)
        changes = [Change(cid, f, old[f], v, "clean") for f, v in diff.items()
                   if f not in DERIVED_COLUMNS]
        for change in changes:
            self.counts[change.field] += 1
        self.counts["changed"] += bool(changes)
        if self.collect:
            self.kept.extend(changes)
        if self.write:
            keys = tuple((kind, column, fn(diff[kind])) for kind, column, fn in self.keys
                         if kind in diff)
            old_keys = {column: old.get(column) for _, column, _ in self.keys}
            self.batch.append(CleanedContact(cid, diff, keys, old_keys, changes))
            if len(self.batch) >= _FLUSH:
                self.flush()
        _forget_seen(self.old_of, cid)

    def flush(self) -> None:
        """Write the queued contacts (one store call)."""
        if self.batch:
            self.store.cleaning.write_cleaned(self.op, self.batch)
            self.batch = []


def _forget_seen(old_of: dict[int, Any], cid: int) -> None:
    """Drop remembered rows up to `cid`: rows come back in order, unchanged ones never do."""
    while old_of:
        first = next(iter(old_of))
        if first > cid:
            return
        del old_of[first]
