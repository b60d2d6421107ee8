"""Links exactly the collections galaxy.yml depends on into DEST/ansible_collections, each from the
copy the pinned ansible package installed, and fails if one is missing or outside its declared range.

Usage: collection_deps.py GALAXY_YML DEST
"""

import json
import sys
from pathlib import Path

import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements

import ansible_collections


def main():
    galaxy_yml, dest = Path(sys.argv[1]), Path(sys.argv[2])
    wanted = yaml.safe_load(galaxy_yml.read_text(encoding="utf-8")).get("dependencies") or {}
    roots = [Path(p) for p in ansible_collections.__path__]
    problems = []
    for fqcn, spec in sorted(wanted.items()):
        namespace, name = fqcn.split(".")
        found = [root / namespace / name for root in roots if (root / namespace / name / "MANIFEST.json").is_file()]
        if not found:
            problems.append(f"{fqcn}: not installed")
            continue
        version = json.loads((found[0] / "MANIFEST.json").read_text(encoding="utf-8"))["collection_info"]["version"]
        if not meets_requirements(version, str(spec)):
            problems.append(f"{fqcn}: {version} does not meet {spec}")
            continue
        link = dest / "ansible_collections" / namespace / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(found[0])
        print(f"dependency {fqcn} {version} ({spec})")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
