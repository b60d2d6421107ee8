"""A server stopped and started again under the same name answers the first request after the hub says ready."""

from __future__ import annotations

import time

from conftest import EXPERIMENT, LAUNCH_TIMEOUT
from local_site import event_id, http, server_url, wait_until

CYCLES = 10


def test_first_request_after_ready_succeeds_when_a_name_is_reused(site, xnat_users, compute, figures):
    user = xnat_users[2]
    server = event_id()
    first_answers, cycle_seconds, token = [], [], None
    for _cycle in range(CYCLES):
        started = time.monotonic()
        user.launch(server, *compute, EXPERIMENT)
        # The moment the hub reports ready (what XNAT polls for), the first request goes through haproxy.
        wait_until(f"{server} to be ready in the hub",
                   lambda: site.hub.servers(user.username).get(server, {}).get("ready"), LAUNCH_TIMEOUT, 0.1)
        token = token or user.token()  # XNAT's Open link token, good for all of the user's servers
        first_answers.append(http("GET", server_url(user.username, server) + "api/status", token=token).status_code)
        assert user.finished_event(server, LAUNCH_TIMEOUT)["succeeded"] is True
        stopped = user.finished_event(user.stop(server), LAUNCH_TIMEOUT)
        assert stopped["succeeded"] is True, stopped
        cycle_seconds.append(time.monotonic() - started)
    ok = first_answers.count(200)
    figures.add("name reused", f"first request after ready answered 200 in {ok} of {CYCLES} stop-then-start cycles"
                f" (median cycle {sorted(cycle_seconds)[CYCLES // 2]:.1f} s); answers {first_answers}")
    assert ok == CYCLES, first_answers
    assert not site.swarm.notebook_services(user.username)
