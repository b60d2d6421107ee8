#!/usr/bin/env bash
# Renders the haproxy role's template for each case in tests/haproxy/cases/ and
# checks it with "haproxy -c", routes requests through it (session_cookie.py), and
# applies the role with ACME certificates from pebble on loopback (acme.py).
# Installs haproxy and pebble from apt if they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export ANSIBLE_CONFIG="$PWD/ansible.cfg"

for tool in haproxy pebble; do
  if ! command -v "$tool" >/dev/null; then
    echo "installing $tool"
    apt-get install -y -q "$tool" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "$tool" >/dev/null; }
  fi
done
haproxy -v | sed -n 1p  # sed reads to the end: head would close the pipe early (SIGPIPE under pipefail)

failed=0
for case in tests/haproxy/cases/*.yml; do
  name=$(basename "$case" .yml)
  if out=$(ansible-playbook -i localhost, tests/haproxy/render.yml -e "@$case" 2>&1); then
    echo "PASS $name"
  else
    echo "FAIL $name"; echo "$out" | tail -25; failed=1
  fi
done
python3 tests/haproxy/session_cookie.py || failed=1
python3 tests/haproxy/acme.py || failed=1
exit $failed
