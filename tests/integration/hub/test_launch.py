"""XNAT's launch of a named server, the notebook it runs, opening it with ?token=, a hub restart, stop.

The tests share one running server and run in file order; the last one stops it.
"""

from __future__ import annotations

import json

import pytest
import requests

from hub_site import NOTEBOOK_GID, NOTEBOOK_UID, SERVER_NAME, TIMEOUT

# The hub keeps these out of the service spec for this project's notebook image.
HIDDEN_ENV = {"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN", "XNAT_USER", "XNAT_PASS"}
SAMPLE_FILE = "RESOURCES/notes/session-notes.txt"

# Runs inside the notebook container; prints what the tests assert on as JSON.
PROBE = r"""
import errno, json, os
data = "/data/projects/DEMO01/experiments/SUBJ01_MR1"
result = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups()}
with open(f"{data}/RESOURCES/notes/session-notes.txt", encoding="utf-8") as f:
    result["sample"] = f.read()
for name, path, mode in (("create", f"{data}/ittest-new.txt", "w"),
                         ("append", f"{data}/RESOURCES/notes/session-notes.txt", "a")):
    try:
        open(path, mode).close()
        result[name] = "written"
    except OSError as e:
        result[name] = errno.errorcode[e.errno]
with open("/workspace/alice/ittest-probe.txt", "w", encoding="utf-8") as f:
    f.write("written by the notebook")
for pid in filter(str.isdigit, os.listdir("/proc")):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        if any(arg.endswith(b"/jupyterhub-singleuser") for arg in f.read().split(b"\0")[:2]):
            with open(f"/proc/{pid}/status", encoding="utf-8") as f:
                ids = {line.split(":")[0]: line.split()[1:] for line in f if line.startswith(("Uid", "Gid"))}
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(item.decode().split("=", 1) for item in f.read().split(b"\0") if item)
            result["server"] = {"ids": ids, "cwd": os.readlink(f"/proc/{pid}/cwd"), "home": env.get("HOME"),
                                "has_api_token": bool(env.get("JUPYTERHUB_API_TOKEN")),
                                "xnat_user": env.get("XNAT_USER"), "xnat_pass": env.get("XNAT_PASS")}
print(json.dumps(result))
"""


@pytest.fixture(scope="module", name="notebook")
def launched_notebook(site):
    """Alice's named server, launched the way XNAT's UI does it."""
    event = site.launch(SERVER_NAME, "small")
    return {"event": site.wait_event(event, 100), "options": site.user_options(SERVER_NAME)}


@pytest.fixture(scope="module", name="browser")
def token_link_browser(site, notebook):
    """A browser session that opened the server through XNAT's ?token= link."""
    token = site.xnat_call("alice", "POST", "/xapi/jupyterhub/users/alice/tokens").json()["token"]
    session = requests.Session()
    answer = session.get(f"{site.hub_url}/user/alice/{SERVER_NAME}/?token={token}", timeout=30)
    return session, answer


def _service(site):
    services = site.notebook_services(SERVER_NAME)
    assert len(services) == 1, [s.name for s in services]
    return services[0]


def test_xnat_launch_starts_the_named_server(site, notebook):
    assert notebook["event"]["succeeded"] is True, notebook["event"]
    assert notebook["event"]["finalMessage"] == (
        f"Jupyter notebook is available at: /jupyterhub/user/alice/{SERVER_NAME}/")
    server = site.hub_server(SERVER_NAME)
    assert server["ready"] is True
    assert server["user_options"]["eventTrackingId"] == SERVER_NAME
    _service(site)


def test_service_spec_is_what_xnat_asked_for(site, notebook):
    template = notebook["options"]["task_template"]
    spec = _service(site).attrs["Spec"]
    task = spec["TaskTemplate"]
    container = task["ContainerSpec"]

    assert container["Image"] == template["container_spec"]["image"] == site.images["notebook"]
    assert [(m["Type"], m["Source"], m["Target"], m.get("ReadOnly", False)) for m in container["Mounts"]] == [
        (m["type"], m["source"], m["target"], m["read_only"]) for m in template["container_spec"]["mounts"]]
    assert [m["Target"] for m in container["Mounts"]] == [
        "/workspace/alice", "/data/projects/DEMO01/experiments/SUBJ01_MR1"]
    assert container["Mounts"][0]["Source"] == str(site.workspaces / "users" / "alice")
    assert container["Mounts"][1]["Source"] == str(site.archive / "DEMO01" / "arc001" / "SUBJ01_MR1")

    env = dict(item.split("=", 1) for item in container["Env"])
    xnat_env = template["container_spec"]["env"]
    assert {"ITTEST_ENVIRONMENT", "ITTEST_HARDWARE", "XNAT_USER", "XNAT_PASS"} <= set(xnat_env)
    assert {k: env.get(k) for k in xnat_env if k not in HIDDEN_ENV} == {
        k: v for k, v in xnat_env.items() if k not in HIDDEN_ENV}
    assert not HIDDEN_ENV & set(env)
    spec_text = json.dumps(spec)
    assert xnat_env["XNAT_PASS"] not in spec_text and xnat_env["XNAT_USER"] not in spec_text
    hub_env = {k: v for k, v in env.items() if k not in xnat_env}
    assert {k: hub_env.pop(k) for k in ("HOME", "MEM_LIMIT", "CPU_LIMIT", "JUPYTER_IMAGE_SPEC", "XNAT_PUBLIC_URL")} == {
        "HOME": "/workspace/alice", "MEM_LIMIT": str(1024 ** 3), "CPU_LIMIT": "1.0",
        "JUPYTER_IMAGE_SPEC": site.images["notebook"], "XNAT_PUBLIC_URL": "/"}
    assert all(k.startswith("JUPYTERHUB_") for k in hub_env), sorted(hub_env)
    assert hub_env["JUPYTERHUB_ALLOW_TOKEN_IN_URL"] == "1"
    assert hub_env["JUPYTERHUB_API_URL"] == "http://jupyterhub:8081/jupyterhub/hub/api"

    assert container["User"] == f"{NOTEBOOK_UID}:{NOTEBOOK_GID}"
    assert container["Dir"] == "/workspace/alice"
    [secret] = container["Secrets"]
    assert secret["File"] == {"Name": "notebook-env.json", "UID": str(NOTEBOOK_UID), "GID": str(NOTEBOOK_GID),
                              "Mode": 0o400}
    assert task["Resources"] == {
        "Limits": {"NanoCPUs": 1_000_000_000, "MemoryBytes": 1024 ** 3},
        "Reservations": {"NanoCPUs": 100_000_000, "MemoryBytes": 128 * 1024 ** 2}}
    assert template["resources"] == {"cpu_limit": 1.0, "cpu_reservation": 0.1, "mem_limit": "1G",
                                     "mem_reservation": "128M", "generic_resources": {}}
    assert task["Placement"]["Constraints"] == template["placement"]["constraints"] == ["node.role==manager"]
    assert task["RestartPolicy"]["Condition"] == "none"
    assert spec["EndpointSpec"] == {"Mode": "dnsrr"}


