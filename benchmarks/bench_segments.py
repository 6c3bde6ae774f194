"""RFM report and tag over a generated store, next to DuckDB's GROUP BY of the same orders.

    .venv/bin/python benchmarks/bench_segments.py --scale 100k [--db STORE] [--data DIR]
        [--replicate N] [--as-of 2026-11-01] [--repeat 3] [--write]

1. The store: --db (copied first, `tag` writes to it; --replicate N copies every
   contact and order N times for a bigger store), or benchmarks/datagen.py data
   (--data DIR, else generated) imported through the real CLI (timed as setup).
2. In process, median of --repeat runs: the SQL aggregates of `report rfm` (one GROUP BY over
   the covering index orders_rfm) plus scoring; the aggregates of `tag` (more columns,
   distinct paid days, windows, gaps) plus the lifecycle/tier plan.
3. The CLI end to end (subprocess, Python start-up included): `report rfm`,
   `report rfm --customers`, `tag` (first run writes every contact, second run changes
   nothing), `report summary`.
4. DuckDB (the `bench` extra) in the same run: the orders loaded into an in-memory
   table (not timed), then the same R/F/M GROUP BY, and the tag aggregates, median of
   --repeat runs (min-max printed too).

`--write` replaces the segments section of benchmarks/RESULTS.md. Timings on a shared,
busy machine are noisy; compare the ratios measured in one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

import datagen  # noqa: E402
from _common import timed_cli as cli  # noqa: E402

from custdata.api.segments import customer_aggregates  # noqa: E402
from custdata.config import default_config  # noqa: E402
from custdata.segments import TagRules, rfm_scores, segment_table, tag_plan  # noqa: E402
from custdata.store import open_store  # noqa: E402

SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "1M": 1_000_000}

DUCK_RFM = """
SELECT contact_id,
       DATE '{as_of}' - max(day) FILTER (WHERE status_norm = 'paid') AS recency_days,
       count(*) FILTER (WHERE status_norm = 'paid') AS frequency,
       sum(CASE WHEN status_norm = 'paid' THEN coalesce(amount_value, 0)
                ELSE -abs(coalesce(amount_value, 0)) END) AS monetary
FROM orders
WHERE contact_id IS NOT NULL AND day <= DATE '{as_of}' AND status_norm IN ('paid', 'refunded')
GROUP BY contact_id
HAVING count(*) FILTER (WHERE status_norm = 'paid') > 0
"""
DUCK_TAG = """
WITH o AS (
    SELECT contact_id, day, status_norm = 'paid' AS paid,
           CASE WHEN status_norm = 'paid' THEN coalesce(amount_value, 0)
                ELSE -abs(coalesce(amount_value, 0)) END AS net
    FROM orders
    WHERE contact_id IS NOT NULL AND day <= DATE '{as_of}'
      AND status_norm IN ('paid', 'refunded'))
SELECT contact_id,
       DATE '{as_of}' - max(day) FILTER (WHERE paid) AS recency_days,
       count(*) FILTER (WHERE paid) AS frequency, sum(net) AS monetary,
       count(DISTINCT day) FILTER (WHERE paid) AS paid_days,
       DATE '{as_of}' - min(day) FILTER (WHERE paid) AS tenure_days,
       sum(net) FILTER (WHERE day > DATE '{as_of}' - 365) AS window_revenue,
       sum(net) FILTER (WHERE day > DATE '{as_of}' - 730 AND day <= DATE '{as_of}' - 365)
           AS prior_revenue,
       count(*) FILTER (WHERE paid AND day > DATE '{as_of}' - 365) AS window_orders
