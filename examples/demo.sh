#!/usr/bin/env bash
# The main job on the bundled examples, end to end, in a fresh store under .demo/.
# Run through `make demo` (which puts .venv/bin on PATH) or with custdata installed.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .demo && mkdir -p .demo
export CUSTDATA_DB=.demo/crm.db NO_COLOR=1
step() { if [ -t 1 ]; then printf '\n\033[1m$ %s\033[0m\n' "$*"; else printf '\n$ %s\n' "$*"; fi; "$@"; }
has() { custdata "$@" --help >/dev/null 2>&1; }

step custdata init --region CN
step custdata import contacts examples/contacts.csv --source demo --rejects .demo/rejects.csv
step custdata import contacts examples/contacts_excel_gb18030.csv
step custdata import orders examples/orders.csv
step custdata import interactions examples/interactions.csv
echo; echo "rejected rows are in .demo/rejects.csv:"; head -n 4 .demo/rejects.csv
if has clean; then step custdata clean; fi
if has validate; then custdata validate --format csv > .demo/problems.csv || true
  echo; echo "validate: $(($(wc -l < .demo/problems.csv) - 1)) problems (first ones):"
  head -n 6 .demo/problems.csv; fi
if has dedupe; then step custdata dedupe --format table | head -n 25; fi
if has tag; then step custdata tag --as-of 2026-11-01; fi
if has report rfm; then step custdata report rfm --as-of 2026-11-01 --format table; fi
if has report summary; then step custdata report summary --format table; fi
if has report churn; then step custdata report churn --as-of 2026-11-01 --top 10 --format table; fi
if has audit; then step custdata audit --format table || true; fi
step custdata show C0000001 --format table
step custdata export contacts --where city=上海 --format table | head -n 12
step custdata log --format table
