"""Store side of audit: each SQL aggregate on a fixture that triggers it and one that does
not, and `audit --show` listing exactly the records each count is made of."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from custdata.api.audit import CONSENT_YES
from custdata.audit import DUPLICATE_KEYS, AuditSnapshot
from custdata.errors import UsageError
from custdata.store import Store, open_store
from custdata.store.audit import show_checks
from custdata.store.crypto import META_COLUMNS

AS_OF = date(2024, 6, 30)
FRESH = "2024-06-01T00:00:00Z"
OLD = "2017-01-01T00:00:00Z"  # past both the stale (90 d) and retention (1825 d) cut-offs


def make_store(tmp_path: Path, contacts: list[dict], orders: list[dict] = (),
               interactions: list[dict] = ()) -> Store:
    store = open_store(tmp_path / "c.db")
    base = {"name": "Ann", "email": "a@x.com", "consent": "yes", "changed_at": FRESH}
    for n, row in enumerate(contacts, start=1):
        row = {"id": n, **base, "email_key": f"k{n}", **row}
        cols = ", ".join(row)
        store.db.conn.execute(f"INSERT INTO contacts ({cols}) VALUES ({', '.join('?' * len(row))})",
                           list(row.values()))
    for n, row in enumerate(orders, start=1):
        row = {"order_id": f"O{n}", "contact_id": 1, "day": "2024-01-01", "amount_value": 10.0,
               "status_norm": "paid", **row}
        store.db.conn.execute(f"INSERT INTO orders ({', '.join(row)}) "
                           f"VALUES ({', '.join('?' * len(row))})", list(row.values()))
    for n, row in enumerate(interactions, start=1):
        row = {"row_key": f"I{n}", "contact_id": 1, "day": "2024-01-01", **row}
        store.db.conn.execute(f"INSERT INTO interactions ({', '.join(row)}) "
                           f"VALUES ({', '.join('?' * len(row))})", list(row.values()))
    return store


def snapshot(store: Store, sensitive=("email", "phone")):
    return AuditSnapshot(**store.audit.audit_facts(
        as_of=AS_OF, stale_days=90, retention_days=1825, sensitive_columns=list(sensitive),
        consent_yes=CONSENT_YES, duplicate_keys=DUPLICATE_KEYS))


def listed(store: Store, check: str) -> list[int]:
    _, rows = store.audit.audit_records(check, as_of=AS_OF, stale_days=90, retention_days=1825,
                                        consent_yes=CONSENT_YES)
    return [r["id"] for r in rows]


def test_a_clean_store_has_nothing_to_report(tmp_path: Path) -> None:
    store = make_store(tmp_path, [{}, {"email": "b@x.com"}], orders=[{}],
                       interactions=[{"contact_id": 2}])
    snap = snapshot(store)
    assert (snap.contacts, snap.orders, snap.interactions) == (2, 1, 1)
    assert snap.stale == snap.past_retention == snap.without_consent == 0
    assert snap.contacts_in_duplicates == 0
    assert (snap.orphan_orders, snap.future_orders, snap.negative_not_refund,
            snap.unreadable_orders, snap.bad_orders, snap.orphan_interactions) == (0,) * 6
    assert snap.empty["name"] == 0 and snap.empty["email"] == 0 and snap.empty["phone"] == 2
    for check in show_checks():
        if not check.startswith("empty:"):
            assert listed(store, check) == [], check


# contacts (three: the first is always clean), the snapshot attribute, its count, the check
CONTACT_CASES = [
    ("stale by changed_at", [{"changed_at": "2024-03-01T00:00:00Z"}], "stale", 1, "stale"),
    ("stale by ISO updated_at", [{"updated_at": "2024-03-01 10:00"}], "stale", 1, "stale"),
    ("recent updated_at wins over old changed_at",
     [{"updated_at": "2024-06-20", "changed_at": OLD}], "stale", 0, "stale"),
    ("non-ISO updated_at falls back to changed_at",
     [{"updated_at": "2024/06/20", "changed_at": OLD}], "stale", 1, "stale"),
    ("no consent", [{"consent": "no"}, {"consent": None}, {"consent": "unknown"}],
     "without_consent", 3, "no-consent"),
    ("consent synonyms count as yes", [{"consent": " Y "}, {"consent": "是"}, {"consent": "YES"}],
     "without_consent", 0, "no-consent"),
    ("past retention", [{"changed_at": OLD}], "past_retention", 1, "past-retention"),
    ("an old contact with a recent order is kept", [{"changed_at": OLD, "order": "2024-05-01"}],
     "past_retention", 0, "past-retention"),
    ("an old contact with an old order is past", [{"changed_at": OLD, "order": "2018-01-01"}],
     "past_retention", 1, "past-retention"),
    ("an old contact with a recent interaction is kept",
     [{"changed_at": OLD, "interaction": "2024-05-01"}], "past_retention", 0, "past-retention"),
    ("empty name (NULL, blank)", [{"name": None}, {"name": "  "}], "empty.name", 2, "empty:name"),
]


@pytest.mark.parametrize(("contacts", "attr", "count", "check"),
                         [c[1:] for c in CONTACT_CASES], ids=[c[0] for c in CONTACT_CASES])
def test_contact_checks_count_and_list_the_same_records(tmp_path, contacts, attr, count,
                                                        check) -> None:
    rows = [{}] + [{k: v for k, v in c.items() if k not in ("order", "interaction")}
                   for c in contacts]
    orders = [{"contact_id": n, "day": c["order"]}
              for n, c in enumerate(contacts, start=2) if "order" in c]
    interactions = [{"contact_id": n, "day": c["interaction"]}
                    for n, c in enumerate(contacts, start=2) if "interaction" in c]
    store = make_store(tmp_path, rows, orders=[{}, *orders], interactions=interactions)
    snap = snapshot(store)
    value = snap.empty[attr[6:]] if attr.startswith("empty.") else getattr(snap, attr)
    assert value == count
    assert len(listed(store, check)) == count
    assert 1 not in listed(store, check)


ORDER_CASES = [
    ("orphan order", [{"contact_id": None}], "orphan_orders", "orphan-orders"),
    ("future order", [{"day": "2024-07-01"}], "future_orders", "future-orders"),
    ("negative paid order", [{"amount_value": -5.0}], "negative_not_refund", "negative-amounts"),
    ("negative cancelled order", [{"amount_value": -5.0, "status_norm": "cancelled"}],
     "negative_not_refund", "negative-amounts"),
    ("unreadable date", [{"day": None}], "unreadable_orders", "unreadable-orders"),
    ("unknown status", [{"status_norm": None}], "unreadable_orders", "unreadable-orders"),
]


@pytest.mark.parametrize(("orders", "attr", "check"), [c[1:] for c in ORDER_CASES],
                         ids=[c[0] for c in ORDER_CASES])
def test_order_checks_count_and_list_the_same_records(tmp_path, orders, attr, check) -> None:
    fine = [{"day": "2024-06-30"}, {"amount_value": -5.0, "status_norm": "refunded"}]
    store = make_store(tmp_path, [{}], orders=fine + orders)
    snap = snapshot(store)
    assert getattr(snap, attr) == 1
    assert snap.bad_orders == 1
    assert listed(store, check) == [3]


def test_an_order_with_several_problems_is_one_bad_order(tmp_path: Path) -> None:
    store = make_store(tmp_path, [{}], orders=[
        {}, {"contact_id": None, "day": "2024-07-01", "amount_value": -5.0}, {"day": None}])
    snap = snapshot(store)
    assert (snap.orders, snap.bad_orders) == (3, 2)
    assert (snap.orphan_orders, snap.future_orders, snap.negative_not_refund,
            snap.unreadable_orders) == (1, 1, 1, 1)


def test_audit_values_are_the_non_empty_values_one_per_contact(tmp_path: Path) -> None:
    store = make_store(tmp_path, [{"phone": "138"}, {"phone": "138"}, {"phone": "  "},
                                  {"phone": None}, {"phone": ""}, {"phone": "\t"}, {}])
    assert sorted(store.audit.audit_values("phone")) == ["\t", "138", "138"]  # trim: spaces only
    with pytest.raises(UsageError):
        list(store.audit.audit_values("nonsense"))


def test_orphan_interactions(tmp_path: Path) -> None:
    store = make_store(tmp_path, [{}], interactions=[{}, {"contact_id": None}])
    assert snapshot(store).orphan_interactions == 1
    assert listed(store, "orphan-interactions") == [2]


def test_exact_duplicates_per_key_and_in_any(tmp_path: Path) -> None:
    store = make_store(tmp_path, [
        {"email_key": "same"}, {"email_key": "same"}, {"email_key": "k3", "phone_key": "p"},
        {"email_key": "k4", "phone_key": "p"}, {"email_key": "k5", "phone_key": "p",
                                                "id_number_key": "X"},
        {"email_key": "k6", "id_number_key": "X"}, {"email_key": ""}, {"email_key": ""},
        {"email_key": "k9"},
    ])
    snap = snapshot(store)
    assert snap.duplicate_groups == {"external_id": 0, "email_key": 1, "phone_key": 1,
                                     "id_number_key": 1}
    assert snap.duplicate_members == {"external_id": 0, "email_key": 2, "phone_key": 3,
                                      "id_number_key": 2}
    assert snap.contacts_in_duplicates == 6  # 1, 2, 3, 4, 5, 6; blank keys never match


def test_plaintext_and_encrypted_columns(tmp_path: Path) -> None:
    store = make_store(tmp_path, [{"phone": "cd1:kid:body:138****8000"}, {"phone": None}])
    snap = snapshot(store, sensitive=("email", "phone", "id_number"))
    assert snap.sensitive_with_data == ("email", "phone")  # id_number holds nothing
    assert snap.encrypted_columns == ()  # meta does not list phone yet
    assert snap.sealed_columns == ("phone",)
    store.meta.set(META_COLUMNS, json.dumps(["phone"]))
    assert snapshot(store).encrypted_columns == ("phone",)
    store.db.conn.execute("UPDATE contacts SET phone = '13800138000' WHERE id = 2")
    assert snapshot(store).encrypted_columns == ()  # a plaintext value is left


def test_audit_runs_round_trip(tmp_path: Path) -> None:
    store = make_store(tmp_path, [])
    assert store.audit.audit_runs() == [] and store.audit.last_audit_score() is None
    store.audit.save_audit_run(at="2024-01-01T00:00:00Z", score=70.5, parts={"validity": 50.0})
    store.audit.save_audit_run(at="2024-01-02T00:00:00Z", score=80.0, parts={"validity": None})
    runs = store.audit.audit_runs()
    assert [r["score"] for r in runs] == [70.5, 80.0]
    assert runs[0]["parts"] == {"validity": 50.0} and runs[1]["parts"] == {"validity": None}
    assert store.audit.last_audit_score() == 80.0


def test_unknown_show_check_is_a_usage_error(tmp_path: Path) -> None:
    store = make_store(tmp_path, [])
    with pytest.raises(UsageError):
        listed(store, "empty:nickname")
    with pytest.raises(UsageError):
        listed(store, "bogus")
