"""Unit tests of the pure audit core: each check fires on a fixture that triggers it and
stays quiet on one that does not; the score formula; history; empty input."""

from __future__ import annotations

from dataclasses import replace

import pytest

from custdata.audit import (
    PARTS, AuditSnapshot, FieldValidity, PartScore, audit_report, below, change_since,
    check_field_weights, check_validity_fields, effective_weights, history_rows,
    overall_score, report_document, report_rows, validity_facts,
)
from custdata.config import DEFAULTS
from custdata.errors import ConfigError
from custdata.models import CONTACT_FIELDS
from custdata.validate import count_invalid, find_issues

WEIGHTS = effective_weights({}, DEFAULTS["audit"]["weights"][0])
FIELD_WEIGHTS = {"name": 2.0, "email": 1.0, "phone": 1.0}

# A spotless store of 10 contacts, 4 orders, 2 interactions: every part scores 100.
CLEAN = AuditSnapshot(
    contacts=10, orders=4, interactions=2,
    empty=dict.fromkeys(CONTACT_FIELDS, 0),
    validity={"email": FieldValidity(10, 0), "phone": FieldValidity(10, 0)},
    duplicate_groups=dict.fromkeys(("external_id", "email_key", "phone_key", "id_number_key"), 0),
    duplicate_members=dict.fromkeys(("external_id", "email_key", "phone_key", "id_number_key"), 0),
    sensitive_with_data=("email", "phone"), encrypted_columns=("email", "phone"),
    database_exposed=False, key_file_exposed=False,
    database_path="/x/c.db", key_file_path="/x/k.key",
)


def report(snapshot: AuditSnapshot, **kw):
    return audit_report(snapshot, weights=kw.get("weights", WEIGHTS),
                        field_weights=kw.get("field_weights", FIELD_WEIGHTS))


def checks(snapshot: AuditSnapshot) -> dict[str, object]:
    return {(f.check, f.field): f for f in report(snapshot).findings}


def test_clean_snapshot_scores_100_with_no_findings() -> None:
    result = report(CLEAN)
    assert result.findings == []
    assert all(p.score == 100.0 for p in result.parts.values())
    assert result.score == 100.0
    assert not result.empty


# (name, change to CLEAN that triggers it, expected (check, field), count, part, part score)
TRIGGERS = [
    ("empty name", {"empty": {**CLEAN.empty, "name": 5}},
     ("completeness.empty", "name"), 5, "completeness", 100 * (2 * 5 + 10 + 10) / 40),
    ("invalid phone", {"validity": {"email": FieldValidity(10, 0), "phone": FieldValidity(10, 3)}},
     ("validity.invalid", "phone"), 3, "validity", 100 * (1 - 3 / 20)),
    ("email dupes", {"duplicate_members": {**CLEAN.duplicate_members, "email_key": 4},
                     "duplicate_groups": {**CLEAN.duplicate_groups, "email_key": 2},
                     "contacts_in_duplicates": 4},
     ("uniqueness.exact_duplicates", "email_key"), 4, "uniqueness", 60.0),
    ("stale", {"stale": 2}, ("freshness.stale", "updated_at"), 2, "freshness", 80.0),
    ("orphan orders", {"orphan_orders": 1, "bad_orders": 1},
     ("consistency.orphan_orders", "orders"), 1, "consistency", 100 * 5 / 6),
    ("orphan interactions", {"orphan_interactions": 2},
     ("consistency.orphan_interactions", "interactions"), 2, "consistency", 100 * 4 / 6),
    ("future orders", {"future_orders": 1, "bad_orders": 1},
     ("consistency.future_orders", "order_date"), 1, "consistency", 100 * 5 / 6),
    ("negative amount", {"negative_not_refund": 2, "bad_orders": 2},
     ("consistency.negative_amount", "amount"), 2, "consistency", 100 * 4 / 6),
    ("unreadable orders", {"unreadable_orders": 2, "bad_orders": 2},
     ("consistency.unreadable_orders", "orders"), 2, "consistency", 100 * 4 / 6),
    ("plaintext", {"encrypted_columns": ("email",)},
     ("security.plaintext_columns", "phone"), 1, "security", (50 + 100 + 100 + 100 + 100) / 5),
    ("db readable", {"database_exposed": True},
     ("security.file_readable", "/x/c.db"), 1, "security", (100 + 0 + 100 + 100 + 100) / 5),
    ("key readable", {"key_file_exposed": True},
     ("security.file_readable", "/x/k.key"), 1, "security", (100 + 100 + 0 + 100 + 100) / 5),
    ("no consent", {"without_consent": 4},
     ("security.no_consent", "consent"), 4, "security", (100 + 100 + 100 + 60 + 100) / 5),
    ("past retention", {"past_retention": 1},
     ("security.past_retention", ""), 1, "security", (100 + 100 + 100 + 100 + 90) / 5),
]


@pytest.mark.parametrize(("change", "key", "count", "part", "score"),
                         [t[1:] for t in TRIGGERS], ids=[t[0] for t in TRIGGERS])