def test_notebook_reads_data_read_only_and_writes_its_workspace(site, notebook):
    container = site.notebook_container(_service(site))
    code, output = container.exec_run(["/opt/notebook/bin/python3", "-c", PROBE])
    assert code == 0, output.decode(errors="replace")
    probe = json.loads(output)
    sample = site.archive / "DEMO01" / "arc001" / "SUBJ01_MR1" / SAMPLE_FILE

    assert probe["sample"] == sample.read_text(encoding="utf-8")
    # The archive belongs to the notebook's UID here, so only the read-only mount can refuse writing.
    assert probe["create"] == "EROFS"
    assert probe["append"] == "EROFS"
    written = site.workspaces / "users" / "alice" / "ittest-probe.txt"
    assert written.read_text(encoding="utf-8") == "written by the notebook"
    assert (written.stat().st_uid, written.stat().st_gid) == (NOTEBOOK_UID, NOTEBOOK_GID)
    assert (probe["uid"], probe["gid"]) == (NOTEBOOK_UID, NOTEBOOK_GID)
    server = probe["server"]
    assert server["ids"] == {"Uid": [str(NOTEBOOK_UID)] * 4, "Gid": [str(NOTEBOOK_GID)] * 4}
    assert server["home"] == server["cwd"] == "/workspace/alice"
    # The tokens kept out of the spec reach the server through its secret file.
    assert server["has_api_token"] is True
    xnat_env = notebook["options"]["task_template"]["container_spec"]["env"]
    assert (server["xnat_user"], server["xnat_pass"]) == (xnat_env["XNAT_USER"], xnat_env["XNAT_PASS"])


def test_token_link_opens_the_server(site, browser):
    session, answer = browser

    assert answer.status_code == 200
    # XNAT mounted data: JupyterLab opens in the workspace, with the data next to it (files/notebook/entrypoint).
    assert answer.url.split("?")[0] == f"{site.hub_url}/user/alice/{SERVER_NAME}/lab/tree/workspace"
    status = session.get(f"{site.hub_url}/user/alice/{SERVER_NAME}/api/status", timeout=TIMEOUT)
    assert status.status_code == 200, status.text[:300]
    assert "started" in status.json()
    anonymous = requests.get(f"{site.hub_url}/user/alice/{SERVER_NAME}/api/status", timeout=TIMEOUT)
    assert anonymous.status_code == 403


def test_hub_restart_keeps_the_server(site, browser):
    session = browser[0]
    service = _service(site)
    container = site.notebook_container(service)

    site.restart_hub()

    assert site.hub_server(SERVER_NAME)["ready"] is True
    assert _service(site).id == service.id
    assert site.notebook_container(service).id == container.id
    status = session.get(f"{site.hub_url}/user/alice/{SERVER_NAME}/api/status", timeout=TIMEOUT)
    assert status.status_code == 200, status.text[:300]


@pytest.mark.usefixtures("notebook")
def test_xnat_stop_removes_service_and_secret(site):
    service = _service(site)
    secret_names = [s["SecretName"] for s in service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]]

    outcome = site.wait_event(site.stop(SERVER_NAME), 60)

    assert outcome["succeeded"] is True, outcome
    assert outcome["finalMessage"] == "Jupyter Server Stopped."
    assert site.hub_server(SERVER_NAME) is None
    assert site.notebook_services(SERVER_NAME) == []
    assert not [s for s in site.docker.secrets.list() if s.name in secret_names]
    path = f"/xapi/jupyterhub/users/alice/server/{SERVER_NAME}/user-options"
    site.xnat_call("jupyterhub", "GET", path, expect=404)
