"""Issue 19: one CSV writer neutralises formulas for every command that writes CSV, and
`import` removes exactly the quote `export` adds (a round trip is lossless)."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custdata.io import FORMULA_START, neutralise, read_table, unneutralise, write_csv
from tests.conftest import Cli, make_csv

EVIL = ["=HYPERLINK(\"http://x\",\"y\")", "=1+2", "@SUM(1)", "+cmd|' /C calc'!A0",
        "-2+3", "\tTAB", "\rCR"]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
FORMULA_LIKE = st.builds(lambda q, c, rest: "'" * q + c + rest, st.integers(0, 3),
                         st.sampled_from(FORMULA_START + ("1", "'", "a")), TEXT)


def _opens_as_formula(cell: str) -> bool:
    return cell.startswith(FORMULA_START) and not _plain_number(cell)


def _plain_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return cell.strip() == cell and cell.lower() not in ("nan", "inf", "-inf", "+inf")


# ---- the rule -------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "cell"), [
    ("=1+2", "'=1+2"), ("@SUM(1)", "'@SUM(1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("+86 138 0013 8000", "'+86 138 0013 8000"), ("-12.5", "-12.5"), ("+3", "+3"),
    ("1e5", "1e5"), ("'=x", "''=x"), ("'plain", "'plain"), ("a=b", "a=b"), ("", ""),
])
def test_neutralise_quotes_only_what_a_spreadsheet_would_run(value: str, cell: str) -> None:
    assert neutralise(value) == cell
    assert unneutralise(cell) == value


@given(st.one_of(TEXT, FORMULA_LIKE))
def test_unneutralise_undoes_neutralise_exactly(value: str) -> None:
    cell = neutralise(value)
    assert unneutralise(cell) == value
    assert not _opens_as_formula(cell) or _plain_number(value)


@given(st.lists(st.one_of(TEXT, FORMULA_LIKE), min_size=1, max_size=5))
def test_a_csv_written_then_read_gives_back_every_cell(values: list[str]) -> None:
    columns = [f"c{i}" for i in range(len(values))]
    buf = io.StringIO()
    write_csv([dict(zip(columns, values))], columns, buf)
    table = read_table(io.BytesIO(buf.getvalue().encode("utf-8")), delimiter=",")
    assert table.header == columns
    assert [r.cells for r in table.records] == [values]


# ---- every command that writes CSV -----------------------------------------------------

@pytest.fixture
def evil(cli: Cli, tmp_path: Path) -> Cli:
    rows = [["external_id", "name", "email", "phone", "company", "city"]]
    for i, text in enumerate(EVIL):
        # twins: each name twice, so dedupe lists them; bad emails, so validate does
        rows.append([f"A{i}", text, f"=bad{i}", "13800138000", text, text])
        rows.append([f"@B{i}", text, f"=bad{i}", "13800138000", text, text])
    path = tmp_path / "evil.csv"
    path.write_bytes(make_csv(rows))
    assert cli("import", "contacts", path).exit_code == 0
    orders = [["order_id", "customer_id", "order_date", "amount"]]
    orders += [[f"O{i}", f"@B{i}", "2026-10-01", "10"] for i in range(len(EVIL))]
    (tmp_path / "orders.csv").write_bytes(make_csv(orders))
    assert cli("import", "orders", tmp_path / "orders.csv").exit_code == 0
    assert cli("tag", "--as-of", "2026-11-01").exit_code == 0
    return cli


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


@pytest.mark.parametrize("command", [
    ["export", "contacts"], ["show", "A0"], ["validate"], ["dedupe"],
    ["audit", "--show", "no-consent"], ["report", "rfm", "--customers", "--as-of", "2026-11-01"],
    ["history", "A0"],
])
def test_no_csv_cell_opens_as_a_formula(evil: Cli, command: list[str]) -> None:
    result = evil(*command, "--format", "csv")
    assert result.exit_code in (0, 1), result.output
    cells = _cells(result.stdout)
    assert len(cells) > 10, result.stdout
    assert [c for c in cells if _opens_as_formula(c)] == []
    if command[0] != "history":
        assert any(c.startswith(("'=", "'@")) for c in cells), command  # the data is there, quoted


def test_rejects_csv_is_neutralised(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(make_csv([["external_id", "name"], ["", "=1+2"], ["C1", "Ann"]]))
    assert cli("import", "contacts", path, "--rejects", tmp_path / "rej.csv").exit_code == 0
    cells = _cells((tmp_path / "rej.csv").read_text(encoding="utf-8"))
    assert [c for c in cells if _opens_as_formula(c)] == []


def test_export_raw_keeps_cells_as_they_are(evil: Cli) -> None:
    cells = _cells(evil("export", "contacts", "--format", "csv", "--raw").stdout)
    assert set(EVIL) <= set(cells)


# ---- the round trip -------------------------------------------------------------------

NAMES = st.one_of(TEXT, FORMULA_LIKE, st.sampled_from(EVIL))


def _export_json(cli: Cli) -> list[dict]:
    rows = cli.rows("export", "contacts")
    for row in rows:
        for volatile in ("id", "created_at", "updated_at"):
            row.pop(volatile, None)
    return rows


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(NAMES, NAMES, NAMES), min_size=1, max_size=4))
def test_export_then_import_is_lossless(values: list[tuple[str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        first, second = Cli(Path(folder) / "a.db"), Cli(Path(folder) / "b.db")
        rows = [["external_id", "name", "company", "city"]]
        rows += [[f"C{i}", *v] for i, v in enumerate(values)]
        source = Path(folder) / "in.csv"
        source.write_bytes(make_csv(rows))
        assert first("import", "contacts", source).exit_code == 0
        exported = first("export", "contacts", "--format", "csv").stdout
        assert second("import", "contacts", "-", input=exported.encode("utf-8")).exit_code == 0
        assert _export_json(second) == _export_json(first)
