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
from pathlib import Path
from typing import Any

from custdata.api.common import resolve_contact
from custdata.api.dedupe_memory import ModelChoice, choose_model, identifiers_of, read_labels
from custdata.api.session import Session
from custdata.dedupe import (
    DedupeResult, Record, choose_survivor, find_duplicate_records, learn_model, merged_values,
    model_table, model_to_dict, to_record,
)
from custdata.api.people import who_pairs
from custdata.dedupe import explain_pair as core_explain_pair
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
    model: ModelChoice = field(default_factory=lambda: ModelChoice(None, "none"))
    labels_stored: int = 0
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


def read_records(session: Session, store: Any, identifiers: Sequence[str] = ()) -> list[Record]:
    """Every stored contact folded for matching (`to_record`), with a progress bar."""
    records = []
    with session.progress("reading contacts", store.contacts.count()) as advance:
        for row in store.contacts.iter():
            records.append(to_record(row, region=session.region, identifiers=tuple(identifiers)))
            if len(records) % 10_000 == 0:
                advance(10_000)
        advance(len(records) % 10_000)
    return records


def find(session: Session, store: Any, options: Mapping[str, Any],
         identifiers: Sequence[str] = (), review_floor: float | None = None
         ) -> tuple[DedupeResult, ModelChoice]:
    """Score every stored contact and cluster the duplicates (no write), with the stored
    labels and the stored model while it is not stale. Returns the result and the choice."""
    records = read_records(session, store, identifiers)
    choice = choose_model(store.dedupe.model(), len(records), identifiers)
    result = find_duplicate_records(records, **options, model=choice.model,
                                    labels=store.dedupe.labels(), review_floor=review_floor)
    return result, choice


def dedupe(session: Session, *, threshold: float | None = None, explain: bool = False,
           merge: bool = False, dry_run: bool = False, labels_file: Path | None = None,
           identifiers: Sequence[str] | None = None) -> DedupeReport:
    """Find clusters of contacts that are the same customer; with `merge`, merge each into
    one survivor (rolled back with `dry_run`); with `explain`, score each cluster's pairs
    instead (report.explain). `labels_file`: first store the decisions it holds (see
    `import_labels`). `identifiers`: extra columns matched as identifiers (default: config
    dedupe.identifiers). Returns the clusters' rows and the counts."""
    if explain and merge:
        raise UsageError("Explaining only reports; explain first, then merge on its own.",
                         hint="explain_merge")
    options = settings(session.config, threshold)
    names = identifiers_of(session.config, identifiers)
    stored = import_labels(session, labels_file) if labels_file is not None else 0
    with session.store(need_key=merge, read_only=not merge) as store:
        seq = store.merges.last_seq()
        result, choice = find(session, store, options, names)
        report = DedupeReport(result, merged=merge, dry_run=dry_run, model=choice,
                              labels_stored=stored)
        session.notify(_found(report.result))
        if explain:
            report.explain = who_pairs(store, explain_rows(report.result))
            return report
        plans = _plan(store, report)
        if merge and plans:
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


# ---- the model, one pair's explanation, review and labels (issue 17) ----------------

@dataclass
class ModelReport:
    """What `dedupe --model` fitted and stored: fitted_at, contacts it was fitted on,
    fitted (False: the list is too small, the hand-set weights are kept), prior_bits,
    identifiers, and rows: one per field and level (field, level, m, u, bits)."""

    fitted_at: str
    contacts: int
    fitted: bool
    prior_bits: float
    identifiers: tuple[str, ...]
    rows: list[dict[str, Any]]


def model(session: Session, *, identifiers: Sequence[str] | None = None) -> ModelReport:
    """Fit the match model to the stored contacts (and labels), store it with its fit time
    and contact count for later runs to reuse, and return its table."""
    names = identifiers_of(session.config, identifiers)
    options = settings(session.config)
    with session.store() as store:
        records = read_records(session, store, names)
        fitted = learn_model(records, **options, labels=store.dedupe.labels())
        with store.write(session.command_line) as op:
            data = {**model_to_dict(fitted), "fitted_at": op.at, "contacts": len(records),
                    "identifiers": list(names)}
            store.dedupe.save_model(op, data)
    return ModelReport(data["fitted_at"], len(records), bool(fitted.fitted_rows),
                       round(fitted.prior_bits, 2), names, model_table(fitted))


