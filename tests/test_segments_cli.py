"""tag, report rfm and report summary end to end through the real CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from custdata.segments import CN8_SEGMENTS, SEGMENT_ZH, SEGMENTS
from tests.conftest import ENGINES, Cli, make_csv

CONTACTS = [["external_id", "name"]] + [[f"C{i}", f"Person {i}"] for i in range(1, 9)]
ORDERS = [
    ["order_id", "customer_id", "order_date", "amount", "currency", "status"],
    # C1: three paid orders (two on the same day), a refund; one order after the as-of date
    ["1", "C1", "2024-01-10", "100", "CNY", "paid"],
    ["2", "C1", "2024-06-01", "50", "CNY", "paid"],
    ["3", "C1", "2024-06-01", "25", "CNY", ""],
    ["4", "C1", "2024-06-05", "-30", "CNY", ""],
    ["5", "C1", "2024-07-15", "999", "CNY", "paid"],
    # C2: one order on the as-of date itself
    ["6", "C2", "2024-06-30", "80", "CNY", "paid"],
    # C3: a cancelled order only counts nothing; one paid order long ago
    ["7", "C3", "2022-03-01", "500", "CNY", "paid"],
    ["8", "C3", "2024-05-01", "900", "CNY", "cancelled"],
    # C4: regular buyer
    ["9", "C4", "2023-07-01", "200", "CNY", "paid"],
    ["10", "C4", "2023-10-01", "200", "CNY", "paid"],
    ["11", "C4", "2024-01-01", "200", "CNY", "paid"],
    ["12", "C4", "2024-04-01", "200", "CNY", "paid"],
    # C5: refunded order only: not a customer in RFM
    ["13", "C5", "2024-02-01", "-40", "CNY", "refunded"],
    # C6: only after the as-of date
    ["14", "C6", "2024-08-01", "60", "CNY", "paid"],
    # C7: came back after two years
    ["15", "C7", "2021-01-01", "300", "CNY", "paid"],
    ["16", "C7", "2024-06-20", "120", "CNY", "paid"],
]
AS_OF = "2024-06-30"
EXPECTED = {  # external_id: (recency_days, frequency, monetary) as of 2024-06-30
    "C1": (29, 3, 145.0), "C2": (0, 1, 80.0), "C3": (852, 1, 500.0),
    "C4": (90, 4, 800.0), "C7": (10, 2, 420.0),
}


def _stock(cli: Cli, folder: Path) -> Cli:
    for name, rows in (("contacts", CONTACTS), ("orders", ORDERS)):
        path = folder / f"{name}.csv"
        path.write_bytes(make_csv(rows))
        assert cli("import", name, path).exit_code == 0
    return cli


@pytest.fixture
def shop(tmp_path: Path) -> Cli:
    """A fresh store with the orders above (for tests that write)."""
    return _stock(Cli(tmp_path / "crm.db"), tmp_path)


@pytest.fixture
def eshop(ecli: Cli, tmp_path: Path) -> Cli:
    """`shop` on each engine (sqlite, postgres)."""
    return _stock(ecli, tmp_path)


@pytest.fixture(scope="module", params=ENGINES)
def shop_ro(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One store per engine shared by the read-only report tests of this module."""
    folder = tmp_path_factory.mktemp("shop")
    if request.param == "sqlite":
        yield _stock(Cli(folder / "crm.db"), folder)
        return
    server = request.getfixturevalue("pg_server")
    name = server.new_database()
    yield _stock(Cli(server.url(name)), folder)
    server.drop_database(name)


def test_rfm_customers_match_hand_computed_values(shop_ro) -> None:
    rows = shop_ro.rows("report", "rfm", "--as-of", AS_OF, "--customers")
    got = {r["external_id"]: (r["recency_days"], r["frequency"], r["monetary"]) for r in rows}
    assert got == EXPECTED
    for r in rows:
        assert r["cell"] == f"{r['r']}{r['f']}{r['m']}"
        assert r["segment"] in SEGMENTS
        assert set(r) >= {"contact_id", "external_id", "recency_days", "frequency", "monetary",
                          "r", "f", "m", "cell", "segment"}
    c2 = next(r for r in rows if r["external_id"] == "C2")
    assert c2["r"] == 5  # most recent customer


def test_rfm_segments_default_output(shop_ro) -> None:
    rows = shop_ro.rows("report", "rfm", "--as-of", AS_OF)
    assert [r["segment"] for r in rows] == list(SEGMENTS)
    assert sum(r["customers"] for r in rows) == 5
    assert sum(r["revenue"] for r in rows) == pytest.approx(1945.0)
    assert all(r["action"] for r in rows)


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "table"])
@pytest.mark.parametrize("extra", [[], ["--customers"]])
def test_every_format_parses(shop_ro, fmt: str, extra: list[str]) -> None:
    result = shop_ro("report", "rfm", "--as-of", AS_OF, "--format", fmt, *extra)
    assert result.exit_code == 0, result.output
    text = result.stdout
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
    elif fmt == "json":
        rows = json.loads(text)
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
    else:
        assert "RFM" in text
        return
    assert len(rows) == (5 if extra else len(SEGMENTS))
    if fmt == "csv" and extra:
        assert {r["monetary"] for r in rows} >= {"145", "800"}  # plain numbers


