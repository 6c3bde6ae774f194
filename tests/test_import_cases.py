"""Issue 18, cases 6, 7 and 8 through the CLI: import and clean agree, erased stays
erased, rejects you can read. The files are in tests/data/files/ (written for issue 18
in the shape of real CRM exports)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "files"
CRM_CN = DATA / "crm_export_cn.csv"


def summary(result) -> str:
    return result.stderr.strip().splitlines()[-1]


# ---- case 6: import and clean agree ------------------------------------------------

def test_case6_reimporting_the_raw_file_after_clean_changes_nothing(cli) -> None:
    assert cli("import", "contacts", CRM_CN).exit_code == 0
    assert cli("clean").exit_code == 0
    cleaned = cli.sql("SELECT phone FROM contacts ORDER BY id")
    assert cleaned == [("+8613800138000",), ("+8613912345678",)]
    again = cli("import", "contacts", CRM_CN)
    assert "inserted 0, updated 0, unchanged 2" in summary(again)
    assert cli.sql("SELECT phone FROM contacts ORDER BY id") == cleaned
    assert cli.sql("SELECT count(*) FROM history WHERE operation = 'import'") == [(0,)]


def test_case6_import_clean_after_a_raw_import_writes_no_history_row_with_old_equal_new(
        cli) -> None:
    assert cli("import", "contacts", CRM_CN).exit_code == 0
    result = cli("import", "contacts", CRM_CN, "--clean")
    assert "updated 2" in summary(result)  # cleaned in the same write
    assert cli.sql("SELECT phone FROM contacts ORDER BY id")[0] == ("+8613800138000",)
    assert cli.sql("SELECT count(*) FROM history WHERE old = new") == [(0,)]
    assert cli.sql("SELECT DISTINCT operation FROM history") == [("clean",)]
    for args in (("--clean",), ()):  # then both ways of importing it again are no-ops
        assert "unchanged 2" in summary(cli("import", "contacts", CRM_CN, *args))
    assert cli.sql("SELECT count(*) FROM history WHERE old = new") == [(0,)]


def test_case6_a_real_change_is_still_an_update(cli, tmp_path: Path) -> None:
    assert cli("import", "contacts", CRM_CN).exit_code == 0
    assert cli("clean").exit_code == 0
    moved = tmp_path / "moved.csv"
    moved.write_text(CRM_CN.read_text(encoding="utf-8").replace("13800138000", "13700001111"),
                     encoding="utf-8")
    result = cli("import", "contacts", moved)
    assert "updated 1, unchanged 1" in summary(result)
    assert cli.sql("SELECT old, new FROM history WHERE operation = 'import'") == [
        ("+8613800138000", "13700001111")]
