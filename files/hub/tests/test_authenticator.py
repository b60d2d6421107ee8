import asyncio
import logging
import time

import pytest
from jupyterhub.handlers.login import LoginHandler
from tornado import web
from traitlets.config import Config

from xnat_jupyterhub_hub import authenticator as auth_module
from xnat_jupyterhub_hub.authenticator import Turnstile, XnatAuthenticator, XnatLoginHandler

PASSWORD = "S3cret:pass word%"


def make_authenticator(url, **config):
    c = Config()
    c.XnatClient.url = url
    c.XnatClient.connect_timeout = 1.0
    c.XnatClient.request_timeout = 1.0
    for key, value in config.items():
        setattr(c.XnatAuthenticator, key, value)
    return XnatAuthenticator(config=c)


async def login(authenticator, username, password=PASSWORD):
    return await authenticator.get_authenticated_user(None, {"username": username, "password": password})


@pytest.mark.asyncio
async def test_user_with_jupyter_role_logs_in_under_exact_case(fake_xnat):
    fake_xnat.add("JSmith", PASSWORD, ["jupyter"])
    model = await login(make_authenticator(fake_xnat.url), "JSmith")
    assert model["name"] == "JSmith"
    assert model[auth_module.XNAT_ACCESS] == "role"
    # the role alone decides: the preference was not asked for
    assert fake_xnat.raw_paths == ["/xapi/users/JSmith/roles"]


@pytest.mark.asyncio
async def test_role_matches_case_insensitively(fake_xnat):
    fake_xnat.add("ann", PASSWORD, ["Administrator", "JUPYTER"])
    assert (await login(make_authenticator(fake_xnat.url), "ann"))["name"] == "ann"


@pytest.mark.asyncio
async def test_user_without_role_logs_in_when_all_users_may(fake_xnat):
    fake_xnat.add("bob", PASSWORD, ["Other"])
    fake_xnat.all_users_can_start = True
    model = await login(make_authenticator(fake_xnat.url), "bob")
    assert model[auth_module.XNAT_ACCESS] == "all-users"
    assert fake_xnat.raw_paths[-1] == "/xapi/jupyterhub/preferences/allUsersCanStartJupyter"


@pytest.mark.parametrize("preference", [False, None])
@pytest.mark.asyncio
async def test_user_without_role_is_refused_with_a_message(fake_xnat, preference):
    fake_xnat.add("bob", PASSWORD, [])
    fake_xnat.all_users_can_start = preference
    with pytest.raises(web.HTTPError) as info:
        await login(make_authenticator(fake_xnat.url), "bob")
    assert info.value.status_code == 403
    assert info.value.log_message == auth_module.MSG_NOT_ALLOWED


@pytest.mark.asyncio
async def test_allowed_users_from_config_need_only_valid_credentials(fake_xnat):
    fake_xnat.add("carol", PASSWORD, [])
    authenticator = make_authenticator(fake_xnat.url, allowed_users={"carol"})
    assert (await login(authenticator, "carol"))["name"] == "carol"
    assert await login(authenticator, "carol", "wrong") is None


@pytest.mark.asyncio
async def test_wrong_password_gives_the_standard_failure(fake_xnat, caplog):
    fake_xnat.add("JSmith", PASSWORD, ["Jupyter"])
    caplog.set_level(logging.DEBUG)
    assert await login(make_authenticator(fake_xnat.url), "JSmith", "not-it") is None
    assert "HTTP 401" in caplog.text


@pytest.mark.asyncio
async def test_username_in_other_case_gets_the_case_message(fake_xnat):
    fake_xnat.add("JSmith", PASSWORD, ["Jupyter"])
    with pytest.raises(web.HTTPError) as info:
        await login(make_authenticator(fake_xnat.url), "jsmith")
    assert info.value.status_code == 403
    assert info.value.log_message == auth_module.MSG_CASE_MISMATCH


@pytest.mark.parametrize("status", [500, 502, 404])
@pytest.mark.asyncio
async def test_xnat_errors_are_not_reported_as_wrong_passwords(fake_xnat, status):
    fake_xnat.fail_with = status
    with pytest.raises(web.HTTPError) as info:
        await login(make_authenticator(fake_xnat.url), "JSmith")
    assert info.value.status_code == 502
    assert info.value.log_message == auth_module.MSG_XNAT_ERROR


