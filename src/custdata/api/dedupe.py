"""`dedupe` and `unmerge`: find the same customer twice, merge, undo a merge.

The expensive part (reading every contact, blocking, scoring, clustering) runs before
the write lock. A merge then re-reads each cluster's members inside the write and
applies survivorship to the values current at that moment, so a command that committed
in between (an import of new titles, another merge) is never overwritten: a cluster whose
member was deleted or merged by another command meanwhile is skipped and reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from custdata.api.session import Session
from custdata.dedupe import (
    DedupeResult, choose_survivor, find_duplicate_records, merged_values, to_record,
)
from custdata.errors import NotFoundError, UsageError

# The key fields each cluster row shows, after its ids, names, scores and merge id.
KEY_FIELDS = ["email", "phone", "id_number", "birth_date", "company", "city", "postal_code"]


@dataclass
class DedupeReport:
    """What `dedupe` found (and merged).

    rows: one dict per contact in a cluster (cluster_id, contact_id, external_id, name,
    score, coherence, survivor "yes"/"no", merge_id, KEY_FIELDS), as read when planning.
    skipped: cluster number -> why it was not merged (its contacts changed meanwhile).
    operation: the id of the merge's operation (`unmerge --operation` undoes all of it).
    """

    result: DedupeResult
    rows: list[dict] = field(default_factory=list)
    merged: bool = False
    dry_run: bool = False
    clusters_merged: int = 0
    removed_contacts: int = 0
    skipped: dict[int, str] = field(default_factory=dict)
    explain: list[dict] = field(default_factory=list)
    operation: int | None = None


def settings(config: Any, threshold: float | None = None) -> dict[str, Any]:
    """The keyword options of `find_duplicate_records` from config [dedupe] (and `threshold`).

    Raises UsageError (exit 2) for a threshold outside (0, 1].
    """
    value = config.get("dedupe", "threshold") if threshold is None else threshold
    if not 0.0 < value <= 1.0:
        raise UsageError(f"The match threshold {value} is outside (0, 1]; try 0.9 to 0.999.",
                         hint="threshold")
    return {"threshold": value, "min_coherence": config.get("dedupe", "min_cluster_coherence"),
            "duplicate_rate": config.get("dedupe", "duplicate_rate"),
            "max_block": config.get("dedupe", "max_block"),
            "window": config.get("dedupe", "window")}


def find(session: Session, store: Any, options: Mapping[str, Any]) -> DedupeResult:
    """Score every stored contact and cluster the duplicates (no write)."""
    records = []
    with session.progress("reading contacts", store.contacts.count()) as advance:
        for row in store.contacts.iter():
            records.append(to_record(row, region=session.region))
            if len(records) % 10_000 == 0:
                advance(10_000)
        advance(len(records) % 10_000)
    return find_duplicate_records(records, **options)


def dedupe(session: Session, *, threshold: float | None = None, explain: bool = False,
           merge: bool = False, dry_run: bool = False) -> DedupeReport:
    """Find clusters of contacts that are the same customer; with `merge`, merge each into
    one survivor (rolled back with `dry_run`); with `explain`, score each cluster's pairs
    instead (report.explain). Returns the clusters' rows and the counts."""
    if explain and merge:
        raise UsageError("Explaining only reports; explain first, then merge on its own.",
                         hint="explain_merge")
    options = settings(session.config, threshold)
    with session.store(need_key=merge) as store:
        seq = store.merges.last_seq()
        report = DedupeReport(find(session, store, options), merged=merge, dry_run=dry_run)
        session.notify(_found(report.result))
        if explain:
            report.explain = explain_rows(report.result)
            return report
        plans = _plan(store, report)
        if merge and plans:
            session.pause_at("dedupe:planned")
            _merge(session, store, report, plans, seq)
    return report


def _found(result: DedupeResult) -> str:
    return (f"{result.stats.records} contacts, {result.stats.pairs} candidate pairs compared, "
            f"{len(result.clusters)} clusters of "
            f"{sum(len(c.members) for c in result.clusters)} contacts.")


