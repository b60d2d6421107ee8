"""The stand-in's page, driven in headless Chromium: log in, launch on an experiment, open, stop."""

from __future__ import annotations

import re
import shutil
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import async_playwright, expect

from standin_testing import USER

pytestmark = pytest.mark.asyncio

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest_asyncio.fixture
async def browser_page():
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = await browser.new_context()
        yield context, await context.new_page()
        await browser.close()


async def test_page_requires_login_and_says_it_is_not_xnat(standin, browser_page):
    _context, page = browser_page
    await page.goto(standin.url + "/")
    assert page.url.endswith("/app/login")
    await expect(page.locator("#standin-banner")).to_contain_text("XNAT stand-in for tests and demos — not XNAT")
    await page.fill("#login-username", "admin")
    await page.fill("#login-password", "wrong")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_be_visible()


async def test_launch_open_and_stop_from_the_page(launcher, hub, browser_page):
    context, page = browser_page
    opened: list[str] = []

    async def notebook_placeholder(route):
        opened.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html", body="<p>notebook</p>")

    # the hub's public address has no proxy in this test; record what the browser opens there
    await context.route(hub.host_url + "/**", notebook_placeholder)

    await page.goto(launcher.url + "/")
    await page.fill("#login-username", USER[0])
    await page.fill("#login-password", USER[1])
    await page.click("#login-submit")
    await expect(page.locator("#current-user")).to_have_text("jsmith")
    await expect(page.locator("[data-test=project][data-id=DEMO01]")).to_be_visible()

    await page.click("[data-test=experiment][data-id=XNAT_E00001] > button[data-test=launch]")
    await expect(page.locator("#launch-panel")).to_be_visible()
    await expect(page.locator("#hardware option")).to_have_count(4)
    await page.select_option("#hardware", label="Small")
    await page.click("#launch-start")
    status = page.locator("#launch-status")
    await expect(status).to_have_attribute("data-state", "succeeded", timeout=45_000)
    await expect(status).to_contain_text("Jupyter notebook is available at: /jupyterhub/user/jsmith/")

    row = page.locator("tr[data-test=server]")
    await expect(row).to_have_count(1)
    name = await row.get_attribute("data-name")
    assert re.fullmatch(r"\d{8}T\d{9}Z", name), name  # XNAT's event id, used as the server name

    async with page.expect_popup() as popup_info:
        await row.locator("[data-test=open-server]").click()
    popup = await popup_info.value
    await popup.wait_for_url(re.compile(r".*[?&]token="))
    assert len(opened) == 1
    url = urlsplit(opened[0])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{hub.host_url}/jupyterhub/user/jsmith/{name}/"
    token = parse_qs(url.query)["token"][0]
    status_code, identity = await hub.get("/user", token=token)
    assert (status_code, identity["name"]) == (200, "jsmith")

    await row.locator("[data-test=stop-server]").click()
    await expect(status).to_have_attribute("data-state", "succeeded", timeout=30_000)
    await expect(status).to_have_text("Jupyter Server Stopped.")
    await expect(page.locator("tr[data-test=server]")).to_have_count(0)

    await page.click("#logout")
    assert page.url.endswith("/app/login")
