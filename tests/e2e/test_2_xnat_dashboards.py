"""XNAT dashboards: declared with the collection's module, started from the stand-in's page, opened in Chromium.

The dashboards' git repository is served from a container on the site's overlay network, so the
launch needs no internet access; each app shows the number and size of the files XNAT mounted.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import docker
import pytest
from playwright.sync_api import expect

from browser_steps import EVENT_ID, log_in_to_xnat, open_from_xnat
from conftest import LAUNCH_TIMEOUT
from local_site import (
    ALICE,
    BASE_URL,
    EXPERIMENT_ARCHIVE,
    EXPERIMENT_ID,
    REPO,
    http,
    inventory_vars,
    run_playbook,
    wait_until,
)

APPS = Path(__file__).parent / "dashboard_apps"
GIT_SERVER = "e2e-dashboards-git"
GIT_URL = f"http://{GIT_SERVER}:8000/apps.git"
DASHBOARDS = {"Panel": ("E2E Panel", "panel_app.py"), "Streamlit": ("E2E Streamlit", "streamlit_app.py")}
TIMINGS: dict[str, dict[str, float]] = {}


def built_images() -> dict[str, str]:
    """The image references the images layer built (build/images.json)."""
    return json.loads((REPO / "build" / "images.json").read_text())


def _git(*args: str, cwd: Path) -> None:
    env = {"GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@example.org", "GIT_COMMITTER_NAME": "e2e",
           "GIT_COMMITTER_EMAIL": "e2e@example.org", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def git_server(tmp_path_factory):
    """The apps in a bare repository, served over git's plain HTTP protocol from a container on the overlay network."""
    work = tmp_path_factory.mktemp("dashboard-apps")
    source, served = work / "source", work / "served"
    shutil.copytree(APPS, source)
    _git("init", "-q", "-b", "main", ".", cwd=source)
    _git("add", ".", cwd=source)
    _git("commit", "-q", "-m", "e2e dashboards", cwd=source)
    served.mkdir()
    _git("clone", "-q", "--bare", str(source), str(served / "apps.git"), cwd=work)
    _git("update-server-info", cwd=served / "apps.git")
    for path in [work, served, *served.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)

    client = docker.from_env()
    network = inventory_vars().get("swarm_overlay_network", "jupyterhub-network")
    base_image = built_images()["base"]
    for old in client.containers.list(all=True, filters={"name": f"^{GIT_SERVER}$"}):
        old.remove(force=True)  # left over from an interrupted run
    container = client.containers.run(
        base_image, ["python3", "-m", "http.server", "8000", "--directory", "/srv"], name=GIT_SERVER,
        network=network, volumes={str(served): {"bind": "/srv", "mode": "ro"}}, user="65534:65534",
        read_only=True, detach=True, labels={"xnat-jupyterhub.test": "e2e-dashboards"})
    probe = ["python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/apps.git/HEAD', timeout=2)"]
    wait_until("the dashboards' git server", lambda: container.exec_run(probe).exit_code == 0, 60)
    yield GIT_URL
    container.remove(force=True)


@pytest.fixture(scope="module")
def dashboards(site, git_server, tmp_path_factory):
    """Both dashboards declared with xnat_dashboard (a second run changes nothing); removed at the end."""
    logs = tmp_path_factory.mktemp("dashboards-playbook")
    args = ("-e", f"e2e_dashboards_repo={git_server}")
    first = run_playbook(logs / "declare.log", "tests/e2e/dashboards.yml", *args)
    assert first.returncode == 0, first.describe()
    again = run_playbook(logs / "declare-again.log", "tests/e2e/dashboards.yml", *args)
    assert again.returncode == 0 and again.changed() == 0, (again.changed_tasks(), again.describe())
    yield
    gone = run_playbook(logs / "remove.log", "tests/e2e/dashboards.yml", "-e", "e2e_dashboards_state=absent")
    assert gone.returncode == 0, gone.describe()
    print("\ndashboards: launch-to-rendered seconds", {name: TIMINGS[name] for name in sorted(TIMINGS)})


