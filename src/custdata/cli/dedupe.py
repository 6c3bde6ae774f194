"""`custdata dedupe` and `custdata unmerge`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from custdata.cli._shared import FormatOpt, emit, open_store, progress, say, state
from custdata.dedupe import (
    DedupeResult, choose_survivor, find_duplicate_records, merged_values, to_record,
)
from custdata.errors import UsageError

CLUSTER_COLUMNS = ["cluster_id", "contact_id", "external_id", "name", "score", "coherence",
                   "survivor", "merge_id", "email", "phone", "id_number", "birth_date",
                   "company", "city", "postal_code"]
EXPLAIN_COLUMNS = ["cluster_id", "contact_a", "contact_b", "probability", "evidence_bits",
                   "agreed", "contributions"]


def register(app: typer.Typer) -> None:
    """Add `dedupe` and `unmerge` to the root app."""
    app.command("dedupe")(dedupe)
    app.command("unmerge")(unmerge)


def _settings(threshold: float | None) -> dict[str, Any]:
    cfg = state.config
    value = cfg.get("dedupe", "threshold") if threshold is None else threshold
    if not 0.0 < value <= 1.0:
        raise UsageError(f"--threshold {value} is outside (0, 1]; try 0.9 to 0.999.")
    return {"threshold": value, "min_coherence": cfg.get("dedupe", "min_cluster_coherence"),
            "duplicate_rate": cfg.get("dedupe", "duplicate_rate"),
            "max_block": cfg.get("dedupe", "max_block"), "window": cfg.get("dedupe", "window")}


def _find(store: Any, settings: dict[str, Any]) -> DedupeResult:
    region = state.config.get("general", "region")
    records = []
    with progress("reading contacts", store.contacts.count()) as advance:
        for row in store.contacts.iter():
            records.append(to_record(row, region=region))
            if len(records) % 10_000 == 0:
                advance(10_000)
        advance(len(records) % 10_000)
    return find_duplicate_records(records, **settings)


def _explain_rows(result: DedupeResult) -> list[dict]:
    rows = []
    for number, cluster in enumerate(result.clusters, 1):
        members = cluster.members
        pairs = [(a, b) for i, a in enumerate(members) for b in members[i + 1:]]
        if len(members) > 8:
            pairs = [(a, b) for a, b, _ in cluster.links]
        for a, b in pairs:
            scored = result.explain(a, b)
            rows.append({
                "cluster_id": number, "contact_a": a, "contact_b": b,
                "probability": round(scored.probability, 6),
                "evidence_bits": round(scored.bits, 2),
                "agreed": ",".join(f for f, level, _ in scored.contributions
                                   if level != "different"),
                "contributions": "; ".join(f"{f}={level}:{bits:+.2f}"
                                           for f, level, bits in scored.contributions),
            })
    return rows


def dedupe(
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
    fmt: FormatOpt = None,
) -> None:
    """Find contacts that are the same customer, and optionally merge them.

    Prints one row per contact in a cluster: cluster_id, contact_id, external_id, name,
    score (the cluster's weakest link), coherence, survivor, merge_id and the key fields.
    Exact matches on email, phone, external id and ID number (also when encrypted) and
    fuzzy matches on name (Chinese characters or pinyin, nicknames, swapped order), birth
    date, company, address, city and postal code. Exit 0 whether or not it finds any.
    """
    if explain and merge:
        raise UsageError("--explain only reports; run it first, then --merge on its own.")
    settings = _settings(threshold)
    region = state.config.get("general", "region")
    with open_store(need_key=merge) as store:
        result = _find(store, settings)
        say(f"{result.stats.records} contacts, {result.stats.pairs} candidate pairs compared, "
            f"{len(result.clusters)} clusters of "
            f"{sum(len(c.members) for c in result.clusters)} contacts.")
        if explain:
            emit(_explain_rows(result), fmt, EXPLAIN_COLUMNS)
            return
        rows, plans = [], []
        stored = {row["id"]: row for row in store.contacts.by_ids(
            i for cluster in result.clusters for i in cluster.members)}
        for number, cluster in enumerate(result.clusters, 1):
            members = [stored[i] for i in cluster.members]
            survivor = choose_survivor(members)["id"]
            plans.append((cluster, survivor, members))
            for member in members:
                rows.append({
                    "cluster_id": number, "contact_id": member["id"],
                    "external_id": member.get("external_id"), "name": member.get("name"),
                    "score": round(cluster.score, 6), "coherence": round(cluster.coherence, 6),
                    "survivor": "yes" if member["id"] == survivor else "no", "merge_id": None,
                    **{c: member.get(c) for c in CLUSTER_COLUMNS[8:]},
                })
        if merge and plans:
            _merge(store, plans, rows, region, dry_run)
        columns = CLUSTER_COLUMNS if merge else [c for c in CLUSTER_COLUMNS if c != "merge_id"]
        emit(rows, fmt, columns)


def _merge(store: Any, plans: list, rows: list[dict], region: str, dry_run: bool) -> None:
    merge_ids: dict[int, str] = {}
    removed = 0
    with store.write(state.command_line, dry_run=dry_run) as op:
        for number, (cluster, survivor, members) in enumerate(plans, 1):
            merge_id = f"m{op.id}-{number}"
            gone = store.merges.merge_cluster(op, merge_id, list(cluster.members), survivor,
                                       merged_values(members, region=region))
            if gone:
                merge_ids[number] = merge_id
                removed += gone
        op.counts.update({"clusters": len(merge_ids), "removed_contacts": removed})
    for row in rows:
        row["merge_id"] = merge_ids.get(row["cluster_id"])
    if dry_run:
        say(f"dry run: would merge {len(merge_ids)} clusters, removing {removed} contacts; "
            "nothing was written.")
    else:
        say(f"merged {len(merge_ids)} clusters, removed {removed} contacts; "
            "undo one with `custdata unmerge MERGE_ID`.")


def unmerge(
    merge_id: Annotated[str, typer.Argument(
        metavar="MERGE_ID", help="A merge id printed by `dedupe --merge` (e.g. m12-3).")],
) -> None:
    """Undo one merge: restore its contacts with their ids, values, orders and interactions.

    An unknown MERGE_ID is exit 2. A merge made later over the same contacts must be undone
    first.
    """
    with open_store(need_key=True) as store:
        counts = store.merges.unmerge(merge_id.strip(), command=state.command_line)
    say(f"undid merge {merge_id}: restored {counts['restored_contacts']} contacts, moved back "
        f"{counts['orders']} orders and {counts['interactions']} interactions.")
