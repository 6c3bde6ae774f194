"""`custdata report churn` end to end through the real CLI, on a small generated store."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from custdata.cli import app
from tests.conftest import ENGINES

runner = CliRunner()
AS_OF = date(2024, 6, 30)
START = date(2023, 1, 1)
END = date(2024, 10, 15)  # the data runs past AS_OF + 90 days, so a backtest at AS_OF works
COLUMNS = ["contact_id", "external_id", "name", "phone", "company", "owner", "risk",
           "value_at_risk", "reason", "last_order", "days_since_order", "stage", "tier"]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def make_store(root: Path, customers: int, db: Path | str | None = None) -> Path | str:
    """Customers buying every few weeks until they stop, plus the special cases."""
    rng = random.Random(11)
    contacts = [[f"K{i:03d}", f"Customer {i}"] for i in range(customers)]
    contacts += [["SINGLE", "One Order"], ["REFUND", "Refunds Only"], ["LEAD", "No Orders"],
                 ["CANCEL", "Cancelled Only"]]
    orders: list[list[object]] = []
    for i in range(customers):
        step = rng.randint(15, 60)
        day = START + timedelta(days=rng.randint(0, 200))
        stop = START + timedelta(days=rng.randint(150, 700))
        while day <= min(stop, END):
            orders.append([f"O{len(orders)}", f"K{i:03d}", day.isoformat(),
                           rng.randint(50, 500), "paid"])
            day += timedelta(days=max(1, int(rng.expovariate(1 / step))))
    orders += [
        ["S1", "SINGLE", "2024-03-02", 300, "paid"],
        ["R1", "REFUND", "2024-05-01", -120, "refunded"],
        ["C1", "CANCEL", "2024-05-01", 80, "cancelled"],
        ["X1", "K000", "not a date", 999, "paid"],
    ]
    interactions = [["K001", "2024-06-01 10:00", "call", 2],
                    ["K002", "2024-06-28 09:30", "visit", 5]]
    db = db or root / "c.db"
    for kind, header, rows in (
        ("contacts", ["external_id", "name"], contacts),
        ("orders", ["order_id", "customer_id", "order_date", "amount", "status"], orders),
        ("interactions", ["customer_id", "at", "channel", "satisfaction"], interactions),
    ):
        path = write_csv(root / f"{kind}.csv", header, rows)
        result = runner.invoke(app, ["--db", str(db), "import", kind, str(path)])
        assert result.exit_code == 0, result.output
    return db


@pytest.fixture(scope="module", params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One store per engine (sqlite, postgres) shared by the module's read-only tests."""
    folder = tmp_path_factory.mktemp("churn")
    if request.param == "sqlite":
        yield make_store(folder, 90)
        return
    server = request.getfixturevalue("pg_server")
    name = server.new_database()
    yield make_store(folder, 90, server.url(name))
    server.drop_database(name)


def churn(db: Path, *args: str) -> object:
    return runner.invoke(app, ["--db", str(db), "report", "churn", *args])


