"""A Panel dashboard: the number and total size of the files XNAT mounted for the launch."""

import os
from pathlib import Path

import panel as pn

root = Path(os.environ.get("XNAT_DATA", "/data"))
files = [path for path in root.rglob("*") if path.is_file()]
size = sum(path.stat().st_size for path in files)
pn.pane.Markdown(f"Panel dashboard: {len(files)} files, {size} bytes under {root}").servable()
