"""Logins through a real JupyterHub on loopback with XnatAuthenticator and its login page handler.

XNAT is the tests' responder; the hub runs as a subprocess with a proxy that keeps its routes in
memory, and the test talks to the hub's own port. Logins made at once must all succeed.
"""

import asyncio
import base64
import html
import json
import re
from unittest.mock import ANY

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


async def token_request(url, user, authorization=None, body=None):
    headers = {"Authorization": authorization} if authorization else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/api/users/{user}/tokens", headers=headers,
                                data=json.dumps(body) if body is not None else None) as answer:
            text = await answer.text()
            token = json.loads(text).get("token") if answer.status == 201 else None
        identity = None
        if token:
            async with session.get(f"{url}/api/user", headers={"Authorization": f"token {token}"}) as me:
                identity = (await me.json()).get("name")
    return answer.status, identity, text


def basic(name, secret):
    return "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()


@pytest.mark.asyncio
async def test_scripts_get_a_hub_token_with_an_alias_token_as_basic_auth(fake_xnat, hub_url):
    fake_xnat.add("JSmith", PASSWORD, ["Jupyter"])
    fake_xnat.add("bob", PASSWORD, [])
    alias, secret = fake_xnat.alias_token_for("JSmith")
    # The owner's first request creates the hub user, as a first sign-in would.
    assert await token_request(hub_url, "JSmith", basic(alias, secret)) == (201, "JSmith", ANY)
    assert (await token_request(hub_url, "JSmith", basic(alias, "wrong")))[0] == 403
    # Someone else's name in the path: the token's owner may not make tokens for them.
    assert (await token_request(hub_url, "bob", basic(alias, secret)))[0] == 403
    bob_alias, bob_secret = fake_xnat.alias_token_for("bob")
    assert (await token_request(hub_url, "bob", basic(bob_alias, bob_secret)))[0] == 403  # no Jupyter role
    for header in ("Basic %%%", "Basic " + base64.b64encode(b"no-colon").decode(),
                   "Basic " + base64.b64encode(b"\xff\xfe:x").decode(), basic("a\0b", "x")):
        status, _name, text = await token_request(hub_url, "JSmith", header)
        assert status == 400 and "Basic credentials" in text, (header, status, text[:200])
    # JupyterHub's own body field works the same way.
    status, name, _text = await token_request(hub_url, "JSmith", body={"auth": {"username": alias, "password": secret}})
    assert (status, name) == (201, "JSmith")
