"""Logins through a real JupyterHub on loopback with XnatAuthenticator and its login page handler.

XNAT is the tests' responder; the hub runs as a subprocess with a proxy that keeps its routes in
memory, and the test talks to the hub's own port. Logins made at once must all succeed.
"""

import asyncio
import html
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

HUB_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "S3cret:pass word%"
XSRF_FIELD = re.compile(r'name="_xsrf" value="([^"]+)"')

TEST_HUB_CONFIG = """
import os
from jupyterhub.proxy import Proxy

class RoutesInMemory(Proxy):
    routes = {}
    async def start(self): pass
    async def stop(self): pass
    async def add_route(self, routespec, target, data): self.routes[routespec] = {"routespec": routespec, "target": target, "data": data}
    async def delete_route(self, routespec): self.routes.pop(routespec, None)
    async def get_all_routes(self): return dict(self.routes)

c = get_config()
c.JupyterHub.bind_url = "http://127.0.0.1:%s/jupyterhub" % os.environ["TEST_HUB_PORT"]
c.JupyterHub.hub_bind_url = "http://127.0.0.1:%s" % os.environ["TEST_HUB_API_PORT"]
c.JupyterHub.proxy_class = RoutesInMemory
c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "cookie_secret"
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.implicit_spawn_seconds = 0
c.JupyterHub.authenticator_class = "xnat_jupyterhub_hub.authenticator.XnatAuthenticator"
c.XnatClient.url = os.environ["TEST_XNAT_URL"]
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest_asyncio.fixture
async def hub_url(fake_xnat, tmp_path):
    """The hub's /jupyterhub/hub URL, once it answers; the hub talks to fake_xnat."""
    (tmp_path / "hub_config.py").write_text(TEST_HUB_CONFIG)
    port = free_port()
    env = {**os.environ, "TEST_HUB_PORT": str(free_port()), "TEST_HUB_API_PORT": str(port),
           "TEST_XNAT_URL": fake_xnat.url,
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
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def log_in(url, username, password):
    """The login form as a browser fills it in: (status of the POST, user name the cookie gives, page text)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{url}/login") as page:
            text = await page.text()
            assert page.status == 200, text[:500]
        form = {"_xsrf": html.unescape(XSRF_FIELD.search(text).group(1)), "username": username, "password": password}
        async with session.post(f"{url}/login", data=form, allow_redirects=False) as answer:
            status, body = answer.status, await answer.text()
        async with session.get(f"{url}/api/user") as me:
            name = (await me.json()).get("name") if me.status == 200 else None
    return status, name, body


@pytest.mark.asyncio
async def test_logins_made_at_once_all_succeed_through_a_real_hub(fake_xnat, hub_url):
    users = [f"user{i:02d}" for i in range(12)]
    for user in users:
        fake_xnat.add(user, PASSWORD, ["Jupyter"])
    results = await asyncio.gather(*(log_in(hub_url, user, PASSWORD) for user in users))
    assert [(status, name) for status, name, _cookie in results] == [(302, user) for user in users]


@pytest.mark.asyncio
async def test_wrong_password_and_missing_role_are_refused_through_a_real_hub(fake_xnat, hub_url):
    fake_xnat.add("JSmith", PASSWORD, ["Jupyter"])
    fake_xnat.add("bob", PASSWORD, [])
    status, name, body = await log_in(hub_url, "JSmith", "wrong")
    assert (status, name) == (403, None) and "Invalid username or password" in body
    status, name, body = await log_in(hub_url, "bob", PASSWORD)
    assert (status, name) == (403, None) and "may not use Jupyter" in body
