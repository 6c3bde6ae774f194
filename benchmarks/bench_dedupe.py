"""Dedupe quality and speed on labelled generator data (benchmarks/datagen.py).

    .venv/bin/python benchmarks/bench_dedupe.py --scale 100k [--seed 7] [--write]
        [--sweep 0.5,0.8,0.9,0.95] [--data DIR] [--workers N]

Generates contacts + truth (or reuses --data DIR), runs the pure dedupe core over the
contact rows as `find_duplicate_records` does (columns -> model -> blocking -> bulk
scoring -> clustering) and reports pairwise precision / recall / F1, cluster precision /
recall / F1 (a true cluster counts when it is found exactly), the pair count after
blocking, wall and CPU seconds per stage (CPU includes the forked scoring workers), the
load average, and peak RSS.

`--write` replaces this run's block (its scale and seed) inside the dedupe section of
benchmarks/RESULTS.md, between `<!-- run: N contacts, seed S -->` and `<!-- end run -->`,
and leaves the section's other runs and prose alone; a run not there yet is added at
the end of the section.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import datagen  # noqa: E402
from _common import own_cpu_s  # noqa: E402
from _results import RESULTS, markers, write_section  # noqa: E402

from custdata.dedupe import (  # noqa: E402
    DEFAULT_MIN_COHERENCE, DEFAULT_THRESHOLD, JOIN_FLOOR, JoinRule, build_model, candidate_pairs,
    clusters, fit_model, pipeline_window,
    probability, record_columns, score_pair, strong_links, threshold_bits, to_record,
)
from custdata.normalize import email_key, id_number_key, phone_key  # noqa: E402

SCALES = {"10k": 10_000, "20k": 20_000, "100k": 100_000, "1m": 1_000_000, "1M": 1_000_000}


NEEDED = ("name", "gender", "birth_date", "company", "email", "phone", "id_number",
          "address", "city", "postal_code")


def load(data: Path) -> tuple[list, dict[int, str], float, float]:
    """Records folded straight from the CSV (as `dedupe` folds store rows one by one),
    the truth, and the wall and CPU seconds spent folding. Match keys are computed here
    as `import` stores them; that time is import's, not dedupe's, and is not counted."""
    with (data / "truth.csv").open(encoding="utf-8") as fh:
        person = {r["external_id"]: r["person_id"] for r in csv.DictReader(fh)}
    records, truth, fold, fold_cpu = [], {}, 0.0, 0.0
    with (data / "contacts.csv").open(encoding="utf-8", newline="") as fh:
        for i, raw in enumerate(csv.DictReader(fh)):
            truth[i] = person[raw["external_id"]]
            row = {f: raw[f] or None for f in NEEDED}
            row["id"] = i  # external_id left out: unique per record, a store never blocks on it
            row["email_key"] = email_key(row["email"])
            row["phone_key"] = phone_key(row["phone"])
            row["id_number_key"] = id_number_key(row["id_number"])
            t0, c0 = time.perf_counter(), time.process_time()
            records.append(to_record(row))
            fold += time.perf_counter() - t0
            fold_cpu += time.process_time() - c0
    return records, truth, fold, fold_cpu


def _pairs(groups: list[tuple]) -> set[tuple]:
    return {p for g in groups for p in combinations(sorted(g), 2)}


def metrics(found: list[tuple], truth: dict[int, str]) -> dict[str, float]:
    by_person = defaultdict(list)
    for rid, pid in truth.items():
        by_person[pid].append(rid)
    true_groups = [tuple(sorted(g)) for g in by_person.values() if len(g) > 1]
    predicted, actual = _pairs(found), _pairs(true_groups)
    tp = len(predicted & actual)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(actual) if actual else 1.0
    exact = len(set(found) & set(true_groups))
    cp = exact / len(found) if found else 1.0
    cr = exact / len(true_groups) if true_groups else 1.0
    return {
        "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "cluster_precision": cp, "cluster_recall": cr,
        "cluster_f1": 2 * cp * cr / (cp + cr) if cp + cr else 0.0,
        "true_pairs": len(actual), "found_pairs": len(predicted), "false_pairs": len(predicted) - tp,
        "true_clusters": len(true_groups), "found_clusters": len(found),
    }


def run(records: list, thresholds: list[float], min_coherence: float,
        workers: int = 0, max_block: int | None = None, window: int | None = None) -> dict:
    t_fold, c_fold = time.perf_counter(), own_cpu_s()
    columns = record_columns(records)  # as find_duplicate_records runs the stages
    model = build_model(records, columns=columns)
    blocking = {k: v for k, v in (("max_block", max_block), ("window", window)) if v}
    blocking["window"] = pipeline_window(blocking.get("window", 3))  # as dedupe blocks
    pairs, stats = candidate_pairs(records, columns=columns, **blocking)
    model = fit_model(columns, pairs, model)  # fitted to the list, as the CLI does
    t_block, c_block = time.perf_counter(), own_cpu_s()
    need = threshold_bits(min(thresholds), model)
    strong, bits = strong_links(records, pairs, model, need, workers=workers, columns=columns)
    kept = [(i, j, probability(b, model), b) for (i, j), b in zip(strong.tolist(), bits.tolist())]
    t_score, c_score = time.perf_counter(), own_cpu_s()

    def rescore(a, b):
        s = score_pair(records[a], records[b], model)
        return s.probability, s.bits

    results = {}
    for threshold in thresholds:
        t0, c0 = time.perf_counter(), own_cpu_s()
        rule = JoinRule(need=threshold_bits(threshold, model),
                        floor=threshold_bits(JOIN_FLOOR, model))  # as find_duplicate_records
        found = clusters([k for k in kept if k[2] >= threshold], threshold,
                         min_coherence=min_coherence, rescore=rescore, rule=rule)
        results[threshold] = ([c.members for c in found], time.perf_counter() - t0,
                              own_cpu_s() - c0)
    return {
        "stats": stats, "results": results,
        "block_s": t_block - t_fold, "score_s": t_score - t_block,
        "block_cpu": c_block - c_fold, "score_cpu": c_score - c_block,
    }


def cli_runs(store: Path, repeat: int) -> list[str]:
    """`custdata dedupe` (the report, which only reads) on `store`, `repeat` times: report lines.

    Each run is a fresh process (bench_import.run: under GNU time when there is one, so
    its peak RSS is the process's own, the largest of it and its scoring workers).
    """
    import statistics

    from bench_import import custdata_cmd
    from bench_import import run as run_process

    cmd = [*custdata_cmd(), "--quiet", "--db", str(store), "dedupe"]
    done = [run_process(cmd, count_lines=True) for _ in range(repeat)]
    walls, cpus = [d["wall"] for d in done], [d["cpu"] for d in done]
    rss = [d["rss_mib"] for d in done]
    rows = done[-1]["lines"]
    return [
        f"`custdata dedupe` end to end on a store holding the same contacts (read from the "
        f"store, {rows:,} lines of output), {repeat} runs: wall {statistics.median(walls):.1f} s "
        f"median ({min(walls):.1f}–{max(walls):.1f}), CPU {statistics.median(cpus):.1f} s "
        f"(with workers), peak RSS {statistics.median(rss):,.0f} MiB "
        f"(budget: 120 s and 4 GiB).", ""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="100k", help="10k, 20k, 100k, 1m or a number")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data", type=Path, help="reuse a datagen output directory")
    ap.add_argument("--sweep", default="", help="extra thresholds, comma-separated")
    ap.add_argument("--min-coherence", type=float, default=DEFAULT_MIN_COHERENCE)
    ap.add_argument("--workers", type=int, default=0, help="scoring processes (0: auto)")
    ap.add_argument("--max-block", type=int, help="blocking cap (default: the library's)")
    ap.add_argument("--window", type=int, help="sorted-neighbourhood window")
    ap.add_argument("--write", action="store_true",
                    help="replace this run's block in the RESULTS.md dedupe section")
    ap.add_argument("--db", type=Path, help="also time `custdata dedupe` on this store "
                    "(holding the --data contacts; see shared_store.py)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of the core timing and of the CLI (quality: the first run)")
    args = ap.parse_args(argv)
    n = SCALES.get(args.scale) or int(args.scale)
    tmp = None
    data = args.data
    if data is None or not (data / "contacts.csv").exists():
        if data is None:
            tmp = tempfile.TemporaryDirectory()
            data = Path(tmp.name)
        datagen.generate(data, datagen.Params(contacts=n, seed=args.seed, orders_per_contact=0.1,
                                              interactions_per_contact=0.1))
    load_before = os.getloadavg()
    records, truth, fold_s, fold_cpu = load(data)
    thresholds = sorted({DEFAULT_THRESHOLD, *(float(x) for x in args.sweep.split(",") if x)})
    core_s = []

    def core_run() -> dict:
        start = time.perf_counter()
        result = run(records, thresholds, args.min_coherence, args.workers, args.max_block,
                     args.window)
        core_s.append(time.perf_counter() - start)
        return result

    out = core_run()
    # the first run's scoring workers alone (later runs and the CLI add their own)
    workers_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    run_s = core_s[0] - sum(t for _, t, _ in out["results"].values())
    for _ in range(1, args.repeat):
        again = core_run()
        if [m for m, _, _ in again["results"].values()] != \
                [m for m, _, _ in out["results"].values()]:
            raise SystemExit("dedupe core gave different clusters on a second run")
    cli_lines = cli_runs(args.db, args.repeat) if args.db else []
    lines = [_quality_row(threshold, metrics(found, truth))
             for threshold, (found, _, _) in out["results"].items()]
    _, cluster_s, cluster_cpu = out["results"][DEFAULT_THRESHOLD]
    report = "\n".join([
        f"<!-- run: {len(records)} contacts, seed {args.seed} -->",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, `{' '.join(platform.uname()).strip()}`, "
        f"{os.cpu_count()} cores, shared with other jobs (load average {_load(load_before)} "
        f"(1/5/15 min) before loading the CSV, {_load(os.getloadavg())} at the end): wall "
        "times are noisy, CPU times less so.",
        "",
        "| threshold | pair precision | pair recall | pair F1 | cluster precision "
        "| cluster recall | cluster F1 | pairs found / true | false pairs |",
        "|---|---|---|---|---|---|---|---|---|",
        *lines,
        "",
        *_figure_lines(out, len(records), fold_s, fold_cpu, run_s, cluster_s, cluster_cpu,
                       workers_usage),
        *([f"Core (blocking, scoring, clustering at every threshold) over {len(core_s)} runs: "
           f"{sorted(core_s)[len(core_s) // 2]:.1f} s median ({min(core_s):.1f}–"
           f"{max(core_s):.1f}); the same clusters every run.", ""] if len(core_s) > 1 else []),
        *cli_lines,
        "<!-- end run -->",
    ])
    print(report)
    print("pairs by rule:", out["stats"].by_rule, file=sys.stderr)
    if args.write:
        write_run(len(records), args.seed, report)
    if tmp is not None:
        tmp.cleanup()
    return 0


def _load(averages: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.1f}" for x in averages)


def _quality_row(threshold: float, m: dict[str, float]) -> str:
    mark = " (default)" if threshold == DEFAULT_THRESHOLD else ""
    return (f"| {threshold:g}{mark} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} "
            f"| {m['cluster_precision']:.4f} | {m['cluster_recall']:.4f} "
            f"| {m['cluster_f1']:.4f} | {m['found_pairs']} / {m['true_pairs']} "
            f"| {m['false_pairs']} |")


def _figure_lines(out: dict, n: int, fold_s: float, fold_cpu: float, run_s: float,
                  cluster_s: float, cluster_cpu: float, workers: Any) -> list[str]:
    """The figure lines of the first run; `workers`: the rusage of its scoring workers."""
    stats = out["stats"]
    cpu = fold_cpu + out["block_cpu"] + out["score_cpu"] + cluster_cpu
    own_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        f"- candidate pairs after blocking: {stats.pairs:,} ({stats.pairs / max(n, 1):.1f} per "
        f"record; {stats.capped_blocks:,} blocks over the cap paired by sorted neighbourhood)",
        f"- wall: {fold_s + run_s + cluster_s:.1f} s in all (fold {fold_s:.1f} s, blocking "
        f"{out['block_s']:.1f} s, scoring {out['score_s']:.1f} s, clustering {cluster_s:.1f} s)",
        f"- CPU: {cpu:.1f} s in all (fold {fold_cpu:.1f} s, blocking {out['block_cpu']:.1f} s, "
        f"scoring {out['score_cpu']:.1f} s of which {workers.ru_utime + workers.ru_stime:.1f} s "
        f"in the forked scoring workers, clustering {cluster_cpu:.1f} s)",
        f"- peak RSS: {own_mib:,.0f} MiB in this process (includes loading the CSV); the "
        f"largest scoring worker {workers.ru_maxrss / 1024:,.0f} MiB, most of it pages "
        "shared with this process (forked, copy-on-write)",
    ]


def write_run(n: int, seed: int, block: str) -> None:
    """Put `block` in place of this run's block in the RESULTS.md dedupe section."""
    begin, end = markers("dedupe")
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    section = text[text.index(begin) + len(begin):text.index(end)] if begin in text else ""
    first, last = block.splitlines()[0], "<!-- end run -->"
    if first in section:
        at = section.index(first)
        section = section[:at] + block + section[section.index(last, at) + len(last):]
    else:
        section = section.rstrip() + f"\n\n### {n:,} contacts, seed {seed}\n\n{block}\n"
    write_section("dedupe", section.strip("\n"))


if __name__ == "__main__":
    raise SystemExit(main())
