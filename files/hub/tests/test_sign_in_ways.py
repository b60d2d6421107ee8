"""The three ways in: XNAT password, the browser's XNAT session, an XNAT alias token (authenticator.py)."""

from __future__ import annotations

import html
import logging
import re

import aiohttp
import pytest
from tornado import web
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from test_authenticator import PASSWORD, login, make_authenticator
from xnat_jupyterhub_hub import authenticator as auth_module
from xnat_jupyterhub_hub.authenticator import from_this_site

XSRF_FIELD = re.compile(r'name="_xsrf" value="([^"]+)"')
UNKNOWN_SESSION = "JSESSIONID=0123456789ABCDEF0123456789ABCDEF"


class FakeHandler:
    """What the authenticator reads from a login request: its headers, protocol and cookies."""

    def __init__(self, cookie: str | None = None, method: str = "POST", **headers: str) -> None:
        fields = HTTPHeaders({"Host": "site.example", **{k.replace("_", "-"): v for k, v in headers.items()}})
        if cookie is not None:
            fields["Cookie"] = cookie
        self.request = HTTPServerRequest(start_line=RequestStartLine(method, "/jupyterhub/hub/login", "HTTP/1.1"),
                                         headers=fields)
        self.request.protocol = "https"

    def get_cookie(self, name: str) -> str | None:
        morsel = self.request.cookies.get(name)
        return morsel.value if morsel else None


async def session_login(authenticator, handler):
    return await authenticator.get_authenticated_user(handler, {"xnat_session": "button"})


@pytest.mark.asyncio
async def test_the_xnat_session_signs_in_its_exact_owner_and_only_that_cookie_goes_to_xnat(fake_xnat):
    fake_xnat.add("JSmith", "unused", ["Jupyter"])
    session = fake_xnat.session_for("JSmith")
    handler = FakeHandler(f"_xsrf=abc; JSESSIONID={session}; jupyterhub-session-id=zzz")
    model = await session_login(make_authenticator(fake_xnat.url), handler)
    assert model["name"] == "JSmith" and model[auth_module.XNAT_ACCESS] == "role"
    assert fake_xnat.raw_paths == ["/xapi/users/username", "/xapi/users/JSmith/roles"]
    assert fake_xnat.cookies_seen == [f"JSESSIONID={session}"] * 2


@pytest.mark.asyncio
async def test_a_session_of_a_user_without_the_jupyter_role_is_refused_with_the_message(fake_xnat):
    fake_xnat.add("bob", "unused", [])
    with pytest.raises(web.HTTPError) as info:
        handler = FakeHandler(f"JSESSIONID={fake_xnat.session_for('bob')}")
        await session_login(make_authenticator(fake_xnat.url), handler)
    assert (info.value.status_code, info.value.log_message) == (403, auth_module.MSG_NOT_ALLOWED)


@pytest.mark.asyncio
async def test_a_session_xnat_names_guest_is_no_session(fake_xnat):
    """An XNAT open to anonymous visitors answers "guest" for a session nobody signed in to."""
    fake_xnat.add("guest", "unused", ["Jupyter"])
    with pytest.raises(web.HTTPError) as info:
        handler = FakeHandler(f"JSESSIONID={fake_xnat.session_for('guest')}")
        await session_login(make_authenticator(fake_xnat.url), handler)
    assert (info.value.status_code, info.value.log_message) == (403, auth_module.MSG_NO_SESSION)
    assert fake_xnat.raw_paths == ["/xapi/users/username"]


@pytest.mark.parametrize("cookie", [None, "other=1", "JSESSIONID=", "JSESSIONID=" + "A" * 600,
                                    'JSESSIONID="a;b"', "JSESSIONID=j\u00fcrgen", "JSESSIONID=a b"])
@pytest.mark.asyncio
async def test_no_or_malformed_session_cookie_is_refused_without_asking_xnat(fake_xnat, cookie):
    with pytest.raises(web.HTTPError) as info:
        await session_login(make_authenticator(fake_xnat.url), FakeHandler(cookie))
    assert (info.value.status_code, info.value.log_message) == (403, auth_module.MSG_NO_SESSION)
    assert fake_xnat.raw_paths == []


