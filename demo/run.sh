#!/usr/bin/env bash
# make demo: audit a demo fleet of generated certificates and print the report.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
out=${DEMO_OUT:-$root/demo/out}
rm -rf "$out" && mkdir -p "$out"
"$venv/bin/python" "$root/demo/make_fleet.py" "$out"
export ANSIBLE_COLLECTIONS_PATH=$root/.build/collections ANSIBLE_NOCOLOR=1
"$venv/bin/ansible-playbook" -i "$out/inventory.ini" "$root/playbooks/audit.yml" \
  -e audit_hosts=fleet -e "audit_report_dir=$out/report" > "$out/audit.log" || { cat "$out/audit.log"; exit 1; }
sed -n '/PLAY RECAP/,$p' "$out/audit.log"
echo "== fleet certificate report (ansible-playbook playbooks/audit.yml), soonest expiry first"
cat "$out/report/report.txt"
echo
echo "Full run: $out/audit.log   Reports: $out/report/report.json  $out/report/report.html  $out/report/report.txt"
echo
# Part 2: ansible-playbook ghostguard.certs.renew over 7 local hosts in 2 groups (one a self-reloading
# Go service, reload: {watch: true}), then the audit.
"$venv/bin/python" "$root/demo/renew_demo.py" "$out"
