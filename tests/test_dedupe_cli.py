"""`custdata dedupe` / `custdata unmerge` end to end through the CLI."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import Cli

CONTACTS = [
    ["external_id", "name", "email", "phone", "city", "birth_date", "company", "updated_at"],
    ["C1", "张伟", "zhang.wei@qq.com", "138 0013 8000", "北京", "", "", "2024-01-01"],
    ["C2", "Zhang Wei", "", "+86 138 0013 8000", "Beijing", "1988-05-02", "华信科技", "2024-05-01"],
    ["C3", "张伟", "zw@163.com", "13912345678", "上海", "", "", ""],
    ["C4", "Robert Smith", "bob.smith@example.com", "", "Boston", "1980-03-12", "Acme", ""],
    ["C5", "Bob Smith", "BOB.SMITH@example.com", "+1 617 555 0101", "Boston", "", "", ""],
    ["C6", "李娜", "", "13700000000", "上海", "", "", ""],
]
ORDERS = [
    ["order_id", "customer_id", "order_date", "amount", "status"],
    ["O1", "C2", "2024-02-01", "100.00", "paid"],
    ["O2", "C1", "2024-03-01", "50.00", "paid"],
    ["O3", "C5", "2024-04-01", "75.50", "paid"],
]
INTERACTIONS = [
    ["customer_id", "at", "channel", "note"],
    ["C2", "2024-02-02 10:00", "call", "asked for a quote"],
    ["C4", "2024-02-03 11:00", "email", "sent brochure"],
]


@pytest.fixture
def crm(cli: Cli, write_csv) -> Cli:
    return _stock(cli, write_csv)


def _stock(cli: Cli, write_csv) -> Cli:
    for kind, rows in (("contacts", CONTACTS), ("orders", ORDERS),
                       ("interactions", INTERACTIONS)):
        result = cli("import", kind, write_csv(f"{kind}.csv", rows))
        assert result.exit_code == 0, result.output
    return cli


@pytest.fixture
def ecrm(ecli: Cli, write_csv) -> Cli:
    """`crm` on each engine (sqlite, postgres)."""
    return _stock(ecli, write_csv)


def _clusters(rows: list[dict]) -> list[set[str]]:
    groups: dict = {}
    for row in rows:
        groups.setdefault(row["cluster_id"], set()).add(row["external_id"])
    return sorted(groups.values(), key=sorted)


def _exports(cli: Cli) -> dict[str, str]:
    out = {}
    for kind in ("contacts", "orders", "interactions"):
        result = cli("export", kind, "--raw", "--format", "csv")
        assert result.exit_code == 0, result.output
        out[kind] = result.stdout
    out["links"] = repr(cli.sql("SELECT id, contact_id FROM orders ORDER BY id")
                        + cli.sql("SELECT id, contact_id FROM interactions ORDER BY id"))
    return out


def test_dedupe_lists_clusters_not_the_other_zhang_wei(ecrm: Cli) -> None:
    rows = ecrm.rows("dedupe")
    assert _clusters(rows) == [{"C1", "C2"}, {"C4", "C5"}]
    first = rows[0]
    for column in ("cluster_id", "contact_id", "external_id", "name", "score", "email", "phone"):
        assert column in first
    assert all(0.0 < r["score"] <= 1.0 for r in rows)
    assert sum(r["survivor"] == "yes" for r in rows) == 2


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "table"])
def test_every_format_parses(crm: Cli, fmt: str) -> None:
    result = crm("dedupe", "--format", fmt)
    assert result.exit_code == 0, result.output
    text = result.stdout
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert {r["external_id"] for r in rows} == {"C1", "C2", "C4", "C5"}
        assert rows[0]["score"].replace(".", "", 1).isdigit()
    elif fmt == "json":
        assert len(json.loads(text)) == 4
    elif fmt == "jsonl":
        assert [json.loads(line)["external_id"] for line in text.splitlines()] != []
        assert len(text.splitlines()) == 4
    else:
        assert "cluster_id" in text and "C5" in text


def test_explain_shows_field_contributions(ecrm: Cli) -> None:
    rows = ecrm.rows("dedupe", "--explain")
    assert len(rows) == 2
    pinyin = next(r for r in rows if "phone=exact" in r["contributions"])
    assert "name=alias" in pinyin["contributions"]
    assert "phone" in pinyin["agreed"].split(",")
    assert pinyin["probability"] >= 0.99


def test_threshold_option_and_bad_threshold(crm: Cli) -> None:
    assert crm.rows("dedupe", "--threshold", "1.0") == []
    assert crm("dedupe", "--threshold", "1.5").exit_code == 2
    assert crm("dedupe", "--explain", "--merge").exit_code == 2
    assert crm.count("merges") == 0


def test_dry_run_writes_nothing(ecrm: Cli) -> None:
    before = _exports(ecrm)
    oplog = ecrm.count("oplog")
    rows = ecrm.rows("dedupe", "--merge", "--dry-run")
    assert {r["merge_id"] for r in rows} != {None}
    assert _exports(ecrm) == before
    assert ecrm.count("oplog") == oplog
    assert ecrm.count("merges") == 0 and ecrm.count("history") == 0


def test_merge_then_unmerge_is_byte_identical(crm: Cli) -> None:
    before = _exports(crm)
    rows = crm.rows("dedupe", "--merge")
    assert crm.count("contacts") == 4
    merge_ids = sorted({r["merge_id"] for r in rows})
    assert len(merge_ids) == 2 and crm.count("merges") == 2
    survivor = next(r for r in rows if r["survivor"] == "yes" and r["external_id"] in ("C1", "C2"))
    orders_now = crm.sql("SELECT DISTINCT contact_id FROM orders WHERE order_id IN ('O1','O2')")
    assert orders_now == [(survivor["contact_id"],)]
    ops = {r[0] for r in crm.sql("SELECT operation FROM history")}
    assert ops == {"merge"}
    # nothing new after a merge
    assert crm.rows("dedupe") == []
    for merge_id in reversed(merge_ids):
        result = crm("unmerge", merge_id)
        assert result.exit_code == 0, result.output
    assert _exports(crm) == before
    assert crm("unmerge", merge_ids[0]).exit_code == 2  # already undone


def test_merge_keeps_best_values(ecrm: Cli) -> None:
    rows = ecrm.rows("dedupe", "--merge")
    smith = next(r for r in rows if r["survivor"] == "yes" and r["external_id"] in ("C4", "C5"))
    shown = ecrm.rows("export", "contacts", "--where", f"external_id={smith['external_id']}")
    assert shown[0]["phone"] == "+1 617 555 0101"  # empty never wins
    assert shown[0]["company"] == "Acme"
    history = ecrm.rows("history", f"id:{smith['contact_id']}")
    assert any(h.get("field") == "phone" for h in history)
    assert any(h.get("field") == "merged_from" and smith["merge_id"] in h["new"] for h in history)


def test_unmerge_unknown_id_is_exit_2(crm: Cli) -> None:
    result = crm("unmerge", "m999-1")
    assert result.exit_code == 2
    assert "m999-1" in result.output


def test_empty_store_prints_nothing(cli: Cli) -> None:
    assert cli("init").exit_code == 0  # reading commands never create a store
    assert cli.rows("dedupe") == []


@pytest.fixture
def encrypted(crm: Cli, tmp_path) -> tuple[Cli, str]:
    return _encrypt(crm, tmp_path)


def _encrypt(crm: Cli, tmp_path) -> tuple[Cli, str]:
    key = tmp_path / "k.key"
    assert crm("keygen", "--key-file", key).exit_code == 0
    result = crm("--key-file", key, "encrypt")
    assert result.exit_code == 0, result.output
    return crm, str(key)


@pytest.fixture
def eencrypted(ecrm: Cli, tmp_path) -> tuple[Cli, str]:
    """`encrypted` on each engine (sqlite, postgres)."""
    return _encrypt(ecrm, tmp_path)


def test_exact_dedupe_works_encrypted_without_key(encrypted) -> None:
    cli, _ = encrypted
    assert _clusters(cli.rows("dedupe")) == [{"C1", "C2"}, {"C4", "C5"}]


def test_merge_unmerge_encrypted_keeps_no_plaintext(eencrypted) -> None:
    cli, key = eencrypted
    before = _exports_with_key(cli, key)
    rows = cli.rows("--key-file", key, "dedupe", "--merge")
    assert _clusters(rows) == [{"C1", "C2"}, {"C4", "C5"}]
    payloads = " ".join(r[0] for r in cli.sql("SELECT payload FROM merges"))
    history = " ".join(str(r) for r in cli.sql("SELECT old, new FROM history"))
    for secret in ("zhang.wei@qq.com", "bob.smith@example.com", "13800138000", "617 555 0101"):
        assert secret not in payloads and secret not in history
    for merge_id in sorted({r["merge_id"] for r in rows}, reverse=True):
        result = cli("--key-file", key, "unmerge", merge_id)
        assert result.exit_code == 0, result.output
    assert _exports_with_key(cli, key) == before


def _exports_with_key(cli: Cli, key: str) -> dict[str, str]:
    out = {}
    for kind in ("contacts", "orders", "interactions"):
        result = cli("--key-file", key, "export", kind, "--raw", "--format", "csv")
        assert result.exit_code == 0, result.output
        out[kind] = result.stdout
    out["raw"] = repr(cli.sql("SELECT * FROM contacts ORDER BY id"))
    return out


def test_merge_before_encrypt_is_resealed_and_still_undoable(ecrm: Cli, tmp_path) -> None:
    before = _exports(ecrm)
    rows = ecrm.rows("dedupe", "--merge")
    assert "zhang.wei@qq.com" in " ".join(r[0] for r in ecrm.sql("SELECT payload FROM merges"))
    key = tmp_path / "k.key"
    assert ecrm("keygen", "--key-file", key).exit_code == 0
    assert ecrm("--key-file", key, "encrypt").exit_code == 0
    payloads = " ".join(r[0] for r in ecrm.sql("SELECT payload FROM merges"))
    assert "zhang.wei@qq.com" not in payloads and "13800138000" not in payloads
    for merge_id in sorted({r["merge_id"] for r in rows}, reverse=True):
        result = ecrm("--key-file", key, "unmerge", merge_id)
        assert result.exit_code == 0, result.output
    assert ecrm("--key-file", key, "decrypt").exit_code == 0
    assert _exports(ecrm) == before


def test_unmerge_refuses_while_a_later_merge_covers_the_same_contacts(ecrm: Cli, write_csv) -> None:
    first = ecrm.rows("dedupe", "--merge")
    zhang = next(r for r in first if r["external_id"] == "C1")["merge_id"]
    more = [CONTACTS[0], ["C7", "张伟", "zhang.wei@qq.com", "", "北京", "", "", "2024-06-01"]]
    assert ecrm("import", "contacts", write_csv("more.csv", more)).exit_code == 0
    second = ecrm.rows("dedupe", "--merge")
    assert {r["external_id"] for r in second} >= {"C7"}
    result = ecrm("unmerge", zhang)
    assert result.exit_code == 2
    later = second[0]["merge_id"]
    assert later in result.output
    assert ecrm("unmerge", later).exit_code == 0
    assert ecrm("unmerge", zhang).exit_code == 0
    assert ecrm.count("contacts") == 6


def test_merge_repoints_interactions_and_logs_one_operation(ecrm: Cli, write_csv) -> None:
    more = [INTERACTIONS[0], ["C1", "2024-03-02 09:00", "visit", "met at the fair"],
            ["C5", "2024-04-02 09:00", "call", "follow-up"]]
    assert ecrm("import", "interactions", write_csv("more.csv", more)).exit_code == 0
    oplog = ecrm.count("oplog")
    rows = ecrm.rows("dedupe", "--merge")
    survivors = {r["contact_id"] for r in rows if r["survivor"] == "yes"}
    linked = {r[0] for r in ecrm.sql("SELECT contact_id FROM interactions")
              + ecrm.sql("SELECT contact_id FROM orders")}
    merged_away = {r["contact_id"] for r in rows} - survivors
    assert len(merged_away) == 2 and None not in linked and not linked & merged_away
    assert ecrm.count("interactions") == 4
    assert ecrm.count("oplog") == oplog + 1
    assert all(len({r["score"] for r in rows if r["cluster_id"] == c}) == 1
               for c in {r["cluster_id"] for r in rows})  # one score: the cluster's
