"""Failures a user meets, each with a clear message and no notebook service or secret left behind."""

from __future__ import annotations

import html
import time

import pytest

from hub_site import wait_for

MSG_UNREACHABLE = ("XNAT could not be reached to check your login. Try again in a few minutes;"
                   " if this persists, tell the site administrator.")
UNPLACEABLE_SERVER = "20250311T172455200Z"
UNREACHABLE_SERVER = "20250311T172455300Z"
CRASHING_SERVER = "20250311T172455400Z"
STOPPED_WHILE_STARTING = "20250311T172455500Z"


@pytest.fixture(name="leftovers")
def no_leftovers(site):
    """Asserts after the test that it left no notebook service or secret behind."""
    services = {s.id for s in site.notebook_services()}
    secrets = {s.id for s in site.notebook_secrets()}
    yield
    assert {s.id for s in site.notebook_services()} == services
    assert {s.id for s in site.notebook_secrets()} == secrets


@pytest.fixture(scope="module", name="xnat_down")
def stand_in_scaled_to_zero(site):
    """The stand-in scaled to zero: XNAT's name no longer resolves and nothing listens."""
    site.scale_standin(0)
    yield
    site.scale_standin(1)


@pytest.mark.usefixtures("leftovers")
def test_unplaceable_notebook_fails_fast_with_swarm_reason(site):
    started = time.monotonic()
    outcome = site.wait_event(site.launch(UNPLACEABLE_SERVER, "impossible"), 100)
    elapsed = time.monotonic() - started

    assert outcome["succeeded"] is False, outcome
    assert outcome["finalMessage"].startswith("Failed to launch Jupyter notebook server.")
    # JH_START_TIMEOUT is 120 s; JH_PENDING_GRACE (10 s) decides when an unplaceable task fails.
    assert elapsed < 40, f"the failure took {elapsed:.0f} s"
    message = site.spawn_failure(UNPLACEABLE_SERVER)
    assert "The swarm cannot place the notebook: no suitable node (scheduling constraints not satisfied" in message
    assert site.hub_server(UNPLACEABLE_SERVER) is None
    assert site.notebook_services(UNPLACEABLE_SERVER) == []


@pytest.mark.usefixtures("leftovers")
def test_notebook_that_exits_fails_fast_and_is_not_restarted(site):
    started = time.monotonic()
    outcome = site.wait_event(site.launch(CRASHING_SERVER, "small", environment="crashing"), 100)
    elapsed = time.monotonic() - started

    assert outcome["succeeded"] is False, outcome
    # JH_HTTP_TIMEOUT (the hub's wait for a started server to answer) is far longer; the spawner sees the exit.
    assert elapsed < 40, f"the failure took {elapsed:.0f} s"
    message = site.spawn_failure(CRASHING_SERVER)
    # Seen while the task starts ("could not start") or after it ran ("stopped while starting"):
    # either way swarm's reason.
    assert "task: non-zero exit (3)" in message, message
    assert site.hub_server(CRASHING_SERVER) is None
    assert site.notebook_services(CRASHING_SERVER) == []
    # XNAT names every launch anew: a failed one leaves the hub (and the user's home page) shortly after.
    assert site.hub_server(CRASHING_SERVER, include_stopped=True) is not None
    wait_for("the hub to remove the failed server",
             lambda: site.hub_server(CRASHING_SERVER, include_stopped=True) is None, 60)
    wait_for("the hub to remove the unplaceable server",
             lambda: site.hub_server(UNPLACEABLE_SERVER, include_stopped=True) is None, 60)


@pytest.mark.usefixtures("leftovers")
def test_stopping_a_server_that_is_still_starting(site):
    # XNAT's launch; while the hub still starts the notebook, XNAT's stop arrives (a user's, or its culler's).
    site.launch(STOPPED_WHILE_STARTING, "small")
    wait_for("the hub to be starting the server",
             lambda: (site.hub_server(STOPPED_WHILE_STARTING) or {}).get("pending") == "spawn", 60, 0.05)

    answer = site.hub_api("DELETE", f"/users/alice/servers/{STOPPED_WHILE_STARTING}", json={"remove": True},
                          timeout=120)

    # JupyterHub 5.5 alone answers 500 ("pending spawn") when the start takes more than a second to unwind.
    assert answer.status_code in (202, 204), answer.text[:300]
    wait_for("the hub to forget the server", lambda: site.hub_server(STOPPED_WHILE_STARTING) is None, 60)
    wait_for("the notebook's service to be gone", lambda: not site.notebook_services(STOPPED_WHILE_STARTING), 60)
    assert site.wait_event(STOPPED_WHILE_STARTING, 100)["succeeded"] is False


@pytest.mark.usefixtures("xnat_down", "leftovers")
def test_login_when_xnat_is_unreachable(site):
    answer = site.login("alice", site.passwords["alice"])[1]

    assert answer.status_code == 503
    assert MSG_UNREACHABLE in html.unescape(answer.text)


@pytest.mark.usefixtures("xnat_down", "leftovers")
def test_spawn_when_xnat_is_unreachable(site):
    # The launch request XNAT sends to the hub, arriving while XNAT itself has gone away.
    answer = site.hub_api("POST", f"/users/alice/servers/{UNREACHABLE_SERVER}", timeout=60,
                          json={"xsiType": "xnat:experimentData", "itemId": "XNAT_E00001", "projectId": "DEMO01",
                                "eventTrackingId": UNREACHABLE_SERVER, "task_template": None})

    assert answer.status_code == 503, answer.text[:300]
    assert answer.json()["message"] == "XNAT unreachable: could not fetch the launch options."
    assert site.spawn_failure(UNREACHABLE_SERVER) == (
        "Spawn failed: XNAT unreachable: could not fetch the launch options.")
    assert site.hub_server(UNREACHABLE_SERVER) is None
