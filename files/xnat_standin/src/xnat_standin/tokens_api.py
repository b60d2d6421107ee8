"""XNAT's alias-token service, /data/services/tokens (AliasTokenRestlet; contract §1.6).

Every operation is a GET. The optional path parts are read first, in XNAT's order: a token (its alias, or
its number) that does not exist is 404 whatever the operation; a token or user name that is not the
caller's is 403 unless the caller is an administrator; only then is the operation looked at (400 when
unknown).
"""

from __future__ import annotations

import hmac
import sqlite3
import time
from typing import Any

from aiohttp import web

from .auth import UUID_PATTERN, Principal, hash_token_secret
from .responses import DataFormatError, InsufficientPrivileges, NotAuthenticated, NotFound, json_response
from .state import principal_of, state_of

MAX_TOKEN_NUMBER = 2**63 - 1  # a Java long
routes = web.RouteTableDef()


def _live(token: sqlite3.Row | None) -> sqlite3.Row | None:
    """A token XNAT would still find: enabled, and (the stand-in's reading of XNAT's periodic sweep of expired
    tokens, ClearExpiredAliasTokens) not yet expired."""
    if token is None or not token["valid"] or token["expires"] <= time.time() * 1000:
        return None
    return token


def _token_in_path(request: web.Request, token_id: str | None) -> sqlite3.Row | None:
    store = state_of(request).store
    if not token_id:
        return None
    if UUID_PATTERN.match(token_id):
        token = _live(store.alias_token(token_id))
        if token is None:
            raise NotFound(f"Can't find an alias token with the alias {token_id}")
        return token
    number = int(token_id) if token_id.isascii() and token_id.isdigit() and len(token_id) <= 19 else None
    token = _live(store.alias_token_by_id(number)) if number is not None and number <= MAX_TOKEN_NUMBER else None
    if token is None:
        raise NotFound(f"Can't find an alias token with the ID {token_id}")
    return token


def token_json(token: sqlite3.Row, username: str, secret: str | None) -> dict[str, Any]:
    """XNAT's AliasToken as its serializer writes it (nulls left out, dates as milliseconds). The stand-in keeps
    only a hash of each secret, so `secret` is there only in the answer that issues the token."""
    body: dict[str, Any] = {
        "id": token["id"], "enabled": bool(token["valid"]), "created": token["created"],
        "timestamp": token["created"], "disabled": 0, "alias": token["alias"],
        "estimatedExpirationTime": token["expires"], "singleUse": False, "xdatUserId": username,
        "validIPAddresses": [],
    }
    if secret is not None:
        body["secret"] = secret
    return body


def _check_caller(principal: Principal, username: str, token: sqlite3.Row | None, owner: str | None) -> None:
    """AliasTokenRestlet's constructor, then represent(): non-administrators work only with their own tokens."""
    if not username or username.lower() == "guest":
        raise InsufficientPrivileges("The guest user can't request alias tokens")
    if principal.is_admin:
        return
    if username.lower() != principal.username.lower() or \
            (token is not None and (owner or "").lower() != principal.username.lower()):
        raise InsufficientPrivileges("Non-admin users can only request operations on alias tokens for their own "
                                     "account")
    if username != principal.username:
        raise InsufficientPrivileges("Only admins can work with alias tokens for other users.")


# stacked route decorators register from the innermost up: .../user/{username} must come before {token}/{secret}
@routes.get("/data/services/tokens/{operation}")
@routes.get("/data/services/tokens/{operation}/{token}")
@routes.get("/data/services/tokens/{operation}/{token}/{secret}")
@routes.get("/data/services/tokens/{operation}/user/{username}")
async def alias_tokens(request: web.Request) -> web.Response:
    state, principal = state_of(request), principal_of(request)
    store = state.store
    info = request.match_info
    token = _token_in_path(request, info.get("token"))
    owner_user = store.user_by_id(token["user_id"]) if token is not None else None
    owner = owner_user.username if owner_user is not None else None
    username = info.get("username") or principal.username
    _check_caller(principal, username, token, owner)

    operation = info["operation"]
    if operation == "issue":
        user = store.user(username)
        if user is None:
            raise DataFormatError(f"An error occurred retrieving the user: {username}")
        alias, secret = state.auth.issue_alias_token(user, state.prefs.alias_token_lifetime())
        issued = store.alias_token(alias)
        if issued is None:  # just written
            raise LookupError(f"alias token {alias} is not stored")
        return json_response(token_json(issued, user.username, secret))
    if operation == "show":
        user = store.user(username)
        tokens = [t for t in store.alias_tokens_of(user.id) if _live(t)] if user is not None else []
        return json_response([token_json(t, username, None) for t in tokens])
    if operation == "validate":
        if token is None or not info.get("secret"):
            raise NotAuthenticated("You must specify both token and secret to validate a token.")
        # HibernateAliasTokenService.validateToken: the owner's name when the secret matches; a null the
        # serializer leaves out otherwise, so the answer is {}
        matches = hmac.compare_digest(token["secret_hash"], hash_token_secret(info["secret"]))
        return json_response({"valid": owner} if matches and owner is not None else {})
    if operation == "invalidate":
        if token is not None:
            store.delete_alias_token(token["alias"])
        return web.Response(text='{"result": "OK"}', content_type="application/json")
    raise DataFormatError(f"Unknown operation: {operation}")
