"""The dashboard image runs XNAT's four dashboard frameworks the way the hub starts them.

For each framework the command is XNAT's seeded command template (the XNAT plugin's Panel, Streamlit,
Voila and Dash frameworks) with {repo}, {repobranch} and {mainFilePath} resolved as XNAT resolves them,
split into the service's arguments by the hub's own code (service_spec), and run in the built image
behind its entrypoint, as the notebook user (1000:1000) with HOME as the working directory and the
JUPYTERHUB_* variables a named server gets. The dashboard's repository is a bare git repository served
over plain HTTP (git's dumb protocol) by a container on an internal network this test creates: no
internet, as on a hospital's own network. Chromium opens the app through jhsingle-native-proxy and
waits for the value the app computed; every request the browser makes outside loopback is refused, so
an app that needs a CDN or phones home fails here.

Authentication: the command gets `--authtype none` in front of XNAT's arguments, because no hub runs
in this test. The hub's OAuth in front of dashboards (only the owner opens one, `?token=` opens it once)
is covered by the hub-level dashboard tests against a real JupyterHub, not here.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest
import requests
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "files" / "hub" / "src"))
from xnat_jupyterhub_hub.service_spec import user_options_to_service_spec  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PREFIX = "imtest-dash"
NETWORK = PREFIX + "-net"
GIT_HOST = PREFIX + "-git"
USER, SERVER = "alice", "20250311T172455123Z"
SERVICE_PREFIX = f"/user/{USER}/{SERVER}/"
ANSWER = sum(range(10)) * 1000 + 7  # computed by each app, never written in its source: 45007
# Requests to the internet a framework makes by design, offline only cosmetic: Voila's lab template links
# Font Awesome's stylesheets from a CDN (icons are missing without internet; the app renders).
KNOWN_OUTSIDE = {"voila": ("https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@",)}
RENDER_TIMEOUT = 120  # seconds from container start to the rendered value
URL_TOKEN = secrets.token_hex(16)

# XNAT's seeded command templates (the plugin's DashboardFrameworkInitializer), {repo} etc. unresolved.
FRAMEWORKS = {
    "panel": (
        "jhsingle-native-proxy --port 8888 --destport 5006 --repo {repo} --repobranch {repobranch}"
        " --repofolder /home/jovyan/dashboards bokeh-root-cmd /home/jovyan/dashboards/{mainFilePath}"
        " {--}port={port} {--}allow-websocket-origin={origin_host} {--}prefix={base_url} {--}server=panel",
        "panel_app.py"),
    "streamlit": (
        "jhsingle-native-proxy --port 8888 --destport 8501 --repo {repo} --repobranch {repobranch}"
        " --repofolder /home/jovyan/dashboards streamlit run /home/jovyan/dashboards/{mainFilePath}"
        " {--}server.port {port} {--}server.headless True {--}server.fileWatcherType none",
        "streamlit_app.py"),
    "voila": (
        "jhsingle-native-proxy --port 8888 --destport 0 --repo {repo} --repobranch {repobranch}"
        " --repofolder /home/jovyan/dashboards voila /home/jovyan/dashboards/{mainFilePath}"
        " {--}port {port} {--}no-browser {--}Voila.base_url={base_url}/ {--}Voila.server_url=/"
        " {--}Voila.ip=0.0.0.0 {--}Voila.tornado_settings allow_origin={origin_host} --progressive",
        "voila_app.ipynb"),
    "dash": (
        "jhsingle-native-proxy --port=8888 --destport=8050 --repo={repo} --repobranch={repobranch}"
        " --repofolder=/home/jovyan/dashboards plotlydash-tornado-cmd /home/jovyan/dashboards/{mainFilePath}"
        " {--}port={port} {--}ip 0.0.0.0",
        "dash_app.py"),
}

APPS = {
    "panel_app.py": (
        "import panel as pn\n"
        "answer = sum(range(10)) * 1000 + 7\n"
        "pn.pane.Markdown(f'Panel dashboard says {answer}').servable(title='Panel dashboard')\n"),
    "streamlit_app.py": (
        "import streamlit as st\n"
        "answer = sum(range(10)) * 1000 + 7\n"
        "st.write(f'Streamlit dashboard says {answer}')\n"),
    "voila_app.ipynb": json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None, "outputs": [],
                   "source": "answer = sum(range(10)) * 1000 + 7\nprint(f'Voila dashboard says {answer}')"}],
    }),
    # Dash serves its assets under the hub's prefix; the proxy hands it paths without the prefix.
    "dash_app.py": (
        "import os\n"
        "from dash import Dash, html\n"
        "app = Dash(__name__, requests_pathname_prefix=os.environ['JUPYTERHUB_SERVICE_PREFIX'],"
        " routes_pathname_prefix='/')\n"
        "answer = sum(range(10)) * 1000 + 7\n"
        "app.layout = html.Div(f'Dash dashboard says {answer}')\n"),
}


def resolved_args(image: str, framework: str, repo_url: str) -> list[str]:
    """The service's arguments as the hub makes them from XNAT's user options, plus --authtype none."""
    template, main_file = FRAMEWORKS[framework]
    command = template.replace("{repo}", repo_url).replace("{repobranch}", "main")
    command = command.replace("{mainFilePath}", main_file)
    spec = user_options_to_service_spec({"task_template": {"container_spec": {"image": image, "command": command}}})
    assert spec.args is not None and spec.args[0] == "jhsingle-native-proxy"
    return [spec.args[0], "--authtype", "none", *spec.args[1:]]


def remove_owned(client):
    for container in client.containers.list(all=True, filters={"name": PREFIX}):
        container.remove(force=True)
    for network in client.networks.list(names=[NETWORK]):
        network.remove()


@pytest.fixture(scope="module")
def image():
    images = json.loads((REPO / "build" / "images.json").read_text(encoding="utf-8"))
    assert "dashboard" in images, "build/images.json has no dashboard image: run the images layer first"
    return images["dashboard"]


@pytest.fixture(scope="module")
def client():
    client = docker.from_env()
    remove_owned(client)
    yield client
    remove_owned(client)


@pytest.fixture(scope="module")
def repo_url(client, image, tmp_path_factory):
    """A bare repository holding the four apps, served by plain HTTP on the test's internal network."""
    root = tmp_path_factory.mktemp("dashboards")
    work, bare = root / "work", root / "srv" / "dashboards.git"
    work.mkdir()
    for name, text in APPS.items():
        (work / name).write_text(text, encoding="utf-8")

    def git(*args, cwd=work):
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)

    git("init", "-q", "-b", "main")
    git("-c", "user.name=test", "-c", "user.email=test@example.invalid", "add", ".")
    git("-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", "apps")
    git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    git("update-server-info", cwd=bare)
    (root / "srv").chmod(0o755)
    client.networks.create(NETWORK, driver="bridge", internal=True)
    client.containers.run(
        image, ["python3", "-m", "http.server", "8000", "--directory", "/srv"], name=GIT_HOST, detach=True,
        network=NETWORK, volumes={str(root / "srv"): {"bind": "/srv", "mode": "ro"}}, entrypoint=[],
        user="1000:1000")
    return f"http://{GIT_HOST}:8000/dashboards.git"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def start_dashboard(client, image, framework, repo_url, workspace):
    """One dashboard container as the hub's service would be: same args, user, HOME (the user's workspace,
    bind-mounted and owned by the notebook user), JUPYTERHUB_* env."""
    workspace.mkdir()
    os.chown(workspace, 1000, 1000)
    container = client.containers.create(
        image, resolved_args(image, framework, repo_url), name=f"{PREFIX}-{framework}",
        user="1000:1000", working_dir=f"/workspace/{USER}",
        volumes={str(workspace): {"bind": f"/workspace/{USER}", "mode": "rw"}},
        environment={
            "HOME": f"/workspace/{USER}",
            "JUPYTERHUB_USER": USER,
            "JUPYTERHUB_SERVER_NAME": SERVER,
            "JUPYTERHUB_SERVICE_PREFIX": SERVICE_PREFIX,
            "JUPYTERHUB_SERVICE_URL": f"http://0.0.0.0:8888{SERVICE_PREFIX}",
            "JUPYTERHUB_ALLOW_TOKEN_IN_URL": "1",
            "MEM_LIMIT": str(2 * 1024**3),
        },
        ports={"8888/tcp": ("127.0.0.1", None)}, network=NETWORK)
    # The internal network has no published ports; a second, ordinary bridge carries the browser's requests.
    client.networks.get("bridge").connect(container)
    container.start()
    container.reload()
    port = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"]
    return container, f"http://127.0.0.1:{port}{SERVICE_PREFIX}"


