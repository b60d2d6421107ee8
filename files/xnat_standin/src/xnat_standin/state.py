"""The objects every handler needs, kept on the aiohttp application."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .auth import Authenticator, Principal
from .config import Settings
from .hub_client import HubClient
from .preferences import Preferences
from .responses import NotAuthenticated
from .store import Store


@dataclass
class Faults:
    """Injected failures for tests: (method, path glob) -> rule. Empty unless enabled and set."""

    rules: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class State:
    settings: Settings
    store: Store
    auth: Authenticator
    prefs: Preferences
    faults: Faults = field(default_factory=Faults)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a launch or stop in the background and keep a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


STATE = web.AppKey("state", State)
HUB = web.AppKey("hub", HubClient)
# None for a caller without credentials; the authentication middleware sets it on every request
PRINCIPAL = web.RequestKey[Principal | None]("principal")


def state_of(request: web.Request) -> State:
    return request.app[STATE]


def principal_or_none(request: web.Request) -> Principal | None:
    """The caller, or None on the pages that need no login (the home page, login and logout)."""
    return request[PRINCIPAL]


def principal_of(request: web.Request) -> Principal:
    """The caller of an endpoint that needs a login, which the authentication middleware has enforced."""
    principal = request[PRINCIPAL]
    if principal is None:
        # not reached for /xapi, /standin and /data: the middleware answers 401 first, with this message
        raise NotAuthenticated("Authentication required.")
    return principal
