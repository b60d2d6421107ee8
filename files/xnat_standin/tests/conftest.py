"""A real stand-in server on 127.0.0.1 per test, and a small client for it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from xnat_standin.app import create_app
from xnat_standin.config import parse_settings
from xnat_standin.state import STATE, State

ADMIN = ("admin", "admin-test-password")
SERVICE = ("jupyterhub", "jupyterhub")
STANDIN_DIR = Path(__file__).resolve().parents[1]


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


@pytest.fixture
async def standin(tmp_path):
    standin = Standin(tmp_path, standin_args(tmp_path))
    await standin.start()
    yield standin
    await standin.close()


@pytest.fixture
async def standin_factory(tmp_path):
    """Start a stand-in with extra command-line options; all are closed at the end."""
    started: list[Standin] = []

    async def make(*extra: str) -> Standin:
        standin = Standin(tmp_path, standin_args(tmp_path, *extra))
        await standin.start()
        started.append(standin)
        return standin

    yield make
    for standin in started:
        await standin.close()
