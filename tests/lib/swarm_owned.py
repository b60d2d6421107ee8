"""What a test suite or benchmark owns on the swarm, by name prefix, and how it waits and removes it.

Used by the hub test layer (ittest-...) and the spawn benchmark (benchspawn-...), which deploy with the
collection's roles under names of their own and must leave nothing behind, nor touch anything else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from docker.errors import APIError, NotFound

T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T], timeout: float, interval: float = 0.5,
             error: type[Exception] = AssertionError) -> T:
    """Call check() until it returns something truthy and return that; `error` after timeout seconds.

    An HTTP or Docker API error from check() counts as "not yet" and is shown if time runs out.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except (requests.RequestException, APIError) as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise error(f"timed out after {timeout} s waiting for {what}; last result: {last!r}")
        time.sleep(interval)


def owned_containers(client: Any, prefixes: str | tuple[str, ...]) -> list[Any]:
    """Containers of swarm services whose names start with one of `prefixes`."""
    return [c for c in client.containers.list(all=True, filters={"label": "com.docker.swarm.service.name"})
            if c.labels["com.docker.swarm.service.name"].startswith(prefixes)]


def remove_owned(client: Any, prefixes: str | tuple[str, ...], network: str, what: str,
                 error: type[Exception] = AssertionError) -> None:
    """Remove every service, secret and config named with `prefixes`, and `network`; waits until they are gone."""
    for service in client.services.list():
        if service.name.startswith(prefixes):
            try:
                service.remove()
            except NotFound:
                pass

    def secrets_gone() -> bool:
        for secret in [s for s in client.secrets.list() if s.name.startswith(prefixes)]:
            try:
                secret.remove()
            except (NotFound, APIError):  # APIError: a task that is shutting down still uses it
                pass
        for config in [c for c in client.configs.list() if c.name.startswith(prefixes)]:
            try:
                config.remove()
            except (NotFound, APIError):
                pass
        return not [s for s in client.secrets.list() + client.configs.list() if s.name.startswith(prefixes)]

    def network_gone() -> bool:
        # The node keeps its copy of a removed swarm network until the last container detaches.
        for candidate in client.networks.list(names=[network]):
            if candidate.name == network:
                try:
                    candidate.remove()
                except (NotFound, APIError):
                    pass
                return False
        return True

    wait_for(f"{what}'s containers to be gone", lambda: not owned_containers(client, prefixes), 90, 1, error)
    wait_for(f"{what}'s secrets to be removed", secrets_gone, 60, 1, error)
    wait_for(f"network {network} to be removed", network_gone, 60, 1, error)
