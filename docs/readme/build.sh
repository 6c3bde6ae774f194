#!/usr/bin/env bash
# Assembles README.md from the sections in docs/readme/ (in name order).
set -euo pipefail
cd "$(dirname "$0")"
first=1
for section in $(ls [0-9]*.md | sort); do
    [ "$first" = 1 ] || echo
    cat "$section"
    first=0
done > ../../README.md
