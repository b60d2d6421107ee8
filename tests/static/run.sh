#!/usr/bin/env bash
# Static checks: yamllint, ruff, mypy, ansible-lint (production profile), argument specs vs defaults,
# ansible-doc for every plugin, and ansible-test sanity on the built collection (no ignore files).
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

echo "--- ansible-test sanity (built collection, no ignore files)"
if ls tests/sanity/ignore-*.txt >/dev/null 2>&1; then echo "sanity ignore files are not allowed"; exit 1; fi
# Outside the checkout: inside a git-ignored directory ansible-test would skip every target.
sanity_dir=$(mktemp -d /tmp/xnat-jupyterhub-sanity.XXXXXX)
trap 'rm -rf "$sanity_dir"' EXIT
ansible-galaxy collection build --force --output-path "$sanity_dir" . >/dev/null
ansible-galaxy collection install --force --no-deps -p "$sanity_dir/collections" "$sanity_dir"/xnat_jupyterhub-deploy-*.tar.gz >/dev/null
cd "$sanity_dir/collections/ansible_collections/xnat_jupyterhub/deploy"
# ansible-test bootstraps pip in its virtualenvs from a script it would download; provide ours.
pip_version=$(python - <<'PY'
import re, ansible_test, pathlib
src = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
mkdir -p ~/.ansible/test/cache
cp "$root/tests/static/pip_bootstrap.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
ansible-test sanity --venv --python 3.11 --color no | tee "$sanity_dir/sanity.log"
# A run that tested nothing is not a pass.
if grep -q "All targets skipped" "$sanity_dir/sanity.log"; then echo "ansible-test sanity skipped every target"; exit 1; fi
