"""The calls XNAT makes to the JupyterHub API (contract §3.1, #1-#8), with timeouts."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from .preferences import Preferences


class HubError(Exception):
    """XNAT wraps hub client errors in a RuntimeException; the status is kept here for our messages."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _segment(name: str) -> str:
    return quote(name, safe="")


class HubClient:
    def __init__(self, prefs: Preferences, timeout: float) -> None:
        self.prefs = prefs
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def _call(self, method: str, path: str, body: Any = None, auth: bool = True) -> tuple[int, Any]:
        if self.session is None:
            # A fresh connection and name lookup for every call: the hub's address changes when its task is
            # replaced (a restart, an update), and a cached address or kept-alive connection would then point
            # at a container that is gone, where a call hangs until its timeout instead of reaching the new hub.
            connector = aiohttp.TCPConnector(use_dns_cache=False, force_close=True)
            self.session = aiohttp.ClientSession(timeout=self.timeout, connector=connector)
        # XNAT concatenates jupyterHubApiUrl and the path, read fresh on every call (§2.3)
        url = self.prefs.get("jupyterHubApiUrl") + path
        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"token {self.prefs.get('jupyterHubToken')}"
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        try:
            async with self.session.request(method, URL(url, encoded=True), headers=headers, data=data) as reply:
                text = await reply.text()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise HubError(f"{method} {url} failed: {exc.__class__.__name__}: {exc}") from exc
        try:
            parsed = json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            parsed = text
        return reply.status, parsed

    async def _expect(self, method: str, path: str, body: Any = None, auth: bool = True,
                      allowed: tuple[int, ...] = ()) -> tuple[int, Any]:
        status, data = await self._call(method, path, body, auth)
        if status // 100 != 2 and status not in allowed:
            detail = data.get("message") if isinstance(data, dict) else data
            raise HubError(f"JupyterHub answered {method} {path} with {status}: {detail}", status)
        return status, data

    async def version(self) -> dict:
        """#1, without authentication."""
        return (await self._expect("GET", "/", auth=False))[1]

    async def info(self) -> dict:
        """#2"""
        return (await self._expect("GET", "/info"))[1]

    async def user(self, username: str) -> dict | None:
        """#3; a 404 means no such hub user."""
        status, data = await self._expect("GET", f"/users/{_segment(username)}", allowed=(404,))
        return None if status == 404 else data

    async def users(self) -> list:
        """#4"""
        return (await self._expect("GET", "/users"))[1]

    async def create_user(self, username: str) -> dict:
        """#5"""
        return (await self._expect("POST", f"/users/{_segment(username)}"))[1]

    async def start_server(self, username: str, servername: str, options: dict) -> None:
        """#6"""
        path = f"/users/{_segment(username)}/server" + (f"s/{_segment(servername)}" if servername else "")
        await self._expect("POST", path, body=options)

    async def stop_server(self, username: str, servername: str) -> None:
        """#7; a 404 is swallowed like XNAT does. The default server is stopped without 'remove',
        which JupyterHub refuses for it (defect 14 not reproduced)."""
        if servername:
            await self._expect("DELETE", f"/users/{_segment(username)}/servers/{_segment(servername)}",
                               body={"remove": True}, allowed=(404,))
        else:
            await self._expect("DELETE", f"/users/{_segment(username)}/server", allowed=(404,))

    async def create_token(self, username: str, note: str | None, expires_in: int | None) -> dict:
        """#8 with XNAT's Token body, nulls included as RestTemplate sends them."""
        body = {"token": None, "id": None, "user": None, "kind": None, "service": None,
                "scopes": [f"access:servers!user={username}"], "note": note, "oauth_client": None,
                "session_id": None, "expires_at": None, "expires_in": expires_in, "created": None,
                "last_activity": None}
        return (await self._expect("POST", f"/users/{_segment(username)}/tokens", body=body))[1]
