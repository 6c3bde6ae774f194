"""Speed of `custdata audit` on generator data (benchmarks/datagen.py).

    .venv/bin/python benchmarks/bench_audit.py --scale 100k [--repeat 3] [--write]
        [--data DIR] [--db PATH] [--orders-per-contact 10]

Generates contacts, orders and interactions (or reuses --data DIR), imports them into a
fresh store (or reuses --db PATH when it exists: then nothing is generated, and the
audit is as of the generator's default last day), then times:

- `custdata audit --format json` end to end in a subprocess (median, min-max of
  --repeat runs, peak RSS of the child), which is what cron runs;
- its two halves in-process, wall and CPU: the SQL aggregates (`store.audit.audit_facts`)
  and the validity pass (each distinct stored value judged once by
  `validate.count_invalid`, on a process pool when cores are idle).

Wall time on a shared machine depends on the other jobs; the CPU seconds of the audit
process and its workers do much less. The 1-minute load average before and after the
runs is written with the figures.

`--write` replaces the audit section of benchmarks/RESULTS.md. The machine is shared:
the figures are noisy; compare them with the budget (<= 60 s at 1M contacts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
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
from _common import child_cpu_s, own_cpu_s  # noqa: E402

from custdata.api.audit import CONSENT_YES  # noqa: E402
from custdata.audit import DUPLICATE_KEYS, VALIDITY_FIELDS, AuditSnapshot, validity_facts  # noqa: E402
from custdata.config import default_config  # noqa: E402
from custdata.store import open_store  # noqa: E402
from custdata.validate import count_invalid  # noqa: E402

SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "1M": 1_000_000}
CUSTDATA = [sys.executable, "-m", "custdata"]
BUDGET_S = 60.0  # at 1M contacts (issue 9)


def sh(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def child_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def build_store(data: Path, db: Path) -> dict[str, float]:
    """Import the generated files (timed, for context only)."""
    times = {}
    for kind in ("contacts", "orders", "interactions"):
        start = time.perf_counter()
        sh([*CUSTDATA, "--db", str(db), "--quiet", "import", kind, str(data / f"{kind}.csv")])
        times[kind] = time.perf_counter() - start
        print(f"import {kind}: {times[kind]:.1f} s", file=sys.stderr)
    return times


def time_cli(db: Path, repeat: int, as_of: str) -> tuple[list[float], list[float], dict]:
    """Wall and CPU seconds (the child and its worker processes) of each audit run."""
    runs, cpu, doc = [], [], {}
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), child_cpu_s()
        result = sh([*CUSTDATA, "--db", str(db), "audit", "--as-of", as_of, "--format", "json"],
                    env={**os.environ, "CUSTDATA_KEY_FILE": ""})
        runs.append(time.perf_counter() - start)
        cpu.append(child_cpu_s() - cpu_start)
        doc = json.loads(result.stdout)
        print(f"audit: {runs[-1]:.1f} s wall, {cpu[-1]:.1f} s CPU, score {doc['score']}",
              file=sys.stderr)
    return runs, cpu, doc


def time_halves(db: Path, as_of: date) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds of the SQL aggregates and of the validity pass."""
    cfg = default_config()
    store = open_store(db)
    try:
        start, cpu_start = time.perf_counter(), own_cpu_s()
        snap = AuditSnapshot(**store.audit.audit_facts(
            as_of=as_of, stale_days=90, retention_days=1825,
            sensitive_columns=cfg.get("crypto", "columns"), consent_yes=CONSENT_YES,
            duplicate_keys=DUPLICATE_KEYS))
        sql = (time.perf_counter() - start, own_cpu_s() - cpu_start)
        checked = {f: snap.contacts - snap.empty[f] for f in VALIDITY_FIELDS}
        start, cpu_start = time.perf_counter(), own_cpu_s()
        validity_facts(store.audit.audit_values, checked=checked, unreadable=(),
                       count_invalid=count_invalid, region="CN", dayfirst=False)
        validity = (time.perf_counter() - start, own_cpu_s() - cpu_start)
    finally:
        store.close()
    return {"sql": sql, "validity": validity}


