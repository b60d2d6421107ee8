"""A stand-in for the XNAT endpoints the hub calls, served on 127.0.0.1."""

import asyncio
import base64
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import aiohttp
import pytest
import pytest_asyncio
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from loopback_hub import ROUTES_IN_MEMORY, free_port

HUB_DIR = Path(__file__).resolve().parent.parent
# The suite tests this checkout's package, installed or not, also next to other packages' tests.
sys.path.insert(0, str(HUB_DIR / "src"))


@dataclass
class XnatAccount:
    login: str
    password: str
    roles: list = field(default_factory=list)


@dataclass
class FakeXnat:
    """XNAT's answers, per the contract: Basic auth, exact-case self-only roles."""

    url: str = ""
    accounts: dict = field(default_factory=dict)  # lower-cased login -> XnatAccount
    all_users_can_start: bool | None = False  # None: preference unknown (404)
    user_options: dict = field(default_factory=dict)  # (user, server or "") -> JSON
    fail_with: int | None = None  # answer every request with this status
    raw_paths: list = field(default_factory=list)
    sessions: dict = field(default_factory=dict)  # JSESSIONID value -> login
    alias_tokens: dict = field(default_factory=dict)  # alias -> (secret, login)
    cookies_seen: list = field(default_factory=list)  # the Cookie header of each request

    def add(self, login, password, roles=()):
        self.accounts[login.lower()] = XnatAccount(login, password, list(roles))

    def session_for(self, login):
        value = f"{len(self.sessions):04d}" + "A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5"
        self.sessions[value] = login
        return value

    def alias_token_for(self, login):
        alias = f"{len(self.alias_tokens):08d}-1c43-4f7f-9e23-5b8a33c3a0d1"
        self.alias_tokens[alias] = ("token-secret-" + alias[:8], login)
        return alias, self.alias_tokens[alias][0]


class XnatHandler(web.RequestHandler):
    def initialize(self, xnat):
        self.xnat = xnat

    def _caller(self):
        header = self.request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            session = self.get_cookie("JSESSIONID")
            login = self.xnat.sessions.get(session) if session else None
            return self.xnat.accounts.get(login.lower()) if login else None
        login, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
        if login in self.xnat.alias_tokens:  # an alias token acts as its owner
            secret, owner = self.xnat.alias_tokens[login]
            return self.xnat.accounts.get(owner.lower()) if password == secret else None
        account = self.xnat.accounts.get(login.lower())  # XNAT finds logins case-insensitively
        if account and account.password == password:
            return account
        return None

    def _answer(self, status, body=None):
        self.set_status(status)
        if body is None:
            self.set_header("Content-Type", "text/plain")
            if status == 401:
                self.set_header("WWW-Authenticate", 'Basic realm="XNAT"')
        else:
            self.set_header("Content-Type", "application/json")
            self.write(json.dumps(body))

    def get(self):
        self.xnat.raw_paths.append(self.request.path)
        self.xnat.cookies_seen.append(self.request.headers.get("Cookie"))
        if self.xnat.fail_with:
            if self.xnat.fail_with in (301, 302, 307):
                self.set_header("Location", "/elsewhere")
            return self._answer(self.xnat.fail_with)
        caller = self._caller()
        if caller is None:
            return self._answer(401)
        parts = [unquote(p) for p in self.request.path.split("/")[1:]]
        match parts:
            case ["xapi", "users", "username"]:
                # XNAT produces text/plain only here: an Accept without it is Spring's 406 (contract §1.5)
                accept = self.request.headers.get("Accept", "*/*")
                if not any(t.split(";")[0].strip() in ("text/plain", "text/*", "*/*") for t in accept.split(",")):
                    return self._answer(406)
                self.set_header("Content-Type", "text/plain")
                return self.write(caller.login)
            case ["xapi", "users", login, "roles"]:
                if login != caller.login and "Administrator" not in caller.roles:
                    return self._answer(403)
                return self._answer(200, caller.roles)
            case ["xapi", "jupyterhub", "preferences", "allUsersCanStartJupyter"]:
                if self.xnat.all_users_can_start is None:
                    return self._answer(404)
                return self._answer(200, {"allUsersCanStartJupyter": self.xnat.all_users_can_start})
            case ["xapi", "jupyterhub", "users", user, "server", *server, "user-options"] if len(server) <= 1:
                if not {"JupyterHub", "Administrator"} & set(caller.roles):
                    return self._answer(403)
                options = self.xnat.user_options.get((user, server[0] if server else ""))
                if options is None:
                    return self._answer(404)
                return self._answer(200, options)
        return self._answer(404)


