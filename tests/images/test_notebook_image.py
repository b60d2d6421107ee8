"""The notebook image's Jupyter extensions: jupyter-resource-usage reports the MEM_LIMIT the spawner sets,
and jupyter-server-proxy reaches an app started inside the notebook. Also prints the server's start time."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import docker
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
NAME = "imtest-notebook"
MEM_LIMIT = 3 * 1024**3
APP_PORT = 9001


@pytest.fixture
def notebook():
    client = docker.from_env()
    for old in client.containers.list(all=True, filters={"name": NAME}):
        old.remove(force=True)
    image = json.loads((REPO / "build" / "images.json").read_text(encoding="utf-8"))["notebook"]
    token = secrets.token_hex(16)
    # An app started inside the notebook (as a user would from a terminal), then the server itself.
    command = (f"cd /tmp && echo served-from-inside > probe.txt && python3 -m http.server {APP_PORT} &"
               f" exec jupyter server --ip=0.0.0.0 --port=8888 --ServerApp.token={token} --no-browser")
    started = time.monotonic()
    container = client.containers.run(
        image, ["sh", "-c", command], name=NAME, detach=True, user="1000:1000", working_dir="/tmp",
        environment={"HOME": "/tmp", "MEM_LIMIT": str(MEM_LIMIT)}, ports={"8888/tcp": ("127.0.0.1", None)})
    try:
        container.reload()
        url = f"http://127.0.0.1:{container.attrs['NetworkSettings']['Ports']['8888/tcp'][0]['HostPort']}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/api/status", headers={"Authorization": f"token {token}"}, timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, container.logs().decode()[-3000:]
            time.sleep(0.1)
        print(f"\nnotebook server: start to answering {time.monotonic() - started:.1f} s")
        yield url, {"Authorization": f"token {token}"}
    finally:
        container.remove(force=True)


def test_resource_usage_and_server_proxy(notebook):
    url, auth = notebook
    metrics = requests.get(f"{url}/api/metrics/v1", headers=auth, timeout=10)
    assert metrics.status_code == 200, metrics.text
    assert metrics.json()["limits"]["memory"]["rss"] == MEM_LIMIT
    proxied = requests.get(f"{url}/proxy/{APP_PORT}/probe.txt", headers=auth, timeout=10)
    assert proxied.status_code == 200 and proxied.text.strip() == "served-from-inside"
    # only through the server's authentication
    anonymous = requests.get(f"{url}/proxy/{APP_PORT}/probe.txt", timeout=10, allow_redirects=False)
    assert anonymous.status_code in (302, 403) and "served-from-inside" not in anonymous.text