@pytest.mark.asyncio
async def test_redirects_are_not_followed_with_credentials(fake_xnat):
    fake_xnat.fail_with = 302
    with pytest.raises(web.HTTPError) as info:
        await login(make_authenticator(fake_xnat.url), "JSmith")
    assert info.value.log_message == auth_module.MSG_XNAT_ERROR
    assert fake_xnat.raw_paths == ["/xapi/users/JSmith/roles"]


@pytest.mark.asyncio
async def test_unreachable_xnat(closed_port_url):
    with pytest.raises(web.HTTPError) as info:
        await login(make_authenticator(closed_port_url), "JSmith")
    assert info.value.status_code == 503
    assert info.value.log_message == auth_module.MSG_UNREACHABLE


@pytest.mark.asyncio
async def test_silent_xnat_fails_within_the_request_timeout(silent_xnat_url):
    authenticator = make_authenticator(silent_xnat_url)
    authenticator.xnat.request_timeout = 0.5
    started = time.monotonic()
    with pytest.raises(web.HTTPError) as info:
        await login(authenticator, "JSmith")
    assert info.value.log_message == auth_module.MSG_UNREACHABLE
    # the client's default of 20 s would have been far longer
    assert time.monotonic() - started < 5


@pytest.mark.asyncio
async def test_username_with_quote_and_dot_is_escaped(fake_xnat):
    fake_xnat.add("o'neil.j", PASSWORD, ["Jupyter"])
    assert (await login(make_authenticator(fake_xnat.url), "o'neil.j"))["name"] == "o'neil.j"
    assert fake_xnat.raw_paths == ["/xapi/users/o%27neil.j/roles"]


@pytest.mark.parametrize(
    "username",
    ["../admin", "a/../b", "a%2Fb", "x" * 65, "jsmith\nINFO forged", "jürgen", "1abc", "", "a b", "a:b"],
)
@pytest.mark.asyncio
async def test_hostile_usernames_are_refused_without_calling_xnat(fake_xnat, username):
    with pytest.raises(web.HTTPError) as info:
        await login(make_authenticator(fake_xnat.url), username)
    assert info.value.log_message == auth_module.MSG_BAD_USERNAME
    assert fake_xnat.raw_paths == []


@pytest.mark.asyncio
async def test_empty_password_is_refused_without_calling_xnat(fake_xnat):
    with pytest.raises(web.HTTPError) as info:
        await login(make_authenticator(fake_xnat.url), "JSmith", "")
    assert info.value.log_message == auth_module.MSG_NO_PASSWORD
    assert fake_xnat.raw_paths == []


@pytest.mark.asyncio
async def test_passwords_never_reach_the_logs(fake_xnat, closed_port_url, caplog):
    caplog.set_level(logging.DEBUG)
    fake_xnat.add("JSmith", PASSWORD, ["Jupyter"])
    fake_xnat.add("bob", PASSWORD, [])
    authenticator = make_authenticator(fake_xnat.url)
    await login(authenticator, "JSmith")
    await login(authenticator, "JSmith", PASSWORD + "x")
    for attempt in ("jsmith", "bob"):
        with pytest.raises(web.HTTPError):
            await login(authenticator, attempt)
    fake_xnat.fail_with = 500
    with pytest.raises(web.HTTPError):
        await login(authenticator, "JSmith")
    with pytest.raises(web.HTTPError):
        await login(make_authenticator(closed_port_url), "JSmith")
    assert caplog.records, "the attempts above should have logged"
    assert "S3cret" not in caplog.text


