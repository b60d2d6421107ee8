#!/usr/bin/env bash
# Static checks: yamllint, ruff, mypy, ansible-lint (production profile), argument specs vs defaults,
# ansible-doc for every plugin; then on the built collection: playbooks by FQCN, galaxy-importer, the changelog,
# the execution environment definition and ansible-test sanity (no ignore files).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

echo "--- yamllint"
yamllint -s .

echo "--- ruff (ruff.toml: every Python file in the repository)"
ruff check --no-cache .

echo "--- mypy (mypy.ini: the hub and the stand-in, every function typed)"
mypy --no-incremental

echo "--- ansible-lint (production profile)"
ansible-lint --offline -q

echo "--- argument specs"
python tests/static/check_argument_specs.py

echo "--- hub settings: declared once, the hub role agrees"
python tests/static/check_hub_settings.py

echo "--- contract references"
python tests/static/check_contract_references.py

echo "--- inventories: declared hosts only, variables valid for every role"
python tests/inventories/check_hosts.py
ansible-playbook -i inventories/local playbooks/validate.yml >/dev/null
echo "inventories/local: variables valid"
ansible-playbook -i inventories/example playbooks/validate.yml -e vault_xnat_admin_password=placeholder >/dev/null
echo "inventories/example: variables valid"

echo "--- ansible-doc"
for type in module lookup; do
  dir=plugins/${type}s; [ "$type" = lookup ] && dir=plugins/lookup
  for f in "$dir"/*.py; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .py); [ "$name" = __init__ ] && continue
    out=$(ansible-doc -t "$type" "xnat_jupyterhub.deploy.$name")
    grep -q "xnat_jupyterhub.deploy.$name" <<<"$out" || { echo "ansible-doc did not render $type $name"; exit 1; }
    echo "rendered $type xnat_jupyterhub.deploy.$name"
  done
done

echo "--- the built collection"
# Outside the checkout: inside a git-ignored directory ansible-test would skip every target.
work=$(mktemp -d /tmp/xnat-jupyterhub-collection.XXXXXX)
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
tarball=$(echo "$work"/xnat_jupyterhub-deploy-*.tar.gz)
ansible-galaxy collection install --force --no-deps -p "$work/collections" "$tarball" >/dev/null
installed=$work/collections/ansible_collections/xnat_jupyterhub/deploy
echo "built $(basename "$tarball"): $(tar tzf "$tarball" | grep -vc '/$') files, $(du -k "$tarball" | cut -f1) KiB"
# Exactly the dependencies galaxy.yml declares, each from the pinned ansible package, at a version galaxy.yml allows.
python "$root/tests/static/collection_deps.py" galaxy.yml "$work/deps"

echo "--- playbooks by FQCN from the installed collection (not the checkout)"
fqcn=(env ANSIBLE_COLLECTIONS_PATH="$work/collections:$work/deps" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false)
for pb in validate site; do
  out=$("${fqcn[@]}" ansible-playbook -i inventories/local "xnat_jupyterhub.deploy.$pb" --syntax-check)
  grep -qx "playbook: $installed/playbooks/$pb.yml" <<<"$out" || { echo "$out"; echo "xnat_jupyterhub.deploy.$pb did not resolve to $installed"; exit 1; }
  echo "xnat_jupyterhub.deploy.$pb: syntax ok ($installed/playbooks/$pb.yml)"
done
# validate only reads values; it runs for real.
"${fqcn[@]}" ansible-playbook -i inventories/local xnat_jupyterhub.deploy.validate >/dev/null
echo "xnat_jupyterhub.deploy.validate: inventories/local valid"

echo "--- galaxy-importer (tests/static/galaxy-importer.cfg: no ansible-test, no Docker; ansible-lint offline)"
tools=$(scripts/collection-tools.sh)
# The importer's ansible-lint finds the dependencies on its sys.path (it sets ANSIBLE_COLLECTIONS_PATH itself).
(cd "$work" && PATH="$tools:$PATH" PYTHONPATH="$work/deps" GALAXY_IMPORTER_CONFIG="$root/tests/static/galaxy-importer.cfg" \
  "$tools/python" -m galaxy_importer.main "$tarball") >"$work/importer.log" 2>&1 || { cat "$work/importer.log"; echo "galaxy-importer failed"; exit 1; }
python "$root/tests/static/importer_summary.py" "$work/importer.log" "$work/importer_result.json"

echo "--- changelog (antsibull-changelog lint; CHANGELOG.md is what generate writes)"
"$tools/antsibull-changelog" lint
"$tools/antsibull-changelog" generate --output "$work/CHANGELOG.md" --output-format md
diff -u CHANGELOG.md "$work/CHANGELOG.md" || { echo "CHANGELOG.md is not what antsibull-changelog generate writes"; exit 1; }
echo "changelogs/ lint-clean, CHANGELOG.md up to date"

echo "--- execution environment (ansible-builder create: the build context only, no image)"
mkdir -p "$work/ee/build/collection"
cp "$tarball" "$work/ee/build/collection/"
cp execution-environment.yml "$work/ee/"
(cd "$work/ee" && "$tools/ansible-builder" create -f execution-environment.yml -c context >/dev/null)
test -f "$work/ee/context/_build/collections/$(basename "$tarball")" || { echo "the EE context lacks the collection"; exit 1; }
echo "execution-environment.yml: build context written"

echo "--- ansible-test sanity (built collection, no ignore files)"
if ls tests/sanity/ignore-*.txt >/dev/null 2>&1; then echo "sanity ignore files are not allowed"; exit 1; fi
cd "$installed"
# ansible-test bootstraps pip in its virtualenvs from a script it would download; provide ours.
pip_version=$(python - <<'PY'
import re, ansible_test, pathlib
src = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
mkdir -p ~/.ansible/test/cache
cp "$root/tests/static/pip_bootstrap.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
ansible-test sanity --venv --python 3.11 --color no | tee "$work/sanity.log"
# A run that tested nothing is not a pass.
if grep -q "All targets skipped" "$work/sanity.log"; then echo "ansible-test sanity skipped every target"; exit 1; fi
