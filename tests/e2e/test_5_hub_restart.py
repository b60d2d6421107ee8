"""A hub restart (docker service update --force) keeps notebooks and the browser sessions that use them."""

from __future__ import annotations

import subprocess
from urllib.parse import urlsplit

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from browser_steps import log_in_to_hub, wait_for_jupyterlab
from local_site import ALICE, HUB_URL, notebook_state

READ_IN_PAGE = """async (url) => {
    const xsrf = decodeURIComponent(document.cookie.split('; ').find(c => c.startsWith('_xsrf=')).slice(6));
    const response = await fetch(url, {headers: {'X-XSRFToken': xsrf}});
    return {status: response.status, json: response.ok ? await response.json() : null};
}"""


def _open_lab(page, launch) -> None:
    # Every request of the page that has not ended, so that a page that never loads names what it waits for.
    pending = {}
    page.on("request", lambda request: pending.__setitem__(id(request), request))
    page.on("requestfinished", lambda request: pending.pop(id(request), None))
    page.on("requestfailed", lambda request: pending.pop(id(request), None))
    try:
        answer = page.goto(launch.url + "lab")
    except PlaywrightTimeoutError as e:
        waiting = [f"{r.method} {r.url} ({r.resource_type})" for r in pending.values()]
        raise AssertionError(f"{launch.url}lab did not load; requests without an answer: {waiting}") from e
    assert answer.ok, f"{answer.status} at {page.url}"
    assert urlsplit(page.url).path == urlsplit(launch.url).path + "lab", f"sent elsewhere: {page.url}"
    wait_for_jupyterlab(page)


def test_hub_restart_keeps_the_notebook_reachable_with_the_existing_browser_session(
        site, users, alice_launch, alice_hub):
    page = alice_hub.pages[0] if alice_hub.pages else alice_hub.new_page()
    if not alice_hub.cookies(HUB_URL + "/hub/"):  # run alone, without the notebook test's login
        log_in_to_hub(page, ALICE, users[ALICE])
    _open_lab(page, alice_launch)
    hub_task = site.hub_task_id()
    notebook = notebook_state(site.swarm, alice_launch.user, alice_launch.server)

    subprocess.run(["docker", "service", "update", "--force", "--detach=false", "--quiet", site.swarm.hub_service],
                   check=True, timeout=300, stdin=subprocess.DEVNULL, capture_output=True)
    assert site.hub_task_id() != hub_task, "the forced update did not replace the hub's task"
    site.assert_notebook_kept(alice_launch, notebook)

    # The same cookies, no new login: the notebook, its API, and the hub's own pages.
    lab = alice_hub.new_page()
    _open_lab(lab, alice_launch)
    listing = lab.evaluate(READ_IN_PAGE, alice_launch.url + "api/contents")
    assert listing["status"] == 200 and listing["json"]["type"] == "directory", listing
    page.goto(HUB_URL + "/hub/home")
    assert urlsplit(page.url).path == "/jupyterhub/hub/home", f"the hub session is gone: {page.url}"
    expect(page.locator(f"tr.home-server-row[data-server-name='{alice_launch.server}'] a.server-link")).to_be_visible()
