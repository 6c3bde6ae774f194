"""The audit scorecard: a snapshot of plain facts about the store -> part scores and findings.

Pure: the store gathers the facts (counts from SQL aggregates, file modes from `os.stat`
in the CLI), this module only does the arithmetic and says what failed and which
command shows the records. Each part scores 0-100; a part with nothing to check (no
orders for consistency, say) has no score and drops out of the weighted mean.

    report = audit_report(snapshot, weights={"completeness": 20, ...}, field_weights={...})
    report.score, report.parts["validity"].score, report.findings
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from custdata.errors import ConfigError

PARTS: tuple[str, ...] = (
    "completeness", "validity", "uniqueness", "freshness", "consistency", "security",
)
# Default fields whose values `validate` judges (emails, phones, ID numbers, dates, countries).
VALIDITY_FIELDS: tuple[str, ...] = (
    "email", "phone", "id_number", "birth_date", "created_at", "updated_at", "country",
)
# Exact match keys: two contacts sharing one of them are an exact-duplicate group.
DUPLICATE_KEYS: tuple[str, ...] = ("external_id", "email_key", "phone_key", "id_number_key")


@dataclass(frozen=True)
class FieldValidity:
    """How many non-empty values of one field were judged, and how many contacts failed."""

    checked: int
    invalid: int
    checkable: bool = True  # False: the column is encrypted and no key was given


@dataclass(frozen=True)
class AuditSnapshot:
    """Plain facts about a store, gathered by `Store.audit_snapshot` and the CLI."""

    contacts: int = 0
    orders: int = 0
    interactions: int = 0
    empty: Mapping[str, int] = field(default_factory=dict)  # field -> contacts without a value
    validity: Mapping[str, FieldValidity] = field(default_factory=dict)
    duplicate_groups: Mapping[str, int] = field(default_factory=dict)  # key -> groups
    duplicate_members: Mapping[str, int] = field(default_factory=dict)  # key -> contacts in them
    contacts_in_duplicates: int = 0  # contacts sharing any exact key with another contact
    fuzzy_duplicates: int | None = None  # contacts in fuzzy clusters, when dedupe was run
    stale: int = 0
    orphan_orders: int = 0
    orphan_interactions: int = 0
    future_orders: int = 0
    negative_not_refund: int = 0
    unreadable_orders: int = 0  # date, amount or status that does not parse
    bad_orders: int = 0  # orders with at least one of the problems above
    sensitive_with_data: tuple[str, ...] = ()  # sensitive columns that hold any value
    encrypted_columns: tuple[str, ...] = ()  # listed by `encrypt`, no plaintext value left
    sealed_columns: tuple[str, ...] = ()  # sensitive columns holding any encrypted value
    database_exposed: bool | None = None  # None: not known (e.g. in-memory store)
    key_file_exposed: bool | None = None  # None: no key file given
    without_consent: int = 0
    past_retention: int = 0
    stale_days: int = 90
    retention_days: int = 1825
    database_path: str = ""
    key_file_path: str = ""


@dataclass(frozen=True)
class Finding:
    """One failing check: how many records, out of how many, and the command that shows them."""

    part: str
    check: str  # stable code, e.g. "validity.invalid", "security.plaintext_column"
    field: str  # the field, match key or file concerned; "" when none
    count: int
    total: int
    message: str
    command: str


@dataclass(frozen=True)
class PartScore:
    """Score 0-100 of one part (None: nothing to check) and its configured weight."""

    score: float | None
    weight: float


@dataclass(frozen=True)
class AuditReport:
    """The whole scorecard. `score` is None when the store holds nothing to audit."""

    score: float | None
    parts: dict[str, PartScore]
    findings: list[Finding]
    contacts: int
    orders: int
    interactions: int

    @property
    def empty(self) -> bool:
        return self.contacts == 0 and self.orders == 0 and self.interactions == 0


def effective_weights(configured: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, float]:
    """Part weights: the configured ones over the defaults; raises ConfigError on bad values."""
    weights = {part: float(defaults.get(part, 0)) for part in PARTS}
    for part, value in configured.items():
        if part not in PARTS:
            raise ConfigError(
                f"Unknown audit part {part!r} in audit.weights; the parts are {', '.join(PARTS)}."
            )
        weights[part] = _weight(value, f"audit.weights.{part}")
    if sum(weights.values()) <= 0:
        raise ConfigError("audit.weights must give at least one part a weight above 0.")
    return weights


def check_field_weights(field_weights: Mapping[str, Any], known: Iterable[str]) -> dict[str, float]:
    """Field importances for completeness; raises ConfigError on unknown fields or bad values."""
    known_set = set(known)
    out: dict[str, float] = {}
    for name, value in field_weights.items():
        if name not in known_set:
            raise ConfigError(f"Unknown contact field {name!r} in audit.field_weights.")
        out[name] = _weight(value, f"audit.field_weights.{name}")
    return out


def _weight(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{name} must be a number of 0 or more.")
    return float(value)


def check_validity_fields(names: Iterable[Any], known: Iterable[str]) -> tuple[str, ...]:
    """The configured validity fields; raises ConfigError on a field validate cannot judge."""
    known_set = set(known)
    out = tuple(dict.fromkeys(names))
    for name in out:
        if name not in known_set:
            raise ConfigError(f"audit.validity_fields: {name!r} is not one of "
                              f"{', '.join(sorted(known_set))}.")
    return out


def validity_facts(
    values: Callable[[str], Iterable[Any]],
    *,
    checked: Mapping[str, int],
    unreadable: Iterable[str],
    count_invalid: Callable[..., int],
    region: str,
    dayfirst: bool,
) -> dict[str, FieldValidity]:
    """Validity facts per field: `checked` non-empty values, and how many are invalid.

    `values(field)` yields the field's non-empty values, one per contact holding one;
    `count_invalid(field, values, region=, dayfirst=)` (from `validate`) says how many
    are invalid, judging each distinct value once. Fields in `unreadable` (encrypted,
    no key) are not judged: checkable=False.
    """
    skipped = set(unreadable)
    facts = {}
    for name, total in checked.items():
        invalid = 0
        if name not in skipped and total > 0:
            invalid = count_invalid(name, values(name), region=region, dayfirst=dayfirst)
        facts[name] = FieldValidity(total, invalid, checkable=name not in skipped)
    return facts


def audit_report(
    snapshot: AuditSnapshot,
    *,
    weights: Mapping[str, float],
    field_weights: Mapping[str, float],
) -> AuditReport:
    """Score every part of `snapshot` and list the checks that failed."""
    parts_and_findings = {
        "completeness": _completeness(snapshot, field_weights),
        "validity": _validity(snapshot),
        "uniqueness": _uniqueness(snapshot),
        "freshness": _freshness(snapshot),
        "consistency": _consistency(snapshot),
        "security": _security(snapshot),
    }
    empty = snapshot.contacts == 0 and snapshot.orders == 0 and snapshot.interactions == 0
    parts: dict[str, PartScore] = {}
    findings: list[Finding] = []
    for part in PARTS:
        score, part_findings = parts_and_findings[part]
        if empty:
            score, part_findings = None, []
        parts[part] = PartScore(_round(score), float(weights.get(part, 0)))
        findings.extend(part_findings)
    return AuditReport(
        score=overall_score(parts), parts=parts, findings=findings,
        contacts=snapshot.contacts, orders=snapshot.orders, interactions=snapshot.interactions,
    )


def overall_score(parts: Mapping[str, PartScore]) -> float | None:
    """Weighted mean of the (rounded) part scores that exist; None when none does."""
    scored = [p for p in parts.values() if p.score is not None and p.weight > 0]
    total_weight = sum(p.weight for p in scored)
    if not total_weight:
        return None
    return _round(sum(p.score * p.weight for p in scored) / total_weight)  # type: ignore[operator]


def below(score: float | None, threshold: float | None) -> bool:
    """True when `--fail-under threshold` should fail: a score exists and is under it."""
    return threshold is not None and score is not None and score < threshold


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1) + 0.0  # + 0.0 turns -0.0 into 0.0


def _share_ok(bad: int, total: int) -> float | None:
    return None if total <= 0 else 100.0 * (1 - min(bad, total) / total)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _pct(count: int, total: int) -> str:
    return f"{100.0 * count / total:.1f}%" if total else "0%"


def _completeness(s: AuditSnapshot, field_weights: Mapping[str, float]) -> tuple:
    weighted = [(name, w) for name, w in field_weights.items() if w > 0 and name in s.empty]
    total_weight = sum(w for _, w in weighted)
    if s.contacts <= 0 or total_weight <= 0:
        return None, []
    filled = sum(w * (s.contacts - min(s.empty[name], s.contacts)) for name, w in weighted)
    findings = [
        Finding("completeness", "completeness.empty", name, s.empty[name], s.contacts,
                f"{s.empty[name]} of {s.contacts} contacts ({_pct(s.empty[name], s.contacts)}) "
                f"have no {name}",
                f"custdata audit --show empty:{name}")
        for name, _ in sorted(weighted, key=lambda nw: (-nw[1], nw[0])) if s.empty[name] > 0
    ]
    return 100.0 * filled / (total_weight * s.contacts), findings


def _validity(s: AuditSnapshot) -> tuple:
    checked = invalid = 0
    findings = []
    for name, facts in s.validity.items():
        if not facts.checkable:
            findings.append(Finding(
                "validity", "validity.not_checkable", name, facts.checked, s.contacts,
                f"{name} is encrypted and no key was given: its {facts.checked} values "
                "were not checked (the validity score leaves them out)",
                "custdata --key-file KEY audit"))
            continue
        checked += facts.checked
        invalid += min(facts.invalid, facts.checked)
        if facts.invalid:
            findings.append(Finding(
                "validity", "validity.invalid", name, facts.invalid, facts.checked,
                f"{facts.invalid} of {facts.checked} {name} values "
                f"({_pct(facts.invalid, facts.checked)}) are not valid",
                f"custdata validate --field {name}"))
    return _share_ok(invalid, checked), findings


def _uniqueness(s: AuditSnapshot) -> tuple:
    findings = [
        Finding("uniqueness", "uniqueness.exact_duplicates", key, s.duplicate_members[key],
                s.contacts,
                f"{_n(s.duplicate_members[key], 'contact')} share their "
                f"{key.removesuffix('_key')} with another contact "
                f"({_n(s.duplicate_groups.get(key, 0), 'group')})",
                "custdata dedupe --explain")
        for key in DUPLICATE_KEYS if s.duplicate_members.get(key, 0) > 0
    ]
    in_duplicates = s.contacts_in_duplicates
    if s.fuzzy_duplicates is not None:
        in_duplicates = max(in_duplicates, s.fuzzy_duplicates)
        if s.fuzzy_duplicates > 0:
            findings.append(Finding(
                "uniqueness", "uniqueness.fuzzy_duplicates", "", s.fuzzy_duplicates, s.contacts,
                f"{_n(s.fuzzy_duplicates, 'contact')} are in likely-duplicate clusters",
                "custdata dedupe --explain"))
    return _share_ok(in_duplicates, s.contacts), findings


def _freshness(s: AuditSnapshot) -> tuple:
    findings = []
    if s.stale > 0:
        findings.append(Finding(
            "freshness", "freshness.stale", "updated_at", s.stale, s.contacts,
            f"{s.stale} of {s.contacts} contacts ({_pct(s.stale, s.contacts)}) have not been "
            f"updated for more than {s.stale_days} days",
            "custdata audit --show stale"))
    return _share_ok(s.stale, s.contacts), findings


def _consistency(s: AuditSnapshot) -> tuple:
    checks = (
        ("consistency.orphan_orders", "orders", s.orphan_orders, s.orders,
         "orders name a customer that is not in the contacts",
         "custdata audit --show orphan-orders"),
        ("consistency.orphan_interactions", "interactions", s.orphan_interactions,
         s.interactions, "interactions name a customer that is not in the contacts",
         "custdata audit --show orphan-interactions"),
        ("consistency.future_orders", "order_date", s.future_orders, s.orders,
         "orders are dated in the future", "custdata audit --show future-orders"),
        ("consistency.negative_amount", "amount", s.negative_not_refund, s.orders,
         "orders have a negative amount but are not refunds",
         "custdata audit --show negative-amounts"),
        ("consistency.unreadable_orders", "orders", s.unreadable_orders, s.orders,
         "orders have a date, amount or status that cannot be read (left out of reports)",
         "custdata audit --show unreadable-orders"),
    )
    findings = [
        Finding("consistency", code, name, count, total, f"{count} of {total} {text}", command)
        for code, name, count, total, text, command in checks if count > 0
    ]
    bad = min(s.bad_orders, s.orders) + min(s.orphan_interactions, s.interactions)
    return _share_ok(bad, s.orders + s.interactions), findings


def _security(s: AuditSnapshot) -> tuple:
    subscores: list[float] = []
    findings: list[Finding] = []
    encrypted = set(s.encrypted_columns)
    plaintext = [c for c in s.sensitive_with_data if c not in encrypted]
    if s.sensitive_with_data:
        subscores.append(100.0 * (1 - len(plaintext) / len(s.sensitive_with_data)))
    if plaintext:
        findings.append(Finding(
            "security", "security.plaintext_columns", ",".join(plaintext), len(plaintext),
            len(s.sensitive_with_data),
            f"{len(plaintext)} of {len(s.sensitive_with_data)} sensitive columns holding data "
            f"are stored in plaintext: {', '.join(plaintext)}",
            f"custdata --key-file KEY encrypt --columns {','.join(plaintext)}"))
    for exposed, what, path in (
        (s.database_exposed, "database file", s.database_path),
        (s.key_file_exposed, "key file", s.key_file_path),
    ):
        if exposed is None:
            continue
        subscores.append(0.0 if exposed else 100.0)
        if exposed:
            findings.append(Finding(
                "security", "security.file_readable", path, 1, 1,
                f"the {what} {path} can be read by group or others", f"chmod 600 {path}"))
    if s.contacts > 0:
        subscores.append(_share_ok(s.without_consent, s.contacts))  # type: ignore[arg-type]
        subscores.append(_share_ok(s.past_retention, s.contacts))  # type: ignore[arg-type]
    if s.without_consent > 0:
        findings.append(Finding(
            "security", "security.no_consent", "consent", s.without_consent, s.contacts,
            f"{s.without_consent} of {s.contacts} contacts ({_pct(s.without_consent, s.contacts)}) "
            "have no recorded consent (consent is not yes)",
            "custdata audit --show no-consent"))
    if s.past_retention > 0:
        findings.append(Finding(
            "security", "security.past_retention", "", s.past_retention, s.contacts,
            f"{s.past_retention} of {s.contacts} contacts have had no update, order or "
            f"interaction for more than {s.retention_days} days (past retention)",
            "custdata audit --show past-retention"))
    return (sum(subscores) / len(subscores) if subscores else None), findings


def report_document(report: AuditReport, *, as_of: str, change: float | None = None,
                    previous_score: float | None = None) -> dict[str, Any]:
    """The stable JSON object of one audit (see the README for the schema)."""
    return {
        "score": report.score,
        "empty": report.empty,
        "as_of": as_of,
        "previous_score": previous_score,
        "change": change,
        "contacts": report.contacts,
        "orders": report.orders,
        "interactions": report.interactions,
        "parts": {name: {"score": p.score, "weight": p.weight} for name, p in report.parts.items()},
        "findings": [asdict(f) for f in report.findings],
    }


REPORT_COLUMNS = ("kind", "part", "score", "weight", "check", "field", "count", "total",
                  "message", "command")


def report_rows(report: AuditReport) -> list[dict[str, Any]]:
    """Flat rows for csv/jsonl: one `overall`, one `part` per part, one `finding` per finding."""
    blank = dict.fromkeys(REPORT_COLUMNS)
    rows = [{**blank, "kind": "overall", "part": "overall", "score": report.score,
             "weight": sum(p.weight for p in report.parts.values())}]
    rows += [{**blank, "kind": "part", "part": name, "score": p.score, "weight": p.weight}
             for name, p in report.parts.items()]
    rows += [{**blank, "kind": "finding", **asdict(f)} for f in report.findings]
    return rows


def change_since(score: float | None, previous: float | None) -> float | None:
    """Score change since the previous run, rounded like the scores; None if either is missing."""
    if score is None or previous is None:
        return None
    return round(score - previous, 1)


def history_rows(runs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Runs (id, at, score, parts: {part: score}) oldest first -> rows with the change."""
    rows = []
    previous: float | None = None
    for run in runs:
        parts = run.get("parts") or {}
        row = {"run": run["id"], "at": run["at"], "score": run["score"],
               "change": change_since(run["score"], previous)}
        row.update({part: _part_score(parts.get(part)) for part in PARTS})
        rows.append(row)
        previous = run["score"]
    return rows


def _part_score(value: Any) -> float | None:
    if isinstance(value, Mapping):
        value = value.get("score")
    return None if value is None else float(value)