def write_results(scale: int, text: str) -> None:
    """Replace this scale's part of the audit section, keeping the other scales' parts."""
    path = HERE / "RESULTS.md"
    begin, end = "<!-- BEGIN audit -->", "<!-- END audit -->"
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    parts: dict[int, str] = {}
    if begin in old and end in old:
        section = old[old.index(begin) + len(begin): old.index(end)]
        for chunk in section.split("\n### ")[1:]:
            head = chunk.split(" ", 1)[0].replace(",", "")
            if head.isdigit():
                parts[int(head)] = "### " + chunk.strip()
    parts[scale] = text.strip()
    body = "\n\n".join(parts[k] for k in sorted(parts))
    block = f"{begin}\n## audit\n\n{body}\n{end}"
    if begin in old and end in old:
        new = old[: old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="100k", help="10k, 100k, 1m or a number of contacts")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path, help="reuse generated CSV files in DIR")
    ap.add_argument("--db", type=Path, help="reuse (or build and keep) the store at PATH")
    ap.add_argument("--orders-per-contact", type=float, default=10.0)
    ap.add_argument("--write", action="store_true", help="replace the RESULTS.md section")
    args = ap.parse_args(argv)
    n = SCALES.get(args.scale) or int(args.scale)
    with tempfile.TemporaryDirectory(prefix="bench_audit_") as tmp:
        data = args.data or Path(tmp) / "data"
        db = args.db or Path(tmp) / "bench.db"
        # A reused store needs no files: only their last day, the generator's default.
        end_day = datagen.Params().end
        if not db.exists() and not (data / "contacts.csv").exists():
            start = time.perf_counter()
            datagen.generate(data, datagen.Params(
                contacts=n, orders_per_contact=args.orders_per_contact))
            print(f"generated in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        if (data / "params.json").exists():
            end_day = json.loads((data / "params.json").read_text())["params"]["end"]
        imports = {}
        if not db.exists():
            imports = build_store(data, db)
        load_before = os.getloadavg()[0]
        runs, cpu, doc = time_cli(db, args.repeat, end_day)
        halves = time_halves(db, date.fromisoformat(end_day))
        load_after = os.getloadavg()[0]
        rss = child_rss_mib()
    median = statistics.median(runs)
    parts = ", ".join(f"{k} {v['score']}" for k, v in doc["parts"].items())
    uname = " ".join(platform.uname())
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"### {doc['contacts']:,} contacts",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, `{uname}`, {nproc} cores "
        "(shared with other jobs: figures are noisy).",
        f"Data: `benchmarks/datagen.py` with {doc['contacts']:,} contacts, {doc['orders']:,} "
        f"orders ({args.orders_per_contact:g} per contact), {doc['interactions']:,} "
        f"interactions; as of {end_day}.",
        "",
        "| step | median wall s | min-max wall s | median CPU s (all processes) |",
        "|---|---:|---:|---:|",
        f"| `custdata audit --format json` (end to end, {len(runs)} runs) | {median:.1f} | "
        f"{min(runs):.1f}-{max(runs):.1f} | {statistics.median(cpu):.1f} |",
        f"| of which SQL aggregates (`store.audit.audit_facts`, one run) | "
        f"{halves['sql'][0]:.1f} | | {halves['sql'][1]:.1f} |",
        f"| of which validity (`validate.count_invalid` on each distinct value, one run) | "
        f"{halves['validity'][0]:.1f} | | {halves['validity'][1]:.1f} |",
        "",
        f"Peak RSS of the largest child process: {rss:.0f} MiB. Score {doc['score']} "
        f"({parts}).",
        f"Load average (1 min): {load_before:.1f} before the runs, {load_after:.1f} after. "
        "Wall times come from a shared machine; the CPU column (the audit process and its "
        "validation workers) is the steadier figure. The validity pass uses a process pool "
        "only when cores are idle (`parallel.idle_workers`: above a load average of 1.5 on "
        "2 cores it runs in the audit process); then the wall time is about the CPU time "
        "over the share of a core the audit gets. On an idle 2-core machine it is about "
        "the SQL part plus somewhat more than half the validity CPU (the audit process "
        "reads the values, its workers judge them).",
        f"Budget: <= {BUDGET_S:.0f} s at 1M contacts; "
        + ("import for context: " + ", ".join(f"{k} {v:.0f} s" for k, v in imports.items())
           if imports else "store reused."),
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_results(doc["contacts"], text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
