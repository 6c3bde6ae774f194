"""Blocking in big blocks (issue 17 at a million contacts): a shared street, office phone
or common name still brings a person's two rows together, and the candidate pairs per
contact stay bounded however large the list grows."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from custdata.dedupe import candidate_pairs, find_duplicates, to_records
from custdata.dedupe.blocking import RULES, rule_window, sorted_unique

FIRST = ["anna", "bruno", "carla", "dieter", "emil", "frieda", "gustav", "hanna", "ida",
         "jonas", "karla", "lukas", "marta", "nils", "olga", "paul", "rosa", "sven"]
LAST = ["schmidt", "weber", "meyer", "wagner", "becker", "hoffmann", "koch", "richter",
        "klein", "wolf", "neumann", "schwarz", "zimmermann", "braun", "krueger", "hartmann"]


def _pair_of(pairs: np.ndarray, i: int, j: int) -> bool:
    return [min(i, j), max(i, j)] in pairs.tolist()


def _birth(rnd: random.Random, first_year: int) -> str:
    return f"19{rnd.randint(first_year, 99)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"


def _neighbours(count: int, seed: int, **same: str) -> list[dict]:
    """`count` different people (no two of one name) who share the fields in `same`
    (one street, one phone)."""
    rnd = random.Random(seed)
    names = rnd.sample([f"{first} {last}" for first in FIRST for last in LAST], count)
    return [{"name": names[k],
             "birth_date": _birth(rnd, 40),
             "email": f"person{seed}x{k}@example.org", **same} for k in range(count)]


def test_a_person_twice_in_a_big_block_of_one_street_is_still_compared():
    street = {"address": "12 lindenallee", "city": "berlin", "postal_code": "10115"}
    rows = _neighbours(80, seed=1, **street)
    rows[0] = {"name": "Ulrike Vogelsang", "birth_date": "1971-03-09",
               "email": "u.vogelsang@example.org", **street}
    # the same person, typed again at the far end of the list, another email
    rows[-1] = {"name": "Vogelsang, Ulrike", "birth_date": "1971-03-09",
                "email": "ulrike@post.example", **street}
    pairs, stats = candidate_pairs(to_records(rows, region="DE"), window=12)
    assert stats.capped_blocks >= 1
    assert _pair_of(pairs, 0, len(rows) - 1)
    # a window, not every pair of the 80: each rule gives each contact a few partners
    assert stats.by_rule["street+number"] <= len(rows) * rule_window("street+number", 12)
    assert len(pairs) < 80 * 79 / 2 / 4


def test_a_person_twice_among_the_staff_behind_one_office_phone_is_found():
    office = {"phone": "+49 30 1234567", "company": "Lindner Logistik GmbH", "city": "berlin"}
    rows = _neighbours(40, seed=2, **office)
    rows[3] = {"name": "Tobias Quandt", "birth_date": "1983-11-30",
               "email": "t.quandt@lindner.example", **office}
    rows[36] = {"name": "Tobias Quandt", "birth_date": "1983-11-30",
                "email": "tobias.quandt@lindner.example", **office}
    pairs, stats = candidate_pairs(to_records(rows, region="DE"), window=12)
    assert stats.capped_blocks >= 1 and _pair_of(pairs, 3, 36)
    result = find_duplicates(rows, region="DE")
    assert any({3, 36} <= set(c.members) for c in result.clusters)


def _town(size: int, seed: int) -> list[dict]:
    """A list whose address and name keys come from small vocabularies: its blocks grow
    with the list, as a large customer list's common streets and names do."""
    rnd = random.Random(seed)
    return [{"name": f"{rnd.choice(FIRST)} {rnd.choice(LAST)}",
             "birth_date": _birth(rnd, 50),
             "address": f"{rnd.randint(1, 30)} {rnd.choice(LAST)}strasse",
             "postal_code": str(10000 + rnd.randint(0, 9)),
             "city": rnd.choice(["berlin", "hamburg", "bremen"]),
             "company": rnd.choice(["Koch AG", "Braun KG", "Wolf GmbH"])} for _ in range(size)]


def test_candidate_pairs_per_contact_do_not_grow_with_the_list():
    per_contact = []
    for size in (1_000, 4_000, 12_000):
        _, stats = candidate_pairs(to_records(_town(size, seed=size), region="DE"), window=12)
        per_contact.append(stats.pairs / size)
    # the blocks grow 12-fold; the pairs per contact may not
    assert per_contact[2] <= per_contact[1] * 1.1 + 1
    bound = sum(max(7, rule_window(rule, 12)) for rule in RULES)
    assert max(per_contact) <= bound


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-5, 2**40), max_size=300))
def test_sorted_unique_is_numpys_unique(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    assert sorted_unique(array).tolist() == np.unique(array).tolist()