def test_segment_filter_and_unknown_segment(shop_ro) -> None:
    rows = shop_ro.rows("report", "rfm", "--as-of", AS_OF, "--customers")
    name = rows[0]["segment"]
    folded = name.lower().replace(" ", "-")
    only = shop_ro.rows("report", "rfm", "--as-of", AS_OF, "--customers", "--segment", folded)
    assert only and all(r["segment"] == name for r in only)
    assert len(only) == sum(r["segment"] == name for r in rows)
    one = shop_ro.rows("report", "rfm", "--as-of", AS_OF, "--segment", name)
    assert [r["segment"] for r in one] == [name]
    result = shop_ro("report", "rfm", "--segment", "VIPs")
    assert result.exit_code == 2
    assert "Champions" in result.stderr


def test_cn8_and_chinese_labels(shop_ro) -> None:
    rows = shop_ro.rows("report", "rfm", "--as-of", AS_OF, "--scheme", "cn8", "--customers")
    assert {r["segment"] for r in rows} <= set(CN8_SEGMENTS)
    zh = shop_ro.rows("report", "rfm", "--as-of", AS_OF, "--lang", "zh")
    assert [r["segment"] for r in zh] == [SEGMENT_ZH[s] for s in SEGMENTS]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in r["action"]) for r in zh)
    table = shop_ro("report", "rfm", "--as-of", AS_OF, "--lang", "zh", "--format", "table")
    assert table.exit_code == 0 and "客户数" in table.stdout and "建议行动" in table.stdout


def test_rfm_as_of_ignores_later_orders(shop_ro) -> None:
    rows = shop_ro.rows("report", "rfm", "--as-of", "2024-01-10", "--customers")
    got = {r["external_id"]: (r["recency_days"], r["frequency"], r["monetary"]) for r in rows}
    assert got == {"C1": (0, 1, 100.0), "C3": (680, 1, 500.0), "C4": (9, 3, 600.0),
                   "C7": (1104, 1, 300.0)}


