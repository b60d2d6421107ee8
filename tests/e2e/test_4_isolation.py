"""Isolation: e2e-bob, logged in to the hub with his own session, cannot reach e2e-alice's notebook or her hub user."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import expect

from browser_steps import hub_api_in_page
from local_site import ALICE, BOB, HUB_URL, http

HIDDEN_USER = {"status": 404, "message": "No access to resources or resources not found"}


def _bob_token(bob_hub) -> str:
    """A token bob makes for himself in his hub session, as the hub's token page does."""
    bob_hub.goto(HUB_URL + "/hub/token")
    made = hub_api_in_page(bob_hub, f"/users/{BOB}/tokens", "POST", {"note": "e2e isolation", "expires_in": 600})
    assert made["status"] == 201, made
    return made["json"]["token"]


def test_other_user_is_refused_at_the_server_url_in_the_browser(bob_hub, alice_launch):
    page = bob_hub.context.new_page()
    answer = page.goto(alice_launch.url + "lab")
    # No redirect to bob's own server: the hub's OAuth step refuses to authorize him for alice's.
    assert answer.status == 403, f"{answer.status} at {page.url}"
    assert urlsplit(page.url).path == "/jupyterhub/hub/api/oauth2/authorize", page.url
    expect(page.locator("body")).to_contain_text(
        f"You do not have permission to access Server at {urlsplit(alice_launch.url).path}")
    expect(page.locator("#jp-main-dock-panel")).to_have_count(0)
    page.close()


def test_other_user_is_refused_by_the_server_api(bob_hub, alice_launch):
    contents = alice_launch.url + "api/contents"
    in_browser = bob_hub.context.request.get(contents, max_redirects=0)
    assert in_browser.status == 403, in_browser.status

    token = _bob_token(bob_hub)
    assert http("GET", HUB_URL + "/hub/api/user", token=token).json()["name"] == BOB  # the token itself works
    with_token = http("GET", contents, token=token)
    assert with_token.status_code == 403, with_token.text
    assert http("GET", contents, token=alice_launch.token).status_code == 200  # and alice's own does


def test_other_user_is_refused_by_the_hub_api_for_alice(bob_hub):
    bob_hub.goto(HUB_URL + "/hub/home")
    own = hub_api_in_page(bob_hub, f"/users/{BOB}")
    assert (own["status"], own["json"]["name"]) == (200, BOB), own
    # JupyterHub answers 404, exactly as for a user that does not exist, so it does not reveal who exists.
    assert hub_api_in_page(bob_hub, f"/users/{ALICE}")["json"] == HIDDEN_USER
    assert hub_api_in_page(bob_hub, "/users/e2e-nobody")["json"] == HIDDEN_USER
    token = _bob_token(bob_hub)
    with_token = http("GET", f"{HUB_URL}/hub/api/users/{ALICE}", token=token)
    assert (with_token.status_code, with_token.json()) == (404, HIDDEN_USER), with_token.text
