"""`report churn` as a call list (issue 19): who to call, how, why; risk readable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custdata.cli.churn import risk_text
from tests.test_churn_cli import churn, make_store, rows_of, runner, write_csv

from custdata.cli import app


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("calllist")
    db = make_store(root, 90)
    people = [[f"K{i:03d}", f"1380013{i:04d}", f"Firma {i}", "Li Na" if i % 2 else "Bob"]
              for i in range(90)]
    path = write_csv(root / "more.csv", ["external_id", "phone", "company", "owner"], people)
    assert runner.invoke(app, ["--db", str(db), "import", "contacts", str(path)]).exit_code == 0
    return db


def test_rows_name_the_person_to_call(store: Path) -> None:
    result = churn(store, "--as-of", "2024-06-30", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = {r["external_id"]: r for r in rows_of(result.stdout)}
    k7 = rows["K007"]
    assert (k7["name"], k7["phone"], k7["company"], k7["owner"]) == (
        "Customer 7", "13800130007", "Firma 7", "Li Na")
    assert k7["value_at_risk"] and k7["reason"]


def test_table_shows_risk_with_two_decimals_and_csv_json_full(store: Path) -> None:
    rows = json.loads(churn(store, "--as-of", "2024-06-30", "--format", "json").stdout)
    assert any(len(repr(r["risk"])) > 4 for r in rows)  # full numbers, not rounded
    table = churn(store, "--as-of", "2024-06-30", "--format", "table").stdout
    lines = {r["name"]: next(ln for ln in table.splitlines() if f" {r['name']} " in ln)
             for r in rows}
    for r in rows:
        assert f" {risk_text(r['risk'])} " in lines[r["name"]]
        assert (r["phone"] or "") in lines[r["name"]]
    assert "Call list" in table and "owner" in table


def test_risk_text_never_rounds_to_certainty() -> None:
    assert risk_text(0.997) == "0.99" and risk_text(1.0) == "1.00"
    assert risk_text(0.8234) == "0.82" and risk_text(0.001) == "0.01" and risk_text(0) == "0.00"


def test_model_parameters_only_with_verbose(store: Path) -> None:
    plain = churn(store, "--as-of", "2024-06-30", "--format", "csv")
    assert "Scored" in plain.stderr and "alpha=" not in plain.stderr
    verbose = churn(store, "--as-of", "2024-06-30", "--format", "csv", "--verbose")
    assert "BG/NBD r=" in verbose.stderr and "alpha=" in verbose.stderr
    backtest = churn(store, "--as-of", "2024-03-31", "--backtest", "--format", "json")
    assert "alpha=" not in backtest.stderr


def test_the_call_list_masks_phones_without_the_key(store: Path, tmp_path: Path) -> None:
    import shutil

    db = tmp_path / "sealed.db"
    shutil.copy(store, db)
    key = tmp_path / "k.key"
    assert runner.invoke(app, ["--db", str(db), "keygen", "--key-file", str(key)]).exit_code == 0
    assert runner.invoke(app, ["--db", str(db), "--key-file", str(key), "encrypt"]).exit_code == 0
    rows = rows_of(churn(db, "--as-of", "2024-06-30", "--format", "csv").stdout)
    assert rows and all("****" in r["phone"] for r in rows if r["phone"])
