"""Logins through a real JupyterHub on loopback with XnatAuthenticator and its login page handler.

XNAT is the tests' responder; the hub runs as a subprocess with a proxy that keeps its routes in
memory, and the test talks to the hub's own port. Logins made at once must all succeed.
"""

import asyncio
import html
import re

import aiohttp
import pytest

PASSWORD = "S3cret:pass word%"
XSRF_FIELD = re.compile(r'name="_xsrf" value="([^"]+)"')


async def log_in(url, username, password):
    """The login form as a browser fills it in: (status of the POST, user name the cookie gives, page text)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{url}/login") as page:
            text = await page.text()
            assert page.status == 200, text[:500]
        form = {"_xsrf": html.unescape(XSRF_FIELD.search(text).group(1)), "username": username, "password": password}
        async with session.post(f"{url}/login", data=form, allow_redirects=False) as answer:
            status, body = answer.status, await answer.text()
        async with session.get(f"{url}/api/user") as me:
            name = (await me.json()).get("name") if me.status == 200 else None
    return status, name, body


@pytest.mark.asyncio
async def test_logins_made_at_once_all_succeed_through_a_real_hub(fake_xnat, hub_url):
    users = [f"user{i:02d}" for i in range(12)]
    for user in users:
        fake_xnat.add(user, PASSWORD, ["Jupyter"])
    results = await asyncio.gather(*(log_in(hub_url, user, PASSWORD) for user in users))
    assert [(status, name) for status, name, _cookie in results] == [(302, user) for user in users]


@pytest.mark.asyncio
async def test_wrong_password_and_missing_role_are_refused_through_a_real_hub(fake_xnat, hub_url):
    fake_xnat.add("JSmith", PASSWORD, ["Jupyter"])
    fake_xnat.add("bob", PASSWORD, [])
    status, name, body = await log_in(hub_url, "JSmith", "wrong")
    assert (status, name) == (403, None) and "Invalid username or password" in body
    status, name, body = await log_in(hub_url, "bob", PASSWORD)
    assert (status, name) == (403, None) and "may not use Jupyter" in body
