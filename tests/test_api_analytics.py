"""dedupe, unmerge, tag and the reports run from Python (custdata.api), without the CLI,
and give what the CLI prints."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from custdata.api import Session, churn, dedupe, segments
from custdata.errors import NotFoundError, UsageError
from tests.conftest import EXAMPLES, Cli

AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def example_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example contacts, orders and interactions, imported through the CLI."""
    cli = Cli(tmp_path_factory.mktemp("api") / "crm.db")
    for kind in ("contacts", "orders", "interactions"):
        result = cli("import", kind, EXAMPLES / f"{kind}.csv")
        assert result.exit_code in (0, 1), result.output  # 1: the examples' rejects
    return cli.db


@pytest.fixture
def crm(example_db: Path, tmp_path: Path) -> Cli:
    """A private copy of the example store (the tests below write to it)."""
    db = tmp_path / "crm.db"
    db.write_bytes(example_db.read_bytes())
    return Cli(db)


def test_reports_from_python_match_the_cli(crm: Cli) -> None:
    session = Session(db=crm.db, today=AS_OF)
    rfm = segments.report_rfm(session, as_of=AS_OF)
    assert rfm.rows == crm.rows("report", "rfm", "--as-of", AS_OF.isoformat())
    assert sum(r["customers"] for r in rfm.rows) > 50 and rfm.currency == "CNY"
    champions = segments.report_rfm(session, as_of=AS_OF, customers=True, segment="champions")
    assert champions.rows and {r["segment"] for r in champions.rows} == {"Champions"}
    assert champions.rows == crm.rows("report", "rfm", "--as-of", AS_OF.isoformat(),
                                      "--customers", "--segment", "Champions")
    churned = churn.report_churn(session, as_of=AS_OF, top=10)
    assert len(churned.rows) == 10 and churned.scored > 50
    assert [r["risk"] for r in churned.rows] == [
        r["risk"] for r in crm.rows("report", "churn", "--as-of", AS_OF.isoformat(), "--top", "10")]
    backtest = churn.report_churn_backtest(session, as_of=date(2026, 3, 1))
    summary = backtest.summary()
    assert summary["customers"] > 50 and 0.0 <= summary["auc"] <= 1.0


def test_tag_from_python_then_summary(crm: Cli) -> None:
    session = Session(db=crm.db, today=AS_OF)
    history = crm.count("history")
    planned = segments.tag(session, as_of=AS_OF, dry_run=True)
    assert planned.stage_changes > 0 and crm.count("history") == history
    assert len(planned.changes) == planned.stage_changes + planned.tier_changes
    done = segments.tag(session, as_of=AS_OF)
    assert (done.stage_changes, done.tier_changes) == (planned.stage_changes,
                                                       planned.tier_changes)
    assert segments.tag(session, as_of=AS_OF).stage_changes == 0  # idempotent
    summary = segments.report_summary(Session(db=crm.db))  # revenue up to the real today
    assert summary.rows == crm.rows("report", "summary")
    assert sum(r["customers"] for r in summary.rows) == crm.count("contacts")
    assert summary.window_days == 365


def test_dedupe_and_unmerge_from_python(crm: Cli) -> None:
    session = Session(db=crm.db, command_line="custdata dedupe --merge (python)")
    found = dedupe.dedupe(session)
    assert found.rows and not found.merged
    assert [{k: v for k, v in r.items() if k != "merge_id"} for r in found.rows] == \
        crm.rows("dedupe")  # the CLI shows merge_id only with --merge
    before = crm.count("contacts")
    merged = dedupe.dedupe(session, merge=True)
    assert merged.clusters_merged == len({r["cluster_id"] for r in found.rows})
    assert crm.count("contacts") == before - merged.removed_contacts
    logged = crm.sql("SELECT command, counts FROM oplog ORDER BY id DESC LIMIT 1")[0]
    assert logged[0] == "custdata dedupe --merge (python)"
    assert json.loads(logged[1])["clusters"] == merged.clusters_merged
    for merge_id in sorted({r["merge_id"] for r in merged.rows}, reverse=True):
        counts = dedupe.unmerge(session, merge_id)
        assert counts["kept_fields"] == []
    assert crm.count("contacts") == before
    with pytest.raises(NotFoundError):
        dedupe.unmerge(session, "m999-1")
    with pytest.raises(UsageError):
        dedupe.dedupe(session, explain=True, merge=True)
    explained = dedupe.dedupe(session, explain=True)
    assert explained.explain and {"probability", "contributions"} <= set(explained.explain[0])


def test_errors_from_python_name_no_flags(crm: Cli) -> None:
    session = Session(db=crm.db, today=AS_OF)
    with pytest.raises(UsageError) as info:
        segments.report_rfm(session, segment="nobody")
    assert "--" not in str(info.value) and info.value.hint == "segment"
    result = crm("report", "rfm", "--segment", "nobody")
    assert result.exit_code == 2 and "--segment" in result.stderr
    with pytest.raises(UsageError) as info:
        dedupe.dedupe(session, threshold=0.0)
    assert "--" not in str(info.value)


def _custdata_imports(module: str) -> set[str]:
    """Every custdata module `module` imports (top level, in functions, under TYPE_CHECKING)."""
    import ast
    import importlib.util

    source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("custdata")}


@pytest.mark.parametrize("group", ["dedupe", "segments", "churn"])
def test_the_slice_keeps_the_house_import_rules(group: str) -> None:
    store_ok = ("custdata.models", "custdata.errors", "custdata.crypto", "custdata.parallel",
                "custdata.store")
    cli_ok = ("custdata.api", "custdata.errors", "custdata.models", "custdata.cli")
    for name in _custdata_imports(f"custdata.store.{group}"):
        assert name.startswith(store_ok), f"store/{group}.py imports {name}"
    for name in _custdata_imports(f"custdata.cli.{group}"):
        assert name.startswith(cli_ok), f"cli/{group}.py imports {name}"
    for name in _custdata_imports(f"custdata.api.{group}"):
        assert not name.startswith("custdata.cli"), f"api/{group}.py imports {name}"
