"""Puts tests/lib (the deployed local site as tests reach it) on the import path of every test layer."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))
