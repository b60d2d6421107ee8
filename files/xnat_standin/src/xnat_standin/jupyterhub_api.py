"""The plugin's /xapi/jupyterhub API (contract §2.5, §1.3) and the launch and stop flows (§3.2-§3.4)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import web

from .auth import Principal, require_admin, require_self_or_admin
from .events import EventTracker, event_json
from .hub_client import HubClient, HubError
from .responses import (
    DataFormatError,
    InsufficientPrivileges,
    NotFound,
    XnatErrorResponse,
    empty,
    json_response,
    read_json_of,
)
from .state import HUB, STATE, State, principal_of, state_of
from .store import User
from .user_options import (
    LaunchError,
    build_user_options,
    can_read,
    check_compute_available,
    check_dashboard_available,
    resolve_item,
)

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
_T = TypeVar("_T")
BASE = "/xapi/jupyterhub"
REQUIRED_START_FIELDS = ("xsiType", "itemId", "itemLabel", "projectId", "eventTrackingId",
                         "computeEnvironmentConfigId", "hardwareConfigId")
# what XNAT's client models keep of the hub's answers (P/client/models); XNAT drops nulls when re-serialising
USER_KEYS = ("name", "admin", "roles", "groups", "server", "pending", "last_activity", "servers")
SERVER_KEYS = ("name", "ready", "pending", "url", "progress_url", "user_options", "started", "last_activity")
TOKEN_KEYS = ("token", "id", "user", "kind", "service", "scopes", "note", "oauth_client", "session_id",
              "expires_at", "expires_in", "created", "last_activity")


def _non_null(model: dict, keys: tuple[str, ...]) -> dict:
    return {key: model[key] for key in keys if model.get(key) is not None}


def server_json(server: dict) -> dict:
    return _non_null(server, SERVER_KEYS)


def user_json(user: dict) -> dict:
    result = _non_null(user, USER_KEYS)
    if "servers" in result:
        result["servers"] = {name: server_json(server) for name, server in result["servers"].items()}
    return result


def hub(request: web.Request) -> HubClient:
    return request.app[HUB]


async def _proxy(call: Awaitable[_T]) -> _T:
    """Hub failures surface as 500 with a message, as XNAT's RuntimeException does."""
    try:
        return await call
    except HubError as exc:
        raise XnatErrorResponse(str(exc)) from exc


# -- user options, read by the hub's pre-spawn hook (§1.3)

async def _user_options(request: web.Request, servername: str) -> web.Response:
    principal = principal_of(request)
    if not principal.has_any_role("JupyterHub", "Administrator"):
        raise InsufficientPrivileges("The JupyterHub or Administrator role is required.")
    state = state_of(request)
    user = state.store.user(request.match_info["username"])
    if user is None:
        raise NotFound(f"User {request.match_info['username']} not found.")
    options = state.store.user_options(user.id, servername)
    # the target user must still be able to read the project (DefaultUserOptionsService.retrieveUserOptions)
    if options is None or not can_read(state.store, user, state.store.roles(user.id), options["projectId"]):
        raise NotFound("User options not found.")
    return json_response({key: value for key, value in options.items() if value is not None})


@routes.get(BASE + "/users/{username}/server/user-options")
async def default_server_user_options(request: web.Request) -> web.Response:
    return await _user_options(request, "")


@routes.get(BASE + "/users/{username}/server/{servername:[^/]*}/user-options")
async def named_server_user_options(request: web.Request) -> web.Response:
    # an empty servername is the '//user-options' path the hub builds for the default server (§1.3)
    return await _user_options(request, request.match_info["servername"])


# -- proxied hub reads (§2.5)

@routes.get(BASE + "/version")
async def version(request: web.Request) -> web.Response:
    data = await _proxy(hub(request).version())
    return json_response({"version": data.get("version")})


