"""Logging in at https://localhost/jupyterhub with XNAT credentials, in Chromium."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import expect

from browser_steps import hub_api_in_page, log_in_to_hub
from local_site import BASE_URL, BOB, HUB_URL, VIEWER, http

NOT_ALLOWED = "Your XNAT account may not use Jupyter. Ask an XNAT administrator for the Jupyter role."
NO_LAUNCH_OPTIONS = "start it from XNAT"


def test_user_without_the_jupyter_role_is_refused_with_a_clear_message(users, new_context):
    # XNAT itself accepts the password: the refusal is about the role, not the credentials.
    roles = http("GET", f"{BASE_URL}/xapi/users/{VIEWER}/roles", auth=(VIEWER, users[VIEWER]))
    assert roles.status_code == 200 and "Jupyter" not in roles.json(), roles.text

    page = new_context().new_page()
    answer = log_in_to_hub(page, VIEWER, users[VIEWER])
    assert answer.status == 403
    expect(page.locator(".login_error")).to_have_text(NOT_ALLOWED)

    page.goto(HUB_URL + "/hub/home")
    assert urlsplit(page.url).path == "/jupyterhub/hub/login", f"viewer got a hub session: {page.url}"

    wrong = log_in_to_hub(page, VIEWER, users[VIEWER] + "-wrong")
    assert wrong.status == 403
    expect(page.locator(".login_error")).not_to_have_text(NOT_ALLOWED)


def test_xnat_user_logs_in_at_the_hub_login_form(users, new_context):
    page = new_context().new_page()
    log_in_to_hub(page, BOB, users[BOB])
    # A fresh login lands on the home page (not on a start of the default server, which only XNAT can start),
    # which says where notebooks come from and leads back to XNAT.
    assert urlsplit(page.url).path == "/jupyterhub/hub/home", page.url
    expect(page.locator("#xnat-start-hint")).to_contain_text("Notebooks are started from XNAT")
    expect(page.locator("#xnat-home-link")).to_have_attribute("href", "/")
    expect(page.locator("#start")).to_have_count(0)
    identity = hub_api_in_page(page, "/user")
    assert (identity["status"], identity["json"]["name"]) == (200, BOB), identity
    # Behind haproxy's TLS the hub's cookies are Secure (a browser never sends them over http://) and SameSite=Lax.
    cookies = page.context.cookies(HUB_URL + "/hub/")
    assert {"jupyterhub-hub-login", "jupyterhub-session-id", "_xsrf"} <= {c["name"] for c in cookies}, cookies
    assert all(c["secure"] and c["sameSite"] == "Lax" for c in cookies), cookies


def test_server_started_from_the_hub_instead_of_xnat_is_refused_with_a_clear_message(site, bob_hub):
    """Only XNAT holds launch options; JupyterHub's own spawn page (a bookmark, an old link) must say to launch
    from XNAT."""
    page = bob_hub
    page.goto(HUB_URL + "/hub/spawn")
    assert not site.swarm.notebook_services(BOB), "a notebook service was created without XNAT's launch options"
    # An immediate failure is an error page; a slower one shows on the spawn-pending page.
    expect(page.locator("div.error, #progress-message")).to_contain_text(NO_LAUNCH_OPTIONS, timeout=15_000)
