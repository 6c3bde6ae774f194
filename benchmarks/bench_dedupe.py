"""Dedupe quality and speed on labelled generator data (benchmarks/datagen.py).

    .venv/bin/python benchmarks/bench_dedupe.py --scale 100k [--seed 7] [--write]
        [--sweep 0.5,0.8,0.9,0.95] [--data DIR]

Generates contacts + truth (or reuses --data DIR), runs the pure dedupe core
(custdata.dedupe: blocking -> scoring -> clustering) over the contact rows and reports
pairwise precision / recall / F1, cluster precision / recall / F1 (a true cluster counts
when it is found exactly), the pair count after blocking, wall time and peak RSS.
`--write` replaces the dedupe section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import datagen  # noqa: E402
from _results import write_section  # noqa: E402

from custdata.dedupe import (  # noqa: E402
    DEFAULT_MIN_COHERENCE, DEFAULT_THRESHOLD, build_model, candidate_pairs, clusters,
    pair_bits, probability, score_pair, strong_pairs, threshold_bits, to_record,
)
from custdata.ingest import id_number_key  # noqa: E402
from custdata.normalize import email_key, phone_key  # noqa: E402

SCALES = {"10k": 10_000, "20k": 20_000, "100k": 100_000, "1m": 1_000_000, "1M": 1_000_000}


NEEDED = ("name", "gender", "birth_date", "company", "email", "phone", "id_number",
          "address", "city", "postal_code")


def load(data: Path) -> tuple[list, dict[int, str], float]:
    """Records folded straight from the CSV (as `dedupe` folds store rows one by one),
    the truth, and the seconds spent folding. Match keys are computed here as `import`
    stores them; that time is import's, not dedupe's, and is not counted."""
    with (data / "truth.csv").open(encoding="utf-8") as fh:
        person = {r["external_id"]: r["person_id"] for r in csv.DictReader(fh)}
    records, truth, fold = [], {}, 0.0
    with (data / "contacts.csv").open(encoding="utf-8", newline="") as fh:
        for i, raw in enumerate(csv.DictReader(fh)):
            truth[i] = person[raw["external_id"]]
            row = {f: raw[f] or None for f in NEEDED}
            row["id"] = i  # external_id left out: unique per record, a store never blocks on it
            row["email_key"] = email_key(row["email"])
            row["phone_key"] = phone_key(row["phone"])
            row["id_number_key"] = id_number_key(row["id_number"])
            t0 = time.perf_counter()
            records.append(to_record(row))
            fold += time.perf_counter() - t0
    return records, truth, fold


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
    t_fold = time.perf_counter()
    model = build_model(records)
    blocking = {k: v for k, v in (("max_block", max_block), ("window", window)) if v}
    pairs, stats = candidate_pairs(records, **blocking)
    t_block = time.perf_counter()
    need = threshold_bits(min(thresholds), model)
    kept = []
    for i, j in strong_pairs(records, pairs, model, need, workers=workers):
        bits = pair_bits(records[i], records[j], model)
        kept.append((i, j, probability(bits, model), bits))
    t_score = time.perf_counter()

    def rescore(a, b):
        s = score_pair(records[a], records[b], model)
        return s.probability, s.bits

    results = {}
    for threshold in thresholds:
        t0 = time.perf_counter()
        found = clusters([k for k in kept if k[2] >= threshold], threshold,
                         min_coherence=min_coherence, rescore=rescore)
        results[threshold] = ([c.members for c in found], time.perf_counter() - t0)
    return {
        "stats": stats, "results": results,
        "block_s": t_block - t_fold, "score_s": t_score - t_block,
    }


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
    ap.add_argument("--write", action="store_true", help="replace the RESULTS.md section")
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
    records, truth, fold_s = load(data)
    thresholds = sorted({DEFAULT_THRESHOLD, *(float(x) for x in args.sweep.split(",") if x)})
    start = time.perf_counter()
    out = run(records, thresholds, args.min_coherence, args.workers, args.max_block,
              args.window)
    out["fold_s"] = fold_s
    total = fold_s + time.perf_counter() - start - sum(t for _, t in out["results"].values())
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = []
    for threshold in thresholds:
        found, t_cluster = out["results"][threshold]
        m = metrics(found, truth)
        mark = " (default)" if threshold == DEFAULT_THRESHOLD else ""
        lines.append(
            f"| {threshold:g}{mark} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} "
            f"| {m['cluster_precision']:.4f} | {m['cluster_recall']:.4f} | {m['cluster_f1']:.4f} "
            f"| {m['found_pairs']} / {m['true_pairs']} | {m['false_pairs']} |"
        )
        if threshold == DEFAULT_THRESHOLD:
            default_cluster_s = t_cluster
    stats = out["stats"]
    uname = " ".join(platform.uname())
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    report = "\n".join([
        f"### dedupe: {len(records):,} contacts, datagen seed {args.seed}",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, `{uname}`, {nproc} cores "
        "(shared with other jobs: timings are noisy).",
        "",
        "| threshold | pair precision | pair recall | pair F1 | cluster precision "
        "| cluster recall | cluster F1 | pairs found / true | false pairs |",
        "|---|---|---|---|---|---|---|---|---|",
        *lines,
        "",
        f"- candidate pairs after blocking: {stats.pairs:,} "
        f"({stats.pairs / max(len(records), 1):.1f} per record; {stats.capped_blocks:,} blocks "
        "over the cap paired by sorted neighbourhood)",
        f"- time: {total + default_cluster_s:.1f} s in all (fold {out['fold_s']:.1f} s, "
        f"blocking {out['block_s']:.1f} s, scoring {out['score_s']:.1f} s, "
        f"clustering {default_cluster_s:.1f} s); peak RSS {rss_mib:,.0f} MiB "
        "(includes loading the CSV)",
    ])
    print(report)
    print("pairs by rule:", stats.by_rule, file=sys.stderr)
    if args.write:
        write_section("dedupe", report)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