def wait_for_proxy(url, container, deadline):
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.ConnectionError:
            container.reload()
            assert container.status in ("created", "running"), container.logs().decode()[-3000:]
            time.sleep(0.2)
    pytest.fail(f"jhsingle-native-proxy did not answer at {url}: {container.logs().decode()[-3000:]}")


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_framework_renders_the_app_from_the_repository(client, image, repo_url, browser, framework, tmp_path):
    outside: list[str] = []
    browser_log: list[str] = []
    started = time.monotonic()
    container, url = start_dashboard(client, image, framework, repo_url, tmp_path / "workspace")
    try:
        deadline = started + RENDER_TIMEOUT
        wait_for_proxy(url, container, deadline)
        context = browser.new_context()

        def loopback_only(route):
            if route.request.url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:")):
                return route.continue_()
            outside.append(route.request.url)
            return route.abort()

        context.route("**/*", loopback_only)
        page = context.new_page()
        page.on("console", lambda m: browser_log.append(f"console {m.type}: {m.text}"))
        page.on("requestfailed", lambda r: browser_log.append(f"failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and browser_log.append(f"HTTP {r.status}: {r.url}"))
        # opened as XNAT opens it; the token must not reach the service's log (no hub here to check it)
        page.goto(f"{url}?token={URL_TOKEN}")
        # The proxy shows "Pulling content from git" (reloading every 2 s) until the clone is done, then
        # starts the app on the next request.
        expect(page.get_by_text(f"dashboard says {ANSWER}").first).to_be_visible(
            timeout=max(1000, (deadline - time.monotonic()) * 1000))
        elapsed = time.monotonic() - started
        print(f"\n{framework}: launch to rendered {elapsed:.1f} s")
        context.close()
        logs = container.logs().decode(errors="replace")
        assert URL_TOKEN not in logs, f"{framework}: the URL's token is in the service's log"
    except Exception:
        print(container.logs().decode()[-5000:])
        print("\n".join(["browser:", *browser_log[-40:]]))
        raise
    finally:
        container.remove(force=True)
    unexpected = [u for u in outside if not u.startswith(KNOWN_OUTSIDE.get(framework, ()))]
    assert not unexpected, f"{framework} made the browser reach outside the site: {unexpected[:5]}"
