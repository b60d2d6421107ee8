#!/usr/bin/env bash
# Each playbook in tests/argspecs/cases/ gives a role one wrong setting. The
# role must stop with the message on the case's "# expect:" line, and before
# any task that changes something: the run is in check mode, and the recap
# must show changed=0 (nothing would have changed) and failed=1.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

failed=0
for case in tests/argspecs/cases/*.yml; do
  name=$(basename "$case" .yml)
  expect=$(sed -n 's/^# expect: //p' "$case")
  out=$(ansible-playbook -i tests/argspecs/inventory.yml --check "$case" 2>&1); rc=$?
  recap=$(grep -E '^localhost +:' <<<"$out" || true)
  problems=()
  [ "$rc" -ne 0 ] || problems+=("the playbook succeeded")
  [ -n "$expect" ] || problems+=("the case has no '# expect:' line")
  grep -qF -- "$expect" <<<"$out" || problems+=("message not found: $expect")
  grep -qE 'changed=0 .*failed=1 ' <<<"$recap" || problems+=("recap is not changed=0 failed=1: $recap")
  if [ "${#problems[@]}" -eq 0 ]; then
    echo "PASS $name"
  else
    echo "FAIL $name"; printf '  %s\n' "${problems[@]}"; echo "$out" | tail -15 | sed 's/^/  | /'; failed=1
  fi
done
# All wrong site values of site_values.yml at once through playbooks/validate.yml: one line each, no
# argument spec dumped, nothing changed.
extra=$(python3 -c 'import json, sys, yaml; print(json.dumps({c["var"]: c["value"] for c in yaml.safe_load(open(sys.argv[1]))}))' tests/argspecs/site_values.yml)
out=$(ansible-playbook -i inventories/example playbooks/validate.yml -e vault_xnat_admin_password=placeholder -e "$extra" 2>&1); rc=$?
problems=()
[ "$rc" -ne 0 ] || problems+=("the validate playbook accepted the wrong values")
while IFS= read -r expect; do
  grep -qF -- "$expect" <<<"$out" || problems+=("line not found: $expect")
done < <(python3 -c 'import sys, yaml; print("\n".join(c["expect"] for c in yaml.safe_load(open(sys.argv[1]))))' tests/argspecs/site_values.yml)
! grep -q "argument_spec_data\|validate_args_context" <<<"$out" || problems+=("the output dumps an argument spec")
grep -qE 'changed=0 .*failed=1 ' <<<"$out" || problems+=("the recap is not changed=0 failed=1")
if [ "${#problems[@]}" -eq 0 ]; then
  echo "PASS site_values ($(python3 -c 'import sys, yaml; print(len(yaml.safe_load(open(sys.argv[1]))))' tests/argspecs/site_values.yml) wrong values, one line each)"
else
  echo "FAIL site_values"; printf '  %s\n' "${problems[@]}"; echo "$out" | tail -15 | sed 's/^/  | /'; failed=1
fi
exit $failed
