"""`custdata dedupe` and `custdata unmerge`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custdata.api import dedupe as api
from custdata.api.session import Session
from custdata.cli._shared import Format, FormatOpt, emit, resolve_format, say
from custdata.cli.review import run_review
from custdata.errors import UsageError

CLUSTER_COLUMNS = ["cluster_id", "contact_id", "external_id", "name", "score", "coherence",
                   "survivor", "merge_id", *api.KEY_FIELDS]
EXPLAIN_COLUMNS = ["cluster_id", "contact_a", "name_a", "company_a", "phone_or_email_a",
                   "contact_b", "name_b", "company_b", "phone_or_email_b", "probability",
                   "evidence_bits", "agreed", "contributions"]
MODEL_COLUMNS = ["field", "level", "m", "u", "bits"]
PAIR_COLUMNS = ["field", "level", "a", "b", "bits"]


def register(app: typer.Typer) -> None:
    """Add `dedupe` and `unmerge` to the root app."""
    app.command("dedupe")(dedupe)
    app.command("unmerge")(unmerge)


def dedupe(
    ctx: typer.Context,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", min=0.0, max=1.0, show_default=False,
        help="Match probability a pair needs to join a cluster (default: config "
        "dedupe.threshold). Lower finds more, with more risk of false matches.")] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Print one row per pair in each cluster with each field's "
        "agreement level and how many bits of evidence it counted (+ for, - against).")
    ] = False,
    merge: Annotated[bool, typer.Option(
        "--merge", help="Merge each cluster into one survivor (orders and interactions move "
        "to it; every change goes to the history; `custdata unmerge MERGE_ID` undoes it).")
    ] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="With --merge: show the survivors and merge ids it would make, "
        "and write nothing.")] = False,
    model: Annotated[bool, typer.Option(
        "--model", help="Fit the match model to the contacts, store it (later runs reuse it "
        "until the contacts change by more than 10%) and print it: field, level, m, u, bits.")
    ] = False,
    explain_pair: Annotated[tuple[str, str] | None, typer.Option(
        "--explain-pair", metavar="A B", show_default=False,
        help="Why two contacts (ids, external ids, emails or phones) are or are not matched: "
        "the blocking rule that compares them (or none), each field's level and bits, "
        "the score.")] = None,
    review: Annotated[bool, typer.Option(
        "--review", help="On a terminal: show the uncertain pairs one at a time and take "
        "same / different / skip / quit. Decisions are stored and used by every later run.")
    ] = False,
    labels: Annotated[Path | None, typer.Option(
        "--labels", metavar="FILE", show_default=False,
        help="Store the decisions of a CSV or .xlsx file (columns contact_a, contact_b and "
        "same|different) before deduplicating.")] = None,
    identifier: Annotated[list[str] | None, typer.Option(
        "--identifier", metavar="COLUMN", show_default=False,
        help="A column kept in extra (a membership or tax number) to match as an identifier; "
        "repeat for several (default: config dedupe.identifiers).")] = None,
    fmt: FormatOpt = None,
) -> None:
    """Find contacts that are the same customer, and optionally merge them.

    Prints one row per contact in a cluster: cluster_id, contact_id, external_id, name,
    score (the cluster's weakest link), coherence, survivor, merge_id and the key fields.
    Exact matches on email, phone, external id and ID number (also when encrypted) and
    fuzzy matches on name (Chinese characters or pinyin, nicknames, swapped order), birth
    date, company, address, city and postal code, weighed by a model fitted to the list.
    Exit 0 whether or not it finds any.
    """
    session: Session = ctx.obj
    _check_modes(explain=explain, merge=merge, model=model, pair=explain_pair is not None,
                 review=review, labels=labels is not None)
    if dry_run and labels is not None:
        raise UsageError("--dry-run writes nothing but --labels stores decisions; store them "
                         "with --labels first, then run --merge --dry-run.")
    if model:
        return _show_model(api.model(session, identifiers=identifier), fmt)
    if explain_pair is not None:
        return _show_pair(api.explain_pair(session, *explain_pair, identifiers=identifier), fmt)
    if review:
        return run_review(session, threshold, identifier)
    report = api.dedupe(session, threshold=threshold, explain=explain, merge=merge,
                        dry_run=dry_run, labels_file=labels, identifiers=identifier)
    if report.labels_stored:
        count = report.labels_stored
        say(f"stored {count} decision{'s' if count != 1 else ''} from {labels}.")
    _say_model(report.model)
    if explain:
        emit(report.explain, fmt, EXPLAIN_COLUMNS)
        return
    if merge and report.rows:
        _say_merged(report)
    columns = CLUSTER_COLUMNS if merge else [c for c in CLUSTER_COLUMNS if c != "merge_id"]
    emit(report.rows, fmt, columns)


def _check_modes(*, explain: bool, merge: bool, model: bool, pair: bool, review: bool,
                 labels: bool) -> None:
    """--model, --explain-pair and --review each run on their own."""
    named = [flag for flag, on in (("--model", model), ("--explain-pair", pair),
                                   ("--review", review)) if on]
    others = [flag for flag, on in (("--explain", explain), ("--merge", merge),
                                    ("--labels", labels)) if on]
    if named and len(named) + len(others) > 1:
        raise UsageError(f"{named[0]} runs on its own; leave out "
                         f"{', '.join([*named[1:], *others])}.")


def _say_model(choice: api.ModelChoice) -> None:
    if choice.state == "stored":
        say(f"used the model stored on {choice.fitted_at} ({choice.contacts} contacts).")
    elif choice.state == "stale":
        say(f"the stored model is stale ({choice.why}); this run fitted a fresh one. "
            "Store it with `custdata dedupe --model`.")


def _show_model(report: api.ModelReport, fmt: Format | None) -> None:
    what = ("fitted to" if report.fitted else
            "too few contacts to fit: the hand-set weights, for")
    ids = f"; identifiers: {', '.join(report.identifiers)}" if report.identifiers else ""
    say(f"model {what} {report.contacts} contacts at {report.fitted_at}, prior "
        f"{report.prior_bits:+.2f} bits{ids}; stored: later runs use it until the contacts "
        "change by more than 10%.")
    rows = report.rows
    if resolve_format(fmt) is Format.table:  # u is often tiny: keep its significant digits
        rows = [{**row, "m": f"{row['m']:.3g}", "u": f"{row['u']:.3g}"} for row in rows]
    emit(rows, fmt, MODEL_COLUMNS)


def _show_pair(report: api.PairReport, fmt: Format | None) -> None:
    say(f"contacts {report.a} and {report.b}: {report.verdict}.")
    emit(report.rows, fmt, PAIR_COLUMNS)
    say(f"score: {report.bits:+.2f} bits, match probability {report.probability:.6f}.")


def _say_merged(report: api.DedupeReport) -> None:
    if report.skipped:
        listing = "; ".join(f"cluster {n}: {why}" for n, why in sorted(report.skipped.items()))
        say(f"skipped {len(report.skipped)} clusters whose contacts another command changed "
            f"while this one scored ({listing}); run dedupe again to merge them.")
    if report.dry_run:
        say(f"dry run: would merge {report.clusters_merged} clusters, removing "
            f"{report.removed_contacts} contacts; nothing was written.")
    else:
        say(f"merged {report.clusters_merged} clusters, removed {report.removed_contacts} "
            "contacts; undo one with `custdata unmerge MERGE_ID`, all of them with "
            f"`custdata unmerge --operation {report.operation}`.")


def unmerge(
    ctx: typer.Context,
    merge_ids: Annotated[list[str] | None, typer.Argument(
        metavar="MERGE_ID", show_default=False,
        help="Merge ids printed by `dedupe --merge` (e.g. m12-3 m12-4).")] = None,
    operation: Annotated[int | None, typer.Option(
        "--operation", metavar="OP_ID", show_default=False,
        help="Undo every merge that this `dedupe --merge` run made (its id in "
        "`custdata log`).")] = None,
) -> None:
    """Undo merges: restore their contacts with their ids, values, orders and interactions.

    Several MERGE_IDs, or --operation OP_ID for all the merges of one `dedupe --merge`
    run, are undone in one transaction (latest first): all of them or none. An unknown
    MERGE_ID or OP_ID is exit 2. A merge made later over the same contacts must be undone
    first (name both).
    """
    counts = api.unmerge(ctx.obj, *(merge_ids or []), operation=operation)
    for one in counts["merges"]:
        say(f"undid merge {one['merge_id']}: restored {one['restored_contacts']} contacts, "
            f"moved back {one['orders']} orders and {one['interactions']} interactions.")
        if one["kept_fields"]:
            say(f"kept the changes made to contact {one['survivor_id']} after the merge: "
                f"{', '.join(one['kept_fields'])} (see `custdata history id:"
                f"{one['survivor_id']}`).")
    if len(counts["merges"]) > 1:
        say(f"undid {len(counts['merges'])} merges: restored {counts['restored_contacts']} "
            f"contacts, moved back {counts['orders']} orders and {counts['interactions']} "
            "interactions.")