@routes.get(BASE + "/info")
async def info(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    data = await _proxy(hub(request).info())
    # XNAT's Hub model maps sysExecutable, so the hub's sys_executable is dropped (defect 25)
    return json_response(_non_null(data, ("version", "python", "authenticator", "spawner")))


@routes.get(BASE + "/users")
async def hub_users(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    return json_response([user_json(user) for user in await _proxy(hub(request).users())])


@routes.get(BASE + "/users/{username}")
async def hub_user(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    require_self_or_admin(principal_of(request), username)
    user = await _proxy(hub(request).user(username))
    if user is None:
        raise NotFound(f"JupyterHub user {username} not found.")
    return json_response(user_json(user))


@routes.post(BASE + "/users/{username}")
async def hub_create_user(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    require_self_or_admin(principal_of(request), username)
    return json_response(user_json(await _proxy(hub(request).create_user(username))))


async def _server(request: web.Request, servername: str) -> web.Response:
    username = request.match_info["username"]
    require_self_or_admin(principal_of(request), username)
    user = await _proxy(hub(request).user(username))
    server = ((user or {}).get("servers") or {}).get(servername)
    return json_response(server_json(server)) if server else empty()


@routes.get(BASE + "/users/{username}/server")
async def default_server(request: web.Request) -> web.Response:
    return await _server(request, "")


@routes.get(BASE + "/users/{username}/server/{servername}")
async def named_server(request: web.Request) -> web.Response:
    return await _server(request, request.match_info["servername"])


@routes.post(BASE + "/users/{username}/tokens")
async def create_token(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    require_self_or_admin(principal_of(request), username)
    expires_in = request.query.get("expiresIn")
    if expires_in is not None and (not expires_in.lstrip("-").isdigit() or len(expires_in) > 18):
        raise DataFormatError(f"Failed to convert value '{expires_in[:40]}' to type int")
    if len(request.query.get("note") or "") > 1000:
        raise DataFormatError("note is longer than 1000 characters")
    token = await _proxy(hub(request).create_token(username, request.query.get("note"),
                                                   None if expires_in is None else int(expires_in)))
    return json_response(_non_null(token, TOKEN_KEYS))


# -- start and stop (§3.2, §3.4)

# The names the hub accepts for servers (contract §3.1): XNAT's UI names them after event ids such as
# 20250311T172455123Z. Real XNAT checks neither; the stand-in refuses what the hub would refuse anyway,
# before it stores anything.
SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# XNAT's ids and labels (projects, subjects, experiments, scans) and data types such as xnat:mrSessionData.
XNAT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
XSI_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*:[A-Za-z][A-Za-z0-9_]*")
ID_FIELDS = {"itemId": XNAT_ID, "itemLabel": XNAT_ID, "projectId": XNAT_ID, "xsiType": XSI_TYPE,
             "eventTrackingId": EVENT_ID}


def _validate_start(principal: Principal, body: dict, path_servername: str) -> None:
    """DefaultJupyterHubService.startServer's validation, answered with 400, plus the form of every field.

    XNAT answers these IllegalArgumentExceptions with 500 (defect 22) and checks no field's form; the
    stand-in, which the hostile-input tests exercise, refuses malformed requests with 400 before it
    stores anything. A client must read both as "refused".
    """
    problems = []
    if body.get("username") != principal.username:
        problems.append("username must match the logged-in user")
    problems.extend(f"{name} is required" for name in REQUIRED_START_FIELDS if body.get(name) in (None, ""))
    if (body.get("servername") or "") != path_servername:
        problems.append("the server name in the path must equal the request's servername")
    if path_servername and not SERVER_NAME.fullmatch(path_servername):
        problems.append("the server name must be a letter or digit, then letters, digits, '.', '_' or '-'"
                        " (at most 64 characters)")
    for name, pattern in ID_FIELDS.items():
        value = body.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not pattern.fullmatch(str(value)):
            problems.append(f"{name} is not a valid XNAT identifier")
    for name in ("computeEnvironmentConfigId", "hardwareConfigId", "dashboardConfigId"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, str))
                                  or not str(value).isdigit() or len(str(value)) > 18):
            problems.append(f"{name} must be a number")
    if problems:
        raise DataFormatError("Invalid server start request: " + "; ".join(problems))


async def _start(request: web.Request, servername: str) -> web.Response:
    username = request.match_info["username"]
    principal = principal_of(request)
    require_self_or_admin(principal, username)
    body = await read_json_of(request, dict, "a server start request")
    _validate_start(principal, body, servername)
    state = state_of(request)
    # JupyterHubApi.checkJupyterAuthorization (§2.2): any user may start a dashboard (§2.6.4)
    if not is_dashboard(body) and \
            not (state.prefs.get("allUsersCanStartJupyter") or principal.has_any_role("Jupyter")):
        raise InsufficientPrivileges(f"User {username} is not allowed to start Jupyter notebooks.")
    state.spawn(start_server(state, request.app[HUB], principal, body))
    return empty()


@routes.post(BASE + "/users/{username}/server")
async def start_default_server(request: web.Request) -> web.Response:
    return await _start(request, "")


@routes.post(BASE + "/users/{username}/server/{servername}")
async def start_named_server(request: web.Request) -> web.Response:
    return await _start(request, request.match_info["servername"])


async def _stop(request: web.Request, servername: str) -> web.Response:
    username = request.match_info["username"]
    require_self_or_admin(principal_of(request), username)
    event_id = request.query.get("eventTrackingId")
    if servername and not SERVER_NAME.fullmatch(servername):
        raise DataFormatError("Invalid server name.")
    if event_id is not None and not EVENT_ID.fullmatch(event_id):
        raise DataFormatError("eventTrackingId must be letters, digits and . _ : - (at most 128 characters)")
    state = state_of(request)
    user = state.store.user(username)
    if user is None:
        raise NotFound(f"User {username} not found.")
    state.spawn(stop_server(state, request.app[HUB], user, servername, event_id))
    return empty()


@routes.delete(BASE + "/users/{username}/server")
async def stop_default_server(request: web.Request) -> web.Response:
    return await _stop(request, "")


@routes.delete(BASE + "/users/{username}/server/{servername}")
async def stop_named_server(request: web.Request) -> web.Response:
    return await _stop(request, request.match_info["servername"])


@routes.get("/xapi/event_tracking/{key}")
async def event_tracking(request: web.Request) -> web.Response:
    principal = principal_of(request)
    row = state_of(request).store.event(request.match_info["key"])
    if row is None or (row["user_id"] != principal.user.id and not principal.is_admin):
        raise NotFound(f"No event tracking data for key {request.match_info['key']}.")
    return json_response(event_json(row))


def is_dashboard(request: dict) -> bool:
    """JupyterHubApi.isNotDashboard, negated: a start request with a dashboardConfigId starts a dashboard."""
    return request.get("dashboardConfigId") not in (None, "")


async def start_server(state: State, client: HubClient, principal: Principal, request: dict) -> None:
    user, username = principal.user, principal.username
    servername = request.get("servername") or ""
    dashboard_id = int(request["dashboardConfigId"]) if is_dashboard(request) else None
    application = "dashboard" if dashboard_id is not None else "Jupyter notebook server"
    events = EventTracker(state.store, request["eventTrackingId"], user.id)
    events.progress(f"Starting {application} for user {username}", 0)
    try:
        if not can_read(state.store, user, principal.roles, request["projectId"]):
            raise LaunchError(f"User {username} cannot read project {request['projectId']}.")
        item = resolve_item(state.store, request["xsiType"], str(request["itemId"]), request["projectId"])
        if dashboard_id is not None:
            check_dashboard_available(state, user, request, dashboard_id)
        else:
            check_compute_available(state, user, request)

        try:
            await client.version()
        except HubError as exc:
            raise LaunchError("Failed to connect to JupyterHub. Please ensure JupyterHub is running and the "
                              f"JupyterHub API URL is correct. ({exc})") from exc
        try:
            await client.info()
        except HubError as exc:
            raise LaunchError(f"Failed to connect to JupyterHub. Confirm XNAT's token for JupyterHub. ({exc})") from exc
        hub_user = await client.user(username) or await client.create_user(username)
        # counts every entry of the servers map, pending and default servers included (defect 20)
        if len(hub_user.get("servers") or {}) >= state.prefs.get("maxNamedServers"):
            raise LaunchError("Maximum number of running Jupyter servers reached.")

        events.progress("Building the notebook server's configuration", 20)
        options = build_user_options(state, user, principal.roles, request, item)
        state.store.put_user_options(user.id, servername, options)

        hub_user = await client.user(username) or {}
        if servername in (hub_user.get("servers") or {}):
            raise LaunchError(f"A Jupyter server named '{servername}' is already running.")
        await client.start_server(username, servername, {
            "userId": user.id, "servername": None, "xsiType": item.xsi_type, "itemId": item.item_id,
            "itemLabel": request["itemLabel"], "projectId": item.project_id,
            "eventTrackingId": request["eventTrackingId"], "dashboardConfigId": dashboard_id, "task_template": None})
        events.progress("Waiting for the Jupyter notebook server to start", 40)

        deadline = time.monotonic() + state.prefs.get("startTimeout")
        interval = max(state.prefs.get("startPollingInterval"), 0.5)
        while True:
            await asyncio.sleep(interval)
            server = ((await client.user(username) or {}).get("servers") or {}).get(servername)
            if server and server.get("ready"):
                events.succeed(f"Jupyter notebook is available at: {server.get('url')}")
                return
            if server is None:
                # XNAT polls on until the timeout; a vanished server means the spawn failed (defect 13)
                raise LaunchError("The Jupyter server is gone: JupyterHub could not spawn it.")
            if time.monotonic() >= deadline:
                raise LaunchError("Timed out waiting for the Jupyter notebook server to start.")
    except (LaunchError, HubError) as exc:
        events.fail(f"Failed to launch {application}. {exc}")
    except Exception as exc:
        log.exception("launch of %s/%s failed", username, servername)
        events.fail(f"Failed to launch {application}. {exc}")


async def stop_server(state: State, client: HubClient, user: User, servername: str, event_id: str | None) -> None:
    events = EventTracker(state.store, event_id, user.id)
    events.progress(f"Stopping Jupyter server '{servername}'", 0)
    try:
        server = ((await client.user(user.username) or {}).get("servers") or {}).get(servername)
        # XNAT dereferences the missing server's user_options here (defect 16); the stand-in treats it as stopped
        if server is not None:
            await client.stop_server(user.username, servername)
            deadline = time.monotonic() + state.prefs.get("stopTimeout")
            interval = max(state.prefs.get("stopPollingInterval"), 0.5)
            while servername in ((await client.user(user.username) or {}).get("servers") or {}):
                if time.monotonic() >= deadline:
                    raise LaunchError("Timed out waiting for the Jupyter server to stop.")
                await asyncio.sleep(interval)
        state.store.delete_user_options(user.id, servername)
        events.succeed("Jupyter Server Stopped.")
    except (LaunchError, HubError) as exc:
        events.fail(f"Failed to stop Jupyter server. {exc}")
    except Exception as exc:
        log.exception("stop of %s/%s failed", user.username, servername)
        events.fail(f"Failed to stop Jupyter server. {exc}")


def setup(app: web.Application) -> None:
    state = app[STATE]
    app[HUB] = HubClient(state.prefs, state.settings.hub_timeout)
    app.add_routes(routes)

    async def close_client(app: web.Application) -> None:
        await app[HUB].close()

    app.on_cleanup.append(close_client)
