"""The notebook image's entrypoint, run as a process the way tini runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

ENTRYPOINT = Path(__file__).resolve().parent.parent / "entrypoint"
SHOW_ENV = (sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))")


def run(tmp_path, secrets=None, raw=None, command=SHOW_ENV, home=None):
    path = tmp_path / "notebook-env.json"
    if secrets is not None:
        path.write_text(json.dumps(secrets))
    if raw is not None:
        path.write_text(raw)
    env = {"PATH": os.environ["PATH"], "NOTEBOOK_SECRETS_FILE": str(path), "HOME": str(home or tmp_path)}
    return subprocess.run([sys.executable, str(ENTRYPOINT), *command], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_secrets_become_environment_variables(tmp_path):
    result = run(tmp_path, {"JUPYTERHUB_API_TOKEN": "t0k", "XNAT_PASS": "p@ss"})
    assert result.returncode == 0, result.stderr
    env = json.loads(result.stdout)
    assert env["JUPYTERHUB_API_TOKEN"] == "t0k" and env["XNAT_PASS"] == "p@ss"
    assert env["JUPYTER_RUNTIME_DIR"] == f"/tmp/jupyter-runtime-{os.getuid()}"


def test_without_a_secrets_file_the_command_still_runs(tmp_path):
    result = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "JUPYTERHUB_API_TOKEN" not in json.loads(result.stdout)


def test_malformed_secrets_stop_the_start(tmp_path):
    for raw in ("{not json", json.dumps(["a"]), json.dumps({"A": 1})):
        result = run(tmp_path, raw=raw)
        assert result.returncode != 0
        assert "notebook-entrypoint:" in result.stderr
        assert result.stdout == ""


def test_unwritable_home_is_reported(tmp_path):
    result = run(tmp_path, home="/nonexistent/home")
    assert result.returncode == 0
    assert "HOME '/nonexistent/home' is not writable" in result.stderr


def test_exit_status_of_the_command_is_kept(tmp_path):
    assert run(tmp_path, command=[sys.executable, "-c", "raise SystemExit(7)"]).returncode == 7


def run_with(tmp_path, **env):
    base = {"PATH": os.environ["PATH"], "NOTEBOOK_SECRETS_FILE": str(tmp_path / "none.json"),
            "HOME": str(tmp_path / "home"), "NOTEBOOK_LAB_OVERRIDES": str(tmp_path / "lab" / "overrides.json")}
    (tmp_path / "home").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, str(ENTRYPOINT), "true"], env={**base, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_data_shows_in_the_workspace_as_a_link(tmp_path):
    data, root = tmp_path / "data", tmp_path / "workspace"
    (data / "projects").mkdir(parents=True)
    root.mkdir()
    for start in (1, 2):  # a second start keeps the link
        result = run_with(tmp_path, XNAT_DATA=str(data), JUPYTERHUB_ROOT_DIR=str(root))
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert os.readlink(root / "xnat-data") == str(data), start
    # A server without data removes the link it would show broken; the user's own entries are never touched.
    data.rename(tmp_path / "gone")
    assert run_with(tmp_path, XNAT_DATA=str(data), JUPYTERHUB_ROOT_DIR=str(root)).returncode == 0
    assert not os.path.lexists(root / "xnat-data")
    (tmp_path / "gone").rename(data)
    (root / "xnat-data").write_text("the user's own notes")
    result = run_with(tmp_path, XNAT_DATA=str(data), JUPYTERHUB_ROOT_DIR=str(root))
    assert result.returncode == 0 and "is not XNAT's data" in result.stderr
    assert (root / "xnat-data").read_text() == "the user's own notes"


def test_without_xnat_data_or_with_a_relative_one_nothing_is_linked(tmp_path):
    for value in ("", "data", "../data"):
        assert run_with(tmp_path, XNAT_DATA=value).returncode == 0
        assert not os.path.lexists(tmp_path / "home" / "xnat-data")


def test_jupyterlab_help_menu_leads_to_xnat(tmp_path):
    result = run_with(tmp_path, XNAT_PUBLIC_URL="https://xnat.example.org/")
    assert result.returncode == 0, result.stderr
    overrides = json.loads((tmp_path / "lab" / "overrides.json").read_text())
    menu = overrides["@jupyterlab/mainmenu-extension:plugin"]["menus"][0]
    assert menu["id"] == "jp-mainmenu-help"
    assert menu["items"][0]["args"] == {"url": "https://xnat.example.org/", "text": "XNAT", "newBrowserTab": True}
    # an unwritable place for the overrides is a warning, not a failed start
    result = run_with(tmp_path, XNAT_PUBLIC_URL="/", NOTEBOOK_LAB_OVERRIDES="/proc/no/overrides.json")
    assert result.returncode == 0 and "cannot write" in result.stderr