def _archive_summary(site) -> tuple[int, int]:
    files = [path for path in (site.archive_dir / EXPERIMENT_ARCHIVE).rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


@pytest.mark.parametrize("framework", sorted(DASHBOARDS))
def test_dashboard_from_xnat_renders_the_experiment_for_its_owner_only(
        framework, site, users, dashboards, new_context, bob_hub):
    name = DASHBOARDS[framework][0]
    context = new_context()
    page = context.new_page()
    log_in_to_xnat(page, ALICE, users[ALICE])
    known = set(page.locator("tr[data-test=server]").evaluate_all("rows => rows.map(r => r.dataset.name)"))

    started = time.monotonic()
    page.click(f"[data-test=experiment][data-id='{EXPERIMENT_ID}'] button[data-test='dashboard-launch-{name}']")
    status = page.locator("#launch-status")
    expect(status).not_to_have_attribute("data-state", re.compile("running|idle"), timeout=LAUNCH_TIMEOUT * 1000)
    assert status.get_attribute("data-state") == "succeeded", f"XNAT's dashboard launch failed: {status.inner_text()}"
    ready = time.monotonic()
    rows = page.locator("tr[data-test=server][data-kind=dashboard]")
    expect(rows.first).to_be_visible()
    servers = set(rows.evaluate_all("rows => rows.map(r => r.dataset.name)")) - known
    assert len(servers) == 1, f"expected one new dashboard server on XNAT's page, found {sorted(servers)}"
    server = servers.pop()
    assert EVENT_ID.fullmatch(server), server

    # The swarm runs the framework's command, resolved by XNAT, in the dashboard environment's image.
    services = site.swarm.notebook_services(ALICE, server)
    assert len(services) == 1, [s.name for s in services]
    spec = services[0].attrs["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert spec["Args"][0] == "jhsingle-native-proxy" and GIT_URL in spec["Args"], spec["Args"]
    assert spec["Image"].split("@")[0] == built_images()["dashboard"], spec["Image"]
    # The hub's and XNAT's tokens travel in the service's swarm secret, as for notebooks, not in its spec.
    env_names = {item.split("=", 1)[0] for item in spec.get("Env") or []}
    assert not env_names & {"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN", "XNAT_USER", "XNAT_PASS"}, sorted(env_names)
    assert [ref["File"]["Name"] for ref in spec.get("Secrets", [])] == ["notebook-env.json"], spec.get("Secrets")

    # Open, as XNAT's page does (a token XNAT minted, in the URL): the app shows what XNAT mounted.
    files, size = _archive_summary(site)
    app = open_from_xnat(context, page, server)[0]
    expect(app.get_by_text(f"{framework} dashboard: {files} files, {size} bytes under /data")).to_be_visible(
        timeout=LAUNCH_TIMEOUT * 1000)
    TIMINGS[framework] = {"launch": round(ready - started, 1), "open": round(time.monotonic() - ready, 1)}
    dashboard_url = app.url.split("?")[0]
    assert urlsplit(dashboard_url).path.startswith(f"/jupyterhub/user/{ALICE}/{server}/"), app.url

    # Another XNAT user, logged in to the hub, is refused at the hub's OAuth step and sees nothing of the app.
    other = bob_hub.context.new_page()
    answer = other.goto(f"{BASE_URL}/jupyterhub/user/{ALICE}/{server}/")
    assert answer.status == 403, f"{answer.status} at {other.url}"
    assert urlsplit(other.url).path == "/jupyterhub/hub/api/oauth2/authorize", other.url
    expect(other.locator("body")).not_to_contain_text(f"{framework} dashboard:")
    other.close()

    # Stopped the XNAT way: the hub drops the server and the swarm its service.
    answer = http("DELETE", f"{BASE_URL}/xapi/jupyterhub/users/{ALICE}/server/{server}",
                  params={"eventTrackingId": "e2e-stop-" + secrets.token_hex(4)}, auth=(ALICE, users[ALICE]))
    assert answer.status_code == 200, f"XNAT's stop answered {answer.status_code}: {answer.text}"
    wait_until(f"XNAT's stop of {server}", lambda: server not in site.hub.servers(ALICE), LAUNCH_TIMEOUT)
    wait_until(f"the swarm to remove {server}", lambda: not site.swarm.notebook_services(ALICE, server), 120)
    context.close()
