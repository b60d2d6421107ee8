#!/usr/bin/env bash
# shellcheck disable=SC2317  # layer functions are called indirectly, by name
# Runs the test layers in order, one after another (the machine has two cores), and prints a
# summary with each layer's wall time. Exit status is non-zero if any layer failed.
#   tests/run.sh            every layer (static and unit at once, then the others in order)
#   tests/run.sh unit hub   only the named layers
#   tests/run.sh --list     the layer names
#   tests/run.sh --parallel static unit   the named layers at once, each into build/logs/<layer>.log
#                           (make check: the two layers that need no Docker, one per core)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg" PYTHONDONTWRITEBYTECODE=1
mkdir -p build/logs

# pytest exits 5 when it collects no tests; that is a failure here, like any other non-zero code.
layer_static()   { tests/static/run.sh; }
layer_unit()     { pytest -q -p no:cacheprovider files/hub/tests files/notebook/tests files/dashboard/tests files/xnat_standin/tests tests/unit; }
# The images, then the dashboard image run as the hub runs it (each framework's launch-to-rendered time printed).
layer_images()   { ansible-playbook tests/images.yml && pytest -q -s -p no:cacheprovider tests/images; }
layer_modules()  { tests/integration/modules/run.sh; }
layer_hub()      { pytest -q -p no:cacheprovider tests/integration/hub; }
layer_haproxy()  { tests/haproxy/run.sh; }
layer_argspecs() { tests/argspecs/run.sh; }
# Molecule as users type it: its host-like containers start from the base image the images layer
# built (build/images.json), which the scenarios find themselves.
layer_molecule_default()   { molecule test -s default; }
layer_molecule_multinode() { molecule test -s multinode; }
layer_molecule_site()      { molecule test -s site; }
# The local site as a user deploys it, then the browser tests against it.
layer_e2e() { ansible-playbook -i inventories/local site.yml && pytest -q -p no:cacheprovider tests/e2e; }
# Faults, restarts and hostile input against the deployed local site (deployed first if it is not up).
layer_reliability() {
  curl -ksf -o /dev/null https://localhost/jupyterhub/hub/health || ansible-playbook -i inventories/local site.yml || return
  pytest -q -p no:cacheprovider tests/reliability
}

LAYERS=(static unit images hub modules haproxy argspecs molecule_default molecule_multinode molecule_site e2e reliability)

if [ "${1:-}" = "--list" ]; then printf '%s\n' "${LAYERS[@]}"; exit 0; fi
parallel=0; [ "${1:-}" = "--parallel" ] && { parallel=1; shift; }
selected=("$@"); together=()
if [ "$parallel" -eq 1 ]; then
  together=("${selected[@]}"); selected=()
elif [ "${#selected[@]}" -eq 0 ]; then
  # Every layer: the two that need no Docker at once (one per core), then the rest one after another.
  together=(static unit); selected=("${LAYERS[@]:2}")
fi
for layer in "${together[@]}" "${selected[@]}"; do
  if ! declare -F "layer_$layer" >/dev/null; then
    echo "unknown layer: $layer (known: ${LAYERS[*]})" >&2; exit 2
  fi
done

results=(); failed=0; start_all=$SECONDS
if [ "${#together[@]}" -gt 0 ]; then
  # Each layer in the background with its own log and timing file; the logs are printed after, whole.
  pids=()
  for layer in "${together[@]}"; do
    ( t0=$SECONDS; "layer_$layer" >"build/logs/$layer.log" 2>&1; rc=$?
      echo "$rc $((SECONDS - t0))" >"build/logs/$layer.status" ) &
    pids+=($!)
  done
  echo "=== layers ${together[*]} at once (logs: build/logs/<layer>.log) ==="
  wait "${pids[@]}"
  for layer in "${together[@]}"; do
    echo "=== layer $layer ==="
    cat "build/logs/$layer.log"
    read -r rc dt <"build/logs/$layer.status"; rm -f "build/logs/$layer.status"
    if [ "$rc" -eq 0 ]; then results+=("PASS  $layer  ${dt}s"); else results+=("FAIL  $layer  ${dt}s (exit $rc)"); failed=1; fi
  done
fi
for layer in "${selected[@]}"; do
  echo "=== layer $layer ==="
  t0=$SECONDS
  "layer_$layer" 2>&1 | tee "build/logs/$layer.log"
  rc=${PIPESTATUS[0]}
  dt=$((SECONDS - t0))
  if [ "$rc" -eq 0 ]; then results+=("PASS  $layer  ${dt}s"); else results+=("FAIL  $layer  ${dt}s (exit $rc)"); failed=1; fi
done

echo
echo "=== summary ($((SECONDS - start_all))s) ==="
printf '%s\n' "${results[@]}"
exit $failed
