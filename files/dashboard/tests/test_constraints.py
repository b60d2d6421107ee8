"""The dashboard image's pins agree with the notebook image it is built on."""

import re
from pathlib import Path

FILES = Path(__file__).resolve().parents[2]
# jhsingle-native-proxy needs simpervisor 0.4 and lives in a venv of its own; the notebook's
# jupyter-server-proxy needs simpervisor 1.x.
OWN_VENV_ONLY = {"simpervisor"}


def pins(path: Path) -> dict[str, str]:
    result = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, version = line.split("==")
            result[re.sub(r"[-_.]+", "-", name).lower()] = version
    return result


def test_shared_packages_have_the_notebook_pins():
    notebook = pins(FILES / "notebook" / "constraints.txt")
    dashboard = pins(FILES / "dashboard" / "constraints.txt")
    differ = {n: (notebook[n], dashboard[n]) for n in notebook.keys() & dashboard.keys() - OWN_VENV_ONLY
              if notebook[n] != dashboard[n]}
    assert not differ
    # the frameworks are installed next to the notebook's packages: the notebook's set is all there
    assert notebook.keys() - dashboard.keys() <= {"jupyter-server-proxy", "jupyter-resource-usage"}


def test_every_requirement_is_pinned_in_the_constraints():
    dashboard = pins(FILES / "dashboard" / "constraints.txt")
    for name in ("requirements-apps.txt", "requirements-proxy.txt"):
        for package, version in pins(FILES / "dashboard" / name).items():
            assert dashboard.get(package) == version, (name, package)
