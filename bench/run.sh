#!/usr/bin/env bash
# Benchmarks against peers, side by side in one run. Not part of `make test`.
#   bash bench/run.sh [expiry]      (default: every benchmark present)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bvenv=${BENCH_VENV:-$root/.venv-bench}
# The peers (community.crypto, community.general, ...) come from the `ansible` package, in a venv of
# the benchmark's own so the project's venv stays minimal.
if [ ! -x "$bvenv/bin/ansible-playbook" ] || [ ! -f "$bvenv/.stamp" ]; then
  python3 -m venv "$bvenv"
  "$bvenv/bin/pip" install -q --disable-pip-version-check 'ansible>=12,<13' -r "$root/requirements.txt"
  touch "$bvenv/.stamp"
fi
which=${1:-all}
for bench in "$root"/bench/bench_*.py; do
  name=$(basename "$bench" .py); name=${name#bench_}
  if [ "$which" = all ] || [ "$which" = "$name" ]; then
    echo "== $name"
    "$bvenv/bin/python" "$bench"
  fi
done
