"""Checks in front of JupyterHub's REST API: what JupyterHub would store unchecked is refused first.

JupyterHub 5.5.4 saves a start request's body as the server's user_options before it checks that the
body is an object: a list is stored, the request fails with a 500, and every later hub start fails on
the stored value. It also keeps token notes of any length, reads the string "abc" as the usernames a,
b and c, and accepts any server name, NUL and "." included. The handlers here are JupyterHub's own,
subclassed; the authenticator registers them ahead of JupyterHub's (see
XnatAuthenticator.get_handlers). Each checks the request after JupyterHub's scope check and before
JupyterHub touches the database, answers 400 with the reason when the request is wrong, and
otherwise hands it on unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from typing import Any

from jupyterhub.apihandlers.users import (
    UserAPIHandler,
    UserListAPIHandler,
    UserServerAPIHandler,
    UserTokenListAPIHandler,
)
from jupyterhub.scopes import needs_scope
from tornado import web

from .xnat import is_xnat_username

# XNAT names servers after its event ids (20250311T172455123Z); the hub accepts names of that kind:
# a letter or digit, then letters, digits, '.', '_' or '-', at most 64 characters. "" is the default server.
SERVER_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_BODY_BYTES = 64 * 1024
# A start request's body is stored and shown back to XNAT, which reads it as a map of strings.
MAX_OPTION_KEYS = 64
MAX_OPTION_KEY_LENGTH = 64
MAX_OPTION_VALUE_LENGTH = 1024
# The hub database's column for token notes holds 1023 characters.
MAX_TOKEN_NOTE_LENGTH = 1000
MAX_TOKEN_LIFETIME = 10 * 365 * 24 * 3600
MAX_LIST_ITEMS = 1000
MAX_SCOPE_LENGTH = 255
# Seconds a stop request waits for a start in progress to give up.
UNWIND_TIMEOUT = 90


def is_server_name(name: Any) -> bool:
    """True for "" (the default server) and for names of the kind XNAT gives servers."""
    return name == "" or (isinstance(name, str) and SERVER_NAME_PATTERN.fullmatch(name) is not None)


def _refuse(message: str) -> web.HTTPError:
    # The message is an argument: JupyterHub %-formats it, and it may quote the caller's input.
    return web.HTTPError(400, "%s", message)


def _describe(value: Any) -> str:
    kind = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else type(value).__name__
    return f"a JSON {kind}"


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def parse_body(raw: bytes, what: str) -> dict[str, Any] | None:
    """The request body as a JSON object, or None when empty; anything else is a 400 naming `what`."""
    if not raw.strip():
        return None
    if len(raw) > MAX_BODY_BYTES:
        raise _refuse(f"The {what} body is larger than {MAX_BODY_BYTES // 1024} KiB.")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _refuse(f"The {what} body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _refuse(f"The {what} body must be a JSON object, not {_describe(body)}.")
    if _contains_nul(body):
        raise _refuse(f"The {what} body contains a NUL character.")
    return body


def check_start_options(body: dict[str, Any] | None) -> None:
    """A start request's body: flat, small, string keys, scalar values (XNAT reads it back as strings)."""
    if body is None:
        return
    if len(body) > MAX_OPTION_KEYS:
        raise _refuse(f"The start request has more than {MAX_OPTION_KEYS} options.")
    for key, value in body.items():
        if not key or len(key) > MAX_OPTION_KEY_LENGTH:
            raise _refuse(f"Start option names must have 1 to {MAX_OPTION_KEY_LENGTH} characters.")
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise _refuse(f"Start option {key[:40]!r} must be a string, number or null, not {_describe(value)}.")
        if isinstance(value, str) and len(value) > MAX_OPTION_VALUE_LENGTH:
            raise _refuse(f"Start option {key[:40]!r} is longer than {MAX_OPTION_VALUE_LENGTH} characters.")


def check_server_name(name: str) -> None:
    if not is_server_name(name):
        raise _refuse(
            "Invalid server name: use a letter or digit, then letters, digits, '.', '_' or '-',"
            " at most 64 characters (XNAT's event ids are such names)."
        )


def check_username(name: Any) -> None:
    if not is_xnat_username(name):
        raise _refuse(
            "Invalid username: XNAT usernames start with a letter and contain only letters, digits"
            " and - _ ' . (at most 64 characters)."
        )


def _check_bool(body: dict[str, Any], key: str) -> None:
    if key in body and not isinstance(body[key], bool):
        raise _refuse(f"{key!r} must be true or false.")


def _check_string_list(body: dict[str, Any], key: str) -> None:
    value = body.get(key)
    if value is None:
        return
    if (not isinstance(value, list) or len(value) > MAX_LIST_ITEMS
            or not all(isinstance(item, str) and 0 < len(item) <= MAX_SCOPE_LENGTH for item in value)):
        raise _refuse(f"{key!r} must be a list of at most {MAX_LIST_ITEMS} names.")