@dataclass
class PairReport:
    """`dedupe --explain-pair A B`: the two contact ids, whether blocking compares them
    (verdict: the sentence saying by which rule, or why not), the rules under which they
    share a key, each field's level, values and bits (rows), the score, and the model used."""

    a: int
    b: int
    compared: bool
    verdict: str
    rules: tuple[str, ...]
    rows: list[dict[str, Any]]
    bits: float
    probability: float
    model: ModelChoice


def explain_pair(session: Session, a: str, b: str, *,
                 identifiers: Sequence[str] | None = None) -> PairReport:
    """Why contacts `a` and `b` (ids, external ids, emails or phones) are or are not matched."""
    names = identifiers_of(session.config, identifiers)
    options = settings(session.config)
    with session.store(read_only=True) as store:
        first, second = (resolve_contact(store, text, region=session.region) for text in (a, b))
        if first == second:
            raise UsageError(f"{a} and {b} name the same contact (id:{first}); name two.")
        records = read_records(session, store, names)
        choice = choose_model(store.dedupe.model(), len(records), names)
        found = core_explain_pair(records, first, second, model=choice.model,
                                  max_block=options["max_block"], window=options["window"])
        pair = [r for i in (first, second) for r in records if r.id == i]
        rows = _field_rows(store, pair, found.contributions)
    return PairReport(first, second, found.compared, found.blocking_verdict(), found.rules,
                      rows, round(found.bits, 2), round(found.probability, 6), choice)


def _field_rows(store: Any, pair: Sequence[Record], contributions: Sequence[tuple[str, str, float]]
                ) -> list[dict[str, Any]]:
    """One row per compared field: field, level, the two contacts' values, bits."""
    rows = {row["id"]: row for row in store.contacts.by_ids([r.id for r in pair])}
    return [{"field": name, "level": level, "a": _shown(rows[pair[0].id], pair[0], name),
             "b": _shown(rows[pair[1].id], pair[1], name), "bits": round(bits, 2)}
            for name, level, bits in contributions]


def _shown(row: Mapping[str, Any], record: Record, name: str) -> Any:
    """A contact's stored value of a compared field (identifiers: as matched)."""
    return row[name] if name in row else getattr(record, name, None)


@dataclass
class ReviewPair:
    """One pair to decide: the two contact rows, the probability, bits and each field's
    (field, level, bits)."""

    a: dict[str, Any]
    b: dict[str, Any]
    probability: float
    bits: float
    contributions: tuple[tuple[str, str, float], ...]


def review_queue(session: Session, *, threshold: float | None = None, floor: float = 0.5,
                 limit: int = 50, identifiers: Sequence[str] | None = None) -> list[ReviewPair]:
    """The undecided pairs scored from `floor` up to the threshold, likeliest first (at most
    `limit`), with both records and the evidence, for a person to label."""
    options = settings(session.config, threshold)
    names = identifiers_of(session.config, identifiers)
    with session.store(read_only=True) as store:
        result, _ = find(session, store, options, names, review_floor=floor)
        chosen = result.uncertain[:limit]
        rows = {row["id"]: row for row in store.contacts.by_ids(
            i for a, b, _, _ in chosen for i in (a, b))}
    out = []
    for a, b, _, _ in chosen:
        scored = result.explain(a, b)
        out.append(ReviewPair(rows[a], rows[b], scored.probability, scored.bits,
                              tuple(scored.contributions)))
    return out


def label(session: Session, decisions: Sequence[tuple[int, int, bool]], *,
          source: str = "review") -> int:
    """Store same/different decisions on pairs of contact ids; returns how many. A pair
    labelled different is never clustered by later runs, one labelled same always is."""
    if not decisions:
        return 0
    with session.store() as store:
        with store.write(session.command_line) as op:
            return store.dedupe.save_labels(op, decisions, source)


def import_labels(session: Session, path: Path) -> int:
    """Store the decisions of a CSV or .xlsx file (contact_a, contact_b, same|different);
    a bad line stores nothing (InputFileError naming it). Returns how many were stored."""
    with session.store() as store:
        decisions = read_labels(store, Path(path), region=session.region)
        with store.write(session.command_line, input_file=str(path)) as op:
            return store.dedupe.save_labels(op, decisions, "file")
