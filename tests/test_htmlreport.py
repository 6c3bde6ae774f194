"""`report html`: the numbers behind every chart equal `report rfm`, `report churn` and
`audit` on the same store; personal values follow the key; the file is written atomically."""

from __future__ import annotations

import json
import re
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest

from custdata.htmlreport import SECTIONS, render_html
from custdata.api import Session
from custdata.api.report_html import gather
from custdata.htmlreport.model import ReportData
from tests.conftest import Cli
from tests.demo_store import AS_OF, build_demo_store, copy_store, personal_values

DAY = date.fromisoformat(AS_OF)
CHARTS = ("funnel", "tiers", "moves", "segments", "rf-grid", "risk", "calibration",
          "trend", "parts")


def _gather(cli: Cli, **kw) -> ReportData:
    session = Session(db=cli.db)
    with session.store() as store:
        return gather(session, store, as_of=DAY, **{"top": 20, **kw})


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The demo store, built once; tests that write use a copy."""
    return build_demo_store(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def data(demo: Cli) -> ReportData:
    return _gather(demo)


@pytest.fixture(scope="module")
def page(demo: Cli, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("page") / "report.html"
    result = demo("report", "html", "-o", out, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


# ---- the numbers behind the charts ------------------------------------------------------

@pytest.mark.parametrize("scheme", ["standard", "cn8"])
def test_segments_equal_report_rfm(demo: Cli, scheme: str) -> None:
    rows = demo.rows("report", "rfm", "--as-of", AS_OF, "--scheme", scheme)
    got = _gather(demo, scheme=scheme).rfm
    assert [(s.customers, s.share, s.revenue, s.revenue_share) for s in got.segments] == [
        (r["customers"], r["share"], r["revenue"], r["revenue_share"]) for r in rows]


def test_rf_grid_counts_report_rfm_customers(demo: Cli, data: ReportData) -> None:
    rows = demo.rows("report", "rfm", "--as-of", AS_OF, "--customers")
    grid = [[0] * 5 for _ in range(5)]
    for r in rows:
        grid[r["r"] - 1][r["f"] - 1] += 1
    assert data.rfm.grid == grid
    assert data.base.customers == len(rows)


def test_churn_bands_and_call_list_equal_report_churn(demo: Cli, data: ReportData) -> None:
    rows = demo.rows("report", "churn", "--as-of", AS_OF)
    churn = data.churn
    assert churn.scored == len(rows)
    bands = [0] * 10
    for r in rows:
        bands[min(int(r["risk"] * 10), 9)] += 1
    assert [b.count for b in churn.bands] == bands
    hot = [r for r in rows if r["risk"] >= 0.5]
    assert churn.at_risk == len(hot)
    assert churn.value_at_risk == pytest.approx(sum(r["value_at_risk"] for r in hot), abs=0.01)
    top = demo.rows("report", "churn", "--as-of", AS_OF, "--top", "20")
    assert [(c.external_id, c.risk, c.value_at_risk, c.reason) for c in churn.call_list] == [
        (r["external_id"], r["risk"], r["value_at_risk"], r["reason"]) for r in top]


def test_high_value_at_risk_uses_the_stored_tier(demo: Cli, data: ReportData) -> None:
    rows = demo.rows("report", "churn", "--as-of", AS_OF)
    high = [r for r in rows if r["risk"] >= 0.5 and r["tier"] == "high"]
    assert data.churn.high_at_risk == len(high) > 0
    assert data.churn.high_value_at_risk == pytest.approx(
        sum(r["value_at_risk"] for r in high), abs=0.01)


def test_backtest_equals_report_churn_backtest(demo: Cli, data: ReportData) -> None:
    bt = data.churn.backtest
    assert bt is not None and bt.cut == "2026-08-02"  # one 90-day horizon before as_of
    result = demo("report", "churn", "--backtest", "--as-of", bt.cut, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (bt.auc, bt.baseline_auc, bt.customers, bt.churned) == (
        doc["auc"], doc["baseline_auc"], doc["customers"], doc["churned"])
    assert bt.calibration == doc["calibration"]


def test_who_reordered_read_from_the_facts_equals_the_orders_query(demo: Cli) -> None:
    """The page reads who ordered after a past day from the facts it already holds; for
    every customer of that day it is what the orders query gives."""
    from custdata.api.report_html_churn import reordered_since

    with Session(db=demo.db).store() as store:
        facts = store.churn.churn_facts(as_of=DAY)
        for days in (1, 30, 45, 90, 180, 365):
            then = DAY - timedelta(days=days)
            customers = {f["contact_id"] for f in store.churn.churn_facts(as_of=then)}
            queried = store.churn.customers_ordering_between(then, DAY)
            assert reordered_since(facts, then) & customers == queried & customers
            assert reordered_since(facts, then) <= queried
            assert days < 90 or queried & customers  # the demo store has reorders to compare


def test_no_backtest_when_orders_stop_before_as_of(demo: Cli) -> None:
    session = Session(db=demo.db)
    with session.store() as store:
        later = gather(session, store, as_of=date(2026, 11, 30), top=5)
    assert later.churn.backtest is None
    assert "2026-10-31" in later.churn.backtest_note


def test_audit_parts_and_findings_equal_audit(demo: Cli) -> None:
    copy = copy_store(demo, demo.db.parent / "audit-copy")
    data = _gather(copy)  # before `audit` records one more run
    history = copy.rows("audit", "--history")
    result = copy("audit", "--format", "json", "--as-of", AS_OF)
    doc = json.loads(result.stdout)
    assert data.audit.score == doc["score"]
    assert data.audit.parts == {k: v["score"] for k, v in doc["parts"].items()}
    biggest = sorted(doc["findings"], key=lambda f: (-f["count"], f["part"], f["check"]))
    assert [(f.part, f.count, f.message) for f in data.audit.findings] == [
        (f["part"], f["count"], f["message"]) for f in biggest[:len(data.audit.findings)]]
    assert [(h["run"], h["score"], h["change"]) for h in data.audit.history] == [
        (h["run"], h["score"], h["change"]) for h in history]
    assert len(data.audit.history) == 2


def test_report_html_does_not_record_an_audit_run(demo: Cli, page: str) -> None:
    assert demo.count("audit_runs") == 2


def test_stages_and_tiers_equal_report_summary(demo: Cli, data: ReportData) -> None:
    rows = demo.rows("report", "summary")  # revenue up to today = up to AS_OF here
    stages: dict[str, int] = {}
    tiers: dict[str, list] = {}
    for r in rows:
        stages[r["stage"]] = stages.get(r["stage"], 0) + r["customers"]
        t = tiers.setdefault(r["tier"], [0, 0.0])
        t[0] += r["customers"]
        t[1] += r["revenue"]
    assert {c.name: c.count for c in data.base.stages} == stages
    assert {c.name: c.count for c in data.base.tiers} == {k: v[0] for k, v in tiers.items()}
    for c in data.base.tiers:
        assert c.revenue == pytest.approx(tiers[c.name][1], abs=0.05)
    assert data.base.contacts == sum(stages.values())


def test_stage_moves_are_the_last_tag_runs_history(demo: Cli, data: ReportData) -> None:
    (op,) = demo.sql("SELECT max(op_id) FROM history WHERE operation = 'tag' "
                     "AND field = 'stage'")[0]
    moved = demo.sql("SELECT COALESCE(old, ''), new, count(*) FROM history WHERE op_id = ? "
                     "AND field = 'stage' GROUP BY 1, 2", op)
    assert {(m.old, m.new): m.count for m in data.base.moves} == {
        (o, n): c for o, n, c in moved}
    assert data.base.moves_as_of == AS_OF and sum(m.count for m in data.base.moves) > 0


def test_duplicates_count_the_merges(demo: Cli, data: ReportData) -> None:
    counts = [json.loads(c) for (c,) in demo.sql(
        "SELECT counts FROM oplog WHERE command LIKE '%dedupe%'")]
    assert data.duplicates.merges == sum(c["clusters"] for c in counts) > 0
    assert data.duplicates.merged_contacts == sum(c["removed_contacts"] for c in counts)
    doc = json.loads(demo("audit", "--format", "json", "--as-of", AS_OF).stdout)
    assert data.duplicates.contacts_in_groups == sum(
        f["count"] for f in doc["findings"] if f["check"] == "uniqueness.exact_duplicates")


# ---- the page ----------------------------------------------------------------------------

def test_page_has_every_section_and_chart_and_no_url_to_fetch(page: str) -> None:
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    for chart in CHARTS:
        assert re.search(rf'data-chart="{chart}"><figcaption>[^<]+</figcaption><svg ', page)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', page)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page)
    assert "default-src 'none'" in page  # the browser refuses any fetch as well


def test_takeaways_are_written_from_the_data(page: str, data: ReportData) -> None:
    churn = data.churn
    assert f"{churn.high_at_risk:,} high-value customers are at risk" in page
    assert f"{data.base.customers:,} of {data.base.contacts:,} contacts" in page
    assert f"Call these {len(churn.call_list)} first" in page


def test_chinese_page_and_cn8(demo: Cli, tmp_path: Path) -> None:
    out = tmp_path / "zh.html"
    result = demo("report", "html", "-o", out, "--as-of", AS_OF, "--lang", "zh",
                  "--scheme", "cn8")
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in text and "重要价值客户" in text and "回访名单" in text
    assert "Microsoft YaHei" in text and "PingFang SC" in text and "Noto Sans CJK SC" in text


def test_no_unmasked_personal_value_without_the_key(demo: Cli, page: str) -> None:
    leaked = [v for v in personal_values(demo) if v in page]
    assert leaked == []
    assert page.count("***") >= 20  # names and phones of the call list, masked


def test_no_personal_value_at_all_with_no_pii(demo: Cli, tmp_path: Path) -> None:
    out = tmp_path / "anon.html"
    assert demo("report", "html", "-o", out, "--as-of", AS_OF, "--no-pii").exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert [v for v in personal_values(demo) if v in text] == []
    assert "***" not in text and ">Name<" not in text and ">Phone<" not in text
    assert "This page holds no personal values." in text


def test_key_of_an_encrypted_store_shows_only_call_list_phones(demo: Cli,
                                                              tmp_path: Path) -> None:
    plain = personal_values(demo)
    sealed = copy_store(demo, tmp_path / "sealed")
    key = tmp_path / "key"
    assert sealed("keygen", "--key-file", key).exit_code == 0
    assert sealed("--key-file", key, "encrypt").exit_code == 0
    with_key, without = tmp_path / "k.html", tmp_path / "nk.html"
    assert sealed("--key-file", key, "report", "html", "-o", with_key,
                  "--as-of", AS_OF).exit_code == 0
    assert sealed("report", "html", "-o", without, "--as-of", AS_OF).exit_code == 0
    keyed, masked = with_key.read_text("utf-8"), without.read_text("utf-8")
    rows = _gather(sealed, key_available=False).churn.call_list
    ids = [r.external_id for r in rows]
    phones = {p for (i, p) in demo.sql("SELECT external_id, phone FROM contacts") if i in ids
              and p}
    assert phones and all(p in keyed for p in phones)
    assert [v for v in plain - phones if v in keyed] == []
    assert [v for v in plain if v in masked] == []


# ---- the file ----------------------------------------------------------------------------

def test_writes_a_private_file_and_replaces_the_old_one(demo: Cli, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    out.write_text("old", encoding="utf-8")
    result = demo("report", "html", "-o", out, "--as-of", AS_OF, "--top", "3")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text("utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_failure_keeps_the_old_file_and_leaves_no_temp(demo: Cli, tmp_path: Path,
                                                      monkeypatch) -> None:
    out = tmp_path / "r.html"
    out.write_text("old", encoding="utf-8")
    import custdata.htmlreport as package

    def broken(*_a, **_k):
        raise KeyboardInterrupt
    monkeypatch.setattr(package, "render_html", broken)
    result = demo("report", "html", "-o", out, "--as-of", AS_OF)
    assert result.exit_code == 130
    assert out.read_text("utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_unwritable_target_is_a_one_line_usage_error(demo: Cli, tmp_path: Path) -> None:
    result = demo("report", "html", "-o", tmp_path / "missing" / "r.html")
    assert result.exit_code == 2
    assert "Cannot write" in result.output and "Traceback" not in result.output


def test_empty_store_still_makes_a_page(cli: Cli, tmp_path: Path) -> None:
    assert cli("init").exit_code == 0
    out = tmp_path / "empty.html"
    result = cli("report", "html", "-o", out)
    assert result.exit_code == 0, result.output
    text = out.read_text("utf-8")
    assert all(f'<section id="{s}">' in text for s in SECTIONS)
    assert "Nothing to show" in text


def test_page_stays_small_with_the_longest_call_list(data: ReportData) -> None:
    from dataclasses import replace

    rows = [replace(data.churn.call_list[0], rank=i, reason="x" * 120) for i in range(500)]
    big = replace(data, churn=replace(data.churn, call_list=rows))
    assert len(render_html(big).encode("utf-8")) < 2_000_000


# ---- terminal bar charts -----------------------------------------------------------------

def test_report_rfm_table_ends_with_bar_charts(demo: Cli) -> None:
    text = demo("report", "rfm", "--as-of", AS_OF, "--format", "table").stdout
    assert "Customers by segment" in text and "Revenue by segment" in text
    assert re.search(r"Champions\s+█+\s+38\s", text)


def test_report_summary_table_has_bar_charts(demo: Cli) -> None:
    text = demo("report", "summary", "--format", "table").stdout
    assert "Customers by stage" in text and "█" in text


def test_audit_history_table_has_a_bar_per_run(demo: Cli) -> None:
    text = demo("audit", "--history", "--format", "table").stdout
    assert "Score per run" in text
    runs = demo("audit", "--history", "--format", "csv").stdout
    assert "█" not in runs
    assert len(re.findall(r"#\d+ .*█+░*\s+\d+\.\d", text)) == len(runs.splitlines()) - 1 >= 2