def test_each_check_fires_only_when_triggered(change, key, count, part, score) -> None:
    assert key not in checks(CLEAN)
    result = report(replace(CLEAN, **change))
    found = {(f.check, f.field): f for f in result.findings}
    assert key in found
    assert found[key].count == count
    assert found[key].command.startswith(("custdata ", "chmod 600 "))
    assert str(count) in found[key].message or key[1] in found[key].message
    assert result.parts[part].score == round(score, 1)
    assert [f.part for f in result.findings] == [part] * len(result.findings)


def test_every_finding_names_a_command_that_shows_it() -> None:
    validate = checks(replace(CLEAN, validity={"email": FieldValidity(10, 2)}))
    assert validate[("validity.invalid", "email")].command == "custdata validate --field email"


def test_encrypted_field_without_key_is_reported_not_scored() -> None:
    snap = replace(CLEAN, validity={"email": FieldValidity(10, 0, checkable=False),
                                    "phone": FieldValidity(10, 5)})
    result = report(snap)
    found = {(f.check, f.field): f for f in result.findings}
    assert found[("validity.not_checkable", "email")].count == 10
    assert "encrypted" in found[("validity.not_checkable", "email")].message
    assert result.parts["validity"].score == 50.0  # only phone counted


def test_validity_with_nothing_checkable_drops_out_of_the_mean() -> None:
    snap = replace(CLEAN, validity={"email": FieldValidity(10, 0, checkable=False)},
                   stale=10)  # freshness 0
    result = report(snap)
    assert result.parts["validity"].score is None
    others = {k: v for k, v in WEIGHTS.items() if k != "validity"}
    expected = sum(100 * w for k, w in others.items() if k != "freshness") / sum(others.values())
    assert result.score == round(expected, 1)


def test_overall_is_the_weighted_mean_of_part_scores() -> None:
    parts = {"completeness": PartScore(80.0, 20), "validity": PartScore(60.0, 25),
             "uniqueness": PartScore(100.0, 15), "freshness": PartScore(50.0, 10),
             "consistency": PartScore(None, 15), "security": PartScore(40.0, 15)}
    expected = (80 * 20 + 60 * 25 + 100 * 15 + 50 * 10 + 40 * 15) / (20 + 25 + 15 + 10 + 15)
    assert overall_score(parts) == round(expected, 1) == 67.1


def test_zero_weight_part_does_not_count() -> None:
    weights = {**WEIGHTS, "freshness": 0.0}
    result = report(replace(CLEAN, stale=10), weights=weights)
    assert result.parts["freshness"].score == 0.0
    assert result.score == 100.0


def test_completeness_weights_fields_by_importance() -> None:
    snap = replace(CLEAN, empty={**CLEAN.empty, "name": 10, "email": 0, "phone": 10})
    assert report(snap).parts["completeness"].score == 25.0  # (0*2 + 10*1 + 0*1) / (10*4)
    # a field with weight 0 or missing from the weights does not count
    snap = replace(CLEAN, empty={**CLEAN.empty, "company": 10})
    assert report(snap).parts["completeness"].score == 100.0


def test_fuzzy_duplicates_count_when_known() -> None:
    snap = replace(CLEAN, fuzzy_duplicates=3)
    result = report(snap)
    assert result.parts["uniqueness"].score == 70.0
    assert ("uniqueness.fuzzy_duplicates", "") in {(f.check, f.field) for f in result.findings}


def test_empty_store_has_no_score_and_no_findings() -> None:
    result = report(AuditSnapshot(database_exposed=True))
    assert result.empty
    assert result.score is None
    assert result.findings == []
    assert all(p.score is None for p in result.parts.values())
    assert not below(result.score, 50)
    doc = report_document(result, as_of="2024-01-01")
    assert doc["score"] is None and doc["empty"] is True


def test_no_orders_means_no_consistency_score() -> None:
    result = report(replace(CLEAN, orders=0, interactions=0))
    assert result.parts["consistency"].score is None
    assert result.score == 100.0


def test_orders_without_contacts_is_not_empty() -> None:
    result = report(AuditSnapshot(orders=2, orphan_orders=2, bad_orders=2))
    assert not result.empty
    assert result.parts["consistency"].score == 0.0
    assert result.parts["completeness"].score is None
    assert result.score == 0.0


@pytest.mark.parametrize(("score", "threshold", "fails"), [
    (79.9, 80, True), (80.0, 80, False), (80.1, 80, False), (0.0, 0, False),
    (99.0, 100.5, True), (50.0, -1, False), (50.0, None, False), (None, 80, False),
])
def test_below(score, threshold, fails) -> None:
    assert below(score, threshold) is fails


def test_history_rows_show_change_since_previous_run() -> None:
    runs = [
        {"id": 1, "at": "2024-01-01T00:00:00Z", "score": 70.0, "parts": {"validity": 50.0}},
        {"id": 2, "at": "2024-01-02T00:00:00Z", "score": 75.5,
         "parts": {"validity": {"score": 60.0, "weight": 25}}},
        {"id": 3, "at": "2024-01-03T00:00:00Z", "score": 74.0, "parts": {}},
    ]
    rows = history_rows(runs)
    assert [r["change"] for r in rows] == [None, 5.5, -1.5]
    assert [r["validity"] for r in rows] == [50.0, 60.0, None]
    assert list(rows[0]) == ["run", "at", "score", "change", *PARTS]
    assert history_rows([]) == []


