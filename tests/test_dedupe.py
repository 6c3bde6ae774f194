"""Pure dedupe core: names, pair scoring, blocking, clustering, survivorship."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custdata.dedupe import (
    DEFAULT_THRESHOLD,
    candidate_pairs, clusters, find_duplicates, merged_values, score_pair, to_records,
)
from custdata.dedupe.names import alias_equal, parse_name

DATA = Path(__file__).parent / "data" / "dedupe_pairs.csv"
FIELDS = ("name", "email", "phone", "birth_date", "city", "company", "id_number", "gender")


def _cases() -> list:
    with DATA.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        a = {f: row[f"a_{f}"] for f in FIELDS if row[f"a_{f}"]}
        b = {f: row[f"b_{f}"] for f in FIELDS if row[f"b_{f}"]}
        out.append(pytest.param(a, b, row["expect"] == "match", id=row["case"]))
    return out


@pytest.mark.parametrize(("a", "b", "same"), _cases())
def test_score_pair_cases(a: dict, b: dict, same: bool) -> None:
    scored = score_pair(a, b)
    assert 0.0 <= scored.probability <= 1.0
    assert (scored.probability >= DEFAULT_THRESHOLD) is same, scored.contributions
    # symmetric
    assert score_pair(b, a).probability == pytest.approx(scored.probability)


@pytest.mark.parametrize(("a", "b", "same"), _cases())
def test_find_duplicates_cases(a: dict, b: dict, same: bool) -> None:
    result = find_duplicates([{"id": 1, **a}, {"id": 2, **b}])
    assert [c.members for c in result.clusters] == ([(1, 2)] if same else [])


@pytest.mark.parametrize(("x", "y", "alias"), [
    ("张伟", "Zhang Wei", True), ("张伟", "Wei Zhang", True), ("ZHANG, Wei", "wei zhang", True),
    ("欧阳娜娜", "Ouyang Nana", True), ("Bob Smith", "Robert Smith", True),
    ("Bill Gates", "William Gates", True), ("Smith Bob", "Robert Smith", True),
    ("张伟", "Zhang Wen", False), ("Bob Smith", "Bob Jones", False),
])
def test_alias_equal(x: str, y: str, alias: bool) -> None:
    assert alias_equal(parse_name(x), parse_name(y)) is alias


def test_parse_name_han_tokens() -> None:
    assert parse_name("张伟").tokens == ("zhang", "wei")
    assert parse_name("欧阳娜娜").tokens == ("ouyang", "nana")
    assert parse_name("曾国藩").tokens == ("zeng", "guofan")
    assert parse_name("  ") is None


def test_explain_contributions_sum_to_bits() -> None:
    scored = score_pair({"name": "张伟", "phone": "13800138000"},
                        {"name": "Zhang Wei", "phone": "13800138000"})
    fields = {f: level for f, level, _ in scored.contributions}
    assert fields == {"name": "alias", "phone": "exact"}
    assert sum(bits for *_, bits in scored.contributions) == pytest.approx(scored.bits, abs=0.05)


def test_missing_fields_count_for_nothing() -> None:
    scored = score_pair({"name": "Ann Lee"}, {"email": "x@example.com"})
    assert scored.contributions == ()


def test_common_name_weighs_less_than_rare_name() -> None:
    rows = [{"id": i, "name": "张伟", "city": "北京"} for i in range(40)]
    rows += [{"id": 100, "name": "诸葛亮", "city": "成都"}, {"id": 101, "name": "诸葛亮", "city": "成都"}]
    rows += [{"id": 200 + i, "name": f"路人{chr(0x4e00 + i)}"} for i in range(3000)]
    result = find_duplicates(rows)
    assert [c.members for c in result.clusters] == [(100, 101)]
    common = result.explain(0, 1)
    rare = result.explain(100, 101)
    assert common.bits < rare.bits


def test_no_false_merge_two_zhang_wei_among_others() -> None:
    rows = [
        {"id": 1, "name": "张伟", "phone": "13800138000", "city": "北京"},
        {"id": 2, "name": "张伟", "phone": "13912345678", "city": "上海"},
        {"id": 3, "name": "Zhang Wei", "phone": "13800138000", "city": "Beijing"},
        {"id": 4, "name": "Wei Zhang", "phone": "13912345678", "email": "zw@163.com"},
        {"id": 5, "name": "李娜", "phone": "13700000000"},
    ]
    result = find_duplicates(rows)
    assert [c.members for c in result.clusters] == [(1, 3), (2, 4)]


def test_clusters_do_not_chain_through_weak_link() -> None:
    # A-B and B-C are strong links, but A and C contradict each other.
    pairs = [(1, 2, 0.99, 20.0), (2, 3, 0.95, 16.0)]
    def rescore(a, b):
        return (0.0, -15.0) if {a, b} == {1, 3} else (0.99, 20.0)
    found = clusters(pairs, 0.9, rescore=rescore)
    assert [c.members for c in found] == [(1, 2)]
    assert found[0].score == 0.99
    chained = clusters(pairs, 0.9, rescore=lambda a, b: (0.5, 3.0))
    assert [c.members for c in chained] == [(1, 2, 3)]
    assert chained[0].score == 0.95  # the weakest link


def test_clusters_below_threshold_are_not_linked() -> None:
    assert clusters([(1, 2, 0.89, 10.0)], 0.9) == []


def test_blocking_caps_large_blocks() -> None:
    rows = [{"id": i, "name": "Wang Fang", "phone": "010-12345678"} for i in range(200)]
    pairs, stats = candidate_pairs(to_records(rows), max_block=30, window=5)
    assert stats.capped_blocks >= 1
    assert len(pairs) < 200 * 6  # not 200*199/2
    assert all(i < j for i, j in pairs.tolist())


def test_blocking_finds_exact_key_pairs() -> None:
    rows = [{"id": 1, "email": "A@x.com"}, {"id": 2, "email": "a@x.com"}, {"id": 3, "email": "b@x.com"}]
    pairs, stats = candidate_pairs(to_records(rows))
    assert pairs.tolist() == [[0, 1]]
    assert stats.pairs == 1


def test_survivorship_rules() -> None:
    rows = [
        {"id": 7, "name": "Bob Smith", "email": "bob@example.com", "phone": "13800138000",
         "company": "Acme", "updated_at": "2024-01-01", "tags": "vip", "consent": "yes",
         "external_id": "C7", "extra": '{"a": 1}'},
        {"id": 9, "name": "Robert Smith", "email": "bob@@broken", "phone": "",
         "company": "Acme Trading Ltd", "updated_at": "2024-06-01", "tags": "lead,vip",
         "consent": "no", "external_id": "C9", "extra": '{"a": 2, "b": 3}'},
    ]
    merged = merged_values(rows)
    assert merged["external_id"] == "C7"  # survivor (most complete) keeps its own id
    assert merged["email"] == "bob@example.com"  # never invalid over valid
    assert merged["phone"] == "13800138000"  # empty never wins
    assert merged["name"] == "Robert Smith"  # most recent
    assert merged["company"] == "Acme Trading Ltd"  # longer, containing the other
    assert merged["consent"] == "no"
    assert sorted(merged["tags"].split(",")) == ["lead", "vip"]
    assert merged["updated_at"] == "2024-06-01"
    assert '"b": 3' in merged["extra"] and '"a": 2' in merged["extra"]


_values = st.one_of(st.none(), st.text(max_size=12),
                    st.sampled_from(["张伟", "Zhang Wei", "13800138000", "a@b.com", "1980-03-12"]))
_rows = st.fixed_dictionaries({f: _values for f in FIELDS})


@settings(max_examples=60, deadline=None)
@given(_rows, _rows)
def test_score_pair_is_a_symmetric_probability(a: dict, b: dict) -> None:
    ab, ba = score_pair(a, b), score_pair(b, a)
    assert 0.0 <= ab.probability <= 1.0
    assert ab.probability == pytest.approx(ba.probability)
    assert all(level != "different" for _, level, _ in score_pair(a, a).contributions)


def test_survivorship_keeps_extra_text_when_content_is_the_same() -> None:
    rows = [{"id": 1, "name": "A", "extra": '{"b": 1, "a": 2}'}, {"id": 2, "extra": "{}"}]
    assert merged_values(rows)["extra"] == '{"b": 1, "a": 2}'


@pytest.mark.parametrize("field, same, other", [
    ("company", "华信科技有限公司", "远大建材"),
    ("address", "北京市朝阳区建国路88号", "上海市徐汇区漕溪北路1号"),
    ("city", "杭州", "乌鲁木齐"),
    ("postal_code", "310000", "830000"),
    ("birth_date", "1988-05-02", "1971-11-23"),
])
def test_each_fuzzy_field_counts_for_and_against(field: str, same: str, other: str) -> None:
    base = {"name": "张伟", "email": "zw@qq.com"}
    agreed = score_pair({**base, field: same}, {"name": "Zhang Wei", field: same})
    differ = score_pair({**base, field: same}, {"name": "Zhang Wei", field: other})
    alone = score_pair(base, {"name": "Zhang Wei"})
    assert differ.bits < alone.bits < agreed.bits
    assert field in {f for f, *_ in agreed.contributions}
