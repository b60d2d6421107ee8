"""Helpers for the stand-in's tests: a real stand-in on 127.0.0.1, a client for it, a real JupyterHub."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from xnat_standin.app import create_app
from xnat_standin.config import parse_settings
from xnat_standin.state import STATE, State

ADMIN = ("admin", "admin-test-password")
SERVICE = ("jupyterhub", "jupyterhub")
STANDIN_DIR = Path(__file__).resolve().parents[1]
TESTS_DIR = Path(__file__).resolve().parent
USER = ("jsmith", "pw-jsmith")


@dataclass
class Reply:
    status: int
    headers: Any
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


class Standin:
    """A running stand-in; `restart()` starts a new server on the same data directory."""

    def __init__(self, tmp_path: Path, args: list[str]) -> None:
        self.tmp_path = tmp_path
        self.args = args
        self.server: TestServer | None = None
        self.session = aiohttp.ClientSession()

    async def start(self) -> None:
        settings = parse_settings(self.args)
        self.server = TestServer(create_app(settings), host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def close(self) -> None:
        await self.stop()
        await self.session.close()

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def state(self) -> State:
        return self.server.app[STATE]

    async def call(self, method: str, path: str, auth: tuple[str, str] | None = ADMIN,
                   json_body: Any = None, data: Any = None, headers: dict | None = None) -> Reply:
        kwargs: dict[str, Any] = {"headers": dict(headers or {})}
        if auth is not None:
            kwargs["headers"]["Authorization"] = aiohttp.encode_basic_auth(*auth)
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        async with self.session.request(method, self.url + path, allow_redirects=False, **kwargs) as response:
            return Reply(response.status, response.headers, await response.text())

    async def create_user(self, username: str, password: str, roles: tuple[str, ...] = (),
                          enabled: bool = True) -> None:
        reply = await self.call("POST", "/xapi/users", json_body={
            "username": username, "password": password, "firstName": "Test", "lastName": username,
            "email": f"{username}@example.org", "enabled": enabled, "verified": True})
        assert reply.status == 201, reply.text
        if roles:
            reply = await self.call("PUT", f"/xapi/users/{username}/roles", json_body=list(roles))
            assert reply.status == 200, reply.text


def standin_args(tmp_path: Path, *extra: str) -> list[str]:
    password_file = tmp_path / "admin-password"
    password_file.write_text(ADMIN[1] + "\n")
    return ["--data-dir", str(tmp_path / "data"), "--admin-password-file", str(password_file),
            "--listen", "127.0.0.1:0", *extra]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Hub:
    api_url: str
    host_url: str
    token: str
    work: Path

    async def get(self, path: str, token: str | None = None) -> tuple[int, dict]:
        async with aiohttp.ClientSession() as session:
            async with session.get(self.api_url + path,
                                   headers={"Authorization": f"token {token or self.token}"}) as reply:
                return reply.status, await reply.json(content_type=None)


@contextlib.contextmanager
def running_hub(work: Path):
    """JupyterHub 5 on loopback with tests/jupyterhub_config.py, until the block ends."""
    (work / "service-token").write_text(secrets.token_hex(16))
    (work / "service-password").write_text(secrets.token_urlsafe(12))
    port, api_port = free_port(), free_port()
    env = {**os.environ, "HUB_WORK_DIR": str(work), "HUB_PORT": str(port), "HUB_API_PORT": str(api_port)}
    log = open(work / "jupyterhub.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(TESTS_DIR / "jupyterhub_config.py")],
                               cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    api_url = f"http://127.0.0.1:{api_port}/jupyterhub/hub/api"
    deadline = time.monotonic() + 40
    while True:
        try:
            with urllib.request.urlopen(api_url + "/", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("JupyterHub did not start:\n" + (work / "jupyterhub.log").read_text()[-3000:])
        time.sleep(0.2)
    try:
        yield Hub(api_url=api_url, host_url=f"http://127.0.0.1:{port}",
                  token=(work / "service-token").read_text(), work=work)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