FROM o GROUP BY contact_id HAVING count(*) FILTER (WHERE paid) > 0
"""


CPU: dict[str, float] = {}  # label -> median CPU seconds (all threads) of the runs
SPREAD: dict[str, tuple[float, float]] = {}  # label -> (min, max) wall seconds of the runs


def median_time(fn, repeat: int, label: str = "") -> tuple[float, object]:
    """Median wall time of `repeat` runs (min-max in SPREAD[label], median CPU in CPU[label])."""
    times, cpus, result = [], [], None
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    CPU[label] = statistics.median(cpus)
    SPREAD[label] = (min(times), max(times))
    return statistics.median(times), result


def build_store(work: Path, contacts: int, data: Path | None) -> tuple[Path, dict]:
    setup: dict[str, float] = {}
    if data is None:
        data = work / "gen"
        start = time.perf_counter()
        datagen.generate(data, datagen.Params(contacts=contacts))
        setup["datagen"] = time.perf_counter() - start
    db = work / "store.db"
    for kind in ("contacts", "orders"):
        _, seconds = cli(db, "import", kind, str(data / f"{kind}.csv"))
        setup[f"import {kind}"] = seconds
    return db, setup


def replicate(db: Path, times: int) -> None:
    """Make the store `times` as big: copies of every contact and order, ids shifted.

    Each copy keeps the per-customer order histories, so 100k contacts / 1M orders x 10
    gives 1M / 10M with the same distributions (the import of 10M rows would take an hour
    on this machine; the figures here are about tag and report, not import).
    """
    with sqlite3.connect(db) as conn:
        open_store(db).close()  # migrate first
        n = conn.execute("SELECT max(id) FROM contacts").fetchone()[0]
        m = conn.execute("SELECT max(id) FROM orders").fetchone()[0]
        for k in range(1, times):
            conn.execute(
                "INSERT INTO contacts (id, external_id, changed_at, stage, tier) "
                f"SELECT id + {k * n}, external_id || '-{k}', changed_at, stage, tier "
                f"FROM contacts WHERE id <= {n}")
            conn.execute(
                "INSERT INTO orders (id, order_id, contact_id, day, amount_value, status_norm, "
                f"currency) SELECT id + {k * m}, order_id || '-{k}', contact_id + {k * n}, day, "
                f"amount_value, status_norm, currency FROM orders WHERE id <= {m}")
        conn.commit()


def in_process(db: Path, as_of: date, repeat: int) -> dict:
    store = open_store(db)  # migrates an older store first (not timed below)
    config = default_config()
    try:
        rfm_sql, (agg, _) = median_time(lambda: customer_aggregates(store, config, as_of=as_of), repeat,
                                 "rfm_sql")
        rfm_score, _ = median_time(lambda: segment_table(rfm_scores(agg)), repeat, "rfm_score")
        tag_sql, (tag_agg, _) = median_time(
            lambda: customer_aggregates(store, config, as_of=as_of, for_tag=True), repeat, "tag_sql")
        rules = TagRules.from_mapping(config.section("tag"))
        tag_core, plan = median_time(
            lambda: tag_plan(store.segments.contact_tags(), tag_agg, rules), repeat, "tag_core")
        orders = store.db.conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        contacts = store.db.conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
    finally:
        store.close()
    return {"rfm_sql": rfm_sql, "rfm_score": rfm_score, "tag_sql": tag_sql,
            "tag_core": tag_core, "customers": len(agg), "orders": orders,
            "contacts": contacts, "changes": len(plan)}


def duckdb_times(db: Path, as_of: date, repeat: int) -> dict:
    import pandas as pd

    with sqlite3.connect(db) as conn:
        frame = pd.read_sql_query(
            "SELECT contact_id, day, amount_value, status_norm, currency FROM orders", conn)
    return duckdb_frame_times(frame, as_of, repeat)


def duckdb_frame_times(frame, as_of: date, repeat: int) -> dict:
    """DuckDB's GROUP BY times over `frame` (the orders' contact_id, day, amount_value,
    status_norm, currency), loaded into an in-memory table first (not timed)."""
    import duckdb
    import pandas as pd

    frame["day"] = pd.to_datetime(frame["day"], format="%Y-%m-%d", errors="coerce")
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("CREATE TABLE orders AS SELECT contact_id, CAST(day AS DATE) AS day, "
                "amount_value, status_norm, currency FROM frame")
    con.unregister("frame")
    rfm, rows = median_time(lambda: con.execute(DUCK_RFM.format(as_of=as_of)).fetchall(), repeat,
                     "duck_rfm")
    tag, _ = median_time(lambda: con.execute(DUCK_TAG.format(as_of=as_of)).fetchall(), repeat,
                  "duck_tag")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    return {"rfm": rfm, "tag": tag, "customers": len(rows), "threads": threads,
            "version": duckdb.__version__}


def run(args: argparse.Namespace) -> dict:
    as_of = date.fromisoformat(args.as_of)
    with tempfile.TemporaryDirectory(prefix="bench_segments_") as tmp:
        work = Path(tmp)
        setup: dict[str, float] = {}
        if args.db:
            db = work / "store.db"
            shutil.copyfile(args.db, db)
            if args.replicate > 1:
                start = time.perf_counter()
                replicate(db, args.replicate)
                setup[f"replicate x{args.replicate}"] = time.perf_counter() - start
        else:
            db, setup = build_store(work, SCALES[args.scale], args.data)
        proc = in_process(db, as_of, args.repeat)
        duck = duckdb_times(db, as_of, args.repeat)
        if duck["customers"] != proc["customers"]:
            raise SystemExit(f"DuckDB found {duck['customers']} customers, custdata "
                             f"{proc['customers']}: the two computations disagree")
        ends = {}
        _, ends["report rfm"] = cli(db, "report", "rfm", "--as-of", args.as_of, "--format", "csv")
        _, ends["report rfm --customers"] = cli(db, "report", "rfm", "--as-of", args.as_of,
                                                "--customers", "--format", "csv")
        _, ends["tag (first run, writes)"] = cli(db, "tag", "--as-of", args.as_of)
        _, ends["tag (second run, no change)"] = cli(db, "tag", "--as-of", args.as_of)
        _, ends["report summary"] = cli(db, "report", "summary", "--format", "csv")
    return {"setup": setup, "proc": proc, "duck": duck, "cli": ends}


def render(res: dict, args: argparse.Namespace) -> str:
    p, d = res["proc"], res["duck"]
    rfm = p["rfm_sql"] + p["rfm_score"]
    tag = p["tag_sql"] + p["tag_core"]
    lines = [
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on `{platform.uname().system} "
        f"{platform.uname().release} {platform.machine()}`, {os.cpu_count()} CPUs (shared "
        f"with other jobs: figures are noisy), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, DuckDB {d['version']} ({d['threads']} threads).",
        "",
        f"`python benchmarks/bench_segments.py --scale {args.scale}"
        f"{' --db STORE' if args.db else ''}"
        f"{f' --replicate {args.replicate}' if args.replicate > 1 else ''}`: "
        f"{p['contacts']:,} contacts, "
        f"{p['orders']:,} orders, {p['customers']:,} customers with a paid order, "
        f"as of {args.as_of}; median of {args.repeat} runs (min–max below).{(' ' + args.db_note) if args.db_note else ''}",
        "",
        "| step | custdata | DuckDB GROUP BY, same orders, same run | ratio |",
        "|---|---:|---:|---:|",
        f"| report rfm: SQL aggregates + scoring (in process) | {rfm:.2f} s "
        f"({p['rfm_sql']:.2f} + {p['rfm_score']:.2f}) | {d['rfm']:.3f} s | "
        f"{rfm / d['rfm']:.1f}x |",
        f"| tag: SQL aggregates + stage/tier plan (in process) | {tag:.2f} s "
        f"({p['tag_sql']:.2f} + {p['tag_core']:.2f}) | {d['tag']:.3f} s | "
        f"{tag / d['tag']:.1f}x |",
        "",
        f"CPU seconds (all threads) of the same runs: report rfm "
        f"{CPU['rfm_sql'] + CPU['rfm_score']:.2f} vs DuckDB {CPU['duck_rfm']:.2f} "
        f"({(CPU['rfm_sql'] + CPU['rfm_score']) / max(CPU['duck_rfm'], 1e-3):.1f}x); tag "
        f"{CPU['tag_sql'] + CPU['tag_core']:.2f} vs DuckDB {CPU['duck_tag']:.2f} "
        f"({(CPU['tag_sql'] + CPU['tag_core']) / max(CPU['duck_tag'], 1e-3):.1f}x). "
        "Stores with 200,000 orders or more are aggregated in contact-id ranges on one "
        "read-only connection per CPU (up to 4).",
        "",
        "Wall seconds, min–max over the runs: " + "; ".join(
            f"{name} {SPREAD[k][0]:.3f}–{SPREAD[k][1]:.3f}" for k, name in (
                ("rfm_sql", "report rfm SQL"), ("rfm_score", "rfm scoring"),
                ("tag_sql", "tag SQL"), ("tag_core", "tag plan"), ("duck_rfm", "DuckDB rfm"),
                ("duck_tag", "DuckDB tag"))) + ".",
        "",
        "End to end through the CLI (one run each, Python start-up and output included):",
        "",
        "| command | seconds |",
        "|---|---:|",
    ]
    lines += [f"| `{name}` | {secs:.2f} |" for name, secs in res["cli"].items()]
    if res["setup"]:
        lines += ["", "Setup (not part of the figures above): " + ", ".join(
            f"{k} {v:.0f} s" for k, v in res["setup"].items()) + "."]
    lines += ["", f"The first `tag` wrote {p['changes']:,} stage/tier changes (every contact, "
              "both fields) with their history rows; the second found nothing to change."]
    return "\n".join(lines)


def write_section(text: str, label: str) -> None:
    """Replace this run's part (by `label`) of the segments section of RESULTS.md."""
    path = HERE / "RESULTS.md"
    begin, end = "<!-- BEGIN segments -->", "<!-- END segments -->"
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    parts: dict[str, str] = {}
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        body, tail = rest.split(end, 1)
        for chunk in body.split("<!-- run ")[1:]:
            key, _, content = chunk.partition(" -->\n")
            parts[key] = content.rstrip("\n")
    else:
        head, tail = old.rstrip("\n") + "\n\n", "\n"
    parts[label] = text
    runs = "\n\n".join(f"<!-- run {k} -->\n{v}" for k, v in sorted(parts.items()))
    block = f"{begin}\n## Segments: report rfm and tag\n\n{runs}\n{end}"
    path.write_text(head + block + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default="100k")
    ap.add_argument("--db", type=Path, help="an existing store to copy instead of importing")
    ap.add_argument("--data", type=Path, help="datagen output to import (else generated)")
    ap.add_argument("--db-note", default="", help="how STORE was made (printed)")
    ap.add_argument("--replicate", type=int, default=1,
                    help="with --db: copy every contact and order this many times")
    ap.add_argument("--as-of", default="2026-11-01")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="replace the section in RESULTS.md")
    args = ap.parse_args(argv)
    text = render(run(args), args)
    print(text)
    if args.write:
        label = f"{args.scale}{f'-x{args.replicate}' if args.replicate > 1 else ''}"
        write_section(text, label)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
