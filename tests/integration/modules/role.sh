#!/usr/bin/env bash
# The xnat_registration role against the running stand-in: converge with -vvv (and no secret in that
# output), converge again with changed=0, verify from XNAT, converge in check mode with changed=0,
# remove environments and a framework that dashboards use, then bad input.
#   role.sh VARS_FILE WORK_DIR   (both made by run.sh)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vars=$1 work=$2
python=$(dirname "$(command -v ansible-playbook)")/python

umask 077
role_vars=$work/role-vars.yml
"$python" - > "$role_vars" <<'PY'
import secrets
print("---")
print('xnat_test_role_service_password: "R-%s"' % secrets.token_urlsafe(18))
print('xnat_test_role_token: "R-%s"' % secrets.token_urlsafe(24))
PY

failed=0
fail() { echo "FAIL: $*"; failed=1; }

echo "--- converge (-vvv)"
ansible-playbook -vvv -i "$here/inventory.yml" "$here/role_converge.yml" -e "@$vars" -e "@$role_vars" > "$work/converge1.log" 2>&1
rc=$?
grep -A3 "PLAY RECAP" "$work/converge1.log"
[ "$rc" -eq 0 ] || { tail -n 60 "$work/converge1.log"; fail "first converge exited $rc"; }
grep -Eq "localhost +: ok=[0-9]+ +changed=[1-9]" "$work/converge1.log" || fail "first converge changed nothing"

echo "--- no secret in the -vvv output"
# Every secret the run handled: the ones it set, the admin password, and the values it replaced.
"$python" - "$vars" "$role_vars" > "$work/secrets" <<'PY'
import sys, yaml
names = ("xnat_test_admin_password", "xnat_test_service_password", "xnat_test_token",
         "xnat_test_role_service_password", "xnat_test_role_token")
values = {}
for path in sys.argv[1:]:
    values.update(yaml.safe_load(open(path)))
for name in names:
    print(values[name])
PY
[ "$(wc -l < "$work/secrets")" -eq 5 ] || fail "expected five secrets to look for"
leaked() {
  while IFS= read -r secret; do
    if grep -qF -- "$secret" "$1"; then fail "a secret appears in $(basename "$1")"; fi
  done < "$work/secrets"
  echo "checked $(wc -l < "$work/secrets") secrets against $(wc -l < "$1") lines of $(basename "$1")"
}
leaked "$work/converge1.log"

echo "--- converge again"
ansible-playbook -i "$here/inventory.yml" "$here/role_converge.yml" -e "@$vars" -e "@$role_vars" > "$work/converge2.log" 2>&1
rc=$?
grep -A3 "PLAY RECAP" "$work/converge2.log"
[ "$rc" -eq 0 ] || { tail -n 60 "$work/converge2.log"; fail "second converge exited $rc"; }
grep -Eq "localhost +: ok=[0-9]+ +changed=0 " "$work/converge2.log" || fail "second converge reported changes"

echo "--- verify"
ansible-playbook -i "$here/inventory.yml" "$here/role_verify.yml" -e "@$vars" -e "@$role_vars" || fail "verification failed"

echo "--- converge in check mode"
ansible-playbook --check -i "$here/inventory.yml" "$here/role_converge.yml" -e "@$vars" -e "@$role_vars" > "$work/converge-check.log" 2>&1
rc=$?
grep -A3 "PLAY RECAP" "$work/converge-check.log"
[ "$rc" -eq 0 ] || { tail -n 60 "$work/converge-check.log"; fail "converge in check mode exited $rc"; }
grep -Eq "localhost +: ok=[0-9]+ +changed=0 " "$work/converge-check.log" || fail "converge in check mode reported changes"

echo "--- removal order: dashboards removed and moved before their environments and framework go"
ansible-playbook -i "$here/inventory.yml" "$here/role_removal.yml" -e "@$vars" -e "@$role_vars" || fail "removal order test failed"

echo "--- bad input (and no secret in its failure output)"
ansible-playbook -i "$here/inventory.yml" "$here/role_bad_input.yml" -e "@$vars" -e "@$role_vars" > "$work/bad_input.log" 2>&1
rc=$?
grep -A3 "PLAY RECAP" "$work/bad_input.log"
[ "$rc" -eq 0 ] || { tail -n 60 "$work/bad_input.log"; fail "bad input test failed"; }
leaked "$work/bad_input.log"

exit "$failed"
