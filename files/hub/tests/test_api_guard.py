"""Hostile requests to the hub's REST API are refused with a 400 before JupyterHub stores anything."""

import json
import sqlite3

import aiohttp
import pytest
import yarl
from tornado import web

from xnat_jupyterhub_hub.api_guard import (
    MAX_BODY_BYTES,
    check_start_options,
    is_server_name,
    parse_body,
)

XNAT_START_BODY = {"userId": 5, "servername": None, "xsiType": "xnat:experimentData", "itemId": "XNAT_E00042",
                   "itemLabel": "SUBJ01_MR1", "projectId": "NEURO01", "eventTrackingId": "20250311T172455123Z",
                   "dashboardConfigId": None, "task_template": None}


@pytest.mark.parametrize("name, ok", [
    ("", True), ("20250311T172455123Z", True), ("a", True), ("x" * 64, True), ("nb-1.2_3", True),
    (".", False), ("..", False), ("x" * 65, False), ("a\0b", False), ("a/b", False), ("-a", False),
    ("caf\u00e9", False), ("<b>", False), (" a", False), ("a\n", False), (None, False), (5, False),
])
def test_server_names(name, ok):
    assert is_server_name(name) is ok


@pytest.mark.parametrize("raw, message", [
    (b"[1]", "The start request body must be a JSON object, not a JSON array."),
    (b'"text"', "The start request body must be a JSON object, not a JSON str."),
    (b"5", "The start request body must be a JSON object, not a JSON int."),
    (b"null", "The start request body must be a JSON object, not a JSON NoneType."),
    (b"{", "The start request body is not valid JSON."),
    (b"\xff\xfe", "The start request body is not valid JSON."),
    (b"[" * 100000, "The start request body is larger than 64 KiB."),
    (b'{"a": "\\u0000"}', "The start request body contains a NUL character."),
    (b"{" * 5000 + b"}" * 5000, "The start request body is not valid JSON."),
    (b'{"a": ' + b'"x"' + b"}" + b" " * MAX_BODY_BYTES, "The start request body is larger than 64 KiB."),
])
def test_bodies_that_are_not_small_json_objects_are_refused(raw, message):
    with pytest.raises(web.HTTPError) as info:
        parse_body(raw, "start request")
    assert info.value.status_code == 400
    assert info.value.log_message % info.value.args == message


def test_empty_bodies_are_none():
    assert parse_body(b"", "x") is None and parse_body(b"  \n", "x") is None


@pytest.mark.parametrize("options, message", [
    ({"task_template": {"image": "evil"}},
     "Start option 'task_template' must be a string, number or null, not a JSON object."),
    ({"a": [1]}, "Start option 'a' must be a string, number or null, not a JSON array."),
    ({"a": "x" * 1025}, "Start option 'a' is longer than 1024 characters."),
    ({"": 1}, "Start option names must have 1 to 64 characters."),
    ({"k" * 65: 1}, "Start option names must have 1 to 64 characters."),
    ({f"k{i}": i for i in range(65)}, "The start request has more than 64 options."),
])
def test_start_options_are_flat_and_small(options, message):
    with pytest.raises(web.HTTPError) as info:
        check_start_options(options)
    assert info.value.log_message % info.value.args == message


def test_xnat_start_body_passes():
    check_start_options(XNAT_START_BODY)
    check_start_options(None)


async def call(hub, method, path, body=None, raw=None):
    headers = {"Authorization": f"token {hub.service_token}"}
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    # encoded=True: the path goes out as written, with no dot segments resolved (/servers/. stays /servers/.).
    url = yarl.URL(f"{hub.url}/api{path}", encoded=True)
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, data=data, headers=headers) as answer:
            text = await answer.text()
            return answer.status, (json.loads(text) if text.startswith("{") else text)


def stored(hub, sql):
    with sqlite3.connect(hub.db_path) as db:
        return db.execute(sql).fetchall()


