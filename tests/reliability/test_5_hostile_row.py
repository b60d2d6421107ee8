"""A hub started over a database holding a server whose stored start options are not an object.

JupyterHub 5.5 alone stores such a row when a start request's body is a JSON array, and then exits at
every start ("expected a dict, not the list [1]"). This product's hub refuses such bodies; a row
that is there anyway (an older version, a restored backup) must not stop the hub.
"""

from __future__ import annotations

import datetime
import sqlite3
import time

from conftest import EXPERIMENT, HUB_DB, LAUNCH_TIMEOUT, hub_db, wait_hub_healthy
from local_site import event_id, http, notebook_state, server_url, wait_until


def _scale_hub(site, replicas: int) -> None:
    service = site.swarm.service(site.swarm.hub_service)
    service.scale(replicas)
    if not replicas:
        wait_until("the hub's container to stop", lambda: not site.swarm.client.containers.list(
            filters={"label": f"com.docker.swarm.service.id={service.id}"}), 120)


def _store_phantom(username: str) -> None:
    """A running-looking server 'phantom' of `username` whose stored start options are the list [1]."""
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(HUB_DB) as db:
        (user_id,) = db.execute("SELECT id FROM users WHERE name = ?", (username,)).fetchone()
        server_id = db.execute(
            "INSERT INTO servers (proto, ip, port, base_url, cookie_name) VALUES ('http', '10.99.99.99', 8888, ?, ?)",
            (f"/jupyterhub/user/{username}/phantom/", f"jupyterhub-user-{username}-phantom")).lastrowid
        db.execute("INSERT INTO spawners (user_id, server_id, state, name, started, last_activity, user_options)"
                   " VALUES (?, ?, '{}', 'phantom', ?, ?, '[1]')", (user_id, server_id, now, now))


def test_hub_starts_over_a_hostile_stored_row(site, xnat_users, compute, figures):
    keeper, victim = xnat_users[3], xnat_users[4]
    server = event_id()
    assert keeper.finished_event(keeper.launch(server, *compute, EXPERIMENT), LAUNCH_TIMEOUT)["succeeded"] is True
    token = keeper.token()
    kept = notebook_state(site.swarm, keeper.username, server)
    site.hub.call("POST", f"/users/{victim.username}")

    _scale_hub(site, 0)
    try:
        _store_phantom(victim.username)
    finally:
        started = time.monotonic()
        _scale_hub(site, 1)
    # Up: swarm runs the task (its health check passed, so notebooks find the hub by name) and haproxy reaches it.
    site.hub_task_id()
    wait_hub_healthy(180)
    healthy = time.monotonic() - started

    servers = site.hub.servers(victim.username)
    stored = hub_db("SELECT user_options, server_id FROM spawners WHERE name = 'phantom'")
    removal = site.hub.call("DELETE", f"/users/{victim.username}/servers/phantom", json={"remove": True})
    keeper_answer = http("GET", server_url(keeper.username, server) + "api/status", token=token)
    figures.add("hostile stored row", f"hub healthy {healthy:.1f} s after starting over a server whose options are"
                f" [1]; that server {'listed' if 'phantom' in servers else 'dropped'}, its options now {stored[0][0]},"
                f" removing it answered {removal.status_code}; the other user's notebook answered"
                f" {keeper_answer.status_code}")
    assert "phantom" not in servers, servers
    assert stored == [("{}", None)], stored
    assert removal.status_code in (204, 404), removal.text
    assert keeper_answer.status_code == 200
    assert notebook_state(site.swarm, keeper.username, server) == kept
    assert keeper.finished_event(keeper.stop(server), LAUNCH_TIMEOUT)["succeeded"] is True
