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
