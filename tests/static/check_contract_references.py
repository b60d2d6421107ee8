"""Every "contract §N" and "defect N" the project cites exists in docs/xnat-contract.md.

Prints one line per citation that points nowhere and exits 1 if there is any.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "xnat-contract.md"
SECTION = re.compile(r"§(\d+(?:\.\d+)*)")
DEFECT = re.compile(r"\bdefects? (\d+)(?: and (\d+))?")


def main():
    text = CONTRACT.read_text(encoding="utf-8")
    sections = set(re.findall(r"^#{2,4} (\d+(?:\.\d+)*)\.? ", text, re.M))
    defects_part = text.split("## 5.", 1)[1].split("\n## 6.", 1)[0]
    defects = set(re.findall(r"^(\d+)\. ", defects_part, re.M))
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    missing = []
    for name in files:
        path = ROOT / name
        if path == CONTRACT or path.suffix not in (".py", ".md", ".yml", ".j2", ".js", ".html", ".sh", ""):
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        for number, line in enumerate(lines, 1):
            cited = [(f"§{s}", s in sections) for s in SECTION.findall(line)]
            cited += [(f"defect {d}", d in defects) for pair in DEFECT.findall(line) for d in pair if d]
            missing += [f"{name}:{number}: {what} is not in docs/xnat-contract.md" for what, ok in cited if not ok]
    for line in missing:
        print(line)
    print(f"contract references: {'broken' if missing else 'all found'}"
          f" ({len(sections)} sections, {len(defects)} defects)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
