"""Fixtures of the end-to-end suite: the deployed local site, its test users, a browser, one XNAT launch."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from browser_steps import (
    CHROMIUM_ARGS,
    HTTP1_ONLY,
    Launch,
    launch_chromium,
    launch_from_xnat,
    log_in_to_hub,
    log_in_to_xnat,
    new_session,
    open_from_xnat,
    wait_for_jupyterlab,
)
from local_site import (
    ALICE,
    BASE_URL,
    BOB,
    EXPERIMENT_ID,
    HUB_URL,
    VIEWER,
    Passwords,
    Site,
    deployed_site,
    http,
    wait_until,
)

LAUNCH_TIMEOUT = 240

expect.set_options(timeout=60_000)


def pytest_configure(config):
    # haproxy's certificate on the local site is self-signed.
    config.addinivalue_line("filterwarnings", "ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture(scope="session", autouse=True)
def site(tmp_path_factory) -> Site:
    return deployed_site(tmp_path_factory.mktemp("playbook-logs"))


@pytest.fixture(scope="session")
def users(site: Site) -> Passwords:
    """Passwords of e2e-alice and e2e-bob (role Jupyter, made here as an XNAT admin would) and of viewer."""
    passwords = {ALICE: secrets.token_urlsafe(18), BOB: secrets.token_urlsafe(18)}
    for name, password in passwords.items():
        site.remove_all_servers(name)  # left over from an interrupted run
        site.xnat.ensure_user(name, password, ["Jupyter"])
    yield Passwords({**passwords, VIEWER: site.viewer_password})
    for name in passwords:
        site.remove_all_servers(name)
        site.hub.call("DELETE", f"/users/{name}")
        site.xnat.disable_user(name)


@pytest.fixture(scope="session")
def playwright_driver():
    with sync_playwright() as driver:
        yield driver


SESSIONS: list[BrowserContext] = []


@pytest.fixture(scope="session")
def new_context(playwright_driver):
    """Factory of isolated browser sessions in one Chromium, all closed at the end."""
    browser = launch_chromium(playwright_driver, CHROMIUM_ARGS + HTTP1_ONLY)

    def new() -> BrowserContext:
        SESSIONS.append(new_session(browser))
        return SESSIONS[-1]

    yield new
    for context in SESSIONS:
        context.close()
    browser.close()
    SESSIONS.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and call.when == "call" and SESSIONS:
        folder = item.config._tmp_path_factory.mktemp("screenshots-" + item.name[:60])  # pylint: disable=protected-access
        for number, page in enumerate(p for context in SESSIONS for p in context.pages):
            page.screenshot(path=folder / f"page-{number}.png")
        report.sections.append(("screenshots", str(folder)))
    return report


@pytest.fixture(scope="session")
def alice_launch(site: Site, users, new_context) -> Launch:
    """e2e-alice logs in to XNAT, launches a notebook on SUBJ01_MR1 and opens it; stopped the XNAT way at the end."""
    context = new_context()
    page = context.new_page()
    log_in_to_xnat(page, ALICE, users[ALICE])
    server = launch_from_xnat(page, EXPERIMENT_ID, site.environment, site.hardware, LAUNCH_TIMEOUT * 1000)
    status = page.locator("#launch-message").inner_text()
    lab, opened_urls = open_from_xnat(context, page, server)
    wait_for_jupyterlab(lab)
    yield Launch(ALICE, server, status, opened_urls, lab, page)
    stop = http("DELETE", f"{BASE_URL}/xapi/jupyterhub/users/{ALICE}/server/{server}",
                params={"eventTrackingId": "e2e-stop-" + secrets.token_hex(4)}, auth=(ALICE, users[ALICE]))
    assert stop.status_code == 200, f"XNAT's stop request answered {stop.status_code}: {stop.text}"
    wait_until(f"XNAT's stop of {server}", lambda: server not in site.hub.servers(ALICE), LAUNCH_TIMEOUT)


@pytest.fixture(scope="session")
def alice_hub(new_context) -> BrowserContext:
    """e2e-alice's browser session at the hub, kept from the notebook test to the hub-restart test."""
    return new_context()


@pytest.fixture(scope="session")
def bob_hub(users, new_context) -> Page:
    """e2e-bob, logged in at the hub's login form with his own session."""
    page = new_context().new_page()
    log_in_to_hub(page, BOB, users[BOB])
    page.goto(HUB_URL + "/hub/home")
    assert urlsplit(page.url).path == "/jupyterhub/hub/home", f"e2e-bob is not logged in to the hub: {page.url}"
    return page
