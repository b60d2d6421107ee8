"""The objects every handler needs, kept on the aiohttp application."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from .auth import Authenticator, Principal
from .config import Settings
from .preferences import Preferences
from .store import Store


@dataclass
class Faults:
    """Injected failures for tests: (method, path glob) -> rule. Empty unless enabled and set."""

    rules: list[dict] = field(default_factory=list)


@dataclass
class State:
    settings: Settings
    store: Store
    auth: Authenticator
    prefs: Preferences
    faults: Faults = field(default_factory=Faults)
    tasks: set[asyncio.Task] = field(default_factory=set)

    def spawn(self, coro) -> asyncio.Task:
        """Run a launch or stop in the background and keep a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


STATE = web.AppKey("state", State)
HUB = web.AppKey("hub", object)
PRINCIPAL = web.RequestKey("principal", Principal)


def state_of(request: web.Request) -> State:
    return request.app[STATE]


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL]
