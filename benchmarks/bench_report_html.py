"""`report html` against `report rfm` + `report churn` on the same store (the issue's budget:
at most twice their sum), and the size of the page.

    .venv/bin/python benchmarks/bench_report_html.py --scale 100k [--db STORE] [--data DIR]
        [--as-of 2026-10-31] [--repeat 3] [--write]

1. The store: --db (a plain store of datagen data, e.g. shared_store.py's; copied
   first), else datagen data (--data DIR, or generated) imported through the CLI. Then
   `tag` twice (a year apart, so the page has stage moves) and `audit` twice (a trend).
2. The CLI end to end (subprocess, Python start-up included), median of --repeat runs:
   `report rfm`, `report churn` (every customer, csv), and `report html` (which also
   scores the audit and runs the backtest one horizon before --as-of). Wall seconds and
   CPU seconds (the process and its children) of each, and the load average around them.

`--write` replaces the report-html section of benchmarks/RESULTS.md. Timings on a shared,
busy machine are noisy; compare the ratio measured in one run, and the CPU ratio.
`--keep DIR` leaves the prepared store (tagged, audited) in DIR for profiling.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import datagen  # noqa: E402
from _common import child_cpu_s, cpu_model, timed_cli as cli  # noqa: E402
from _results import kept_scales, write_section  # noqa: E402

SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "1M": 1_000_000}


def prepare(work: Path, *, contacts: int, store: Path | None, data: Path | None,
            as_of: date, setup_runs: str = "full") -> tuple[Path, dict[str, float]]:
    """A store with two tag runs and two audit runs (setup_runs "full"), one tag run as of
    as_of ("tag") or none ("none": the --db store is tagged already); setup timings."""
    db = work / "store.db"
    setup: dict[str, float] = {}
    if store is not None:
        shutil.copyfile(store, db)
    else:
        if data is None:
            data = work / "gen"
            datagen.generate(data, datagen.Params(contacts=contacts, seed=7))
        for kind in ("contacts", "orders", "interactions"):
            _, setup[f"import {kind}"] = cli(db, "import", kind, str(data / f"{kind}.csv"))
    days = {"full": (as_of - timedelta(days=365), as_of), "tag": (as_of,), "none": ()}
    for day in days[setup_runs]:
        _, setup[f"tag --as-of {day}"] = cli(db, "tag", "--as-of", day.isoformat())
        print(f"setup: tag --as-of {day} {setup[f'tag --as-of {day}']:.0f} s", file=sys.stderr,
              flush=True)
        if setup_runs == "full":
            _, setup[f"audit ({day})"] = cli(db, "audit", "--format", "json",
                                             "--as-of", as_of.isoformat())
    return db, setup


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, "a / b / c"."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


Times = dict[str, list[tuple[float, float]]]


def measure(db: Path, work: Path, *, as_of: date, repeat: int) -> Times:
    """(wall s, CPU s) of each command, `repeat` runs each, interleaved."""
    day = as_of.isoformat()
    commands = {
        "report rfm": ["report", "rfm", "--as-of", day, "--format", "csv"],
        "report churn": ["report", "churn", "--as-of", day, "--format", "csv"],
        "report html": ["report", "html", "-o", str(work / "report.html"), "--as-of", day],
    }
    times: Times = {name: [] for name in commands}
    for i in range(repeat):
        for name, args in commands.items():
            cpu = child_cpu_s()
            wall = cli(db, *args)[1]
            times[name].append((wall, child_cpu_s() - cpu))
            print(f"run {i + 1} {name}: {wall:.1f} s wall, {times[name][-1][1]:.1f} s CPU "
                  f"(load {loadavg()})", file=sys.stderr, flush=True)
    return times


def _ratio(med: dict[str, float]) -> float:
    budget = med["report rfm"] + med["report churn"]
    return med["report html"] / budget if budget else float("nan")


def summary(scale: str, times: Times, page_bytes: int, setup: dict[str, float], note: str,
            loads: tuple[str, str]) -> str:
    wall = {k: [w for w, _ in v] for k, v in times.items()}
    cpu = {k: [c for _, c in v] for k, v in times.items()}
    med_wall = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    runs = min(len(v) for v in times.values())
    uname = platform.uname()
    lines = [f"### {scale}: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_model()}, "
             f"Python {platform.python_version()}{note}", "",
             f"`{uname.system} {uname.release} {uname.machine}`, {os.cpu_count()} CPUs shared "
             f"with other jobs; {runs} run(s) of each command, interleaved; load average "
             f"(1/5/15 min) {loads[0]} before the runs, {loads[1]} after.", "",
             "| command | wall s, median | wall min-max s | CPU s, median | CPU min-max s |",
             "|---|---:|---:|---:|---:|"]
    for name in times:
        lines.append(f"| `{name}` | {med_wall[name]:.1f} | {min(wall[name]):.1f}-"
                     f"{max(wall[name]):.1f} | {med_cpu[name]:.1f} | {min(cpu[name]):.1f}-"
                     f"{max(cpu[name]):.1f} |")
    lines += ["", f"`report html` / (`report rfm` + `report churn`) = **{_ratio(med_wall):.2f}** "
              f"in wall time, **{_ratio(med_cpu):.2f}** in CPU time (target <= 2.0); "
              f"page {page_bytes / 1024:,.0f} KB (target < 2 MB).", "",
              "Setup (not timed above): " + (", ".join(f"{k} {v:.0f} s" for k, v in setup.items())
                                              or "none (the store was tagged before)")]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="100k", choices=sorted(SCALES))
    ap.add_argument("--db", type=Path, help="a plain store of datagen data (copied first)")
    ap.add_argument("--data", type=Path, help="reuse datagen output in this directory")
    ap.add_argument("--db-note", default="", help="said of the store in RESULTS.md")
    ap.add_argument("--as-of", type=date.fromisoformat, default=datagen.END)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--setup", choices=("full", "tag", "none"), default="full",
                    help="full: tag and audit a year apart, twice; tag: one tag run; none")
    ap.add_argument("--keep", type=Path, help="copy the prepared store and the page here")
    ap.add_argument("--write", action="store_true",
                    help="replace the report-html section of RESULTS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-html-") as tmp:
        work = Path(tmp)
        db, setup = prepare(work, contacts=SCALES[args.scale], store=args.db,
                            data=args.data, as_of=args.as_of, setup_runs=args.setup)
        before = loadavg()
        times = measure(db, work, as_of=args.as_of, repeat=args.repeat)
        loads = (before, loadavg())
        size = (work / "report.html").stat().st_size
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name in ("store.db", "report.html"):
                shutil.copyfile(work / name, args.keep / name)
    note = f" {args.db_note}" if args.db_note else ""
    text = summary(args.scale, times, size, setup, note, loads)
    print(text)
    if args.write:
        head = ("## report html\n\n`benchmarks/bench_report_html.py`: the page against "
                "`report rfm` + `report churn` on the same store.\n")
        kept = kept_scales("report-html", {args.scale})
        write_section("report-html", "\n\n".join([head, text, *kept]))


if __name__ == "__main__":
    main()
