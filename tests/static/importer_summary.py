"""Prints what galaxy-importer found in the collection and fails on any warning or error it logged
(a role without a README, an ansible-lint finding, a missing dependency file, ...).

Usage: importer_summary.py IMPORTER_LOG IMPORTER_RESULT_JSON
"""

import collections
import json
import sys
from pathlib import Path


def main():
    log = Path(sys.argv[1]).read_text(encoding="utf-8").splitlines()
    result = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    kinds = collections.Counter(item["content_type"] for item in result["contents"])
    print(f"{log[0] if log else 'galaxy-importer'}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))
    documented = len(result["docs_blob"]["contents"])
    print(f"requires_ansible {result.get('requires_ansible')}; documentation for {documented} items")
    problems = [line for line in log if line.startswith(("WARNING", "ERROR", "CRITICAL"))]
    for line in problems:
        print(line)
    print(f"{len(problems)} warnings or errors")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
