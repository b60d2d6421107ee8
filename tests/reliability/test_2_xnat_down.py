"""XNAT down during logins and launches: clear errors within the timeouts, the hub stays up, nothing is left."""

from __future__ import annotations

import html
import time

from conftest import STANDIN_SERVICE
from local_site import BASE_URL, event_id, http, hub_login, wait_until

MSG_UNREACHABLE = "XNAT could not be reached to check your login."
MSG_SPAWN_UNREACHABLE = "XNAT unreachable: could not fetch the launch options."
# The hub role's defaults: 5 s to connect to XNAT, 20 s for its whole answer.
REQUEST_TIMEOUT = 20


def _scale_standin(site, replicas: int) -> None:
    service = site.swarm.service(STANDIN_SERVICE)
    service.scale(replicas)
    if replicas:
        wait_until("the XNAT stand-in through haproxy",
                   lambda: http("GET", BASE_URL + "/app/login").status_code == 200, 120)
    else:
        wait_until("the stand-in's container to stop", lambda: not site.swarm.client.containers.list(
            filters={"label": f"com.docker.swarm.service.id={service.id}"}), 120)


def test_xnat_down_gives_clear_errors_and_the_hub_recovers(site, xnat_users, figures):
    user = xnat_users[0]
    hub_task = site.hub_task_id()
    services = {s.id for s in site.swarm.client.services.list()}
    secrets = {s.id for s in site.swarm.client.secrets.list()}
    site.hub.call("POST", f"/users/{user.username}")
    _scale_standin(site, 0)
    try:
        login_seconds, launch_seconds = [], []
        for _attempt in range(5):
            started = time.monotonic()
            status, page = hub_login(user.username, user.auth[1])
            login_seconds.append(time.monotonic() - started)
            assert status == 503 and MSG_UNREACHABLE in html.unescape(page), (status, page[:300])
        for _attempt in range(3):
            name = event_id()
            started = time.monotonic()
            # XNAT's start request reaching the hub while XNAT itself is gone
            answer = site.hub.call("POST", f"/users/{user.username}/servers/{name}",
                                   json={"xsiType": "xnat:experimentData", "eventTrackingId": name,
                                         "task_template": None})
            launch_seconds.append(time.monotonic() - started)
            assert answer.status_code == 503 and answer.json()["message"] == MSG_SPAWN_UNREACHABLE, answer.text
            assert name not in site.hub.servers(user.username)
    finally:
        _scale_standin(site, 1)
    started = time.monotonic()
    wait_until("a login to work again", lambda: hub_login(user.username, user.auth[1])[0] == 302, 60)
    back = time.monotonic() - started
    figures.add("XNAT down", f"5 logins answered 503 in at most {max(login_seconds):.2f} s, 3 launches 503 in at most"
                f" {max(launch_seconds):.2f} s; nothing left; login works {back:.1f} s after XNAT is back")
    assert max(login_seconds + launch_seconds) < REQUEST_TIMEOUT
    assert site.hub_task_id() == hub_task, "the hub restarted"
    assert {s.id for s in site.swarm.client.services.list()} == services, "a service was created or removed"
    assert {s.id for s in site.swarm.client.secrets.list()} == secrets, "a secret was created or removed"
