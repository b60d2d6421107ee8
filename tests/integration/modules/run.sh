#!/usr/bin/env bash
# Runs the XNAT module and xnat_registration role tests against the XNAT stand-in on loopback.
# Starts the stand-in on a free 127.0.0.1 port with a fresh data directory, runs every playbook in
# order (or only the ones named: run.sh xnat_user errors), stops the stand-in, and exits non-zero
# if anything failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root" || exit 1
export PATH="$root/.venv/bin:$PATH" ANSIBLE_CONFIG="$root/ansible.cfg" PYTHONDONTWRITEBYTECODE=1
python=$root/.venv/bin/python

PLAYBOOKS=(xnat_user xnat_jupyterhub_preferences xnat_hardware xnat_compute_environment xnat_compute_constraint xnat_dashboard errors role)
selected=("$@"); [ "${#selected[@]}" -eq 0 ] && selected=("${PLAYBOOKS[@]}")

work=$(mktemp -d /tmp/xnat-modules-test.XXXXXX)
chmod 700 "$work"
pids=()
# shellcheck disable=SC2317  # only called by the EXIT trap
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
secret() { "$python" -c 'import secrets; print("T-" + secrets.token_urlsafe(18))'; }

port=$(free_port)
closed_port=$(free_port)
silent_port=$(free_port)
admin_password=$(secret)
printf '%s\n' "$admin_password" > "$work/admin-password"

PYTHONPATH="$root/files/xnat_standin/src" "$python" -m xnat_standin --listen "127.0.0.1:$port" \
  --data-dir "$work/data" --admin-password-file "$work/admin-password" --fault-injection \
  >"$work/standin.log" 2>&1 &
pids+=($!)

# A socket that accepts connections (the kernel completes them) and never answers: the read timeout case.
"$python" -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); time.sleep(3600)' "$silent_port" &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS -o /dev/null -u "admin:$admin_password" "http://127.0.0.1:$port/xapi/users/admin/enabled" 2>/dev/null && break
  sleep 0.2
done
if ! curl -fsS -o /dev/null -u "admin:$admin_password" "http://127.0.0.1:$port/xapi/users/admin/enabled"; then
  echo "the XNAT stand-in did not come up; its log:"; cat "$work/standin.log"; exit 1
fi

# Secrets reach the playbooks through a 0600 vars file, never the command line.
umask 077
cat > "$work/vars.yml" <<VARS
---
xnat_test_url: http://127.0.0.1:$port
xnat_test_admin_password: "$admin_password"
xnat_test_service_password: "$(secret)"
xnat_test_token: "$(secret)"
xnat_test_closed_url: http://127.0.0.1:$closed_port
xnat_test_silent_url: http://127.0.0.1:$silent_port
VARS

failed=0
for name in "${selected[@]}"; do
  echo "=== $name ==="
  if [ "$name" = role ]; then
    "$here/role.sh" "$work/vars.yml" "$work" || failed=1
  else
    ansible-playbook -i "$here/inventory.yml" "$here/$name.yml" -e "@$work/vars.yml" || failed=1
  fi
done

if grep -q "Traceback" "$work/standin.log"; then
  echo "the XNAT stand-in logged a traceback:"; cat "$work/standin.log"; failed=1
fi
[ "$failed" -eq 0 ] && echo "all XNAT module tests passed" || echo "XNAT module tests FAILED"
exit "$failed"
