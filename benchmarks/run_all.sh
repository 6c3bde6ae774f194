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
WORK="${BENCH_WORK:-${TMPDIR:-/tmp}/custdata-bench}"
DATA="$WORK/$SCALE"       # bench_import generates the data set here once (seed 7), then reuses it
step() { echo "== $* ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1 /proc/loadavg))" >&2; }
# bench SCRIPT ARGS...: announce, then run benchmarks/SCRIPT ARGS... (one line, so the two agree)
bench() { step "$@"; "$PY" "benchmarks/$1" "${@:2}"; }
start=$(date +%s)

bench bench_import.py --scale "$SCALE" --work "$WORK"
# Where the import time goes, stage by stage.
bench profile_import.py --scale "$SCALE" --work "$WORK" --write
# One plain store of that data set (contacts, orders, interactions), imported once; the
# benchmarks below copy or read it instead of importing 10M orders each.
STORE="$(bench shared_store.py "$DATA")"

bench bench_clean.py --scale "$SCALE"
bench bench_dedupe.py --scale "$SCALE" --data "$DATA" --db "$STORE" --write
# Public labelled lists (FEBRL3, FEBRL4, restaurants) through the CLI, beside splink.
bench bench_dedupe_real.py --write
bench bench_crypto.py --scale "$SCALE" --db "$STORE"
bench bench_segments.py --scale "$SCALE" --db "$STORE" --data "$DATA" \
    --db-note "(the shared store of benchmarks/shared_store.py)" --write
bench bench_churn.py --scale "$SCALE" --db "$STORE" --write
bench bench_audit.py --scale "$SCALE" --db "$STORE" --data "$DATA" --write
bench bench_report_html.py --scale "$SCALE" --db "$STORE" \
    --db-note "(the shared store of benchmarks/shared_store.py)" --write
echo "All benchmarks done in $(( ($(date +%s) - start) / 60 )) min. Results: benchmarks/RESULTS.md" >&2
