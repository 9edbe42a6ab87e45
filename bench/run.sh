#!/usr/bin/env bash
# acme_dns01 against certbot and community.crypto on one lab; certbot lives in its own venv (.venv-bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
bench_venv=$root/.venv-bench
if [ ! -x "$bench_venv/bin/certbot" ]; then
  python3 -m venv "$bench_venv"
  "$bench_venv/bin/pip" install -q --disable-pip-version-check -r "$root/bench/requirements.txt"
fi
exec "$venv/bin/python" "$root/bench/acme_vs_peers.py" --certbot "$bench_venv/bin/certbot" "$@"
