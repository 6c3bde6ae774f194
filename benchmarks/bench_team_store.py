"""The team store against SQLite, both engines in the same run (issue 20's Targets).

    python benchmarks/bench_team_store.py --contacts 100000 [--url postgresql://...] --write

Generates a data set with datagen.py (seed 7), then for each engine imports contacts and
orders into a fresh store and times `report rfm`, `tag` and `dedupe` as CLI processes
(wall seconds, peak RSS of the process). DuckDB's GROUP BY over the same orders is the
reference for the reports. Then four importers of different files run at once on a fresh
team store, and every row must be there. Without --url a throwaway server is started as
the tests do (tests/pg_server.py), on a Unix socket with fsync off (a local server).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import write_section  # noqa: E402
from bench_segments import duckdb_times  # noqa: E402

CUSTDATA = [sys.executable, "-m", "custdata"]
AS_OF = "2026-11-01"


def timed(db: str, *args: object) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one custdata process; fails loudly on an error."""
    start = time.perf_counter()
    proc = subprocess.Popen([*CUSTDATA, "--db", db, "--quiet", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)  # this process's own peak RSS
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{args}: exit {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def aggregate_times(db: str) -> dict[str, float]:
    """Seconds of the store's per-customer aggregates alone (rfm, tag), in process."""
    from custdata.store import open_store

    out = {}
    with open_store(db, create=False) as store:
        for name, for_tag in (("rfm", False), ("tag", True)):
            start = time.perf_counter()
            store.segments.order_aggregates(as_of=date.fromisoformat(AS_OF), for_tag=for_tag)
            out[name] = time.perf_counter() - start
    return out


def engine_run(db: str, data: Path) -> dict[str, tuple[float, float]]:
    steps = {
        "import contacts": ("import", "contacts", data / "contacts.csv"),
        "import orders": ("import", "orders", data / "orders.csv"),
        "report rfm": ("report", "rfm", "--as-of", AS_OF, "--format", "csv"),
        "tag": ("tag", "--as-of", AS_OF),
        "dedupe": ("dedupe", "--format", "csv"),
    }
    return {name: timed(db, *args) for name, args in steps.items()}


def split(path: Path, parts: int, out: Path) -> list[Path]:
    """`path`'s rows dealt into `parts` files with its header."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    files = []
    for i in range(parts):
        target = out / f"part{i}.csv"
        with open(target, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([rows[0], *rows[1 + i::parts]])
        files.append(target)
    return files


def concurrent_imports(url: str, files: list[Path]) -> tuple[float, list[int], int]:
    """(wall seconds, exit codes, contacts stored) of len(files) importers started at once."""
    start = time.perf_counter()
    procs = [subprocess.Popen([*CUSTDATA, "--db", url, "--wait", "600", "--quiet", "import",
                               "contacts", f], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for f in files]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - start
    import psycopg

    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
    return wall, codes, stored


def sequential_count(db: Path, files: list[Path]) -> int:
    """Contacts stored when the same files are imported one after the other (SQLite)."""
    for f in files:
        timed(str(db), "import", "contacts", f)
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM contacts").fetchone()[0]


def report(n: int, lite: dict, pg: dict, duck: dict, conc: tuple, expected: int,
           sql: dict) -> str:
    lines = [f"### {n:,} contacts ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             "| step | SQLite s (MiB) | PostgreSQL s (MiB) | PG / SQLite | target |",
             "|---|---|---|---|---|"]
    targets = {"import contacts": "PG <= 2x SQLite", "report rfm": "PG <= 3x DuckDB",
               "tag": "PG <= 3x DuckDB", "dedupe": "<= 120 s, <= 4 GiB"}
    for step, (s_wall, s_rss) in lite.items():
        p_wall, p_rss = pg[step]
        lines.append(f"| {step} | {s_wall:.2f} ({s_rss:.0f}) | {p_wall:.2f} ({p_rss:.0f}) "
                     f"| {p_wall / s_wall:.2f}x | {targets.get(step, '')} |")
    lines += ["", f"DuckDB {duck['version']} GROUP BY over the same orders (in memory, "
              f"{duck['threads']} threads): rfm {duck['rfm']:.3f} s, tag {duck['tag']:.3f} s. "
              f"The CLI's times include process start-up and scoring, DuckDB's only the query: "
              f"report rfm on PostgreSQL is {pg['report rfm'][0] / duck['rfm']:.1f}x, tag "
              f"{pg['tag'][0] / duck['tag']:.1f}x.", "",
              "The store's aggregate query alone (in process, the server doing the GROUP BY): "
              + "; ".join(f"{e} rfm {t['rfm']:.3f} s, tag {t['tag']:.3f} s" for e, t in sql.items())
              + f"; PostgreSQL / DuckDB: rfm {sql['PostgreSQL']['rfm'] / duck['rfm']:.1f}x, "
              f"tag {sql['PostgreSQL']['tag'] / duck['tag']:.1f}x.", "",
              f"Four importers of different files at once on a fresh team store: "
              f"{conc[0]:.1f} s, exit codes {conc[1]}, {conc[2]:,} contacts stored; the same "
              f"files imported one after the other store {expected:,} "
              f"({'every row present' if conc[2] == expected else 'ROWS MISSING'}).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a throwaway server)")
    parser.add_argument("--write", action="store_true", help="rewrite RESULTS.md's section")
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory(prefix="bench_team_") as tmp:
        work = Path(tmp)
        data = work / "data"
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "datagen.py"), "--contacts",
                        str(args.contacts), "--out", str(data)], check=True,
                       stdout=subprocess.DEVNULL)
        if args.url:
            urls = [args.url, args.url]
        else:
            from tests.pg_server import start_server

            server = start_server()
            urls = [server.url(server.new_database()) for _ in range(2)]
        try:
            lite = engine_run(str(work / "crm.db"), data)
            pg = engine_run(urls[0], data)
            sql = {"SQLite": aggregate_times(str(work / "crm.db")),
                   "PostgreSQL": aggregate_times(urls[0])}
            duck = duckdb_times(work / "crm.db", date.fromisoformat(AS_OF), 3)
            parts = split(data / "contacts.csv", 4, work)
            conc = concurrent_imports(urls[1], parts)
            expected = sequential_count(work / "seq.db", parts)
        finally:
            if server is not None:
                server.stop()
    text = report(args.contacts, lite, pg, duck, conc, expected, sql)
    print(text)
    if args.write:
        intro = ("`python benchmarks/bench_team_store.py --contacts N --write`: datagen.py "
                 "(seed 7, ~10 orders per contact), each step a fresh CLI process, wall "
                 "seconds and the process's peak RSS; the local PostgreSQL 15 is the "
                 "throwaway test server (Unix socket, fsync off). The machine is shared: "
                 "compare the ratios.\n\n")
        write_section("team-store", "## Team store: SQLite and PostgreSQL in the same run\n\n"
                      + intro + text)


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
