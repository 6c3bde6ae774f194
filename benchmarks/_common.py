"""Small pieces every benchmark needs: the CPU model, and a timed custdata call."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
CUSTDATA = [sys.executable, "-m", "custdata"]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "unknown"."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def timed_cli(db: Path, *args: str) -> tuple[str, float]:
    """Run `custdata --quiet --db DB ARGS...`; its stdout and wall seconds. Exits on failure."""
    start = time.perf_counter()
    done = subprocess.run([*CUSTDATA, "--quiet", "--db", str(db), *args], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    if done.returncode != 0:
        raise SystemExit(f"custdata {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout, time.perf_counter() - start
