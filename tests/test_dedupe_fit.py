"""The fitted Fellegi–Sunter model (custdata.dedupe.fit): EM, u, small lists, storage."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from custdata.dedupe import (
    find_duplicate_records, model_from_dict, model_table, model_to_dict, to_record,
)
from custdata.dedupe.bulk import LEVEL_CODES
from custdata.dedupe.compare import DEFAULT_MU, Model
from custdata.dedupe.fit import em_fit, estimate_u, random_pairs

# field -> level -> (m, u): the truth the simulation draws from
TRUE = {
    "birth_date": {"exact": (0.90, 0.001), "close": (0.06, 0.004), "different": (0.04, 0.995)},
    "city": {"exact": (0.80, 0.03), "close": (0.05, 0.01), "different": (0.15, 0.96)},
    "postal_code": {"exact": (0.85, 0.01), "close": (0.04, 0.02), "different": (0.11, 0.97)},
    "email": {"exact": (0.55, 0.0005), "close": (0.10, 0.0005), "different": (0.35, 0.999)},
}


def _simulate(size: int, share: float, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    match = rng.random(size) < share
    levels = {}
    for name, table in TRUE.items():
        names = list(table)
        codes = np.array([LEVEL_CODES[n] for n in names], dtype=np.int8)
        m = np.array([table[n][0] for n in names])
        u = np.array([table[n][1] for n in names])
        picked = np.where(match, rng.choice(len(names), size, p=m / m.sum()),
                          rng.choice(len(names), size, p=u / u.sum()))
        levels[name] = codes[picked]
    return levels, match


def test_em_recovers_known_m_and_match_share_on_simulated_pairs():
    levels, match = _simulate(60_000, 0.15, seed=1)
    u = {name: {level: v[1] for level, v in table.items()} for name, table in TRUE.items()}
    mu = {name: DEFAULT_MU[name] for name in TRUE}
    m, share = em_fit(levels, u, mu)
    assert share == pytest.approx(match.mean(), abs=0.01)
    for name, table in TRUE.items():
        for level, (true_m, _) in table.items():
            assert m[name][level] == pytest.approx(true_m, abs=0.03), (name, level)


def test_u_from_random_pairs_recovers_known_u():
    levels, _ = _simulate(200_000, 0.0, seed=2)
    u = estimate_u(levels, {name: DEFAULT_MU[name] for name in TRUE})
    for name, table in TRUE.items():
        for level, (_, true_u) in table.items():
            assert u[name][level] == pytest.approx(true_u, rel=0.25, abs=2e-4), (name, level)


def test_random_pairs_are_distinct_ordered_and_all_of_them_for_small_lists():
    pairs = random_pairs(5, 100)
    assert len(pairs) == 10 and (pairs[:, 0] < pairs[:, 1]).all()
    big = random_pairs(10_000, 1000)
    assert len(big) == 1000 and (big[:, 0] < big[:, 1]).all()


def _generated(contacts: int) -> tuple[list, dict]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import datagen
    import bench_dedupe
    return datagen, bench_dedupe


def test_a_list_of_300_rows_gets_sane_weights_and_still_finds_its_duplicates(tmp_path):
    datagen, bench_dedupe = _generated(300)
    datagen.generate(tmp_path, datagen.Params(contacts=300, seed=3, orders_per_contact=0.0,
                                              interactions_per_contact=0.0))
    records, truth, _, _ = bench_dedupe.load(tmp_path)
    result = find_duplicate_records(records, fitted_at="2026-01-01")
    model = result.model
    assert model.fitted_rows == len(records) and model.fitted_at == "2026-01-01"
    default = Model()
    for name, levels in model.mu.items():
        for level in levels:
            fitted, hand_set = model.fixed[(name, level)], default.fixed[(name, level)]
            assert abs(fitted - hand_set) <= 8, (name, level, fitted, hand_set)
        if "exact" in levels and "different" in levels:
            assert model.fixed[(name, "exact")] > 0 > model.fixed[(name, "different")]
    assert -20 < model.prior_bits < -4
    metrics = bench_dedupe.metrics([c.members for c in result.clusters], truth)
    assert metrics["precision"] >= 0.95 and metrics["recall"] >= 0.9


def test_model_round_trips_through_json_and_shows_as_a_table():
    rows = [{"id": i, "name": f"Person {chr(65 + i % 26)}{i}", "city": "Shanghai",
             "birth_date": f"19{50 + i % 40}-01-{1 + i % 28:02d}"} for i in range(150)]
    rows += [dict(rows[i], id=1000 + i) for i in range(20)]
    result = find_duplicate_records([to_record(r, i) for i, r in enumerate(rows)],
                                    fitted_at="2026-12-03T10:00:00Z")
    data = json.loads(json.dumps(model_to_dict(result.model)))
    assert data["rows"] == 170 and data["fitted_at"] == "2026-12-03T10:00:00Z"
    again = model_from_dict(data)
    assert again.mu == result.model.mu and again.prior_bits == result.model.prior_bits
    table = model_table(again)
    row = next(r for r in table if r["field"] == "birth_date" and r["level"] == "exact")
    assert set(row) == {"field", "level", "m", "u", "bits"}
    assert row["bits"] == pytest.approx(math.log2(row["m"] / row["u"]), abs=0.05)
    with pytest.raises(ValueError):
        model_from_dict({"format": 99})


def test_a_stored_model_is_used_instead_of_fitting_again():
    rows = [{"id": i, "name": f"Name{i}", "city": "X"} for i in range(120)]
    records = [to_record(r, i) for i, r in enumerate(rows)]
    stored = model_from_dict(model_to_dict(find_duplicate_records(records).model))
    stored.prior_bits = -3.0
    again = find_duplicate_records(records, model=stored)
    assert again.model.prior_bits == -3.0 and again.model.counts
