#!/usr/bin/env bash
# The collection tools (galaxy-importer, antsibull-changelog, ansible-builder) live in a virtualenv of
# their own, build/tools/collection, made on demand from requirements/collection-tools.txt with the
# pinned set in requirements/collection-tools-constraints.txt, and made again when either file changes.
#   scripts/collection-tools.sh            make or refresh the virtualenv; prints its bin directory
#   scripts/collection-tools.sh --freeze   resolve the requirements afresh and rewrite the pinned set
set -euo pipefail
cd "$(dirname "$0")/.."
venv=build/tools/collection
reqs=requirements/collection-tools.txt
pins=requirements/collection-tools-constraints.txt
python=${PYTHON:-python3}
pip_opts=(--quiet --disable-pip-version-check)

if [ "${1:-}" = "--freeze" ]; then
  tmp=build/tools/freeze
  rm -rf "$tmp"
  "$python" -m venv "$tmp"
  "$tmp/bin/pip" install "${pip_opts[@]}" --upgrade pip==25.3
  "$tmp/bin/pip" install "${pip_opts[@]}" -r "$reqs"
  { echo "# Full resolved set for $reqs (pip freeze). Regenerate: scripts/collection-tools.sh --freeze"
    "$tmp/bin/pip" freeze --exclude-editable; } > "$pins"
  rm -rf "$tmp"
  echo "wrote $pins"
  exit 0
fi

stamp=$(cat "$reqs" "$pins" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$stamp" ]; then
  echo "making $venv from $reqs" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install "${pip_opts[@]}" --upgrade pip==25.3 >&2
  "$venv/bin/pip" install "${pip_opts[@]}" -r "$reqs" -c "$pins" >&2
  echo "$stamp" > "$venv/.installed"
fi
echo "$PWD/$venv/bin"