@pytest.mark.asyncio
async def test_an_ended_session_is_refused_with_the_message(fake_xnat, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(web.HTTPError) as info:
        await session_login(make_authenticator(fake_xnat.url), FakeHandler(UNKNOWN_SESSION))
    assert info.value.log_message == auth_module.MSG_NO_SESSION
    assert fake_xnat.raw_paths == ["/xapi/users/username"]
    assert "0123456789ABCDEF" not in caplog.text  # the session never reaches the log


@pytest.mark.parametrize("headers", [{"Origin": "https://elsewhere.example"}, {"Sec_Fetch_Site": "cross-site"},
                                     {"Sec_Fetch_Site": "same-site"}])
@pytest.mark.asyncio
async def test_another_origin_cannot_drive_a_session_sign_in(fake_xnat, headers):
    fake_xnat.add("JSmith", "unused", ["Jupyter"])
    handler = FakeHandler(f"JSESSIONID={fake_xnat.session_for('JSmith')}", **headers)
    with pytest.raises(web.HTTPError) as info:
        await session_login(make_authenticator(fake_xnat.url), handler)
    assert info.value.log_message == auth_module.MSG_OTHER_ORIGIN
    assert fake_xnat.raw_paths == []


@pytest.mark.asyncio
async def test_each_way_in_can_be_turned_off(fake_xnat):
    fake_xnat.add("JSmith", PASSWORD, ["Jupyter"])
    alias, secret = fake_xnat.alias_token_for("JSmith")
    handler = FakeHandler(f"JSESSIONID={fake_xnat.session_for('JSmith')}")
    with pytest.raises(web.HTTPError) as info:
        await session_login(make_authenticator(fake_xnat.url, session_login=False), handler)
    assert info.value.log_message == auth_module.MSG_SESSION_OFF
    no_passwords = make_authenticator(fake_xnat.url, password_login=False)
    with pytest.raises(web.HTTPError) as info:
        await login(no_passwords, "JSmith")
    assert info.value.log_message == auth_module.MSG_PASSWORD_OFF
    assert (await login(no_passwords, alias, secret))["name"] == "JSmith"  # tokens still work
    with pytest.raises(web.HTTPError) as info:
        await login(make_authenticator(fake_xnat.url, alias_token_login=False), alias, secret)
    assert info.value.log_message == auth_module.MSG_ALIAS_OFF
    assert fake_xnat.raw_paths == ["/xapi/users/username", "/xapi/users/JSmith/roles"]  # the one token sign-in


@pytest.mark.asyncio
async def test_an_alias_token_signs_in_its_owner(fake_xnat, caplog):
    caplog.set_level(logging.DEBUG)
    fake_xnat.add("JSmith", PASSWORD, ["Jupyter"])
    alias, secret = fake_xnat.alias_token_for("JSmith")
    authenticator = make_authenticator(fake_xnat.url)
    model = await login(authenticator, alias, secret)
    assert model["name"] == "JSmith"
    assert await login(authenticator, alias, secret + "x") is None
    assert await login(authenticator, "01234567-1c43-4f7f-9e23-5b8a33c3a0d1", secret) is None  # unknown alias
    assert secret not in caplog.text and alias not in caplog.text


@pytest.mark.asyncio
async def test_xnat_naming_no_valid_user_for_a_session_is_an_xnat_error(fake_xnat):
    fake_xnat.add("JSmith", "unused", ["Jupyter"])
    fake_xnat.accounts["jsmith"].login = "../admin"  # what XNAT would never answer
    fake_xnat.sessions["0123456789ABCDEF0123456789ABCDEF"] = "../admin"
    fake_xnat.accounts["../admin"] = fake_xnat.accounts.pop("jsmith")
    with pytest.raises(web.HTTPError) as info:
        await session_login(make_authenticator(fake_xnat.url), FakeHandler(UNKNOWN_SESSION))
    assert (info.value.status_code, info.value.log_message) == (502, auth_module.MSG_XNAT_ERROR)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Sec-Fetch-Site": "same-origin"}, True), ({"Sec-Fetch-Site": "none"}, True),
    ({"Sec-Fetch-Site": "cross-site"}, False), ({"Sec-Fetch-Site": "same-site"}, False),
    ({"Referer": "https://site.example/app/template/Index.vm"}, True),
    ({"Referer": "https://elsewhere.example/"}, False), ({"Referer": "http://site.example/"}, False),
    ({"Origin": "https://site.example"}, True), ({"Origin": "null"}, False), ({}, False),
])
def test_from_this_site(headers, expected):
    request = HTTPServerRequest(start_line=RequestStartLine("GET", "/", "HTTP/1.1"),
                                headers=HTTPHeaders({"Host": "site.example", **headers}))
    request.protocol = "https"
    assert from_this_site(request) is expected


# --- through a real JupyterHub on loopback, with the product's templates ---

