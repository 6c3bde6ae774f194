#!/usr/bin/env bash
# Assembles README.md from the sections in docs/readme/ (in name order).
set -euo pipefail
cd "$(dirname "$0")"
cat $(ls [0-9]*.md | sort) > ../../README.md
