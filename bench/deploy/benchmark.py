"""Deploy time of site.yml: a fresh deploy (built images removed first) and the idempotent re-run.

1. playbooks/teardown.yml on the inventory (user data kept unless --remove-data);
2. unless --keep-images: the product's images (repository <namespace>/...) are removed from the
   engine, and with --remove-cache also the controller's download cache, so the images role
   builds everything again;
3. site.yml, timed: the fresh deploy (target: 10 minutes, as for `make demo`);
4. site.yml again, timed: the re-run (target: 60 s), which must report changed=0.

Prints both wall times, their ratio to the target and the re-run's PLAY RECAP totals. A failed
playbook fails the run (exit status 1, with the tail of its log). The site stays deployed.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "build" / "logs"
TARGET_FRESH = 600.0
TARGET_RERUN = 60.0
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class BenchError(Exception):
    pass


def playbook(inventory, playbook_path, log_name, *extra):
    """Run one playbook with its output in build/logs/<log_name>; return (seconds, recap totals)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / log_name
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", inventory, playbook_path, *extra]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    with log.open("w") as out:
        rc = subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, check=False).returncode
    seconds = time.monotonic() - start
    text = log.read_text()
    if rc != 0:
        tail = "\n".join(text.splitlines()[-30:])
        raise BenchError(f"{playbook_path} failed (exit {rc}) after {seconds:.0f} s; log {log}:\n{tail}")
    totals = {"ok": 0, "changed": 0, "unreachable": 0, "failed": 0}
    for _host, ok, changed, unreachable, failed in RECAP.findall(text):
        totals["ok"] += int(ok)
        totals["changed"] += int(changed)
        totals["unreachable"] += int(unreachable)
        totals["failed"] += int(failed)
    return seconds, totals


def product_images(namespace):
    out = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    return sorted(ref for ref in out if ref.startswith(namespace + "/") and not ref.endswith(":<none>"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", default="inventories/local", help="inventory (default: the local site)")
    parser.add_argument("--namespace", default="xnat-jupyterhub", help="repository prefix of the product's images")
    parser.add_argument("--keep-images", action="store_true", help="keep built images: time the deploy without builds")
    parser.add_argument("--remove-cache", action="store_true",
                        help="also remove the controller's download cache (~/.cache/xnat-jupyterhub)")
    parser.add_argument("--remove-data", action="store_true",
                        help="teardown also removes the hub database and the stand-in's data (never the archive)")
    args = parser.parse_args()

    teardown_vars = ["-e", "teardown_remove_data=true"] if args.remove_data else []
    print(f"teardown of {args.inventory} (data {'removed' if args.remove_data else 'kept'})", flush=True)
    teardown_s, _teardown_totals = playbook(args.inventory, "playbooks/teardown.yml", "bench-deploy-teardown.log",
                                            *teardown_vars)
    removed = []
    if not args.keep_images:
        removed = product_images(args.namespace)
        if removed:
            subprocess.run(["docker", "image", "rm", "--force", *removed], capture_output=True, check=True)
        if args.remove_cache:
            shutil.rmtree(Path.home() / ".cache" / "xnat-jupyterhub", ignore_errors=True)
    print(f"teardown {teardown_s:.0f} s; images removed: {', '.join(removed) or 'none'}", flush=True)

    print("site.yml, fresh deploy ...", flush=True)
    fresh_s, fresh = playbook(args.inventory, "site.yml", "bench-deploy-fresh.log")
    print("site.yml, re-run ...", flush=True)
    rerun_s, rerun = playbook(args.inventory, "site.yml", "bench-deploy-rerun.log")

    print()
    print(f"{'run':<14}{'wall s':>9}{'target s':>10}{'ratio':>8}{'changed':>9}")
    print(f"{'fresh deploy':<14}{fresh_s:>9.0f}{TARGET_FRESH:>10.0f}{fresh_s / TARGET_FRESH:>8.2f}"
          f"{fresh['changed']:>9}")
    print(f"{'re-run':<14}{rerun_s:>9.0f}{TARGET_RERUN:>10.0f}{rerun_s / TARGET_RERUN:>8.2f}{rerun['changed']:>9}")
    if args.keep_images:
        builds = "without image builds (--keep-images)"
    elif args.remove_cache:
        builds = "with every image built, from a cold download cache"
    else:
        builds = "with every image built"
    print(f"(ratio = wall time / target; 1.00 or less meets it. The fresh deploy ran {builds}.)")
    if rerun["changed"]:
        raise BenchError(f"the re-run reported changed={rerun['changed']}; see {LOG_DIR / 'bench-deploy-rerun.log'}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as err:
        print(f"bench deploy: {err}", file=sys.stderr)
        sys.exit(1)