def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def signed_in_as(session: aiohttp.ClientSession, hub_url: str) -> str | None:
    async with session.get(f"{hub_url}/api/user") as me:
        return (await me.json()).get("name") if me.status == 200 else None


@pytest.mark.asyncio
async def test_opening_the_hub_with_an_xnat_session_signs_in_and_lands_on_the_home_page(fake_xnat, hub_url):
    fake_xnat.add("JSmith", "unused", ["Jupyter"])
    async with client() as session:
        session.cookie_jar.update_cookies({"JSESSIONID": fake_xnat.session_for("JSmith")})
        async with session.get(f"{hub_url}/login", headers={"Sec-Fetch-Site": "none"}, allow_redirects=False) as page:
            assert page.status == 302 and page.headers["Location"].endswith("/jupyterhub/hub/home")
        assert await signed_in_as(session, hub_url) == "JSmith"
        async with session.get(f"{hub_url}/home") as home:
            text = await home.text()
        assert "Notebooks are started from" in text and "Start My Server" not in text
        assert 'id="xnat-nav-link"' in text


@pytest.mark.asyncio
async def test_a_link_from_another_site_shows_the_form_and_the_button_signs_in(fake_xnat, hub_url):
    fake_xnat.add("JSmith", "unused", ["Jupyter"])
    async with client() as session:
        session.cookie_jar.update_cookies({"JSESSIONID": fake_xnat.session_for("JSmith")})
        async with session.get(f"{hub_url}/login", headers={"Sec-Fetch-Site": "cross-site"}) as page:
            text = await page.text()
        assert page.status == 200 and "Sign in with your XNAT account" in text
        assert "Continue with your XNAT session" in text and fake_xnat.raw_paths == []
        assert await signed_in_as(session, hub_url) is None
        form = {"_xsrf": html.unescape(XSRF_FIELD.search(text).group(1)), "xnat_session": "button"}
        async with session.post(f"{hub_url}/login", data=form, allow_redirects=False) as answer:
            assert answer.status == 302, await answer.text()
        assert await signed_in_as(session, hub_url) == "JSmith"


@pytest.mark.asyncio
async def test_an_ended_session_falls_back_to_the_form_saying_why(fake_xnat, hub_url):
    async with client() as session:
        session.cookie_jar.update_cookies({"JSESSIONID": "0123456789ABCDEF0123456789ABCDEF"})
        async with session.get(f"{hub_url}/login", headers={"Sec-Fetch-Site": "same-origin"}) as page:
            text = await page.text()
        assert page.status == 403 and "has ended" in html.unescape(text)
        assert 'id="username_input"' in text and 'id="xnat-session-submit"' in text
        assert await signed_in_as(session, hub_url) is None


@pytest.mark.asyncio
async def test_an_alias_token_in_the_form_signs_in_its_owner(fake_xnat, hub_url):
    fake_xnat.add("JSmith", PASSWORD, ["Jupyter"])
    alias, secret = fake_xnat.alias_token_for("JSmith")
    async with client() as session:
        async with session.get(f"{hub_url}/login") as page:
            text = await page.text()
        assert "XNAT username or alias token" in text
        form = {"_xsrf": html.unescape(XSRF_FIELD.search(text).group(1)), "username": alias, "password": secret}
        async with session.post(f"{hub_url}/login", data=form, allow_redirects=False) as answer:
            assert answer.status == 302 and answer.headers["Location"].endswith("/jupyterhub/hub/home")
        assert await signed_in_as(session, hub_url) == "JSmith"


@pytest.mark.parametrize("form", [{"xnat_session": "\x00"}, {"xnat_session": "x" * 20000}, {"password": "p"},
                                  {"username": ["a", "b"]}, {}])
@pytest.mark.asyncio
async def test_hostile_sign_in_forms_get_a_4xx(fake_xnat, hub_url, form):
    async with client() as session:
        session.cookie_jar.update_cookies({"JSESSIONID": "0123456789ABCDEF0123456789ABCDEF"})
        async with session.get(f"{hub_url}/login") as page:
            xsrf = html.unescape(XSRF_FIELD.search(await page.text()).group(1))
        fields = [("_xsrf", xsrf)] + [(k, v) for k, values in form.items()
                                      for v in (values if isinstance(values, list) else [values])]
        async with session.post(f"{hub_url}/login", data=fields, allow_redirects=False) as answer:
            assert 400 <= answer.status < 500, (answer.status, await answer.text())
        assert await signed_in_as(session, hub_url) is None