@pytest.mark.asyncio
async def test_long_usernames_are_truncated_in_logs(fake_xnat, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(web.HTTPError):
        await login(make_authenticator(fake_xnat.url), "A" * 100_000)
    assert caplog.records
    assert max(len(r.getMessage()) for r in caplog.records) < 300


def test_check_allowed_without_authentication_allows_only_listed_users():
    authenticator = make_authenticator("http://127.0.0.1:1", allowed_users={"carol"}, admin_users={"Root"})
    assert authenticator.check_allowed("carol", None) is True
    assert authenticator.check_allowed("Root", None) is True
    assert authenticator.check_allowed("mallory", None) is False
    assert authenticator.check_allowed("mallory", {}) is False
    assert authenticator.check_allowed("mallory", {"name": "mallory"}) is False


def test_existing_hub_users_are_not_allowed_by_default():
    assert make_authenticator("http://127.0.0.1:1").allow_existing_users is False


def test_usernames_keep_their_case_and_follow_xnat_rules():
    authenticator = make_authenticator("http://127.0.0.1:1")
    assert authenticator.normalize_username("JSmith") == "JSmith"
    assert authenticator.validate_username("JSmith")
    assert authenticator.validate_username("o'neil.j")
    assert not authenticator.validate_username("..")
    assert not authenticator.validate_username("j smith")
    assert not authenticator.validate_username("x" * 65)


def test_entry_point_names_the_authenticator(entry_points):
    from jupyterhub.app import JupyterHub

    hub = JupyterHub(authenticator_class="xnat")
    assert hub.authenticator_class is XnatAuthenticator


# --- pacing: logins continue one per event-loop iteration -----------------


class LoopIterations:
    """Counts event-loop iterations: a callback that schedules itself again for the next one."""

    def __init__(self):
        self.count = 0
        self._loop = asyncio.get_running_loop()
        self._running = True
        self._loop.call_soon(self._tick)

    def _tick(self):
        if self._running:
            self.count += 1
            self._loop.call_soon(self._tick)

    def stop(self):
        self._running = False


@pytest.mark.asyncio
async def test_turnstile_lets_one_caller_through_per_loop_iteration_in_order():
    turnstile, iterations, passed = Turnstile(), LoopIterations(), []

    async def caller(name):
        await turnstile.pass_through()
        passed.append((name, iterations.count))

    await asyncio.gather(*(caller(n) for n in "abcde"))
    iterations.stop()
    assert [name for name, _count in passed] == list("abcde")
    seen = [count for _name, count in passed]
    assert len(set(seen)) == 5 and seen == sorted(seen)
    # free again once everyone passed: the next caller goes straight through
    await asyncio.wait_for(turnstile.pass_through(), 1)


@pytest.mark.asyncio
async def test_turnstile_survives_callers_cancelled_while_waiting_or_after_being_let_through():
    turnstile, passed = Turnstile(), []

    async def caller(name):
        await turnstile.pass_through()
        passed.append(name)

    hand_on = turnstile._hand_on

    def hand_on_then_cancel_b():
        hand_on()
        turnstile._hand_on = hand_on  # once
        tasks["b"].cancel()  # after the turn went to b, before b runs

    turnstile._hand_on = hand_on_then_cancel_b
    tasks = {name: asyncio.create_task(caller(name)) for name in "abcd"}
    await asyncio.sleep(0)  # a is through; b, c, d wait
    tasks["d"].cancel()  # while waiting
    results = await asyncio.wait_for(asyncio.gather(*tasks.values(), return_exceptions=True), 5)
    assert passed == ["a", "c"]
    assert [isinstance(r, asyncio.CancelledError) for r in results] == [False, True, False, True]
    await asyncio.wait_for(turnstile.pass_through(), 1)


class RecordingTurnstile(Turnstile):
    def __init__(self):
        super().__init__()
        self.passes = 0

    async def pass_through(self):
        self.passes += 1
        await super().pass_through()


@pytest.mark.asyncio
async def test_logins_with_xnat_verdict_pass_the_turnstile(fake_xnat):
    fake_xnat.add("JSmith", PASSWORD, ["Jupyter"])
    fake_xnat.add("bob", PASSWORD, [])
    authenticator = make_authenticator(fake_xnat.url)
    authenticator.turnstile = RecordingTurnstile()
    assert (await login(authenticator, "JSmith"))["name"] == "JSmith"
    assert await login(authenticator, "JSmith", "wrong") is None
    with pytest.raises(web.HTTPError):
        await login(authenticator, "bob")
    # JSmith and bob, whose verdicts go on to JupyterHub; not the wrong password
    assert authenticator.turnstile.passes == 2


def test_login_page_is_served_by_the_pacing_handler():
    handlers = dict(make_authenticator("http://127.0.0.1:1").get_handlers(None))
    assert handlers["/login"] is XnatLoginHandler and issubclass(XnatLoginHandler, LoginHandler)
