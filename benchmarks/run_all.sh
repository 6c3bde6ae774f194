#!/usr/bin/env bash
# Runs every benchmark at SCALE (100k by default, or 1m) and lets each one rewrite its
# own section of benchmarks/RESULTS.md (machine, date, medians with min-max, peak RSS).
# Usage: make bench            SCALE=1m make bench
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${SCALE:-100k}"
PY="${PYTHON:-python}"
# The reference for import budgets is the sqlite3 shell's .import: install it if missing.
if ! command -v sqlite3 >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null
    else
        echo "note: install Debian's sqlite3 for the .import reference (apt-get install sqlite3)" >&2
    fi
fi
for bench in import clean dedupe crypto; do          # these write RESULTS.md by default
    echo "== bench_${bench}.py --scale ${SCALE}" >&2
    "$PY" "benchmarks/bench_${bench}.py" --scale "$SCALE"
done
for bench in segments churn audit; do               # these write it with --write
    echo "== bench_${bench}.py --scale ${SCALE} --write" >&2
    "$PY" "benchmarks/bench_${bench}.py" --scale "$SCALE" --write
done
echo "Results: benchmarks/RESULTS.md" >&2
