"""Column codes, array blocking and bulk scoring give exactly what the per-record and
per-pair code gives (same pairs, same floats), so a faster dedupe decides the same."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custdata.dedupe import (
    Links, Model, build_model, candidate_pairs, find_duplicates, many_pair_bits, pair_bits,
    record_columns, score_pair, strong_links, strong_pairs, to_records,
)
from custdata.dedupe.blocking import (
    RULES, SMALL_CAP_RULES, _neighbourhood, neighbourhood_rank, rule_window,
)
from custdata.dedupe.bulk import _char_matrix, record_table, table_bits
from custdata.dedupe.bulk import _near_digits as bulk_near_digits
from custdata.dedupe.columns import RecordColumns, factorize
from custdata.dedupe.compare import DEFAULT_MU, _near_digits
from custdata.dedupe.features import Record, to_record
from custdata.dedupe.names import parse_name
from custdata.dedupe.survivorship import _empty, _filled
from custdata.models import CONTACT_FIELDS

POOLS = {
    "name": ["张伟", "章伟", "张韦", "张 伟", "Zhang Wei", "Wei Zhang", "ZHANG, Wei", "Bob Smith",
             "Robert Smith", "Rob Smyth", "Smith Bob", "李娜", "Li Na", "欧阳娜娜", "Ouyang Nana",
             "Jon Smith", "John Smith", "***", "", None],
    "email": ["zw@163.com", "zw@136.com", "zhangw@163.com", "zhangv@163.com", "bob@gmail.com",
              "bob@gmial.com", "bob@hmail.con", "abc@163.com", "abc@136.com", "abcd@qq.com", "abce@qq.com",
              "abcde@qq.com", "abcdf@qq.com", "bad@", "x***@qq.com", None],
    "phone": ["13800138000", "13800138001", "13800183000", "+86 138 0013 8000", "010-12345678",
              "02112345678", "12345", None],
    "birth_date": ["1980-03-12", "1980-12-03", "1980-03-13", "1981-03-12", "19800312",
                   "1980/3/21", "not a date", None],
    "gender": ["m", "f", "男", "女", "Mr.", None],
    "company": ["远航餐饮管理（青岛）有限公司", "青岛远航餐饮管理", "Acme Ltd", "Acme Trading Ltd",
                "ACME", "Acme Trading", "", None],
    "address": ["朝阳区建国路88号", "北京市朝阳区建国路88号", "朝阳区建国路89号", "1 Main St",
                "1 Main Street", "1 Main St Apt 2", "Main St", "2 Main St", "12 Mian Street Lodge",
                "3 Oak Ave", "2 Oak Av", None],
    "city": ["北京", "Beijing", "北京市", "上海", "Shanghai", "Shangai", "BEIJING CITY", None],
    "postal_code": ["100000", "200000", "100 000", "1000|00", "100001", "010000", "SW1A 1AA",
                    "SW1A 1AB", None],
    "id_number": ["110101198003121234", "110101198003121235", "110101198003211234",
                  "11010119800312123X", None],
    "external_id": ["C1", "C2", None],
}
# Stored keys: readable, blind-index-like, or absent (the row then computes its own).
KEYS = {"email_key": ["zw@163.com", "bi:e1", "bi:e2", "", None],
        "phone_key": ["+8613800138000", "+12345678", "+12345687", "+1234567", "+22345678",
                      "bi:p1", None],
        "id_number_key": ["110101198003121234", "bi:i1", None]}

_row = st.fixed_dictionaries({f: st.sampled_from(v) for f, v in POOLS.items()},
                             optional={k: st.sampled_from(v) for k, v in KEYS.items()})
_rows = st.lists(_row, min_size=2, max_size=30)


def _records(rows: list[dict]) -> list[Record]:
    return to_records([{"id": i, **row} for i, row in enumerate(rows)])


def _all_pairs(n: int) -> np.ndarray:
    return np.array(list(combinations(range(n), 2)), dtype=np.int64).reshape(-1, 2)


# Every u lowered: term frequencies then weigh levels they leave alone under DEFAULT_MU.
LOW_U = {name: {level: (m, u / 1000) for level, (m, u) in levels.items()}
         for name, levels in DEFAULT_MU.items()}


def _models(records: list[Record]) -> list[tuple[Model, RecordColumns | None]]:
    columns = record_columns(records)
    return [(build_model(records), None), (Model(), None),
            (build_model(records, mu=LOW_U), None),
            (build_model(records, columns=columns), columns)]  # counts read off the codes


@settings(max_examples=150, deadline=None)
@given(_rows)
def test_bulk_bits_equal_pair_bits(rows: list[dict]) -> None:
    records = _records(rows)
    pairs = _all_pairs(len(records))
    for model, columns in _models(records):
        expected = [pair_bits(records[i], records[j], model) for i, j in pairs.tolist()]
        got = many_pair_bits(records, pairs, model, columns=columns)
        assert got.tolist() == expected  # the same floats, not just close ones
        flipped = many_pair_bits(records, pairs[:, ::-1], model, columns=columns)
        assert flipped.tolist() == [pair_bits(records[j], records[i], model)
                                    for i, j in pairs.tolist()]


@pytest.mark.parametrize("field", list(POOLS))
def test_bulk_bits_for_every_pair_of_one_fields_values(field: str) -> None:
    key = {"email": "email_key", "phone": "phone_key", "id_number": "id_number_key"}.get(field)
    rows = [{field: v} for v in POOLS[field]]
    if key:
        rows += [{field: v, key: k} for v in POOLS[field] for k in KEYS[key]]
    records = _records([{**row, "city": "北京", "gender": "m"} for row in rows])
    pairs = np.concatenate([_all_pairs(len(records)), _all_pairs(len(records))[:, ::-1]])
    for model, columns in _models(records):
        assert many_pair_bits(records, pairs, model, columns=columns).tolist() == [
            pair_bits(records[i], records[j], model) for i, j in pairs.tolist()]


@settings(max_examples=20, deadline=None)
@given(_rows)
def test_bulk_bits_do_not_depend_on_chunks_or_workers(rows: list[dict]) -> None:
    records = _records(rows)
    model = build_model(records)
    pairs = _all_pairs(len(records))
    whole = many_pair_bits(records, pairs, model, workers=1)
    assert np.array_equal(many_pair_bits(records, pairs, model, workers=1, chunk=7), whole)
    assert np.array_equal(many_pair_bits(records, pairs, model, workers=2, chunk=50), whole)


def test_bulk_bits_on_records_with_empty_values() -> None:
    name = parse_name("Ann Lee")
    blank = dict(external_id="", email_key="", phone_key="", id_key="", email="", phone="",
                 id_number="", name=None, birth="", gender="", company="", address="", city="",
                 postal="")
    records = [Record(id=1, **blank), Record(id=2, **blank),
               Record(id=3, **{**blank, "name": name, "company": "acme", "city": "x"}),
               Record(id=4, **{**blank, "name": name, "company": "acme", "city": "x"})]
    model = build_model(records)
    pairs = _all_pairs(4)
    assert many_pair_bits(records, pairs, model).tolist() == [
        pair_bits(records[i], records[j], model) for i, j in pairs.tolist()]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="0123456789X", max_size=6), min_size=2, max_size=12),
       st.data())
def test_near_digits_prefilter_keeps_every_near_pair(values: list[str], data) -> None:
    codes, distinct = factorize(values)
    t = record_table(record_columns([]), Model())
    t.values["v"], t.objects["v"] = distinct, np.array(distinct, dtype=object)
    t.lengths["v"] = np.array([len(v) for v in distinct] + [-1])
    t.chars["v"] = _char_matrix(distinct, width=data.draw(st.integers(1, 8)))
    x, y = np.array(list(combinations(range(len(distinct)), 2)), dtype=np.int64).reshape(-1, 2).T
    assert bulk_near_digits(t, "v", x, y).tolist() == [
        _near_digits(distinct[a], distinct[b]) for a, b in zip(x.tolist(), y.tolist())]


def _reference_candidate_pairs(records, *, max_block=8, window=3, rules=None):
    """The dict-of-lists blocking the array version replaced (kept as the oracle)."""
    n, codes, by_rule, capped = len(records), [], {}, 0
    for rule, key_of in (rules or RULES).items():
        blocks = defaultdict(list)
        for position, record in enumerate(records):
            key = key_of(record)
            if key:
                blocks[key].append(position)
        left, right = [], []
        cap = min(max_block, SMALL_CAP_RULES.get(rule, max_block))
        for members in blocks.values():
            if len(members) == 2 or 2 < len(members) <= cap:
                for i, j in combinations(members, 2):
                    left.append(i)
                    right.append(j)
            elif len(members) > 2:
                capped += 1
                step = rule_window(rule, window)
                ordered = sorted(members, key=lambda k: (_neighbourhood(records[k]), k))
                for s in range(1, step + 1):
                    left.extend(ordered[:-s])
                    right.extend(ordered[s:])
        a, b = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
        codes.append(np.minimum(a, b) * n + np.maximum(a, b))
        by_rule[rule] = len(a)
    unique = np.unique(np.concatenate(codes))
    return np.stack([unique // n, unique % n], axis=1), by_rule, capped


@settings(max_examples=100, deadline=None)
@given(st.lists(_row, min_size=0, max_size=60), st.integers(1, 6), st.integers(0, 4))
def test_array_blocking_equals_dict_blocking(rows: list[dict], max_block: int,
                                             window: int) -> None:
    records = _records(rows)
    pairs, stats = candidate_pairs(records, max_block=max_block, window=window)
    ref_pairs, by_rule, capped = _reference_candidate_pairs(records, max_block=max_block,
                                                            window=window)
    assert pairs.tolist() == ref_pairs.tolist()
    assert stats.by_rule == by_rule and stats.capped_blocks == capped
    assert stats.pairs == len(ref_pairs)
    by_strings, _ = candidate_pairs(records, max_block=max_block, window=window, rules=RULES)
    assert by_strings.tolist() == ref_pairs.tolist()


def test_blocking_keys_with_the_separator_fall_back_to_strings() -> None:
    # "a|b" + "c" and "a" + "b|c" are one key to the string rule: the codes must agree.
    blank = dict(external_id=None, email_key=None, phone_key=None, id_key=None, email=None,
                 phone=None, id_number=None, name=None, gender=None, company=None,
                 address=None, city=None)
    records = [Record(id=1, **blank, postal="a|b", birth="c"),
               Record(id=2, **blank, postal="a", birth="b|c"),
               Record(id=3, **blank, postal="a", birth="c")]
    pairs, stats = candidate_pairs(records)
    assert pairs.tolist() == _reference_candidate_pairs(records)[0].tolist()
    assert stats.by_rule["postal+birth"] == 1  # "a|b" + "c" is "a" + "b|c": the first two


@settings(max_examples=60, deadline=None)
@given(st.lists(_row, min_size=1, max_size=40))
def test_neighbourhood_rank_is_the_sorted_order(rows: list[dict]) -> None:
    records = _records(rows)
    rank = neighbourhood_rank(record_columns(records))
    ordered = sorted(range(len(records)), key=lambda k: (_neighbourhood(records[k]), k))
    assert np.argsort(rank).tolist() == ordered


@settings(max_examples=60, deadline=None)
@given(_rows)
def test_model_counts_from_columns_equal_counted_records(rows: list[dict]) -> None:
    records = _records(rows)
    by_records = build_model(records)
    by_columns = build_model(records, columns=record_columns(records))
    assert by_columns.counts == by_records.counts
    assert by_columns.population == by_records.population
    assert by_columns.prior_bits == by_records.prior_bits


def test_factorize_numbers_values_in_order_of_appearance() -> None:
    codes, distinct = factorize(["b", None, "a", "b", ""])
    assert codes.tolist() == [0, -1, 1, 0, 2] and distinct == ["b", "a", ""]


def test_strong_links_keep_order_and_bits() -> None:
    rows = [{"id": 1, "name": "张伟", "phone": "13800138000", "city": "北京"},
            {"id": 2, "name": "Zhang Wei", "phone": "13800138000", "city": "Beijing"},
            {"id": 3, "name": "李娜", "phone": "13700000000"},
            {"id": 4, "name": "Li Na", "phone": "13700000000"}]
    records = to_records(rows)
    model = build_model(records)
    pairs = _all_pairs(4)
    kept, bits = strong_links(records, pairs, model, 10.0)
    assert kept.tolist() == [[0, 1], [2, 3]]
    assert bits.tolist() == [pair_bits(records[0], records[1], model),
                             pair_bits(records[2], records[3], model)]
    assert strong_pairs(records, pairs, model, 10.0) == [(0, 1), (2, 3)]


def test_links_detail_agrees_with_their_scores() -> None:
    rows = [{"id": 10 + i, "name": n, "phone": p, "birth_date": "1980-03-12"}
            for i, (n, p) in enumerate([("张伟", "13800138000"), ("Zhang Wei", "13800138000"),
                                        ("Wei Zhang", "13800138001"), ("李娜", "13700000000")])]
    result = find_duplicates(rows)
    assert isinstance(result.links, Links) and len(result.links) >= 1
    assert ("no", "such pair") not in result.links
    for a, b, probability, bits in result.links.pairs():
        assert (a, b) in result.links and (a, b) in list(result.links)
        scored = result.links[(a, b)]
        assert (scored.a, scored.b, scored.probability, scored.bits) == (a, b, probability, bits)
        assert scored == score_pair(result.records[a], result.records[b], result.model)


@pytest.mark.parametrize("field", ["postal_code", "name", "city", "birth_date", "gender"])
def test_to_record_reads_numbers_as_their_text(field: str) -> None:
    value = 19800312 if field == "birth_date" else 100000
    assert to_record({field: value}) == to_record({field: str(value)})


@settings(max_examples=100, deadline=None)
@given(_row)
def test_to_record_is_the_same_when_folded_again(row: dict) -> None:
    assert to_record(row) == to_record(dict(row))


def test_table_bits_of_no_pairs() -> None:
    records = _records([{"name": "张伟"}, {"name": "张伟"}])
    t = record_table(record_columns(records), build_model(records))
    empty = np.zeros(0, dtype=np.int64)
    assert table_bits(t, empty, empty).tolist() == []
    assert many_pair_bits(records, np.zeros((0, 2), dtype=np.int64), Model()).tolist() == []


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(CONTACT_FIELDS + ("id", "extra")),
                       st.one_of(st.none(), st.sampled_from(["", "  ", "\t", "x", " y "]),
                                 st.integers(-1, 2)), max_size=12))
def test_filled_counts_the_non_empty_contact_fields(row: dict) -> None:
    assert _filled(row) == sum(not _empty(row.get(f)) for f in CONTACT_FIELDS)