HOSTILE_REQUESTS = [
    # (method, path, body, raw body, message start)
    ("POST", "/users/alice/servers/x", None, b"[1]", "The start request body must be a JSON object"),
    ("POST", "/users/alice/servers/x", {"task_template": {"container_spec": {"image": "evil"}}}, None,
     "Start option 'task_template' must be a string"),
    ("POST", "/users/alice/servers/x", None, b"x" * (70 * 1024), "The start request body is larger than 64 KiB"),
    ("POST", "/users/alice/servers/%00", {}, None, "Invalid server name"),
    ("POST", "/users/alice/servers/.", {}, None, "Invalid server name"),
    ("POST", "/users/alice/servers/%2E%2E", {}, None, "Invalid server name"),
    ("POST", "/users/alice/servers/" + "x" * 300, {}, None, "Invalid server name"),
    ("POST", "/users/alice/servers/%3Cscript%3E", {}, None, "Invalid server name"),
    ("DELETE", "/users/alice/servers/x", {"remove": "yes"}, None, "'remove' must be true or false"),
    ("DELETE", "/users/alice/servers/x", None, b"[true]", "The stop request body must be a JSON object"),
    ("POST", "/users", {"usernames": "secz"}, None, "'usernames' must be a list"),
    ("POST", "/users", {"usernames": [1, 2]}, None, "Invalid username"),
    ("POST", "/users", {"usernames": ["ok", "../etc"]}, None, "Invalid username"),
    ("POST", "/users/%2E%2E", None, None, "Invalid username"),
    ("POST", "/users/caf%C3%A9", None, None, "Invalid username"),
    ("POST", "/users/bob", {"admin": "yes"}, None, "'admin' must be true or false"),
    ("PATCH", "/users/alice", {"name": "a\0b"}, None, "The user change body contains a NUL character"),
    ("POST", "/users/alice/tokens", {"note": "n" * (5 * 1024 * 1024 // 8)}, None,
     "The token request body is larger than 64 KiB"),
    ("POST", "/users/alice/tokens", {"note": "n" * 1001}, None, "'note' must be text of at most 1000"),
    ("POST", "/users/alice/tokens", {"note": 5}, None, "'note' must be text"),
    ("POST", "/users/alice/tokens", {"expires_in": "soon"}, None, "'expires_in' must be a whole number"),
    ("POST", "/users/alice/tokens", {"expires_in": -1}, None, "'expires_in' must be a whole number"),
    ("POST", "/users/alice/tokens", {"scopes": "read:users"}, None, "'scopes' must be a list"),
]


@pytest.mark.asyncio
async def test_hostile_api_requests_get_a_400_and_change_nothing(fake_xnat, loopback_hub):
    assert (await call(loopback_hub, "POST", "/users/alice"))[0] == 201
    tables = ("users", "spawners", "api_tokens")
    before = {t: stored(loopback_hub, f"SELECT * FROM {t}") for t in tables}
    answers = []
    for method, path, body, raw, _message in HOSTILE_REQUESTS:
        status, answer = await call(loopback_hub, method, path, body, raw)
        answers.append((method, path[:40], status, str(answer.get("message") if isinstance(answer, dict) else answer)))
    wrong = [(m, p, s, a) for (m, p, s, a), case in zip(answers, HOSTILE_REQUESTS, strict=True)
             if s != 400 or not a.startswith(case[4])]
    assert not wrong, wrong
    after = {t: stored(loopback_hub, f"SELECT * FROM {t}") for t in tables}
    assert after == before
    # The hub still works: XNAT's own start body is accepted (the simple test spawner starts it).
    assert (await call(loopback_hub, "GET", "/users/alice"))[0] == 200


@pytest.mark.asyncio
async def test_xnat_requests_pass_the_checks(fake_xnat, loopback_hub):
    assert (await call(loopback_hub, "POST", "/users/alice"))[0] == 201
    status, answer = await call(loopback_hub, "POST", "/users/alice/tokens", {
        "token": None, "id": None, "user": None, "kind": None, "service": None,
        "scopes": ["access:servers!user=alice"], "note": "XNAT launch", "oauth_client": None, "session_id": None,
        "expires_at": None, "expires_in": 172800, "created": None, "last_activity": None})
    assert status == 201, answer
    assert (await call(loopback_hub, "POST", "/users", {"usernames": ["bob", "o'neil.j"]}))[0] == 201
    # A start request's checks pass: what follows is JupyterHub's own handling (no such server to stop: 404).
    status, answer = await call(loopback_hub, "DELETE", "/users/alice/servers/20250311T172455123Z", {"remove": True})
    assert status == 404, answer
