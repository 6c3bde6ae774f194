"""custdata.api.audit run from Python, without the CLI: audit, records, history."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from custdata.api import Session, audit, data
from custdata.errors import UsageError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
AS_OF = date(2026, 12, 1)
NO_KEY = {"CUSTDATA_KEY_FILE": None, "CUSTDATA_CONFIG": None}


@pytest.fixture
def session(cli) -> Session:
    """A store holding the example export (messy contacts, orders, interactions)."""
    for kind, name in (("contacts", "contacts.csv"), ("orders", "orders.csv"),
                       ("interactions", "interactions.csv")):
        result = cli("import", kind, EXAMPLES / name)
        assert result.exit_code == 0, result.output
    os.chmod(cli.db, 0o600)
    return Session(db=cli.db, today=AS_OF)


def test_audit_from_python_scores_saves_and_matches_the_cli(session, cli) -> None:
    run = audit.audit(session)
    assert run.saved and run.as_of == AS_OF and run.previous is None and run.change is None
    assert 0 <= run.report.score <= 100 and list(run.report.parts) == list(audit.PARTS)
    assert run.report.contacts == cli.count("contacts") > 0
    result = cli("audit", "--as-of", AS_OF.isoformat(), "--format", "json", env=NO_KEY)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == {**run.document(), "previous_score": run.report.score, "change": 0.0}
    assert [r["kind"] for r in run.rows()][:2] == ["overall", "part"]
    assert list(run.rows()[0]) == list(audit.REPORT_COLUMNS)


def test_save_false_and_the_fail_under_gate(session, cli) -> None:
    run = audit.audit(session, save=False, fail_under=100.5)
    assert run.failed and not run.saved and cli.count("audit_runs") == 0
    assert not audit.audit(session, fail_under=0).failed
    assert cli.count("audit_runs") == 1


def test_history_rows_carry_the_change(session) -> None:
    assert audit.history(session) == []
    first = audit.audit(session)
    audit.audit(session, as_of=date(2030, 1, 1))  # later: more records are stale
    rows = audit.history(session)
    assert [r["score"] for r in rows][0] == first.report.score
    assert rows[0]["change"] is None and rows[1]["change"] is not None
    assert set(audit.HISTORY_COLUMNS) <= set(rows[0])


def test_records_list_what_the_score_counts(session) -> None:
    run = audit.audit(session, save=False)
    counted = {f.check: f.count for f in run.report.findings}
    assert counted.get("security.no_consent", 0) > 0
    with audit.records(session, "no-consent") as (columns, rows):
        listed = list(rows)
    assert "consent" in columns and len(listed) == counted["security.no_consent"]
    with pytest.raises(UsageError) as caught, audit.records(session, "bogus"):
        pass
    assert caught.value.hint == "audit_show" and "--show" not in str(caught.value)


def test_a_readable_key_file_is_a_security_finding(session, tmp_path: Path) -> None:
    key = tmp_path / "team.key"
    key.write_text("not read by audit\n", encoding="utf-8")
    os.chmod(key, 0o644)
    exposed = Session(db=session.db, key_file=key, today=AS_OF)
    findings = [f for f in audit.audit(exposed, save=False).report.findings
                if f.check == "security.file_readable"]
    assert [f.field for f in findings] == [str(key)]
    os.chmod(key, 0o600)
    assert not [f for f in audit.audit(exposed, save=False).report.findings
                if f.check == "security.file_readable"]


def test_an_empty_store_is_not_scored_or_saved(tmp_path: Path) -> None:
    data.init(Session(db=tmp_path / "empty.db"))  # reading commands never create a store
    run = audit.audit(Session(db=tmp_path / "empty.db"), fail_under=99)
    assert run.report.empty and run.report.score is None
    assert not run.saved and not run.failed
    assert audit.history(Session(db=tmp_path / "empty.db")) == []
