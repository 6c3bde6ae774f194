#!/bin/sh
# Memory and time of `custdata export contacts` as a table at a terminal (issue 19).
#
#   benchmarks/bench_export_table.sh NAME SRC STORE
#
# Runs the export of STORE with the custdata found in SRC (a src/ folder: this tree's,
# or another checkout's for a before/after) at a 120x40 pseudo-terminal made by
# script(1), so that stdout is a TTY as at a person's screen, and writes GNU time's
# report (maximum RSS, CPU, wall) to NAME.time in the current folder.
set -eu
name=$1 src=$2 store=$3
py=${PYTHON:-python3}
script -qc "stty cols 120 rows 40; PYTHONPATH=$src /usr/bin/time -v -o $PWD/$name.time \
$py -m custdata --db $store export contacts" /dev/null > /dev/null
grep -E "Maximum resident|User time|System time|Elapsed" "$name.time"
