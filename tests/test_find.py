"""`custdata find` (issue 19: people must be findable), end to end through the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from custdata.api import Session, people
from custdata.search import query_terms, search_text
from tests.conftest import Cli

RESTAURANTS = Path("/work/shared/data/restaurants/restaurants_contacts.csv")

PEOPLE = [
    ["external_id", "name", "company", "email", "phone", "city", "owner"],
    ["C1", "王伟", "北京星辰科技有限公司", "wangwei@163.com", "138 0013 8000", "北京", "Li Na"],
    ["C2", "王薇", "Acme Trading", "wei.wang@qq.com", "13912345678", "上海", "Li Na"],
    ["C3", "Wang Wei", "Globex", "w.wang@example.com", "+1 415 555 0100", "SF", "Bob"],
    ["C4", "张三", "Initech", "zs@sina.com", "13700001111", "广州", "Bob"],
]


@pytest.fixture
def crm(ecli: Cli, write_csv) -> Cli:
    """The people, on each engine in turn (SQLite, the PostgreSQL team store)."""
    assert ecli("import", "contacts", write_csv("people.csv", PEOPLE)).exit_code == 0
    return ecli


@pytest.fixture
def lite(cli: Cli, write_csv) -> Cli:
    """The people in an SQLite file."""
    assert cli("import", "contacts", write_csv("people.csv", PEOPLE)).exit_code == 0
    return cli


def _ids(cli: Cli, *args: str) -> list[str]:
    return [r["external_id"] for r in cli.rows("find", *args)]


def test_show_by_name_fails_but_find_finds_by_characters_and_pinyin(crm: Cli) -> None:
    assert crm("show", "王伟").exit_code == 2  # show names one contact by its identifiers
    assert _ids(crm, "王伟")[0] == "C1"  # the characters first, homophones after
    assert set(_ids(crm, "wangwei")) == {"C1", "C2", "C3"}
    assert _ids(crm, "wang wei")[0] == "C3"  # written that way: a whole name


def test_find_ignores_case_and_width(crm: Cli) -> None:
    assert _ids(crm, "Ｗａｎｇ Ｗｅｉ")[0] == "C3"
    assert _ids(crm, "ACME") == ["C2"]
    assert _ids(crm, "ＧＬＯＢＥＸ") == ["C3"]


def test_find_by_part_of_phone_email_company_and_initials(crm: Cli) -> None:
    assert _ids(crm, "8000") == ["C1"]
    assert _ids(crm, "138-0013") == ["C1"]
    assert _ids(crm, "qq.com") == ["C2"]
    assert _ids(crm, "星辰") == ["C1"]
    assert _ids(crm, "zs") == ["C4"]


def test_find_ranks_whole_before_start_before_anywhere(crm: Cli, write_csv) -> None:
    more = [PEOPLE[0], ["C5", "Anna Wangari", "", "", "", "", ""],
            ["C6", "Wang", "", "", "", "", ""]]
    crm("import", "contacts", write_csv("more.csv", more))
    rows = crm.rows("find", "wang")
    ids = [r["external_id"] for r in rows]
    assert ids[0] == "C6"  # the whole name
    assert ids.index("C3") < ids.index("C5")  # a name's start before a later word's start
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_find_formats_limit_and_no_match(crm: Cli) -> None:
    out = crm("find", "wangwei", "--format", "csv", "--limit", "2")
    assert out.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 2 and list(rows[0])[:4] == ["id", "name", "company", "phone"]
    assert "more people match" in out.stderr
    lines = crm("find", "acme", "--format", "jsonl").stdout.splitlines()
    assert json.loads(lines[0])["company"] == "Acme Trading"
    table = crm("find", "acme", "--format", "table").stdout
    assert "Acme Trading" in table and "王薇" in table
    none = crm("find", "nobody-here", "--format", "csv")
    assert none.exit_code == 0 and "No one matches" in none.stderr
    assert crm("find", "  ").exit_code == 2


def test_find_sees_changes_and_forgets_erased_people(crm: Cli, write_csv) -> None:
    assert _ids(crm, "initech") == ["C4"]
    changed = [["external_id", "company"], ["C4", "Umbrella"]]
    crm("import", "contacts", write_csv("c.csv", changed))
    assert _ids(crm, "initech") == [] and _ids(crm, "umbrella") == ["C4"]
    assert crm("forget", "ext:C4", "--yes").exit_code == 0
    assert _ids(crm, "zs") == []
    assert not crm.sql("SELECT 1 FROM find_index WHERE text LIKE '%张三%'")


def _encrypt(cli: Cli, tmp_path: Path) -> Path:
    key = tmp_path / "k.key"
    assert cli("keygen", "--key-file", key).exit_code == 0
    assert cli("--key-file", key, "encrypt").exit_code == 0
    return key


def test_find_on_an_encrypted_store_masks_without_the_key(crm: Cli, tmp_path: Path) -> None:
    crm.rows("find", "wang")  # the index holds clear phones now; encrypt must drop them
    key = _encrypt(crm, tmp_path)
    masked = crm.rows("find", "8000")
    assert [r["external_id"] for r in masked] == ["C1"]
    assert masked[0]["phone"] == "138 **** 8000" and masked[0]["email"] == "w***@163.com"
    assert _ids(crm, "wangwei")[0] in {"C1", "C2", "C3"}
    assert _ids(crm, "13800138000") == []  # the hidden digits are not in the index
    clear = Cli(crm.db)("--key-file", key, "find", "13800138000", "--format", "json")
    assert json.loads(clear.stdout)[0]["phone"] == "138 0013 8000"  # the blind index
    by_mail = Cli(crm.db)("--key-file", key, "find", "WANGWEI@163.com", "--format", "json")
    assert [r["external_id"] for r in json.loads(by_mail.stdout)] == ["C1"]
    texts = " ".join(t for (t,) in crm.sql("SELECT text FROM find_index"))
    assert "0013" not in texts and "wangwei@163" not in texts


def test_find_works_on_a_read_only_store(lite: Cli, write_csv, monkeypatch) -> None:
    crm = lite
    crm("import", "contacts", write_csv("x.csv", [PEOPLE[0], ["C9", "赵六", "", "", "", "", ""]]))
    # a read-only mount, as root sees one: the store cannot be written
    monkeypatch.setattr("custdata.store.database._writable", lambda path: False)
    before = crm.db.read_bytes()
    assert _ids(crm, "zhaoliu") == ["C9"]  # indexed for this run only
    assert crm.db.read_bytes() == before


def test_find_on_a_public_list(ecli: Cli) -> None:
    """864 restaurant records from two guides: by name, by part of a phone."""
    cli = ecli
    assert cli("import", "contacts", RESTAURANTS).exit_code == 0
    rows = cli.rows("find", "cafe claude")
    assert rows[0]["name"] == "cafe claude"
    assert any("392-3505" in r["phone"] for r in cli.rows("find", "3923505"))
    assert cli.rows("find", "Ｃａｆｅ Ｃｌａｕｄｅ")[0]["name"] == "cafe claude"


def _trigger(cli: Cli) -> list[tuple]:
    if cli.engine == "postgres":
        return cli.sql("SELECT pg_get_triggerdef(oid) FROM pg_trigger"
                       " WHERE tgname = 'find_on_insert'")
    return cli.sql("SELECT sql FROM sqlite_master WHERE name = 'find_on_insert'")


def test_an_import_marks_its_new_people_at_once_and_keeps_the_trigger(crm: Cli, write_csv,
                                                                       monkeypatch) -> None:
    # On SQLite an import pauses the per-row insert trigger (a cost on every new contact)
    # and marks its new contacts stale in one statement (PostgreSQL keeps the trigger): each is found, the trigger is back after
    # it, and a failed import rolls the pause back with everything else.
    trigger = _trigger(crm)
    assert trigger and _ids(crm, "initech") == ["C4"]  # C1-C4 indexed
    more = [PEOPLE[0], ["C5", "李娜", "Hooli", "lina@126.com", "13600002222", "深圳", "Bob"],
            ["C4", "张三", "Umbrella", "zs@sina.com", "13700001111", "广州", "Bob"],
            ["C6", "Ann Lee", "Vandelay", "ann@example.com", "", "NYC", "Bob"]]
    assert crm("import", "contacts", write_csv("more.csv", more)).exit_code == 0
    assert _trigger(crm) == trigger
    assert crm.sql("SELECT contact_id FROM find_dirty ORDER BY 1") == [(4,), (5,), (6,)]
    assert _ids(crm, "hooli") == ["C5"] and _ids(crm, "vandelay") == ["C6"]
    assert _ids(crm, "umbrella") == ["C4"] and _ids(crm, "initech") == []
    bad = [PEOPLE[0], ["C7", "Zed", "Zorg", "zed@example.com", "", "", ""],
           ["", "Nobody", "", "", "", "", "x"]]
    assert crm("import", "contacts", "--strict", write_csv("bad.csv", bad)).exit_code == 1
    assert _trigger(crm) == trigger and crm.count("contacts") == 6
    # a contact stored by another way is still marked per row
    crm.sql("INSERT INTO contacts (id, name, changed_at) VALUES (9, 'Zed Zorg', 'x')")
    assert "Zed Zorg" in crm("find", "zorg").stdout


def test_find_from_python(crm: Cli) -> None:
    found = people.find(Session(db=crm.db), "wangwei", limit=1)
    assert len(found.rows) == 1 and found.more


def test_search_text_and_query_terms_fold_width_and_case() -> None:
    text = search_text({"name": "单伟", "company": "ＡＣＭＥ", "phone": "138 0013 8000"})
    assert "|p:shanwei|" in text and "|c:acme|" in text and "|t:13800138000|" in text
    assert [t.spellings for t in query_terms("王伟")] == [("王伟", "wangwei")]
    assert "861380013" in query_terms("+86 138-0013")[0].spellings


def test_show_by_name_points_to_find(crm: Cli) -> None:
    result = crm("show", "王伟")
    assert result.exit_code == 2 and "custdata find" in result.stderr
