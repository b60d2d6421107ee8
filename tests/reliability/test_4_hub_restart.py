"""docker service update --force of the hub with five notebooks running: all five keep their containers
and answer through haproxy afterwards."""

from __future__ import annotations

import subprocess
import time

from conftest import EXPERIMENT, LAUNCH_TIMEOUT, wait_hub_healthy
from local_site import event_id, http, notebook_state, server_url, wait_until


def test_hub_restart_keeps_five_notebooks(site, xnat_users, compute, figures):
    launches = []
    for user in xnat_users:
        server = event_id()
        launches.append((user, user.launch(server, *compute, EXPERIMENT)))
        time.sleep(0.002)  # distinct event ids
    for user, server in launches:
        assert user.finished_event(server, LAUNCH_TIMEOUT)["succeeded"] is True
    tokens = {user.username: user.token() for user, _server in launches}
    before = {user.username: notebook_state(site.swarm, user.username, server) for user, server in launches}
    hub_task = site.hub_task_id()

    started = time.monotonic()
    subprocess.run(["docker", "service", "update", "--force", "--detach", "--quiet", site.swarm.hub_service],
                   check=True, timeout=120, stdin=subprocess.DEVNULL, capture_output=True)
    # Up: swarm runs the new task (its health check passed, so notebooks find the hub by name) and haproxy reaches it.
    wait_until("a new running hub task", lambda: site.hub_task_id() != hub_task, 180, 0.2)
    wait_hub_healthy(180)
    healthy = time.monotonic() - started

    reachable = 0
    for user, server in launches:
        url = server_url(user.username, server) + "api/status"
        answer = http("GET", url, token=tokens[user.username])
        reachable += answer.status_code == 200
    after = {user.username: notebook_state(site.swarm, user.username, server) for user, server in launches}
    respawned = sum(after[name] != before[name] for name in before)
    ready = sum(bool(site.hub.servers(user.username).get(server, {}).get("ready")) for user, server in launches)
    figures.add("hub restart", f"healthy {healthy:.1f} s after docker service update --force; {reachable} of 5"
                f" notebooks answer through haproxy, {ready} of 5 ready in the hub, {respawned} respawned")
    assert (reachable, ready, respawned) == (5, 5, 0)
    for user, server in launches:
        assert user.finished_event(user.stop(server), LAUNCH_TIMEOUT)["succeeded"] is True