@pytest.mark.parametrize(("score", "previous", "change"), [
    (80.0, 70.0, 10.0), (70.1, 70.3, -0.2), (80.0, None, None), (None, 70.0, None),
])
def test_change_since(score, previous, change) -> None:
    assert change_since(score, previous) == change


def test_report_rows_are_flat_and_start_with_overall() -> None:
    rows = report_rows(report(replace(CLEAN, stale=2)))
    assert [r["kind"] for r in rows[:7]] == ["overall"] + ["part"] * 6
    assert rows[0]["score"] == report(replace(CLEAN, stale=2)).score
    assert rows[-1]["kind"] == "finding" and rows[-1]["check"] == "freshness.stale"
    assert all(list(r) == list(rows[0]) for r in rows)


@pytest.mark.parametrize("configured", [
    {"speed": 1}, {"validity": -1}, {"validity": "high"}, {"validity": True},
    dict.fromkeys(PARTS, 0),
])
def test_bad_weights_are_config_errors(configured) -> None:
    with pytest.raises(ConfigError):
        effective_weights(configured, DEFAULTS["audit"]["weights"][0])


def test_weights_left_out_keep_their_default() -> None:
    weights = effective_weights({"security": 50}, DEFAULTS["audit"]["weights"][0])
    assert weights["security"] == 50.0
    assert weights["validity"] == float(DEFAULTS["audit"]["weights"][0]["validity"])


def test_field_weights_checked_against_contact_fields() -> None:
    assert check_field_weights(DEFAULTS["audit"]["field_weights"][0], CONTACT_FIELDS)
    with pytest.raises(ConfigError):
        check_field_weights({"nickname": 1}, CONTACT_FIELDS)
    with pytest.raises(ConfigError):
        check_field_weights({"name": -2}, CONTACT_FIELDS)


def fake_count_invalid(field, values, *, region, dayfirst):
    """Emails without @ and phones that are not all digits, like validate would flag."""
    assert region == "CN" and dayfirst is False
    if field == "email":
        return sum("@" not in v for v in values)
    return sum(not v.isdigit() for v in values) if field == "phone" else 0


def test_validity_facts_counts_invalid_values_of_each_field() -> None:
    read: list[str] = []

    def values(name):
        read.append(name)
        return {"email": ["a@x"] * 5 + ["bad"] * 3 + ["worse"] * 2,
                "phone": ["1"] * 4 + ["x"] * 6}[name]

    facts = validity_facts(values, checked={"email": 10, "phone": 10, "id_number": 0},
                           unreadable=(), count_invalid=fake_count_invalid, region="CN",
                           dayfirst=False)
    assert facts == {"email": FieldValidity(10, 5), "phone": FieldValidity(10, 6),
                     "id_number": FieldValidity(0, 0)}
    assert read == ["email", "phone"]  # nothing to judge in id_number


def test_validity_facts_skips_unreadable_fields_without_reading_them() -> None:
    def values(name):
        raise AssertionError(f"{name} read")
    facts = validity_facts(values, checked={"email": 4}, unreadable=["email"],
                           count_invalid=fake_count_invalid, region="CN", dayfirst=False)
    assert facts == {"email": FieldValidity(4, 0, checkable=False)}


def test_validity_facts_with_validate_counts_like_find_issues() -> None:
    values = {"email": ["a@x.com"] * 3 + ["bob@"] * 2 + ["li@gmial.com"],
              "phone": ["13800138000"] * 4 + ["N/A"] * 5 + ["\t"],
              "updated_at": ["2024-01-05 10:00:00", "2024-01-05 11:00:00"]
              + ["2024-02-30 10:00"] * 7}
    checked = {name: len(column) for name, column in values.items()}
    facts = validity_facts(values.__getitem__, checked=checked, unreadable=(),
                           count_invalid=count_invalid, region="CN", dayfirst=False)
    for name, column in values.items():
        issues = find_issues([{"id": n, name: v} for n, v in enumerate(column)], fields=[name])
        flagged = [i for i in issues if i.field == name and i.code != "required.missing"]
        assert facts[name] == FieldValidity(checked[name], len(flagged)), name
    assert [facts[n].invalid for n in values] == [3, 5, 7]


def test_validity_fields_checked_against_what_validate_judges() -> None:
    assert check_validity_fields(["email", "phone", "email"], ["email", "phone"]) == (
        "email", "phone")
    with pytest.raises(ConfigError):
        check_validity_fields(["name"], ["email", "phone"])


def test_config_default_validity_fields_match_the_core() -> None:
    from custdata.audit import VALIDITY_FIELDS
    assert DEFAULTS["audit"]["validity_fields"][0] == list(VALIDITY_FIELDS)
