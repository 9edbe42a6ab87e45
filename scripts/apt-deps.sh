#!/usr/bin/env bash
# Install the Debian packages the tests and the demo lab need (root), only when missing.
set -euo pipefail
pkgs=(pebble bind9 bind9-utils bind9-dnsutils nginx-light openssl openssh-client debootstrap systemd-container prometheus rsync shellcheck
      golang-go golang-github-fsnotify-fsnotify-dev golang-google-grpc-dev chromium-headless-shell fonts-dejavu-core)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "apt packages missing: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing apt packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts some daemons on install; the lab runs its own on loopback high ports.
for svc in named bind9 nginx prometheus prometheus-node-exporter; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl stop "$svc" || true; fi
done
