"""Signing in to the hub with what XNAT already knows, in Chromium: the XNAT session of a user who signed in
to XNAT through the identity provider (standing for OpenID: no XNAT password exists), and an XNAT alias token
that user issued."""

from __future__ import annotations

import secrets
import subprocess
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from browser_steps import hub_api_in_page, log_in_to_hub, log_in_to_xnat
from local_site import BASE_URL, HUB_URL, VIEWER, http

OPENID_USER = "e2e-olga"
NOT_ALLOWED = "Your XNAT account may not use Jupyter. Ask an XNAT administrator for the Jupyter role."
NO_SESSION = "This browser has no XNAT session, or it has ended."
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def report_timings(request):
    """Prints the sign-in times measured below at the end of the module (a figure, not a check)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    for what, seconds in TIMINGS.items():
        reporter.write_line(f"sign-in time: {what}: {seconds:.2f} s")


@pytest.fixture(scope="module")
def olga(site):
    """An XNAT account without a password (authMethod openid) that signs in at the identity provider."""
    idp_password = secrets.token_urlsafe(18)
    profile = {"username": OPENID_USER, "email": f"{OPENID_USER}@example.org", "firstName": "End-to-end",
               "lastName": "OpenID", "enabled": True, "verified": True, "authMethod": "openid",
               "idpPassword": idp_password}
    created = site.xnat.call("POST", "/xapi/users", json=profile)
    if created.status_code == 409:  # left from an interrupted run: a fresh password at the provider
        created = site.xnat.call("PUT", f"/xapi/users/{OPENID_USER}",
                                 json={"idpPassword": idp_password, "enabled": True, "verified": True})
        assert created.status_code in (200, 304), created.text
    else:
        assert created.status_code == 201, created.text
    granted = site.xnat.call("PUT", f"/xapi/users/{OPENID_USER}/roles/Jupyter")
    assert granted.status_code == 200, granted.text
    yield idp_password
    site.remove_all_servers(OPENID_USER)
    site.hub.call("DELETE", f"/users/{OPENID_USER}")
    site.xnat.disable_user(OPENID_USER)


def sign_in_at_the_idp(page: Page, username: str, password: str) -> None:
    """XNAT's sign-in page, then its identity provider's, as an OpenID user does."""
    page.goto(BASE_URL + "/")
    page.click("#idp-login")
    page.fill("#idp-username", username)
    page.fill("#idp-password", password)
    page.click("#idp-submit")
    expect(page.locator("#current-user")).to_have_text(username)


def hub_session_cookies(page: Page) -> set[str]:
    return {c["name"] for c in page.context.cookies(HUB_URL + "/hub/") if c["name"].startswith("jupyterhub")}


def test_openid_user_opens_the_hub_and_is_signed_in_with_the_xnat_session(site, olga, new_context):
    page = new_context().new_page()
    logs_since = str(int(time.time()) - 5)  # this test's part of the hub's log (a site's log grows with every run)
    sign_in_at_the_idp(page, OPENID_USER, olga)
    # XNAT itself has no password for this account: password sign-in at the hub can never work for it.
    assert http("GET", f"{BASE_URL}/xapi/users/username", auth=(OPENID_USER, olga)).status_code == 401

    started = time.monotonic()
    page.goto(HUB_URL + "/")
    expect(page.locator("#xnat-start-hint")).to_be_visible()
    TIMINGS["session sign-in (open /jupyterhub/ to home page)"] = time.monotonic() - started
    assert urlsplit(page.url).path == "/jupyterhub/hub/home", page.url
    identity = hub_api_in_page(page, "/user")
    assert (identity["status"], identity["json"]["name"]) == (200, OPENID_USER), identity
    # The home page leads back to XNAT and offers no start button that could only fail.
    expect(page.locator("#xnat-home-link")).to_have_attribute("href", "/")
    expect(page.locator("#start")).to_have_count(0)

    # The session cookie is XNAT's: the hub neither logs it nor hands it on.
    session = next(c["value"] for c in page.context.cookies(BASE_URL + "/") if c["name"] == "JSESSIONID")
    logs = subprocess.run(["docker", "service", "logs", "--raw", "--since", logs_since, site.swarm.hub_service],
                          capture_output=True, text=True, timeout=120, check=True)
    assert OPENID_USER in logs.stdout + logs.stderr, "the hub's log of the sign-in was not read"
    assert session not in logs.stdout + logs.stderr


def test_ended_xnat_session_falls_back_to_the_sign_in_form(olga, new_context):
    page = new_context().new_page()
    sign_in_at_the_idp(page, OPENID_USER, olga)
    page.goto(BASE_URL + "/app/logout")
    expect(page.locator("#login-username")).to_be_visible()

    # A session cookie XNAT no longer knows: the hub's form, saying why, and no hub session.
    page.context.add_cookies([{"name": "JSESSIONID", "value": "ended-" + secrets.token_hex(8), "url": BASE_URL}])
    page.goto(HUB_URL + "/")
    assert urlsplit(page.url).path == "/jupyterhub/hub/login", page.url
    expect(page.locator("#login-error")).to_contain_text(NO_SESSION)
    expect(page.locator("#username_input")).to_be_visible()
    expect(page.locator("#xnat-link")).to_have_attribute("href", "/")
    assert not hub_session_cookies(page) - {"jupyterhub-session-id"}, page.context.cookies()


def test_openid_user_signs_in_at_the_hub_form_with_an_alias_token(olga, new_context):
    issuer = new_context().new_page()
    sign_in_at_the_idp(issuer, OPENID_USER, olga)
    issued = issuer.request.get(BASE_URL + "/data/services/tokens/issue")
    assert issued.status == 200, issued.text()
    token = issued.json()

    page = new_context().new_page()  # another browser: no XNAT session there
    started = time.monotonic()
    log_in_to_hub(page, token["alias"], token["secret"])
    expect(page.locator("#xnat-start-hint")).to_be_visible()
    TIMINGS["alias token sign-in (form post to home page)"] = time.monotonic() - started
    identity = hub_api_in_page(page, "/user")
    assert (identity["status"], identity["json"]["name"]) == (200, OPENID_USER), identity

    # A revoked token signs no one in.
    revoked = issuer.request.get(f"{BASE_URL}/data/services/tokens/invalidate/{token['alias']}")
    assert revoked.status == 200, revoked.text()
    other = new_context().new_page()
    answer = log_in_to_hub(other, token["alias"], token["secret"])
    assert answer.status == 403
    assert urlsplit(other.url).path == "/jupyterhub/hub/login"


def test_xnat_session_without_the_jupyter_role_gets_the_role_message(users, new_context):
    page = new_context().new_page()
    log_in_to_xnat(page, VIEWER, users[VIEWER])
    page.goto(HUB_URL + "/")
    assert urlsplit(page.url).path == "/jupyterhub/hub/login", page.url
    expect(page.locator("#login-error")).to_have_text(NOT_ALLOWED)
    page.goto(HUB_URL + "/hub/home")
    assert urlsplit(page.url).path == "/jupyterhub/hub/login", f"viewer got a hub session: {page.url}"
