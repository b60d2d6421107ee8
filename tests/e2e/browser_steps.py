"""What a user does in the browser: the hub's login form, the XNAT stand-in's launch page, JupyterLab."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

from local_site import BASE_URL, HUB_URL, server_url

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# Websockets over HTTP/2 through haproxy have a test of their own (test_3_notebook); the other
# browser tests speak HTTP/1.1 so that this one fault does not make all of them flaky.
HTTP1_ONLY = ["--disable-http2"]

# XNAT names each server by its event id: the launch time as an ISO timestamp without - : .
EVENT_ID = re.compile(r"\d{8}T\d{9}Z")


def launch_chromium(driver, args: list[str]) -> Browser:
    """Headless Debian Chromium; every launch starts with a fresh temporary profile."""
    return driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


def new_session(browser: Browser) -> BrowserContext:
    """A browser session of its own: cookies and storage shared with no other."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(60_000)
    return context


@dataclass
class Launch:
    """A notebook server launched from XNAT's page and opened with XNAT's Open link."""
    user: str
    server: str
    status: str  # what XNAT's page said when the launch ended
    opened_urls: list[str] = field(repr=False)  # every URL the Open link's tab navigated to (one holds the token)
    lab: Page = field(repr=False)  # that tab
    xnat_page: Page = field(repr=False)

    @property
    def url(self) -> str:
        return server_url(self.user, self.server)

    @property
    def token(self) -> str:
        """The token XNAT minted and put into the Open link (?token=)."""
        for url in self.opened_urls:
            parts = urlsplit(url)
            if parts.path == urlsplit(self.url).path and "token" in parse_qs(parts.query):
                return parse_qs(parts.query)["token"][0]
        raise AssertionError(f"the Open link never went to {self.url}?token=...: {self.opened_urls}")


def log_in_to_hub(page: Page, username: str, password: str) -> Response | None:
    """Fill in the hub's own login form; the answer to the form post."""
    page.goto(HUB_URL)
    expect(page.locator("#login_submit")).to_be_visible()
    page.fill("#username_input", username)
    page.fill("#password_input", password)
    with page.expect_navigation() as posted:
        page.click("#login_submit")
    return posted.value


def hub_api_in_page(page: Page, path: str, method: str = "GET", body: dict | None = None) -> dict:
    """Call the hub API from a hub page with the page's session cookie and XSRF token, as the hub's own pages do."""
    return page.evaluate(
        """async ([url, method, body]) => {
            const options = {method, headers: {'X-XSRFToken': window.jhdata.xsrf_token}};
            if (body !== null) {
                options.headers['Content-Type'] = 'application/json';
                options.body = JSON.stringify(body);
            }
            const response = await fetch(url, options);
            const text = await response.text();
            let json = null;
            try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
            return {status: response.status, json, text};
        }""",
        [f"{HUB_URL}/hub/api{path}", method, body],
    )


def log_in_to_xnat(page: Page, username: str, password: str) -> None:
    page.goto(BASE_URL + "/")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
    expect(page.locator("#current-user")).to_have_text(username)


def launch_from_xnat(page: Page, experiment_id: str, environment: str, hardware: str, timeout_ms: int) -> str:
    """Launch a notebook on an experiment as XNAT's UI does; the new server's name."""
    page.click(f"[data-test=experiment][data-id='{experiment_id}'] > button[data-test=launch]")
    expect(page.locator("#launch-panel")).to_be_visible()
    page.select_option("#compute-environment", label=environment)
    page.select_option("#hardware", label=hardware)
    known = set(page.locator("tr[data-test=server]").evaluate_all("rows => rows.map(r => r.dataset.name)"))
    page.click("#launch-start")
    status = page.locator("#launch-status")
    expect(status).not_to_have_attribute("data-state", re.compile("running|idle"), timeout=timeout_ms)
    assert status.get_attribute("data-state") == "succeeded", f"XNAT's launch failed: {status.inner_text()}"
    rows = page.locator("tr[data-test=server]")
    expect(rows).not_to_have_count(len(known))
    names = set(rows.evaluate_all("rows => rows.map(r => r.dataset.name)")) - known
    assert len(names) == 1, f"expected one new server on XNAT's page, found {sorted(names)}"
    return names.pop()


def open_from_xnat(context: BrowserContext, page: Page, server: str) -> tuple[Page, list[str]]:
    """Click the server's Open button; the tab it opens and every URL that tab navigated to."""
    navigations: list[str] = []
    context.on("request", lambda request: navigations.append(request.url)
               if request.is_navigation_request() else None)
    with context.expect_page() as opened:
        page.locator(f"tr[data-test=server][data-name='{server}'] [data-test=open-server]").click()
    return opened.value, navigations


def wait_for_jupyterlab(page: Page) -> None:
    """JupyterLab has loaded: its shell is up and the file browser lists the workspace."""
    expect(page.locator("#jp-main-dock-panel")).to_be_visible()
    expect(page.locator(".jp-DirListing-item").first).to_be_visible()


def run_in_new_notebook(page: Page, code: str, done_marker: str, timeout_ms: int) -> str:
    """Create a notebook from a new Launcher, type the code into its first cell, run it; the cell's output."""
    page.locator('.jp-FileBrowser [data-command="launcher:create"]').click()
    page.locator('.jp-Launcher:visible .jp-LauncherCard[data-category="Notebook"]').first.click()
    notebook = page.locator(".jp-NotebookPanel:visible")
    editor = notebook.locator(".jp-Cell .cm-content").first
    expect(editor).to_be_visible()
    # Code sent before the kernel is connected is silently dropped.
    expect(page.locator(".jp-StatusBar-TextItem", has_text="| Idle")).to_have_count(1, timeout=timeout_ms)
    editor.click()
    page.keyboard.insert_text(code)  # typed as a paste: no auto-indent or auto-closed brackets
    page.keyboard.press("Shift+Enter")
    output = notebook.locator(".jp-Cell").first.locator(".jp-OutputArea-output")
    expect(output.last).to_contain_text(done_marker, timeout=timeout_ms)
    return "\n".join(output.all_inner_texts())