def _plan(store: Any, report: DedupeReport) -> dict[int, list[int]]:
    """cluster number -> member ids; fills report.rows with the members as read now."""
    clusters = report.result.clusters
    stored = {row["id"]: row for row in store.contacts.by_ids(
        i for cluster in clusters for i in cluster.members)}
    plans = {}
    for number, cluster in enumerate(clusters, 1):
        members = [stored[i] for i in cluster.members if i in stored]
        survivor = choose_survivor(members)["id"]
        plans[number] = [m["id"] for m in members]
        report.rows += [{
            "cluster_id": number, "contact_id": m["id"], "external_id": m.get("external_id"),
            "name": m.get("name"), "score": round(cluster.score, 6),
            "coherence": round(cluster.coherence, 6),
            "survivor": "yes" if m["id"] == survivor else "no", "merge_id": None,
            **{c: m.get(c) for c in KEY_FIELDS}} for m in members]
    return plans


def _merge(session: Session, store: Any, report: DedupeReport, plans: dict[int, list[int]],
           seq: int) -> None:
    """Merge every planned cluster inside one write, on the members' values of now."""
    region = session.region

    def survive(members: Sequence[Mapping[str, Any]]) -> tuple[int, dict[str, Any]]:
        return choose_survivor(members)["id"], merged_values(members, region=region)

    merge_ids: dict[int, str] = {}
    survivors: dict[int, int] = {}
    with store.write(session.command_line, dry_run=report.dry_run) as op, \
            session.progress("merging clusters", len(plans)) as advance:
        touched = store.merges.merged_since(seq)
        for number, members in plans.items():
            advance(1)
            if touched.intersection(members):
                report.skipped[number] = "another merge took some of its contacts"
                continue
            done = store.merges.merge_cluster(op, f"m{op.id}-{number}", members, survive)
            if done is None:
                report.skipped[number] = "some of its contacts no longer exist"
                continue
            merge_ids[number], survivors[number] = f"m{op.id}-{number}", done[0]
            report.removed_contacts += done[1]
        report.clusters_merged = len(merge_ids)
        report.operation = op.id
        op.counts.update({"clusters": len(merge_ids), "removed_contacts": report.removed_contacts,
                          "skipped_clusters": len(report.skipped)})
    for row in report.rows:
        number = row["cluster_id"]
        row["merge_id"] = merge_ids.get(number)
        if number in survivors:
            row["survivor"] = "yes" if row["contact_id"] == survivors[number] else "no"


def explain_rows(result: DedupeResult) -> list[dict]:
    """One row per scored pair of each cluster: probability, bits and each field's level."""
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


def unmerge(session: Session, *merge_ids: str, operation: int | None = None) -> dict[str, Any]:
    """Undo merges, all in one write: those named, and every merge that the operation
    `operation` (a `dedupe --merge` run, see `custdata log`) made and that is not undone.

    The latest merge is undone first, so merges made later over the same contacts go
    before the earlier ones. Each merge's contacts come back with their ids, values,
    orders and interactions; survivor fields changed after the merge keep their current
    values. Returns the totals (restored_contacts, orders, interactions), kept_fields and
    survivor_id of the last merge undone, and `merges`: one dict per merge undone.
    Nothing is written when any of them cannot be undone.
    """
    wanted = list(dict.fromkeys(m.strip() for m in merge_ids if m.strip()))
    if not wanted and operation is None:
        raise UsageError("Name the merges to undo, or the operation that made them.",
                         hint="unmerge_what")
    with session.store(need_key=True) as store:
        with store.write(session.command_line) as op:
            if operation is not None:
                wanted += [m for m in _merges_of(store, operation) if m not in wanted]
            order = sorted(wanted, key=lambda m: store.merges.merge_record(m)["seq"],
                           reverse=True)
            done = []
            with session.progress("undoing merges", len(order)) as advance:
                for merge_id in order:
                    counts = store.merges.unmerge(op, merge_id)
                    done.append({**counts.as_counts(), "survivor_id": counts.survivor_id})
                    advance(1)
            totals = {k: sum(d[k] for d in done)
                      for k in ("restored_contacts", "orders", "interactions")}
            op.counts = {"merge_ids": order, **totals}
    return {**totals, "merge_id": done[-1]["merge_id"], "kept_fields": done[-1]["kept_fields"],
            "survivor_id": done[-1]["survivor_id"], "merges": done}


def _merges_of(store: Any, operation: int) -> list[str]:
    """The merges of `operation` still to undo; NotFoundError/UsageError when none is."""
    made = store.merges.of_operation(operation)
    if not made:
        raise NotFoundError(f"Operation {operation} made no merges.", hint="merge_operation")
    left = [m for m, undone in made if not undone]
    if not left:
        raise UsageError(f"Every merge of operation {operation} ({len(made)}) was already "
                         "undone.")
    return left
