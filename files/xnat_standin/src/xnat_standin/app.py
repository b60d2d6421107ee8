"""The aiohttp application: middlewares, routes, start-up and shutdown."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from . import (
    archive_api,
    compute_api,
    dashboards_api,
    data_api,
    faults_api,
    jupyterhub_api,
    preferences_api,
    tokens_api,
    ui,
    users_api,
)
from .auth import SESSION_COOKIE, Authenticator
from .bootstrap import initialise
from .config import Settings
from .preferences import Preferences
from .responses import NotAuthenticated, XnatErrorResponse, text_error
from .state import PRINCIPAL, STATE, State
from .store import Store

log = logging.getLogger(__name__)

# GETs a login benchmark exercises; --latency-ms delays them (always with asyncio.sleep)
SLOW_PATHS = ("/xapi/users/*/roles", "/xapi/jupyterhub/preferences*", "/xapi/jupyterhub/users/*/user-options")


@web.middleware
async def xnat_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors as text/plain bodies with XNAT's status codes (contract §2.0)."""
    try:
        return await handler(request)
    except XnatErrorResponse as exc:
        return text_error(exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/xapi"):
            return text_error(exc.status, exc.reason)
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # XNAT answers unexpected failures with 500 and the message
        log.exception("unhandled error on %s %s", request.method, request.path)
        return text_error(500, str(exc))


@web.middleware
async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    principal = await state.auth.identify(request)
    request[PRINCIPAL] = principal
    # /data/services/auth and the identity provider's page take their credentials from the form
    needs_login = (request.path.startswith(("/xapi", "/standin")) and not request.path.startswith(ui.IDP_LOGIN)) or \
        (request.path.startswith("/data/") and request.path != "/data/services/auth")
    if needs_login and principal is None:
        raise NotAuthenticated("Authentication required.")
    response = await handler(request)
    if principal is not None and request.path == "/" and request.headers.get("Authorization") and \
            request.cookies.get(SESSION_COOKIE) not in state.auth.sessions:
        # As XNAT does for a Basic login on its home page: xnatpy signs in with alias tokens this way
        response.set_cookie(SESSION_COOKIE, state.auth.start_session(principal.user), httponly=True, path="/")
    return response


@web.middleware
async def latency_and_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    if state.settings.latency_ms and request.method == "GET" and \
            any(fnmatch.fnmatchcase(request.path, pattern) for pattern in SLOW_PATHS):
        await asyncio.sleep(state.settings.latency_ms / 1000)
    rule = faults_api.matching_rule(state, request)
    if rule is not None:
        if rule.get("hang_seconds"):
            await asyncio.sleep(float(rule["hang_seconds"]))
        if rule.get("status"):
            return text_error(int(rule["status"]), rule.get("message", "Injected fault"))
    return await handler(request)


@web.middleware
async def access_log_timing(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.monotonic()
    try:
        return await handler(request)
    finally:
        log.debug("%s %s took %.1f ms", request.method, request.path, (time.monotonic() - started) * 1000)


def create_app(settings: Settings) -> web.Application:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.data_dir / "standin.sqlite3")
    prefs = Preferences(store)
    initialise(store, prefs, settings)
    state = State(settings=settings, store=store, auth=Authenticator(store), prefs=prefs)

    app = web.Application(middlewares=[access_log_timing, xnat_errors, authentication, latency_and_faults])
    app[STATE] = state
    # data_api first: its /xapi/siteConfig/buildInfo must win over /xapi/siteConfig/{name}
    for module in (data_api, users_api, tokens_api, archive_api, preferences_api, compute_api, dashboards_api,
                   faults_api):
        app.add_routes(module.routes)
    jupyterhub_api.setup(app)
    ui.setup(app)

    async def shutdown(app: web.Application) -> None:
        for task in list(state.tasks):
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        store.close()

    app.on_cleanup.append(shutdown)
    return app
