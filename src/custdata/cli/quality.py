"""`custdata clean` and `custdata validate`."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import phonenumbers
import typer

from custdata.cli._shared import FormatOpt, emit, err, open_store, state
from custdata.clean import CLEANED_FIELDS
from custdata.errors import ExitCode, UsageError
from custdata.validate import CHECKED_FIELDS, ISSUE_COLUMNS, find_issues

CHANGE_COLUMNS = ["contact", "field", "old", "new"]

RegionOpt = Annotated[str | None, typer.Option(
    "--region", metavar="CC", show_default=False,
    help="Phone region for numbers written without +country (default: config general.region).")]
CheckDnsOpt = Annotated[bool, typer.Option(
    "--check-dns", help="Also look up each email domain's mail server in DNS (needs the "
    "network; slow). Without it every check is offline.")]


def say(message: str) -> None:
    """One unwrapped line on stderr (scripts read the counts), unless --quiet."""
    if not state.quiet:
        err.print(message, highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `clean` and `validate` to the root app."""
    app.command("clean")(clean)
    app.command("validate")(validate)


def resolve_region(region: str | None) -> str:
    """--region or the config's general.region, checked against phonenumbers' regions."""
    value = (region or state.config.get("general", "region") or "").strip().upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise UsageError(
            f"--region {value or region!r} is not a phone region; use a two-letter country "
            "code such as CN, US or GB.")
    return value


def clean(
    region: RegionOpt = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the changes it would make (contact, field, old, new) and "
        "write nothing.")] = False,
    check_dns: CheckDnsOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """Rewrite stored contacts to their normalized form, in one transaction.

    Phones become E.164 (extensions kept as ;ext=N) and get their number type, emails get
    a lower-cased IDNA domain, text is NFKC with whitespace collapsed, Latin names in all
    caps or all lower are re-cased, countries become ISO codes, dates ISO 8601, resident
    IDs their 18-character form. A value that cannot be normalized is left as it is (see
    `custdata validate`); nothing is ever blanked. Every change is kept in the history.
    """
    region = resolve_region(region)
    dayfirst = state.config.get("general", "dayfirst")
    with open_store(need_key=True) as store:
        if dry_run:
            counts, changes = store.cleaning.clean_contacts(None, region=region, dayfirst=dayfirst,
                                                   dry_run=True)
            emit(({"contact": c.contact_id, "field": c.field, "old": c.old, "new": c.new}
                  for c in changes), fmt, CHANGE_COLUMNS)
        else:
            with store.write(state.command_line) as op:
                counts, _ = store.cleaning.clean_contacts(op, region=region, dayfirst=dayfirst,
                                                 collect=False)
                op.counts = counts
        undeliverable = _count_undeliverable(store) if check_dns else None
    say(_summary(counts, dry_run=dry_run, undeliverable=undeliverable))


def _summary(counts: dict[str, int], *, dry_run: bool, undeliverable: int | None) -> str:
    fields = ", ".join(f"{f} {counts[f]}" for f in CLEANED_FIELDS if counts.get(f))
    verb = "would change" if dry_run else "changed"
    line = (f"{'dry run: ' if dry_run else ''}clean: checked {counts['checked']} contacts, "
            f"{verb} {counts['changed']}" + (f" ({fields})" if fields else ""))
    if undeliverable is not None:
        line += f"; {undeliverable} email domain(s) without a mail server"
    return line


def _count_undeliverable(store) -> int:  # noqa: ANN001 - the assembled Store
    issues = find_issues(store.contacts.iter(), region=resolve_region(None),
                         fields=["email"], check_dns=True)
    return sum(1 for i in issues if i.code == "email.undeliverable")


def validate(
    field: Annotated[list[str] | None, typer.Option(
        "--field", metavar="NAME", help="Only check this field (repeatable): "
        + ", ".join(CHECKED_FIELDS) + ".")] = None,
    fail_on_invalid: Annotated[bool, typer.Option(
        "--fail-on-invalid", help="Exit 1 when any problem is found (for cron).")] = False,
    region: RegionOpt = None,
    check_dns: CheckDnsOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """Print one row per problem: contact, field, value, code, message, suggestion.

    Codes are stable (see the README): email.syntax, email.typo_domain, phone.invalid,
    phone.no_region, id_number.checksum, date.unparseable, country.unknown,
    required.missing, ... Suggestions are never applied. Nothing is written.
    """
    fields = [f.strip().lower() for f in field or [] if f.strip()]
    region = resolve_region(region)
    dayfirst = state.config.get("general", "dayfirst")
    with open_store(need_key=True) as store:
        issues = find_issues(store.contacts.iter(), region=region, dayfirst=dayfirst,
                             fields=fields or None, check_dns=check_dns)
    emit((i.as_row() for i in issues), fmt, list(ISSUE_COLUMNS))
    by_code = Counter(i.code for i in issues)
    contacts = len({i.contact_id for i in issues})
    detail = ", ".join(f"{code} {n}" for code, n in sorted(by_code.items()))
    say(f"validate: {len(issues)} problem(s) in {contacts} contact(s)"
        + (f" ({detail})" if detail else ""))
    if fail_on_invalid and issues:
        raise typer.Exit(int(ExitCode.FINDINGS))