class CheckedUserServerAPIHandler(UserServerAPIHandler):
    """Start and stop a server: the name and the body are checked before the hub stores either."""

    @needs_scope("servers")
    async def post(self, user_name: str, server_name: str = "") -> None:
        check_server_name(server_name)
        check_start_options(parse_body(self.request.body, "start request"))
        await super().post(user_name, server_name)

    @needs_scope("delete:servers")
    async def delete(self, user_name: str, server_name: str = "") -> None:
        check_server_name(server_name)
        body = parse_body(self.request.body, "stop request") or {}
        if set(body) - {"remove"}:
            raise _refuse("A stop request's body may only hold 'remove'.")
        _check_bool(body, "remove")
        user = self.find_user(user_name)
        spawner = user.spawners.get(server_name) if user is not None else None
        if spawner is not None and spawner.pending == "spawn" and hasattr(spawner, "request_stop"):
            await _unwind_start(spawner)
        await super().delete(user_name, server_name)


def basic_credentials(header: str | None) -> dict[str, str] | None:
    """The name and secret of an `Authorization: Basic` header, or None without one; a malformed one is a 400."""
    scheme, _sep, value = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _refuse("Basic credentials must be base64 of name:secret in UTF-8.") from None
    username, sep, password = text.partition(":")
    if not sep or not username or not password or "\0" in text:
        raise _refuse("Basic credentials must be base64 of name:secret in UTF-8.")
    return {"username": username, "password": password}


class CheckedUserTokenListAPIHandler(UserTokenListAPIHandler):
    """Token requests: a note of bounded length, a whole-number lifetime, lists of names.

    A script without a hub token may ask for one with XNAT credentials, an alias token (alias:secret) above
    all, as Basic auth (or as JupyterHub's body field "auth"): checked by the authenticator like a sign-in,
    with the same Jupyter-role rule; a first request creates the hub user as a first sign-in would.
    """

    def get_json_body(self) -> Any:
        body = super().get_json_body()
        basic = basic_credentials(self.request.headers.get("Authorization"))
        if basic is not None and isinstance(body, (dict, type(None))) and "auth" not in (body or {}):
            body = {**(body or {}), "auth": basic}
        return body

    async def authenticate(self, data: Any) -> Any:
        result = await super().authenticate(data)
        name = result.get("name") if isinstance(result, dict) else result
        if isinstance(name, str) and name:
            self.user_from_username(name)
        return result

    async def post(self, user_name: str) -> None:
        body = parse_body(self.request.body, "token request") or {}
        note = body.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_TOKEN_NOTE_LENGTH):
            raise _refuse(f"'note' must be text of at most {MAX_TOKEN_NOTE_LENGTH} characters.")
        expires_in = body.get("expires_in")
        if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int)
                                       or not 0 <= expires_in <= MAX_TOKEN_LIFETIME):
            raise _refuse(f"'expires_in' must be a whole number of seconds from 0 to {MAX_TOKEN_LIFETIME}.")
        for key in ("scopes", "roles"):
            _check_string_list(body, key)
        basic_credentials(self.request.headers.get("Authorization"))  # a malformed header: 400 before anything
        auth = body.get("auth")
        if auth is not None and not (isinstance(auth, dict)
                                     and all(isinstance(v, str) for v in auth.values())):
            raise _refuse("'auth' must be an object of strings.")
        await super().post(user_name)


class CheckedUserListAPIHandler(UserListAPIHandler):
    """Creating users in bulk: a list of XNAT usernames, not a string read letter by letter."""

    @needs_scope("admin:users")
    async def post(self) -> None:
        body = parse_body(self.request.body, "user creation") or {}
        usernames = body.get("usernames")
        if not isinstance(usernames, list) or not 0 < len(usernames) <= MAX_LIST_ITEMS:
            raise _refuse(f"'usernames' must be a list of 1 to {MAX_LIST_ITEMS} usernames.")
        for name in usernames:
            check_username(name)
        _check_bool(body, "admin")
        await super().post()


class CheckedUserAPIHandler(UserAPIHandler):
    """Creating and changing one user: XNAT usernames only, flags as booleans."""

    @needs_scope("admin:users")
    async def post(self, user_name: str) -> None:
        check_username(user_name)
        _check_bool(parse_body(self.request.body, "user creation") or {}, "admin")
        await super().post(user_name)

    @needs_scope("admin:users")
    async def patch(self, user_name: str) -> None:
        body = parse_body(self.request.body, "user change") or {}
        if "name" in body:
            check_username(body["name"])
        _check_bool(body, "admin")
        await super().patch(user_name)


async def _unwind_start(spawner: Any) -> None:
    """Let a start in progress fail at its next step and wait until it has (at most UNWIND_TIMEOUT seconds).

    JupyterHub 5.5 cancels a pending start, waits one second and answers 500 if the start is still
    unwinding by then (removing a notebook's service takes longer); a cancelled start also leaves its
    server record behind. A start that fails is cleaned up by JupyterHub like any failed start.
    """
    spawner.request_stop()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + UNWIND_TIMEOUT
    while spawner.pending == "spawn" and loop.time() < deadline:
        await asyncio.sleep(0.1)


def checked_api_handlers() -> list[tuple[str, type]]:
    """(pattern, handler) pairs for JupyterHub's URL patterns, to be registered ahead of JupyterHub's own."""
    return [
        (r"/api/users", CheckedUserListAPIHandler),
        (r"/api/users/([^/]+)", CheckedUserAPIHandler),
        (r"/api/users/([^/]+)/server", CheckedUserServerAPIHandler),
        (r"/api/users/([^/]+)/tokens", CheckedUserTokenListAPIHandler),
        (r"/api/users/([^/]+)/servers/([^/]*)", CheckedUserServerAPIHandler),
    ]