def rows_of(output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


def test_csv_lists_every_customer_by_value_at_risk(store: Path) -> None:
    result = churn(store, "--as-of", AS_OF.isoformat(), "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert list(rows[0]) == COLUMNS
    ids = {r["external_id"] for r in rows}
    assert {"SINGLE", "REFUND"} <= ids and not {"LEAD", "CANCEL"} & ids
    assert len(rows) == len(ids) == 92  # every customer with a paid or refunded order
    weights = [float(r["value_at_risk"]) * float(r["risk"]) for r in rows]
    assert weights == sorted(weights, reverse=True)
    assert all(0 <= float(r["risk"]) <= 1 and "," not in r["value_at_risk"] for r in rows)
    assert all(r["last_order"] <= AS_OF.isoformat() for r in rows if r["last_order"])


def test_json_rows_explain_themselves(store: Path) -> None:
    result = churn(store, "--as-of", AS_OF.isoformat(), "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["external_id"]: r for r in json.loads(result.stdout)}
    assert rows["REFUND"]["value_at_risk"] == 0
    assert rows["REFUND"]["reason"].startswith("every order was refunded, last 60 days ago")
    assert rows["REFUND"]["last_order"] is None
    assert rows["SINGLE"]["reason"].startswith("one order only, 120 days ago")
    assert rows["SINGLE"]["value_at_risk"] == 300 and rows["SINGLE"]["last_order"] == "2024-03-02"
    assert "last call rated 2/5" in rows["K001"]["reason"]
    assert rows["K002"]["reason"].endswith("last visit rated 5/5; in touch 2 days ago")
    assert all(isinstance(r["risk"], float) for r in rows.values())


@pytest.mark.parametrize("fmt", ["table", "jsonl"])
def test_other_formats(store: Path, fmt: str) -> None:
    result = churn(store, "--as-of", AS_OF.isoformat(), "--top", "4", "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "jsonl":
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert len(lines) == 4 and list(lines[0]) == COLUMNS
    else:
        assert "risk" in result.stdout and "reason" in result.stdout


def test_top_and_min_risk(store: Path) -> None:
    top = rows_of(churn(store, "--as-of", AS_OF.isoformat(), "--top", "5", "-f", "csv").stdout)
    everyone = rows_of(churn(store, "--as-of", AS_OF.isoformat(), "-f", "csv").stdout)
    assert top == everyone[:5]
    risky = rows_of(churn(store, "--as-of", AS_OF.isoformat(), "--min-risk", "0.5",
                          "-f", "csv").stdout)
    assert risky and all(float(r["risk"]) >= 0.5 for r in risky)
    assert len(risky) == sum(float(r["risk"]) >= 0.5 for r in everyone)


def test_backtest_json_object(store: Path) -> None:
    result = churn(store, "--as-of", AS_OF.isoformat(), "--backtest", "--format", "json")
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    for key in ("auc", "baseline_auc", "top_decile_precision", "customers", "horizon_days",
                "baseline_top_decile_precision", "calibration"):
        assert key in obj
    assert obj["customers"] == 92 and obj["horizon_days"] == 90
    assert 0.5 < obj["auc"] <= 1 and 0 <= obj["baseline_auc"] <= 1
    assert 0 <= obj["top_decile_precision"] <= 1
    assert [row["decile"] for row in obj["calibration"]] == list(range(1, 11))
    assert "compared with paid orders from 2024-07-01 to 2024-09-28" in result.stderr


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "table"])
def test_backtest_formats(store: Path, fmt: str) -> None:
    result = churn(store, "--as-of", AS_OF.isoformat(), "--backtest", "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        rows = rows_of(result.stdout)
        assert len(rows) == 10 and rows[0]["customers"] == "92" and rows[0]["horizon_days"] == "90"
        assert float(rows[0]["auc"]) > 0.5
    elif fmt == "jsonl":
        assert len(result.stdout.splitlines()) == 1 and "auc" in json.loads(result.stdout)
    else:
        assert "ROC AUC" in result.stdout and "Calibration" in result.stdout


def test_backtest_horizon_from_config(store: Path, tmp_path: Path) -> None:
    config = tmp_path / "custdata.toml"
    config.write_text("[churn]\nhorizon_days = 60\n", encoding="utf-8")
    result = runner.invoke(app, ["--db", str(store), "--config", str(config), "report", "churn",
                                 "--as-of", AS_OF.isoformat(), "--backtest", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["horizon_days"] == 60


def test_backtest_needs_the_horizon_in_the_data(store: Path) -> None:
    result = churn(store, "--as-of", "2024-09-01", "--backtest", "-f", "json")
    assert result.exit_code == 2
    assert "but the store's orders end on" in result.stderr and "or earlier" in result.stderr
    assert result.stdout == ""


def test_too_little_history_is_exit_2(tmp_path: Path) -> None:
    db = make_store(tmp_path, 6)
    result = churn(db, "--as-of", AS_OF.isoformat())
    assert result.exit_code == 2
    assert "needs at least 50" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("args", [[], ["--backtest"]])
def test_empty_store_prints_no_rows(tmp_path: Path, args: list[str]) -> None:
    assert CliRunner().invoke(app, ["--db", str(tmp_path / "empty.db"), "init"]).exit_code == 0
    result = churn(tmp_path / "empty.db", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == [] if not args else data["customers"] == 0
    csv_result = churn(tmp_path / "empty.db", "--format", "csv")
    assert csv_result.exit_code == 0 and rows_of(csv_result.stdout) == []


def test_store_facts_respect_the_as_of_date(store: Path) -> None:
    from custdata.store import open_store

    with open_store(store) as s:
        ids = {ext: s.contacts.find_ids(external_id=ext)[0]
               for ext in ("SINGLE", "REFUND", "CANCEL", "K001", "K002")}
        facts = {f["contact_id"]: f for f in s.churn.churn_facts(as_of=AS_OF)}
        earlier = {f["contact_id"] for f in s.churn.churn_facts(as_of=date(2024, 3, 1))}
        on_the_day = {f["contact_id"] for f in s.churn.churn_facts(as_of=date(2024, 3, 2))}
        later = s.churn.customers_ordering_between(date(2024, 3, 1), date(2024, 3, 2))
    single, refund = facts[ids["SINGLE"]], facts[ids["REFUND"]]
    assert (single["first_paid"], single["paid_days"], single["value"]) == ("2024-03-02", 1, 300)
    assert refund["paid_days"] == 0 and refund["value"] == -120 and refund["first_paid"] is None
    assert refund["first_order"] == "2024-05-01"
    assert ids["CANCEL"] not in facts  # cancelled orders are no orders
    assert ids["SINGLE"] not in earlier and ids["SINGLE"] in later
    assert ids["SINGLE"] in on_the_day  # --as-of DATE includes everything dated DATE
    assert (facts[ids["K001"]]["last_rating"], facts[ids["K001"]]["last_rating_channel"]) == (
        2, "call")
    assert facts[ids["K002"]]["last_contact"] == "2024-06-28"


def test_store_facts_read_in_parallel_ranges_are_the_same(store: Path, monkeypatch) -> None:
    import custdata.store.database as core
    from custdata.store import open_store

    with open_store(store) as s:
        single = s.churn.churn_facts(as_of=AS_OF)
        monkeypatch.setattr(core, "PARALLEL_MIN_ORDERS", 1)
        monkeypatch.setattr(core, "default_workers", lambda: 3)
        split = s.churn.churn_facts(as_of=AS_OF)
    assert len(single) > 50 and split == single


def test_mixed_currencies_need_rates(tmp_path: Path) -> None:
    db = make_store(tmp_path, 60)
    extra = write_csv(tmp_path / "fx.csv",
                      ["order_id", "customer_id", "order_date", "amount", "status", "currency"],
                      [["U1", "SINGLE", "2024-04-01", 10, "paid", "USD"],
                       ["E1", "SINGLE", "2024-04-02", 5, "paid", "eur"]])
    assert runner.invoke(app, ["--db", str(db), "import", "orders", str(extra)]).exit_code == 0
    result = churn(db, "--as-of", AS_OF.isoformat(), "-f", "json")
    assert result.exit_code == 2 and "several currencies" in result.stderr
    config = tmp_path / "custdata.toml"
    config.write_text('[rfm]\ncurrency = "USD"\nrates = {EUR = 2.0}\n', encoding="utf-8")
    result = churn(db, "--as-of", AS_OF.isoformat(), "-f", "json")
    assert result.exit_code == 0, result.output
    rows = {r["external_id"]: r for r in json.loads(result.stdout)}
    assert rows["SINGLE"]["value_at_risk"] == 320  # 300 (no currency = USD) + 10 + 2 x 5
