#!/usr/bin/env bash
# Benchmarks of the hub. Usage: bench/run.sh <benchmark> [options]; details in bench/README.md.
set -euo pipefail

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-$bench_dir/../.venv/bin/python}"

usage() {
    echo "usage: $0 <benchmark> [options]   (<benchmark> --help for its options)"
    echo "benchmarks:"
    echo "  login   concurrent hub logins: XnatAuthenticator versus a blocking baseline"
    echo "  spawn   notebook start: XNAT launch through the hub versus a bare docker service"
    echo "  deploy  site.yml wall time: fresh deploy (images rebuilt) and idempotent re-run"
}

benchmark="${1:-}"
[ $# -gt 0 ] && shift
case "$benchmark" in
    login) exec "$python" "$bench_dir/login/benchmark.py" "$@" ;;
    spawn) exec "$python" "$bench_dir/spawn/benchmark.py" "$@" ;;
    deploy) exec "$python" "$bench_dir/deploy/benchmark.py" "$@" ;;
    -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac
