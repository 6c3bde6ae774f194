"""Throughput and memory of `custdata import`, next to the sqlite3 shell's `.import`.

    .venv/bin/python benchmarks/bench_import.py --scale 100k [--runs 3] [--work DIR]
        [--skip-orders] [--skip-again] [--skip-clean] [--profile] [--no-write]

Generates (once, cached in --work, default $TMPDIR/custdata-bench/<scale>) 10k, 100k or
1M contacts with ~10 orders each using benchmarks/datagen.py (seed 7), then, per run:

  0. `custdata --version`                      (start-up cost: module imports only)
  1. `custdata import contacts contacts.csv`   into a fresh store (keys normalized,
                                               values stored as read)
  2. `custdata import contacts contacts.csv`   again (every row unchanged; --skip-again)
  3. `custdata import contacts --clean ...`    into a second fresh store (keys, then every
                                               field cleaned in the same transaction;
                                               --skip-clean)
  4. `custdata import orders orders.csv`       (customers matched by external_id;
                                               --skip-orders)
and, as the reference, the sqlite3 shell's `.mode csv` + `.import` of the same files into
a fresh database. Each step is a separate process: wall time, CPU time (the process and
the children it reaped), and its own peak RSS (GNU time's %M, else os.wait4's rusage). Prints and records the median and min-max
over the runs, rows/s, and the ratio to `.import`; replaces its own section of
benchmarks/RESULTS.md (between `<!-- BEGIN import -->` and `<!-- END import -->`),
keeping the subsections of scales not re-measured. `--profile` also runs one contacts
import under cProfile and prints the functions with the most own time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import datagen  # noqa: E402
from _common import cpu_model, remove_db  # noqa: E402

SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
from _results import kept_scales, write_section  # noqa: E402 (script-relative)

SUMMARY = re.compile(r"read (\d+), inserted (\d+), updated (\d+), unchanged (\d+), rejected (\d+)")


def custdata_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("custdata")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "custdata"]


TIME = "/usr/bin/time"
RSS_LINE = re.compile(r"^BENCH_MAXRSS_KB=(\d+)$", re.MULTILINE)


def run(cmd: list[str], *, stdin: str | None = None, cwd: Path | None = None,
        count_lines: bool = False) -> dict:
    """Run one process; its wall time, CPU time, peak RSS (MiB) and stderr (and with
    `count_lines`, how many lines it printed on stdout). A failure exits the benchmark.

    Peak RSS comes from GNU time's %M when /usr/bin/time exists (the measured process is
    forked from the tiny `time`, so the RSS of this Python parent is never counted), else
    from os.wait4's rusage.
    """
    wrapped = [TIME, "-f", "BENCH_MAXRSS_KB=%M", *cmd] if os.path.exists(TIME) else cmd
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp, \
            tempfile.TemporaryFile() as out:
        if stdin is not None:
            inp.write(stdin.encode())
            inp.seek(0)
        t0 = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdin=inp, stderr=err, cwd=cwd,
                                stdout=out if count_lines else subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
        out.seek(0)
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: out.read(1 << 20), b""))
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text[-2000:]}")
    found = RSS_LINE.search(text)
    rss_kb = int(found.group(1)) if found else usage.ru_maxrss
    # CPU of the process and every child it reaped (import's read-ahead child included):
    # on a shared machine a steadier figure than wall time.
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": rss_kb / 1024,
            "stderr": text, "lines": lines}


def ensure_data(work: Path, contacts: int, seed: int) -> dict:
    """Generate the data set unless `work` already holds the same one."""
    params = datagen.Params(contacts=contacts, seed=seed)
    stamp = work / "params.json"
    if stamp.exists():
        old = json.loads(stamp.read_text(encoding="utf-8"))
        if old.get("params") == json.loads(json.dumps(asdict(params))):
            return old
    work.mkdir(parents=True, exist_ok=True)
    # In a child process, so that this parent stays small.
    done = run([sys.executable, str(HERE / "datagen.py"), "--contacts", str(contacts),
                "--seed", str(seed), "--out", str(work)])
    print(f"generated {contacts} contacts in {done['wall']:.1f} s, peak RSS "
          f"{done['rss_mib']:.0f} MiB", file=sys.stderr)
    return json.loads(stamp.read_text(encoding="utf-8"))


def sqlite_import(db: Path, csv_path: Path, table: str) -> dict:
    script = f".mode csv\n.import '{csv_path}' {table}\n"
    return run(["sqlite3", str(db)], stdin=script)


def one_run(work: Path, k: int, *, orders: bool = True, again: bool = True,
            clean: bool = True) -> dict[str, dict]:
    cd = custdata_cmd()
    db = work / f"run{k}.db"
    ref = work / f"ref{k}.db"
    remove_db(db)
    remove_db(ref)
    out = {
        "startup": run([*cd, "--version"]),
        "contacts": run([*cd, "--db", str(db), "import", "contacts", str(work / "contacts.csv")]),
        "sqlite_contacts": sqlite_import(ref, work / "contacts.csv", "contacts"),
    }
    if again:
        out["contacts_again"] = run([*cd, "--db", str(db), "import", "contacts",
                                     str(work / "contacts.csv")])
    if clean:  # into a second fresh store: keys, then clean of every imported contact
        cleaned = work / f"run{k}-clean.db"
        out["contacts_clean"] = run([*cd, "--db", str(cleaned), "import", "contacts", "--clean",
                                     str(work / "contacts.csv")])
        remove_db(cleaned)
    tables = ["contacts"]
    if orders:
        out["orders"] = run([*cd, "--db", str(db), "import", "orders", str(work / "orders.csv")])
        out["sqlite_orders"] = sqlite_import(ref, work / "orders.csv", "orders")
        tables.append("orders")
    for step in ("contacts", "contacts_again", "contacts_clean", "orders"):
        if step in out:
            m = SUMMARY.search(out[step]["stderr"])
            out[step]["counts"] = tuple(map(int, m.groups())) if m else None
    out["db_mib"] = {"custdata": db.stat().st_size / 2**20, "sqlite3": ref.stat().st_size / 2**20}
    with sqlite3.connect(ref) as conn:
        out["sqlite_rows"] = {t: conn.execute(f"select count(*) from {t}").fetchone()[0]
                              for t in tables}
    remove_db(db)
    remove_db(ref)
    return out


def profile(work: Path, top: int = 30) -> str:
    """cProfile of one `import contacts` into a fresh store: the top functions by own time."""
    db = work / "profile.db"
    prof = work / "import.prof"
    Path(db).unlink(missing_ok=True)
    run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "custdata", "--db", str(db),
         "import", "contacts", str(work / "contacts.csv")])
    import io
    import pstats

    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    Path(db).unlink(missing_ok=True)
    return buf.getvalue()


def machine() -> dict[str, str]:
    cpu = cpu_model()
    try:
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{mem_kb / 2**20:.1f} GiB"
    except OSError:
        mem = "unknown"
    shell = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True).stdout
    try:
        from custdata import __version__ as version
    except ImportError:
        version = "?"
    return {"uname": " ".join(platform.uname()), "nproc": str(os.cpu_count()), "cpu": cpu,
            "memory": mem, "python": platform.python_version(), "sqlite3 shell":
            shell.split()[0] if shell else "?", "sqlite library": sqlite3.sqlite_version,
            "custdata": version}


def _stat(values: list[float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–" \
           f"{fmt.format(max(values))})"


def summarize(runs: list[dict], data: dict, scale: str) -> tuple[str, dict]:
    n_contacts, n_orders = data["contacts"], data["order_rows"]
    rows = {"startup": 0, "contacts": n_contacts, "contacts_again": n_contacts,
            "contacts_clean": n_contacts, "orders": n_orders,
            "sqlite_contacts": n_contacts, "sqlite_orders": n_orders}
    label = {"startup": "`custdata --version` (start-up: imports only)",
             "contacts": "`custdata import contacts` (new store)",
             "contacts_again": "`custdata import contacts` again (all unchanged)",
             "contacts_clean": "`custdata import contacts --clean` (new store)",
             "orders": "`custdata import orders`",
             "sqlite_contacts": "`sqlite3` `.import` contacts.csv",
             "sqlite_orders": "`sqlite3` `.import` orders.csv"}
    ref = {"contacts": "sqlite_contacts", "contacts_again": "sqlite_contacts",
           "contacts_clean": "sqlite_contacts", "orders": "sqlite_orders"}
    figures: dict = {}
    lines = ["| step | rows | wall s, median (min–max) | CPU s, median | rows/s (median) | "
             "peak RSS MiB, median (min–max) | × sqlite3 .import (wall) | × (CPU) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for step in [s for s in label if s in runs[0]]:
        walls = [r[step]["wall"] for r in runs]
        rss = [r[step]["rss_mib"] for r in runs]
        med = statistics.median(walls)
        ratio = med / statistics.median([r[ref[step]]["wall"] for r in runs]) if step in ref \
            else None
        cpu = statistics.median([r[step]["cpu"] for r in runs])
        cpu_ratio = cpu / statistics.median([r[ref[step]]["cpu"] for r in runs]) \
            if step in ref else None
        figures[step] = {"wall_median": med, "wall_min": min(walls), "wall_max": max(walls),
                         "rows_per_s": rows[step] / med if rows[step] else None,
                         "rss_median_mib": statistics.median(rss),
                         "ratio": ratio, "cpu_median": cpu, "cpu_ratio": cpu_ratio}
        lines.append(f"| {label[step]} | {rows[step]:,} | {_stat(walls)} | {cpu:.2f} | "
                     f"{f'{rows[step] / med:,.0f}' if rows[step] else ''} | "
                     f"{_stat(rss, '{:.0f}')} | "
                     f"{'' if ratio is None else f'{ratio:.1f}×'} | "
                     f"{'' if cpu_ratio is None else f'{cpu_ratio:.1f}×'} |")
    first = runs[0]
    said = "; ".join(f"{name} `{_fmt_counts(first[step]['counts'])}`" for step, name in
                     (("contacts", "contacts"), ("contacts_again", "again"),
                      ("contacts_clean", "with --clean"), ("orders", "orders")) if step in first)
    stored = " and ".join(f"{n:,} {t}" for t, n in first["sqlite_rows"].items())
    db = first["db_mib"]
    lines += ["", f"Summary lines of the first run: {said}. Database size after the run: "
              f"custdata {db['custdata']:.0f} MiB, sqlite3 .import {db['sqlite3']:.0f} MiB "
              f"(sqlite3 stored {stored})." + ("" if "orders" in first else
                                               " Orders were not imported at this scale.")]
    return "\n".join(lines), figures


def _fmt_counts(c) -> str:
    if not c:
        return "(no summary line)"
    return f"read {c[0]}, inserted {c[1]}, updated {c[2]}, unchanged {c[3]}, rejected {c[4]}"


def section(scale_results: dict[str, tuple[str, dict, dict]], runs: int) -> str:
    m = machine()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = ["## Import (`benchmarks/bench_import.py`)", "",
           f"Measured {now} on `{m['uname']}`; {m['nproc']} CPUs ({m['cpu']}), {m['memory']} "
           f"RAM; Python {m['python']}, sqlite3 shell {m['sqlite3 shell']}, SQLite library "
           f"{m['sqlite library']}, custdata {m['custdata']}. Each step runs as a "
           "fresh process into a fresh database file; the machine is shared with other jobs, "
           "so absolute times are noisy: compare the ratios, which are measured in the same "
           "run. Data: `benchmarks/datagen.py` (seed 7; messy Chinese/Western contacts with "
           "~15 % duplicated people, ~10 orders per contact). Budgets (issue 9): import "
           "contacts <= 3×, import contacts --clean <= 12× and import orders <= 3× the sqlite3 "
           "shell's `.import` of the same file; peak RSS of import contacts <= 200 MiB. A big "
           "file is parsed by a second process while the first writes when a core is idle "
           "(`parallel.ReadAhead`), so the CPU column counts both processes; the `× (CPU)` "
           "ratio compares CPU seconds, the steadier figure on a shared machine."]
    for scale, (table, _, data) in scale_results.items():
        out += ["", f"### {scale}: {data['contacts']:,} contacts, {data['order_rows']:,} order "
                f"rows ({now}, {runs} run{'s' if runs > 1 else ''})", "", table]
    for kept in kept_scales("import", set(scale_results)):
        out += ["", kept]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="100k", help="10k, 100k, 1m, or several: 100k,1m")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "custdata-bench")
    ap.add_argument("--profile", action="store_true", help="also cProfile one contacts import")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    ap.add_argument("--skip-orders", action="store_true",
                    help="measure the contacts imports only (orders take long at 1m)")
    ap.add_argument("--skip-again", action="store_true",
                    help="skip the second (all unchanged) contacts import")
    ap.add_argument("--skip-clean", action="store_true",
                    help="skip `import contacts --clean` into a second fresh store")
    args = ap.parse_args(argv)
    if shutil.which("sqlite3") is None:
        raise SystemExit("the sqlite3 shell is missing: apt-get install sqlite3 (Debian)")
    results = {}
    for scale in args.scale.split(","):
        work = args.work / scale
        data = ensure_data(work, SCALES[scale], args.seed)
        runs = []
        for k in range(args.runs):
            runs.append(one_run(work, k, orders=not args.skip_orders, again=not args.skip_again,
                                clean=not args.skip_clean))
            r = runs[-1]
            print(f"[{scale} run {k + 1}/{args.runs}] " + ", ".join(
                f"{s} {r[s]['wall']:.1f}s {r[s]['rss_mib']:.0f}MiB"
                for s in ("startup", "contacts", "contacts_again", "contacts_clean", "orders",
                          "sqlite_contacts", "sqlite_orders") if s in r), file=sys.stderr)
        table, figures = summarize(runs, data, scale)
        results[scale] = (table, figures, data)
        print(table)
        (work / "figures.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
        if args.profile:
            print(profile(work))
    if not args.no_write:
        write_section("import", section(results, args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
