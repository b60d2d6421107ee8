"""The notebook image's entrypoint, run as a process the way tini runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


SHOW_ROOT = (sys.executable, "-c", "import json, os; print(json.dumps({k: os.environ.get(k) for k in"
             " ('JUPYTERHUB_ROOT_DIR', 'JUPYTERHUB_DEFAULT_URL')}))")


def run_with(tmp_path, command=("true",), **env):
    base = {"PATH": os.environ["PATH"], "NOTEBOOK_SECRETS_FILE": str(tmp_path / "none.json"),
            "HOME": str(tmp_path / "home"), "NOTEBOOK_LAB_OVERRIDES": str(tmp_path / "lab" / "overrides.json"),
            "NOTEBOOK_LAB_VIEW": str(tmp_path / "lab" / "view")}
    (tmp_path / "home").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, str(ENTRYPOINT), *command], env={**base, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_data_shows_next_to_the_workspace_without_writing_into_it(tmp_path):
    data, workspace, view = tmp_path / "data", tmp_path / "workspace", tmp_path / "lab" / "view"
    (data / "projects").mkdir(parents=True)
    workspace.mkdir()
    for start in (1, 2):  # a restarted container makes the view anew
        result = run_with(tmp_path, SHOW_ROOT, XNAT_DATA=str(data), JUPYTERHUB_ROOT_DIR=str(workspace))
        assert result.returncode == 0 and result.stderr == "", (start, result.stderr)
        assert json.loads(result.stdout) == {"JUPYTERHUB_ROOT_DIR": str(view),
                                             "JUPYTERHUB_DEFAULT_URL": "/lab/tree/workspace"}
        assert sorted(os.listdir(view)) == ["workspace", "xnat-data"]
        assert os.readlink(view / "workspace") == str(workspace) and os.readlink(view / "xnat-data") == str(data)
    assert list(workspace.iterdir()) == []
    if os.getuid() != 0:  # root ignores modes; the notebook runs as NB_UID
        with pytest.raises(PermissionError):
            (view / "lost.ipynb").write_text("{}")
    assert os.stat(view).st_mode & 0o777 == 0o555


def test_without_data_the_workspace_stays_the_root(tmp_path):
    for value in ("", "data", "../data", str(tmp_path / "absent")):
        result = run_with(tmp_path, SHOW_ROOT, XNAT_DATA=value, JUPYTERHUB_ROOT_DIR=str(tmp_path / "home"))
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"JUPYTERHUB_ROOT_DIR": str(tmp_path / "home"),
                                             "JUPYTERHUB_DEFAULT_URL": None}


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
