#!/usr/bin/env bash
# Debian packages that `make demo` and `make test` need on this machine. Installs only what is missing.
set -euo pipefail

# pebble: the ACME test server the haproxy layer obtains and renews certificates from, on loopback.
packages=(docker.io debootstrap debian-archive-keyring haproxy pebble rsync git curl ca-certificates
          python3-venv chromium openssl shellcheck)
# A machine may already carry node and npm from elsewhere; those serve as well as Debian's.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}. Run as root or install them first." >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
