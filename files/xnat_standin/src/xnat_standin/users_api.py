"""XNAT core's user and role endpoints, /xapi/users (contract §2.1, §2.2, §1.1)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from .auth import SESSION_COOKIE, hash_password, require_admin, require_self_or_admin
from .responses import (
    AlreadyExists,
    DataFormatError,
    NotAuthenticated,
    NotFound,
    XnatErrorResponse,
    empty,
    json_response,
    read_form,
    read_json,
    read_json_of,
)
from .state import principal_of, state_of
from .store import AUTH_METHODS, LOCALDB, OPENID, User

USERNAME = re.compile(r"[a-zA-Z][A-Za-z0-9_'.\-]{0,63}")
EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+")
FORBIDDEN_IN_NAMES = set('&<>"/')

# Spring's StringToBooleanConverter, used for the {flag} path variables
_TRUE = {"true", "on", "yes", "1"}
_FALSE = {"false", "off", "no", "0"}

routes = web.RouteTableDef()


def parse_flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise DataFormatError(f"Failed to convert value '{text}' to type boolean")


def _bool_field(body: dict, name: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise DataFormatError(f"JSON parse error: {name} must be a boolean")


def _str_field(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, (str, int, float)):
        raise DataFormatError(f"JSON parse error: {name} must be a string")
    return None if value is None else str(value)


def _validate_profile(email: str | None, first: str | None, last: str | None) -> None:
    if email is not None and not EMAIL.fullmatch(email):
        raise DataFormatError(f"The email address {email} is not valid.")
    for label, value in (("first name", first), ("last name", last)):
        if value is not None and FORBIDDEN_IN_NAMES.intersection(value):
            raise DataFormatError(f"The {label} contains illegal characters.")


def _check_password_complexity(request: web.Request, password: str) -> None:
    prefs = state_of(request).prefs
    if not re.fullmatch(prefs.site("passwordComplexity"), password, flags=re.DOTALL):
        raise DataFormatError(prefs.site("passwordComplexityMessage"))


def existing_user(request: web.Request, username: str) -> User:
    """A missing user is UserNotFoundException, HTTP 404."""
    user = state_of(request).store.user(username)
    if user is None:
        raise NotFound(f"User {username} not found.")
    return user


def known_role_names(request: web.Request) -> set[str]:
    return set(state_of(request).store.role_definitions())


@routes.get("/xapi/users")
async def list_users(request: web.Request) -> web.Response:
    state = state_of(request)
    if state.prefs.site("restrictUserListAccessToAdmins"):
        require_admin(principal_of(request))
    return json_response(state.store.usernames())


@routes.post("/xapi/users")
async def create_user(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store = state_of(request).store
    body = await read_json_of(request, dict, "a user object")
    username = _str_field(body, "username") or ""
    if not USERNAME.fullmatch(username):
        raise DataFormatError(f"The username {username!r} is not valid.")
    if store.user_for_login(username) is not None:
        raise AlreadyExists(f"User {username} already exists.")
    email = _str_field(body, "email")
    first, last = _str_field(body, "firstName"), _str_field(body, "lastName")
    if email is None:
        raise DataFormatError("You must provide an email address.")
    _validate_profile(email, first, last)
    password = _str_field(body, "password")
    auth_method, idp_password = _auth_method_fields(body, password)
    if password:
        _check_password_complexity(request, password)
    enabled = _bool_field(body, "enabled")
    verified = _bool_field(body, "verified")
    # XNAT quirk (contract §2.1): verified is only applied together with a non-null enabled
    if enabled is None:
        enabled, verified = False, False
    user = store.create_user(
        username, email, first or "", last or "", hash_password(password) if password else None,
        enabled, bool(verified), auth_method, hash_password(idp_password) if idp_password else None,
    )
    return json_response(user.to_json(), status=201)


def _auth_method_fields(body: dict, password: str | None) -> tuple[str, str | None]:
    """The stand-in's own additions to the user body (XNAT's has neither; Jackson there ignores unknown fields):
    `authMethod` openid makes an account that signs in at the stand-in's identity provider with `idpPassword`
    and has no XNAT password (contract §6)."""
    auth_method = _str_field(body, "authMethod") or LOCALDB
    idp_password = _str_field(body, "idpPassword")
    if auth_method not in AUTH_METHODS:
        raise DataFormatError(f"authMethod must be one of {', '.join(AUTH_METHODS)}.")
    if auth_method == OPENID:
        if password:
            raise DataFormatError("An openid account has no XNAT password: send idpPassword instead.")
        if not idp_password or "\0" in idp_password:
            raise DataFormatError("An openid account needs an idpPassword.")
    elif idp_password is not None:
        raise DataFormatError("idpPassword is only for authMethod openid.")
    return auth_method, idp_password


@routes.get("/xapi/users/rolemap")
async def role_map(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    return json_response(state_of(request).store.role_map())


@routes.get("/xapi/users/roles/{role}")
async def users_with_role(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    return json_response(state_of(request).store.users_with_role(request.match_info["role"]))


def accepts_text_plain(accept: str | None) -> bool:
    """Spring's content negotiation for a mapping that produces only text/plain: no Accept header, or one with
    text/plain, text/* or */* at a quality above 0. Anything else is HttpMediaTypeNotAcceptableException, 406."""
    if accept is None or not accept.strip():
        return True
    for entry in accept.split(","):
        media_type, *params = (part.strip().lower() for part in entry.split(";"))
        quality = next((p.partition("=")[2].strip() for p in params if p.partition("=")[0].strip() == "q"), "1")
        try:
            acceptable = float(quality) > 0
        except ValueError:
            acceptable = False
        if acceptable and media_type in ("text/plain", "text/*", "*/*"):
            return True
    return False


@routes.get("/xapi/users/username")  # before /xapi/users/{username}: the literal wins, as with Spring's mappings
async def signed_in_username(request: web.Request) -> web.Response:
    """UsersApi.getUsername (contract §1.5): whose session, password or alias token this request carries."""
    principal = principal_of(request)
    if not accepts_text_plain(request.headers.get("Accept")):
        raise XnatErrorResponse("This endpoint answers text/plain only.", status=406)
    return web.Response(text=principal.username, content_type="text/plain")


@routes.get("/xapi/users/{username}")
async def get_user(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    require_self_or_admin(principal_of(request), username)
    user = state_of(request).store.user(username)
    if user is None:
        # XNAT quirk (contract §2.1): UserNotFoundException is wrapped in an InitializationException -> 500
        raise XnatErrorResponse(f"An error occurred initializing the user {username}: user not found.")
    return json_response(user.to_json())


@routes.put("/xapi/users/{username}")
async def update_user(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    state = state_of(request)
    user = existing_user(request, request.match_info["username"])
    body = await read_json_of(request, dict, "a user object")
    email = _str_field(body, "email")
    first, last = _str_field(body, "firstName"), _str_field(body, "lastName")
    _validate_profile(email, first, last)
    changes: dict[str, Any] = {}
    for column, value, current in (("email", email, user.email), ("first_name", first, user.first_name),
                                   ("last_name", last, user.last_name)):
        if value is not None and value != current:
            changes[column] = value
    password = _str_field(body, "password")
    if password and password.strip():
        if user.auth_method == OPENID:
            raise DataFormatError("An openid account has no XNAT password: send idpPassword instead.")
        # a password cannot be compared with the stored hash, so it always counts as a change (§2.1)
        _check_password_complexity(request, password)
        changes["password_hash"] = hash_password(password)
    idp_password = _str_field(body, "idpPassword")
    if idp_password is not None:
        # the stand-in's identity provider only: resetting an openid account's password there
        if user.auth_method != OPENID:
            raise DataFormatError("idpPassword is only for authMethod openid.")
        if not idp_password.strip() or "\0" in idp_password:
            raise DataFormatError("idpPassword must be a non-empty text without NUL.")
        changes["idp_password_hash"] = hash_password(idp_password)
    for column, current_flag in (("enabled", user.enabled), ("verified", user.verified)):
        flag = _bool_field(body, column)
        if flag is not None and flag != current_flag:
            changes[column] = flag
    if not changes:
        return empty(304)
    updated = state.store.update_user(user.id, **changes)
    if changes.get("enabled") is False:
        state.store.deactivate_alias_tokens(user.id)
    return json_response(updated.to_json())


@routes.get("/xapi/users/{username}/enabled")
async def get_enabled(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    require_self_or_admin(principal_of(request), username)
    return json_response(existing_user(request, username).enabled)


@routes.put("/xapi/users/{username}/enabled/{flag}")
async def set_enabled(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    flag = parse_flag(request.match_info["flag"])
    user = existing_user(request, request.match_info["username"])
    store = state_of(request).store
    if user.enabled != flag:
        store.update_user(user.id, enabled=flag)
    if not flag:
        store.deactivate_alias_tokens(user.id)
    return empty()


@routes.put("/xapi/users/{username}/verified/{flag}")
async def set_verified(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    flag = parse_flag(request.match_info["flag"])
    user = existing_user(request, request.match_info["username"])
    if user.verified != flag:
        state_of(request).store.update_user(user.id, verified=flag)
    return empty()


@routes.get("/xapi/users/{username}/roles")
async def get_roles(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    require_self_or_admin(principal_of(request), username)
    user = existing_user(request, username)
    return json_response(state_of(request).store.roles(user.id))


async def _role_names_from_body(request: web.Request) -> list[str]:
    body = await read_json(request)
    if not isinstance(body, list) or not all(isinstance(role, str) for role in body):
        raise DataFormatError("JSON parse error: expected an array of role names")
    return body


def _change_roles(request: web.Request, user: User, roles: list[str], add: bool) -> list[str]:
    """Apply each role; the ones that are not defined fail and are returned (XNAT answers 202)."""
    store = state_of(request).store
    known = known_role_names(request)
    failed = []
    for role in roles:
        if role not in known:
            failed.append(role)
        elif add:
            store.add_role(user.id, role)
        else:
            store.remove_role(user.id, role)
    return failed


@routes.put("/xapi/users/{username}/roles")
async def add_roles(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    user = existing_user(request, request.match_info["username"])
    failed = _change_roles(request, user, await _role_names_from_body(request), add=True)
    return json_response(failed, status=202 if failed else 200)


@routes.delete("/xapi/users/{username}/roles")
async def remove_roles(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    user = existing_user(request, request.match_info["username"])
    failed = _change_roles(request, user, await _role_names_from_body(request), add=False)
    return json_response(failed, status=202 if failed else 200)


@routes.put("/xapi/users/{username}/roles/{role}")
async def add_role(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    user = existing_user(request, request.match_info["username"])
    if _change_roles(request, user, [request.match_info["role"]], add=True):
        raise XnatErrorResponse(f"Unable to add role {request.match_info['role']}: no such role is defined.")
    return empty()


@routes.delete("/xapi/users/{username}/roles/{role}")
async def remove_role(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    user = existing_user(request, request.match_info["username"])
    if _change_roles(request, user, [request.match_info["role"]], add=False):
        raise XnatErrorResponse(f"Unable to remove role {request.match_info['role']}: no such role is defined.")
    return empty()


@routes.put("/data/services/auth")
async def legacy_auth_check(request: web.Request) -> web.Response:
    """The hub authenticator's pre-JHP-106 check (contract §1.1 'History'): form username/password."""
    form = await read_form(request)
    user = await state_of(request).auth.verify(str(form.get("username", "")), str(form.get("password", "")))
    if user is None:
        raise NotAuthenticated("Authentication failed.")
    session = state_of(request).auth.start_session(user)
    response = web.Response(text=session, content_type="text/plain")
    response.set_cookie(SESSION_COOKIE, session, httponly=True, path="/")
    return response