@pytest_asyncio.fixture
async def fake_xnat():
    xnat = FakeXnat()
    sock, port = bind_unused_port()
    server = HTTPServer(web.Application([(r"/.*", XnatHandler, {"xnat": xnat})]))
    server.add_sockets([sock])
    xnat.url = f"http://127.0.0.1:{port}"
    yield xnat
    server.stop()
    await server.close_all_connections()


@pytest.fixture
def silent_xnat_url():
    """A loopback address that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture
def closed_port_url():
    """A loopback address nothing listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def entry_points(tmp_path, monkeypatch):
    """JupyterHub finds the package's entry points: installed, or declared in this checkout's pyproject.toml."""
    try:
        importlib.metadata.distribution("xnat_jupyterhub_hub")
        return
    except importlib.metadata.PackageNotFoundError:
        pass
    declared = tomllib.loads((HUB_DIR / "pyproject.toml").read_text())["project"]["entry-points"]
    dist_info = tmp_path / "xnat_jupyterhub_hub-0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: xnat_jupyterhub_hub\nVersion: 0\n")
    (dist_info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in names.items())
        for group, names in declared.items()))
    monkeypatch.syspath_prepend(str(tmp_path))


TEST_HUB_CONFIG = ROUTES_IN_MEMORY + """
import os
from xnat_jupyterhub_hub import proxy_headers

c.JupyterHub.bind_url = "http://127.0.0.1:%s/jupyterhub" % os.environ["TEST_HUB_PORT"]
c.JupyterHub.hub_bind_url = "http://127.0.0.1:%s" % os.environ["TEST_HUB_API_PORT"]
c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "cookie_secret"
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.implicit_spawn_seconds = 0
c.JupyterHub.allow_named_servers = True
c.JupyterHub.authenticator_class = "xnat_jupyterhub_hub.authenticator.XnatAuthenticator"
c.XnatClient.url = os.environ["TEST_XNAT_URL"]
# As the product's jupyterhub_config.py sets them.
import importlib.resources
c.JupyterHub.template_paths = [str(importlib.resources.files("xnat_jupyterhub_hub") / "templates")]
c.JupyterHub.template_vars = {"xnat_url": "/"}
c.JupyterHub.redirect_to_server = False
# As the product's jupyterhub_config.py sets them.
proxy_headers.install()
c.JupyterHub.tornado_settings = {"cookie_options": {"samesite": "Lax"}}
c.JupyterHub.services = [{"name": "xnat", "api_token": os.environ["TEST_SERVICE_TOKEN"]}]
c.JupyterHub.load_roles = [{"name": "xnat", "scopes": ["read:hub", "admin:users", "servers", "tokens"],
                            "services": ["xnat"]}]
"""
SERVICE_TOKEN = "test-service-token-0123456789abcdef"


@dataclass
class LoopbackHub:
    url: str  # the hub's /jupyterhub/hub URL
    log_path: Path
    db_path: Path
    service_token: str = SERVICE_TOKEN  # of the hub service 'xnat'

    def log(self):
        return self.log_path.read_text(errors="replace")


@pytest_asyncio.fixture
async def loopback_hub(fake_xnat, tmp_path):
    """A real JupyterHub on loopback with the XNAT authenticator, talking to fake_xnat;
    its proxy keeps routes in memory.

    The service 'xnat' holds SERVICE_TOKEN and the scopes the product gives XNAT.
    """
    (tmp_path / "hub_config.py").write_text(TEST_HUB_CONFIG)
    port = free_port()
    env = {**os.environ, "TEST_HUB_PORT": str(free_port()), "TEST_HUB_API_PORT": str(port),
           "TEST_XNAT_URL": fake_xnat.url, "TEST_SERVICE_TOKEN": SERVICE_TOKEN,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HUB_DIR / "src"), os.environ.get("PYTHONPATH")]))}
    log_path = tmp_path / "jupyterhub.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-m", "jupyterhub", "-f", str(tmp_path / "hub_config.py")],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/jupyterhub/hub"
    try:
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"{url}/api") as answer:
                        if answer.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the hub did not start:\n" + log_path.read_text(errors="replace")[-4000:])
                await asyncio.sleep(0.2)
        yield LoopbackHub(url, log_path, tmp_path / "jupyterhub.sqlite")
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def hub_url(loopback_hub):
    return loopback_hub.url
