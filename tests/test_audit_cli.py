"""`custdata audit` end to end: exit codes, history, the JSON golden file, empty store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from custdata.audit import PARTS

GOLDEN = Path(__file__).parent / "data" / "audit_golden.json"
AS_OF = "2024-06-30"
NO_KEY = {"CUSTDATA_KEY_FILE": None, "CUSTDATA_CONFIG": None}

CONTACTS = [
    ["external_id", "name", "email", "phone", "id_number", "city", "consent", "updated_at"],
    ["C1", "Ann Lee", "ann@example.com", "13800138000", "", "Shanghai", "yes", "2024-06-01"],
    ["C2", "Bob Wu", "bob@example", "13800138001", "", "", "no", "2024-06-02"],
    ["C3", "", "cat@example.com", "12345", "110101199003074", "Beijing", "yes", "2023-01-05"],
    ["C4", "Dan Ma", "ann@example.com", "", "", "Beijing", "", "2018-01-01"],
]
ORDERS = [
    ["order_id", "customer_id", "order_date", "amount", "status"],
    ["O1", "C1", "2024-05-01", "100", "paid"],
    ["O2", "C1", "2024-08-01", "50", "paid"],
    ["O3", "C2", "2024-05-02", "-20", "cancelled"],
    ["O4", "C2", "2024-05-03", "-20", ""],
]


@pytest.fixture
def store(cli, write_csv):
    for kind, rows in (("contacts", CONTACTS), ("orders", ORDERS)):
        result = cli("import", kind, write_csv(f"{kind}.csv", rows))
        assert result.exit_code == 0, result.output
    os.chmod(cli.db, 0o600)
    return cli


@pytest.fixture
def estore(ecli, write_csv):
    """`store` on each engine (sqlite, postgres)."""
    for kind, rows in (("contacts", CONTACTS), ("orders", ORDERS)):
        result = ecli("import", kind, write_csv(f"{kind}.csv", rows))
        assert result.exit_code == 0, result.output
    if ecli.engine == "sqlite":
        os.chmod(ecli.db, 0o600)
    return ecli


def audit(cli, *args: str):
    return cli("audit", "--as-of", AS_OF, *args, env=NO_KEY)


def audit_json(cli, *args: str) -> dict:
    result = audit(cli, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_document_matches_the_golden_file(estore) -> None:
    doc = audit_json(estore)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert doc == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_json_schema_is_stable(store) -> None:
    doc = audit_json(store)
    assert list(doc) == ["score", "empty", "as_of", "previous_score", "change", "contacts",
                         "orders", "interactions", "parts", "findings"]
    assert list(doc["parts"]) == list(PARTS)
    assert all(set(p) == {"score", "weight"} for p in doc["parts"].values())
    assert all(list(f) == ["part", "check", "field", "count", "total", "message", "command"]
               for f in doc["findings"])
    assert isinstance(doc["score"], float) and 0 <= doc["score"] <= 100


def test_every_triggered_check_is_in_the_report(store) -> None:
    found = {(f["check"], f["field"]): f for f in audit_json(store)["findings"]}
    expected = {
        ("completeness.empty", "name"): 1, ("validity.invalid", "email"): 1,
        ("validity.invalid", "phone"): 1, ("validity.invalid", "id_number"): 1,
        ("uniqueness.exact_duplicates", "email_key"): 2, ("freshness.stale", "updated_at"): 2,
        ("consistency.future_orders", "order_date"): 1,
        ("consistency.negative_amount", "amount"): 1, ("security.no_consent", "consent"): 2,
        ("security.past_retention", ""): 1,
    }
    for key, count in expected.items():
        assert found[key]["count"] == count, key
    assert ("security.file_readable", str(store.db)) not in found


def test_show_lists_the_records_a_finding_counts(store) -> None:
    result = audit(store, "--show", "future-orders", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [r["order_id"] for r in json.loads(result.stdout)] == ["O2"]
    rows = json.loads(audit(store, "--show", "stale", "--format", "json").stdout)
    assert [r["external_id"] for r in rows] == ["C3", "C4"]
    result = audit(store, "--show", "nonsense")
    assert result.exit_code == 2
    assert "not a check" in result.stderr


def test_readable_database_file_is_a_finding(store) -> None:
    os.chmod(store.db, 0o644)
    found = {f["check"]: f for f in audit_json(store)["findings"]}
    assert found["security.file_readable"]["command"] == f"chmod 600 {store.db}"


def test_readable_key_file_is_a_finding(store, tmp_path: Path) -> None:
    key = tmp_path / "audit.key"
    assert store("keygen", "--key-file", key).exit_code == 0
    os.chmod(key, 0o644)
    checks = {f["check"]: f for f in audit_json(store)["findings"]}
    assert "security.file_readable" not in checks
    result = store("audit", "--as-of", AS_OF, "--format", "json",
                   env={"CUSTDATA_KEY_FILE": str(key)})
    assert result.exit_code == 0, result.output
    checks = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    assert checks["security.file_readable"]["field"] == str(key)


@pytest.mark.parametrize(("offset", "code"), [(-10, 0), (0, 0), (0.1, 1), (20, 1)])
def test_fail_under_exit_codes(store, offset: float, code: int) -> None:
    score = audit_json(store)["score"]
    result = audit(store, "--fail-under", str(round(score + offset, 1)), "--format", "csv")
    assert result.exit_code == code, result.output
    assert result.stdout.startswith("kind,part,score")  # the report is printed either way
    assert ("below --fail-under" in result.stderr) is bool(code)


def test_fail_under_takes_any_number(store) -> None:
    assert audit(store, "--fail-under", "-5").exit_code == 0
    assert audit(store, "--fail-under", "1e9").exit_code == 1
    assert audit(store, "--fail-under", "lots").exit_code == 2


def test_history_shows_every_run_and_the_change(estore, write_csv) -> None:
    first = audit_json(estore)
    assert first["previous_score"] is None and first["change"] is None
    more = [CONTACTS[0], ["C5", "Eve Xu", "eve@example.com", "13800138005", "", "Wuhan", "yes",
                          "2024-06-20"]]
    assert estore("import", "contacts", write_csv("more.csv", more)).exit_code == 0
    second = audit_json(estore)
    assert second["previous_score"] == first["score"]
    assert second["change"] == round(second["score"] - first["score"], 1) != 0
    result = estore("audit", "--history", "--format", "json")
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)
    assert [r["score"] for r in runs] == [first["score"], second["score"]]
    assert [r["change"] for r in runs] == [None, second["change"]]
    assert runs[1]["validity"] == second["parts"]["validity"]["score"]
    assert estore.sql("SELECT count(*) FROM audit_runs") == [(2,)]


def test_history_rejects_fail_under(store) -> None:
    assert store("audit", "--history", "--fail-under", "50").exit_code == 2


def test_empty_store_says_so_and_does_not_fail(ecli) -> None:
    assert ecli("init").exit_code == 0  # reading commands never create a store
    result = ecli("audit", "--fail-under", "99", "--format", "csv", env=NO_KEY)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "nothing to audit" in result.stderr
    doc = json.loads(ecli("audit", "--format", "json", env=NO_KEY).stdout)
    assert doc["empty"] is True and doc["score"] is None
    assert all(p["score"] is None for p in doc["parts"].values()) and doc["findings"] == []
    assert ecli.sql("SELECT count(*) FROM audit_runs") == [(0,)]  # no score, no run
    assert json.loads(ecli("audit", "--history", "--format", "json").stdout) == []


def test_csv_rows_keep_numbers_plain(estore) -> None:
    result = audit(estore, "--format", "csv")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "kind,part,score,weight,check,field,count,total,message,command"
    assert lines[1:3] == ["overall,overall,57.3,100,,,,,,", "part,completeness,43,20,,,,,,"]
    assert lines[-1].startswith("finding,security,,,security.past_retention,,1,4,")


def test_table_is_a_dashboard_with_bars(store) -> None:
    result = audit(store, "--format", "table")
    assert result.exit_code == 0, result.output
    assert "Overall score" in result.stdout and "█" in result.stdout
    for part in PARTS:
        assert part in result.stdout
    assert "What to fix" in result.stdout and "validate" in result.stdout
    assert "57.3" in result.stdout  # the golden fixture's score


def test_encrypted_column_without_key_is_reported_not_failed(estore) -> None:
    estore.sql("UPDATE contacts SET email = 'cd1:kid:body:a***@example.com' "
              "WHERE email IS NOT NULL")
    doc = audit_json(estore)
    found = {(f["check"], f["field"]): f for f in doc["findings"]}
    assert ("validity.not_checkable", "email") in found
    assert ("validity.invalid", "email") not in found
    assert doc["parts"]["validity"]["score"] is not None


def test_encrypted_store_audits_with_and_without_the_key(estore, tmp_path: Path) -> None:
    key = tmp_path / "audit.key"
    assert estore("keygen", "--key-file", key).exit_code == 0
    result = estore("--key-file", key, "encrypt")
    assert result.exit_code == 0, result.output
    before = audit_json(estore)
    found = {(f["check"], f["field"]) for f in before["findings"]}
    assert {("validity.not_checkable", "email"), ("validity.not_checkable", "phone")} <= found
    assert not any(check == "security.plaintext_columns" for check, _ in found)
    with_key = estore("--key-file", key, "audit", "--as-of", AS_OF, "--format", "json")
    assert with_key.exit_code == 0, with_key.output
    doc = json.loads(with_key.stdout)
    found = {(f["check"], f["field"]): f["count"] for f in doc["findings"]}
    assert not any(check == "validity.not_checkable" for check, _ in found)
    assert found[("validity.invalid", "email")] == 1
    assert found[("uniqueness.exact_duplicates", "email_key")] == 2  # blind index still matches


def test_config_weights_and_fields_change_the_score(estore, tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text('[audit]\nvalidity_fields = ["email"]\nweights = {validity = 100}\n'
                      'stale_days = 10000\n', encoding="utf-8")
    result = estore("--config", config, "audit", "--as-of", AS_OF, "--format", "json",
                   env=NO_KEY)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    validity = [f["field"] for f in doc["findings"] if f["part"] == "validity"]
    assert validity == ["email"] and doc["parts"]["validity"]["score"] == 75.0
    assert doc["parts"]["validity"]["weight"] == 100 and doc["parts"]["freshness"]["score"] == 100
    config.write_text('[audit]\nweights = {speed = 1}\n', encoding="utf-8")
    result = estore("--config", config, "audit", env=NO_KEY)
    assert result.exit_code == 2
    assert "speed" in result.stderr
