"""The idle culler as jupyterhub_config.py configures it, in a real JupyterHub on loopback.

The hub's own spawner needs a swarm, so this hub runs JupyterHub's mock single-user server
locally; the culler's service entry and role are taken unchanged from jupyterhub_config.py.
A server that reports activity must survive; an untouched one must be stopped and removed.
"""

import importlib.util
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loopback_hub import ROUTES_IN_MEMORY, free_port

HUB_DIR = Path(__file__).resolve().parent.parent
USER = "JSmith"
IDLE, BUSY = "20250311T172455123Z", "20250311T172500000Z"  # XNAT names servers by launch time
# Test values only: nothing but the test touches these servers (see jupyterhub_config.py for real ones).
TIMEOUT, EVERY = 4, 1

TEST_HUB_CONFIG = ROUTES_IN_MEMORY + """
import json, os, sys
from pathlib import Path

work = Path(os.environ["TEST_HUB_DIR"])
culler = json.loads((work / "culler.json").read_text())
c.JupyterHub.bind_url = "http://127.0.0.1:%s/jupyterhub" % os.environ["TEST_HUB_PORT"]
c.JupyterHub.hub_bind_url = "http://127.0.0.1:%s" % os.environ["TEST_HUB_API_PORT"]
c.JupyterHub.db_url = "sqlite:///%s" % (work / "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = str(work / "cookie_secret")
c.JupyterHub.authenticator_class = "null"
c.Authenticator.any_allow_config = True
c.JupyterHub.allow_named_servers = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(work / "homes" / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.tests.mocksu"]
c.JupyterHub.services = culler["services"] + [{"name": "tester", "api_token": (work / "token").read_text()}]
c.JupyterHub.load_roles = culler["roles"] + [
    {"name": "tester", "scopes": ["admin:users", "admin:servers", "users:activity"], "services": ["tester"]}]
"""


def culler_config(work, timeout, every):
    """The idle-culler service and role from jupyterhub_config.py, for the given settings."""
    secrets_dir = work / "secrets"
    secrets_dir.mkdir(mode=0o700)
    for name, value in (("jh_xnat_password", "service-pass"), ("jh_xnat_service_token", secrets.token_hex(16))):
        (secrets_dir / name).write_text(value)
        (secrets_dir / name).chmod(0o600)
    script = (
        "import json\n"
        "from jupyterhub.app import JupyterHub\n"
        "hub = JupyterHub()\n"
        f"hub.load_config_file({str(HUB_DIR / 'jupyterhub_config.py')!r})\n"
        "c = hub.config.JupyterHub\n"
        "print(json.dumps({'services': [s for s in c.services if s['name'] == 'idle-culler'],\n"
        "                  'roles': [r for r in c.load_roles if r['name'] == 'idle-culler']}))\n"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(HUB_DIR / "src"), "JH_XNAT_URL": "http://xnat.invalid",
           "JH_SECRETS_DIR": str(secrets_dir), "JH_IDLE_CULLER_TIMEOUT": str(timeout),
           "JH_IDLE_CULLER_EVERY": str(every)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            cwd=work, timeout=60, check=True)
    return json.loads(result.stdout)


class Hub:
    def __init__(self, work):
        self.work = work
        self.token = secrets.token_hex(16)
        self.port, self.api_port = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}/jupyterhub/hub/api"
        self.process = None
        self.log = None

    def start(self):
        (self.work / "token").write_text(self.token)
        (self.work / "hub_config.py").write_text(TEST_HUB_CONFIG)
        env = {**os.environ, "TEST_HUB_DIR": str(self.work), "TEST_HUB_PORT": str(self.port),
               "TEST_HUB_API_PORT": str(self.api_port)}
        self.log = open(self.work / "jupyterhub.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-m", "jupyterhub", "-f", str(self.work / "hub_config.py")],
            cwd=self.work, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_for(lambda: self.call("GET", "/")[0] == 200, 60, "the hub to answer")

    def stop(self):
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log:
            self.log.close()

    def call(self, method, path, body=None):
        request = urllib.request.Request(
            self.api_url + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")
        except OSError as e:
            return None, str(e)

    def servers(self, include_stopped=False):
        status, model = self.call("GET", f"/users/{USER}" + ("?include_stopped_servers" if include_stopped else ""))
        assert status == 200, model
        return model["servers"]

    def wait_for(self, condition, seconds, what, while_waiting=lambda: None):
        deadline = time.monotonic() + seconds
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for {what}:\n" + self.log_text()[-4000:])
            while_waiting()
            time.sleep(0.5)

    def log_text(self):
        return (self.work / "jupyterhub.log").read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def hub(tmp_path):
    running = Hub(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_culler_stops_and_removes_only_the_idle_server(hub):
    assert importlib.util.find_spec("jupyterhub_idle_culler"), \
        "install jupyterhub-idle-culler==2.0.0 (files/hub/requirements.txt) next to the tests, as in the hub image"
    config = culler_config(hub.work, timeout=TIMEOUT, every=EVERY)
    assert config["services"] and config["roles"]
    (hub.work / "culler.json").write_text(json.dumps(config))
    hub.start()
    assert hub.call("POST", f"/users/{USER}")[0] == 201

    stop_reporting = threading.Event()

    def report_busy_activity():
        """What a notebook in use does: tell the hub it is active, here every half second."""
        while not stop_reporting.wait(0.5):
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            hub.call("POST", f"/users/{USER}/activity", {"servers": {BUSY: {"last_activity": now}}})

    reporter = threading.Thread(target=report_busy_activity, daemon=True)
    reporter.start()
    try:
        for server in (BUSY, IDLE):
            assert hub.call("POST", f"/users/{USER}/servers/{server}")[0] in (201, 202)
        hub.wait_for(lambda: IDLE not in hub.servers(include_stopped=True), 60, "the culler to remove the idle server")
        hub.wait_for(lambda: hub.servers().get(BUSY, {}).get("ready"), 60, "the busy server")
        time.sleep(TIMEOUT + 2 * EVERY)  # the busy server outlives a full timeout
        assert hub.servers()[BUSY]["ready"]
    finally:
        stop_reporting.set()
        reporter.join()
    log = hub.log_text()
    assert f"Culling server {USER}/{IDLE}" in log
    assert f"Culling server {USER}/{BUSY}" not in log