def test_mixed_currencies_need_rates_or_a_filter(eshop, write_csv, tmp_path: Path,
                                                 monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # a team store's custdata.toml is in the working folder
    more = [ORDERS[0], ["90", "C2", "2024-06-01", "10", "USD", "paid"],
            ["91", "C8", "2024-06-02", "20", "EUR", "paid"]]
    assert eshop("import", "orders", write_csv("o2.csv", more)).exit_code == 0
    result = eshop("report", "rfm", "--as-of", AS_OF)
    assert result.exit_code == 2
    assert "CNY" in result.stderr and "USD" in result.stderr and "EUR" in result.stderr
    assert "--currency" in result.stderr and "rates" in result.stderr
    assert eshop("tag", "--as-of", AS_OF).exit_code == 2
    usd = eshop.rows("report", "rfm", "--as-of", AS_OF, "--customers", "--currency", "usd")
    assert [(r["external_id"], r["monetary"]) for r in usd] == [("C2", 10.0)]
    (tmp_path / "custdata.toml").write_text(
        '[rfm]\ncurrency = "CNY"\nrates = {USD = 7.0, EUR = 8.0}\n', encoding="utf-8")
    rows = eshop.rows("report", "rfm", "--as-of", AS_OF, "--customers")
    got = {r["external_id"]: r["monetary"] for r in rows}
    assert got["C2"] == 150.0 and got["C8"] == 160.0


def test_tag_dry_run_writes_nothing(eshop) -> None:
    before = eshop.sql("SELECT count(*) FROM oplog")[0][0]
    result = eshop("tag", "--as-of", AS_OF, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)
    assert len(changes) == 16  # 8 contacts x stage and tier
    assert {c["field"] for c in changes} == {"stage", "tier"}
    assert set(changes[0]) == {"contact_id", "external_id", "field", "old", "new"}
    assert eshop.sql("SELECT count(*) FROM oplog")[0][0] == before
    assert eshop.count("history") == 0
    assert eshop.sql("SELECT count(*) FROM contacts WHERE stage IS NOT NULL")[0][0] == 0


def test_tag_sets_stages_records_history_and_is_idempotent(eshop) -> None:
    assert eshop("tag", "--as-of", AS_OF).exit_code == 0
    stages = dict(eshop.sql("SELECT external_id, stage FROM contacts"))
    assert stages == {"C1": "repeat", "C2": "new", "C3": "churned", "C4": "repeat",
                      "C5": "lead", "C6": "lead", "C7": "reactivated", "C8": "lead"}
    tiers = dict(eshop.sql("SELECT external_id, tier FROM contacts"))
    assert tiers["C4"] == "high" and tiers["C8"] == "nurture"
    history = eshop.sql("SELECT operation, field, old, new FROM history")
    assert len(history) == 16 and {h[0] for h in history} == {"tag"}
    assert all(h[2] is None for h in history)
    stamps = eshop.sql("SELECT stage_changed_at, tier_changed_at, changed_at FROM contacts")
    assert all(s[0] and s[1] and s[2] for s in stamps)
    oplog = eshop.count("oplog")
    assert eshop("tag", "--as-of", AS_OF).exit_code == 0
    assert eshop.count("history") == 16 and eshop.count("oplog") == oplog
    dry = eshop("tag", "--as-of", AS_OF, "--dry-run", "--format", "csv")
    assert dry.stdout.strip() == "contact_id,external_id,field,old,new"
    # later: C4 falls behind its usual rhythm (every ~92 days), C2 never came back
    assert eshop("tag", "--as-of", "2024-10-15").exit_code == 0
    new = eshop.sql("SELECT c.external_id, h.old, h.new FROM history h "
                   "JOIN contacts c ON c.id = h.contact_id WHERE h.field = 'stage' "
                   "AND h.old IS NOT NULL ORDER BY h.id")
    assert ("C4", "repeat", "at_risk") in new and ("C2", "new", "at_risk") in new


def test_export_finds_newly_at_risk_customers(shop) -> None:
    assert shop("tag", "--as-of", "2024-10-15").exit_code == 0
    rows = shop.rows("export", "contacts", "--where", "stage=at_risk", "--changed-since", "7d")
    assert {r["external_id"] for r in rows} == {"C2", "C4"}


def test_summary_counts_stage_by_tier(eshop) -> None:
    assert eshop("tag", "--as-of", AS_OF).exit_code == 0
    rows = eshop.rows("report", "summary")
    assert sum(r["customers"] for r in rows) == 8
    pairs = {(r["stage"], r["tier"]): r["customers"] for r in rows}
    assert pairs[("lead", "nurture")] == 3 and pairs[("new", "nurture")] == 1
    assert sum(r["revenue"] for r in rows) == pytest.approx(1945.0 + 60.0 + 999.0)
    table = eshop("report", "summary", "--format", "table")
    assert table.exit_code == 0 and "revenue by tier" in table.stdout and "█" in table.stdout
    csv_text = eshop("report", "summary", "--format", "csv").stdout
    assert csv_text.splitlines()[0] == "stage,tier,customers,revenue,window_revenue"


@pytest.mark.parametrize("args", [
    ["report", "rfm"], ["report", "rfm", "--customers"], ["report", "summary"],
    ["tag", "--dry-run"],
])
@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_empty_store_prints_no_rows(cli, args: list[str], fmt: str) -> None:
    assert cli("init").exit_code == 0  # reading commands never create a store
    result = cli(*args, "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        assert json.loads(result.stdout) == []
    elif fmt == "csv":
        assert len(result.stdout.strip().splitlines()) <= 1
    else:
        assert result.stdout.strip() == ""


def test_bad_as_of_is_a_usage_error(cli) -> None:
    result = cli("tag", "--as-of", "yesterday-ish")
    assert result.exit_code == 2


def test_help_for_every_command(cli) -> None:
    for args in (["tag"], ["report", "rfm"], ["report", "summary"]):
        result = cli(*args, "--help")
        assert result.exit_code == 0 and "--format" in result.stdout


def test_show_gives_the_rfm_cell_of_the_last_tag_without_scoring_everyone(
        eshop, monkeypatch) -> None:
    from custdata.api import segments as api_segments

    assert eshop("tag", "--as-of", AS_OF).exit_code == 0
    rfm = {r["external_id"]: r for r in eshop.rows("report", "rfm", "--customers",
                                                   "--as-of", AS_OF)}

    def no_full_pass(*args: object, **kwargs: object) -> None:
        raise AssertionError("show scored every customer")

    monkeypatch.setattr(api_segments, "rfm_of_contact", no_full_pass)
    for ext in ("C1", "C4", "C5"):
        card = json.loads(eshop("show", f"ext:{ext}", "--format", "json").stdout)
        assert card["rfm_as_of"] == AS_OF
        assert card["rfm_cell"] == (rfm[ext]["cell"] if ext in rfm else None)
        assert card["rfm_segment"] == (rfm[ext]["segment"] if ext in rfm else None)
    assert "C5" not in rfm  # a lead: no paid order, no cell


def test_tag_on_a_new_day_rewrites_the_cells_even_without_stage_changes(eshop) -> None:
    assert eshop("tag", "--as-of", AS_OF).exit_code == 0
    oplog = eshop.count("oplog")
    assert eshop("tag", "--as-of", AS_OF).exit_code == 0
    assert eshop.count("oplog") == oplog  # same day: nothing to write
    assert eshop("tag", "--as-of", "2024-07-01").exit_code == 0
    (state,) = eshop.sql("SELECT value FROM meta WHERE key = 'rfm_cells'")[0]
    assert json.loads(state)["as_of"] == "2024-07-01"
    assert eshop.count("rfm_cells") == len(eshop.rows("report", "rfm", "--customers",
                                                    "--as-of", "2024-07-01"))


def test_show_before_any_tag_scores_the_contact_as_of_today(shop) -> None:
    card = json.loads(shop("show", "ext:C1", "--format", "json").stdout)
    assert card["rfm_as_of"] == date.today().isoformat()
    assert card["rfm_cell"] and card["rfm_segment"]
