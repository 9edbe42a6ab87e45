#!/usr/bin/env bash
# Benchmarks against peers, side by side in one run. Not part of `make test`.
#   bash bench/run.sh [expiry|endpoint_info_vs_get_certificate|certwatch|acme|renew|ssh|drill] [extra args for acme]
# The peers live in a venv of the benchmarks' own (.venv-bench): the `ansible` package for
# community.crypto/general, and certbot + certbot-dns-rfc2136 (which pin their own `acme`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
bvenv=${BENCH_VENV:-$root/.venv-bench}
if [ ! -f "$bvenv/.stamp" ] || [ "$root/bench/requirements.txt" -nt "$bvenv/.stamp" ]; then
  python3 -m venv "$bvenv"
  "$bvenv/bin/pip" install -q --disable-pip-version-check 'ansible>=12,<13' \
    -r "$root/requirements.txt" -r "$root/bench/requirements.txt"
  touch "$bvenv/.stamp"
fi
which=${1:-all}
[ $# -gt 0 ] && shift
for bench in "$root"/bench/bench_*.py; do
  name=$(basename "$bench" .py); name=${name#bench_}
  if [ "$which" = all ] || [ "$which" = "$name" ]; then
    echo "== $name"
    "$bvenv/bin/python" "$bench"
  fi
done
if [ "$which" = all ] || [ "$which" = acme ]; then
  echo "== acme (acme_dns01 vs certbot and community.crypto, same lab)"
  # ours and the community.crypto playbook run from the project venv (acme, dnspython, aliyun SDK);
  # certbot from the bench venv.
  "$venv/bin/python" "$root/bench/acme_vs_peers.py" --certbot "$bvenv/bin/certbot" "$@"
fi
if [ "$which" = all ] || [ "$which" = renew ]; then
  echo "== renew (renew.yml over 20 hosts / 4 name sets vs a naive per-host loop; no-op run; planning at scale)"
  "$venv/bin/python" "$root/bench/renew_fleet.py"
fi
if [ "$which" = all ] || [ "$which" = ssh ]; then
  echo "== ssh (renew.yml over 20 and 50 SSH hosts (systemd-nspawn), forks 10 and 25, beside the naive loop; ansible.cfg settings)"
  "$venv/bin/python" "$root/bench/renew_ssh.py"
fi
if [ "$which" = all ] || [ "$which" = drill ]; then
  echo "== drill (a revocation drill: every ARI window in the past; renew.yml over 8 hosts and the agent with 8 certificates, until all are replaced and proved)"
  "$venv/bin/python" "$root/bench/drill.py"
fi
