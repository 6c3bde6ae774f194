"""Issue 19: `unmerge` takes several merge ids or --operation OP_ID, in one transaction."""

from __future__ import annotations

import json

from tests.conftest import Cli
from tests.test_dedupe_cli import _exports, crm, ecrm  # noqa: F401  (the fixtures)


def _merge(crm: Cli) -> tuple[int, list[str]]:
    result = crm("dedupe", "--merge", "--format", "json")
    merge_ids = sorted({r["merge_id"] for r in json.loads(result.stdout)})
    assert len(merge_ids) == 2
    op_id = crm.sql("SELECT max(id) FROM oplog")[0][0]
    assert f"`custdata unmerge --operation {op_id}`" in result.stderr
    return op_id, merge_ids


def test_unmerge_several_ids_in_one_command(crm: Cli) -> None:  # noqa: F811
    before = _exports(crm)
    _, merge_ids = _merge(crm)
    ops = crm.count("oplog")
    result = crm("unmerge", *merge_ids)
    assert result.exit_code == 0, result.output
    assert _exports(crm) == before
    assert crm.count("oplog") == ops + 1  # one operation for all of them
    logged = crm.sql("SELECT command, counts FROM oplog ORDER BY id DESC LIMIT 1")[0]
    assert logged[0].endswith("unmerge " + " ".join(merge_ids))
    assert sorted(json.loads(logged[1])["merge_ids"]) == merge_ids
    assert "undid 2 merges" in result.stderr


def test_unmerge_operation_undoes_the_whole_run(ecrm: Cli) -> None:  # noqa: F811
    before = _exports(ecrm)
    op_id, _ = _merge(ecrm)
    result = ecrm("unmerge", "--operation", str(op_id))
    assert result.exit_code == 0, result.output
    assert _exports(ecrm) == before
    again = ecrm("unmerge", "--operation", str(op_id))
    assert again.exit_code == 2 and "already undone" in again.stderr


def test_unmerge_is_all_or_nothing(ecrm: Cli) -> None:  # noqa: F811
    _, merge_ids = _merge(ecrm)
    after_merge = _exports(ecrm)
    result = ecrm("unmerge", merge_ids[0], "m999-1")
    assert result.exit_code == 2 and "m999-1" in result.stderr
    assert _exports(ecrm) == after_merge  # the good id was not undone either
    assert ecrm.sql("SELECT count(*) FROM merges WHERE undone_at IS NOT NULL") == [(0,)]


def test_unmerge_unknown_operation_and_nothing_named(crm: Cli) -> None:  # noqa: F811
    _merge(crm)
    unknown = crm("unmerge", "--operation", "1")  # the first import made no merges
    assert unknown.exit_code == 2 and "made no merges" in unknown.stderr
    assert "custdata log" in unknown.stderr
    bare = crm("unmerge")
    assert bare.exit_code == 2 and "--operation OP_ID" in bare.stderr
