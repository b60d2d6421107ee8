"""Each inventory's hosts are exactly those its hosts.yml declares.

Ansible reads every file inside an inventory directory; a stray file there (a generated password,
say) would silently become hosts, and its content would be printed as host names.
"""
import json
import pathlib
import subprocess
import sys

import yaml


def declared_hosts(node):
    hosts = set((node or {}).get("hosts") or {})
    for child in ((node or {}).get("children") or {}).values():
        hosts |= declared_hosts(child)
    return hosts


failures = []
for inventory in sorted(p for p in pathlib.Path("inventories").iterdir() if p.is_dir() and not p.name.startswith(".")):
    declared = declared_hosts(yaml.safe_load((inventory / "hosts.yml").read_text())["all"])
    listing = subprocess.run(["ansible-inventory", "-i", str(inventory), "--list"],
                             capture_output=True, text=True, check=True)
    found = (set(json.loads(listing.stdout)["_meta"]["hostvars"])
             | set(json.loads(listing.stdout).get("ungrouped", {}).get("hosts", [])))
    if found != declared:
        failures.append(f"{inventory}: {len(found - declared)} host(s) not declared in hosts.yml"
                        " (stray files in the inventory directory?)")
    else:
        print(f"{inventory}: {len(found)} host(s), all declared in hosts.yml")
if failures:
    print("\n".join(failures))
    sys.exit(1)
