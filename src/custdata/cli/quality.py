"""`custdata clean` and `custdata validate`: parse options, call custdata.api.quality, render."""

from __future__ import annotations

from typing import Annotated

import typer

from custdata.api import quality
from custdata.api.session import Session
from custdata.cli._shared import FormatOpt, emit, say
from custdata.errors import CheckFailed

RegionOpt = Annotated[str | None, typer.Option(
    "--region", metavar="CC", show_default=False,
    help="Phone region for numbers written without +country (default: config general.region).")]
CheckDnsOpt = Annotated[bool, typer.Option(
    "--check-dns", help="Also look up each email domain's mail server in DNS (needs the "
    "network; slow). Without it every check is offline.")]


def register(app: typer.Typer) -> None:
    """Add `clean` and `validate` to the root app."""
    app.command("clean")(clean)
    app.command("validate")(validate)


def clean(
    ctx: typer.Context,
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
    session: Session = ctx.obj
    result = quality.clean(session, region=region, dry_run=dry_run, check_dns=check_dns)
    if dry_run:
        emit(result.change_rows(), fmt, list(quality.CHANGE_COLUMNS))
    say(_summary(result))


def _summary(result: quality.CleanResult) -> str:
    """The one stderr line scripts read: checked, changed, per field, undeliverable domains."""
    counts = result.counts
    fields = ", ".join(f"{f} {n}" for f, n in counts.items()
                       if n and f not in ("checked", "changed"))
    verb = "would change" if result.dry_run else "changed"
    line = (f"{'dry run: ' if result.dry_run else ''}clean: checked {counts['checked']} "
            f"contacts, {verb} {counts['changed']}" + (f" ({fields})" if fields else ""))
    if result.undeliverable is not None:
        line += f"; {result.undeliverable} email domain(s) without a mail server"
    return line


def validate(
    ctx: typer.Context,
    field: Annotated[list[str] | None, typer.Option(
        "--field", metavar="NAME", help="Only check this field (repeatable): "
        + ", ".join(quality.CHECKED_FIELDS) + ".")] = None,
    fail_on_invalid: Annotated[bool, typer.Option(
        "--fail-on-invalid", help="Exit 1 when any problem is found (for cron).")] = False,
    region: RegionOpt = None,
    check_dns: CheckDnsOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """Print one row per problem: contact (id, name, company, phone or email), field,
    value, code, message, suggestion.

    Codes are stable (see the README): email.syntax, email.typo_domain, phone.invalid,
    phone.no_region, id_number.checksum, date.unparseable, country.unknown,
    required.missing, ... Suggestions are never applied. Nothing is written.
    """
    session: Session = ctx.obj
    result = quality.validate(session, fields=field, region=region, check_dns=check_dns)
    emit(result.rows(), fmt, list(quality.VALIDATE_COLUMNS))
    detail = ", ".join(f"{code} {n}" for code, n in result.by_code.items())
    say(f"validate: {len(result.issues)} problem(s) in {result.contacts} contact(s)"
        + (f" ({detail})" if detail else ""))
    if fail_on_invalid and result.issues:
        raise CheckFailed(f"{len(result.issues)} problem(s) found and --fail-on-invalid "
                          "is set.")
