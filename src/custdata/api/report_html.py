"""The numbers of `report html`, from a store: the same calls `report rfm`, `report churn`
and `audit` make, so the page and the terminal reports agree.

No terminal code and no printing: the api layer will own this function. Personal values
follow the key (see `personal_value`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from custdata.audit import (
    history_rows,
)
from custdata.errors import UsageError
from custdata.api.audit import scored_snapshot
from custdata.api.report_html_churn import gather_churn
from custdata.api.segments import customer_aggregates
from custdata.htmlreport.model import (
    Audit, Base, Count, Duplicates, Finding, Move, ReportData, Rfm, Segment,
)
from custdata.crypto.masks import mask_value
from custdata.segments import (
    CN8_SEGMENTS, SEGMENTS, STAGES, TIERS, action_for, rfm_scores, segment_label, segment_table,
)
from custdata.validate import CHECKED_FIELDS

FINDINGS_SHOWN = 6
_PRIVATE_BITS = 0o077
VALIDATE_FIELDS = tuple(f for f in CHECKED_FIELDS if f != "name")  # as `audit` judges them


def gather(session: Any, store: Any, *, as_of: date, scheme: str = "standard",
           top: int = 20, key_available: bool = False, no_pii: bool = False,
           lang: str = "en",
           now: datetime | None = None) -> ReportData:
    """Everything `report html` shows, computed from `store` as of `as_of`.

    key_available: the store is encrypted and its key opened it (only then does the call
    list show clear phone numbers); no_pii: leave every personal value out. key_file is
    the key's path, judged by the audit's security part as `audit` judges it.
    """
    if scheme not in ("standard", "cn8"):
        raise UsageError(f"Unknown scheme {scheme!r}; use standard or cn8.")
    agg, currency = customer_aggregates(store, session.config, as_of=as_of, for_tag=True)
    rfm = _rfm(agg, scheme=scheme, currency=currency, lang=lang)
    shown = personal_value(sealed=store.protector.encrypted_columns,
                           key_available=key_available, no_pii=no_pii)
    tags = store.segments.contact_tags()
    high = tags.loc[tags["tier"] == "high", "contact_id"].to_numpy()
    churn, churn_note = gather_churn(store, session.config, as_of=as_of, top=top, shown=shown,
                                     high_tier=high)
    audit, snapshot = _audit(session, store, as_of=as_of)
    personal = "none" if no_pii else "clear-phones" if key_available else "masked"
    return ReportData(
        as_of=as_of.isoformat(),
        generated_at=(now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"),
        currency=currency, base=_base(store, tags, agg), rfm=rfm, churn=churn, audit=audit,
        duplicates=_duplicates(store, snapshot), personal=personal, churn_note=churn_note)


def personal_value(*, sealed: Iterable[str], key_available: bool, no_pii: bool) -> Any:
    """shown(column, value) -> what the page may print of a personal value.

    None with no_pii; the clear phone when the key opened an encrypted store; else the
    mask: a sealed column read without the key already is its masked form.
    """
    already_masked = frozenset(() if key_available else sealed)

    def shown(column: str, value: str | None) -> str | None:
        if no_pii or value is None or value == "":
            return None
        if column == "phone" and key_available:
            return value
        if column in already_masked:
            return value
        return mask_value(column, str(value))
    return shown


# ---- customer base ---------------------------------------------------------------------

def _base(store: Any, tags: Any, agg: Any) -> Base:
    stages = tags["stage"].fillna("").value_counts().to_dict() if len(tags) else {}
    known = [s for s in STAGES if s in stages]
    stage_counts = [Count(s, int(stages[s])) for s in known]
    stage_counts += [Count(s, int(n)) for s, n in sorted(stages.items()) if s not in known]
    tier_counts = _tiers(tags, agg)
    last = store.reporting.last_stage_moves()
    return Base(contacts=store.contacts.count(), customers=int(len(agg)),
                stages=stage_counts, tiers=tier_counts,
                moves=[Move(o, n, c) for o, n, c in last.get("moves", [])],
                moves_at=last.get("at"), moves_as_of=last.get("as_of"))


def _tiers(tags: Any, agg: Any) -> list[Count]:
    """Contacts per stored tier and the net revenue (orders up to as_of) of each."""
    if not len(tags):
        return []
    merged = tags.merge(agg[["contact_id", "monetary"]], on="contact_id", how="left")
    merged["tier"] = merged["tier"].fillna("")
    grouped = merged.groupby("tier").agg(n=("contact_id", "size"), revenue=("monetary", "sum"))
    order = [t for t in TIERS if t in grouped.index]
    order += sorted(t for t in grouped.index if t not in order)
    return [Count(t, int(grouped.at[t, "n"]), round(float(grouped.at[t, "revenue"]), 2))
            for t in order]


# ---- RFM -------------------------------------------------------------------------------

def _rfm(agg: Any, *, scheme: str, currency: str, lang: str) -> Rfm | None:
    """Segments exactly as `report rfm --format json` rows, and the R x F counts."""
    if not len(agg):
        return None
    scored = rfm_scores(agg, scheme=scheme)
    rows = segment_table(scored, scheme=scheme, lang="en")
    names = CN8_SEGMENTS if scheme == "cn8" else SEGMENTS
    segments = [Segment(name=n, label=segment_label(n, lang), customers=r["customers"],
                        share=r["share"], revenue=r["revenue"],
                        revenue_share=r["revenue_share"], action=action_for(n, lang))
                for n, r in zip(names, rows)]
    counts = scored.groupby(["r", "f"]).size()
    grid = [[int(counts.get((r, f), 0)) for f in range(1, 6)] for r in range(1, 6)]
    return Rfm(scheme=scheme, currency=currency, segments=segments, grid=grid)


# ---- audit and duplicates ----------------------------------------------------------------

def _audit(session: Any, store: Any, *, as_of: date) -> tuple[Audit | None, Any]:
    """The audit `audit` would score now (not recorded), and its snapshot."""
    history = history_rows(store.audit.audit_runs())
    report, snapshot = scored_snapshot(session, store, as_of=as_of)
    if report.empty:
        return None, snapshot
    findings = sorted(report.findings, key=lambda f: (-f.count, f.part, f.check))
    return Audit(
        score=report.score, parts={n: p.score for n, p in report.parts.items()},
        weights={n: p.weight for n, p in report.parts.items()},
        findings=[Finding(f.part, f.count, f.total, f.message)
                  for f in findings[:FINDINGS_SHOWN]],
        history=[{k: r[k] for k in ("run", "at", "score", "change")} for r in history],
    ), snapshot


def _duplicates(store: Any, snapshot: Any) -> Duplicates:
    merges = store.reporting.merge_summary()
    return Duplicates(groups=dict(snapshot.duplicate_groups),
                      contacts_in_groups=int(snapshot.contacts_in_duplicates), **merges)


@dataclass(frozen=True)
class PageWritten:
    """What `report html` wrote: where, how many bytes, and as of which day."""

    path: Path
    size: int
    as_of: date


def report_html(session: Any, *, output: Path, as_of: date | None = None, lang: str = "en",
                scheme: str = "standard", top: int = 20, no_pii: bool = False) -> PageWritten:
    """Gather the page's numbers, render it, and write it atomically (0600) to `output`."""
    from custdata.htmlreport import render_html
    from custdata.outputs import open_output

    from custdata.api.common import protected_paths

    protected = protected_paths(session)
    with session.store(read_only=True) as store, \
            session.progress("building the report", 3) as advance:
        key_available = store.crypto.state() is not None and session.key() is not None
        data = gather(session, store, as_of=as_of or session.today, scheme=scheme,
                      top=top, key_available=key_available, no_pii=no_pii, lang=lang)
        advance(1)
        page = render_html(data, lang=lang)
        advance(1)
        with open_output(output, protected) as out:
            out.text().write(page)
        advance(1)
    return PageWritten(output, len(page.encode("utf-8")), data.as_of)
