"""/xapi/jupyterhub/preferences (contract §2.3, §1.2) and /xapi/siteConfig."""

from __future__ import annotations

import json

from aiohttp import web

from .auth import require_admin
from .preferences import JUPYTERHUB_PREFERENCES, SITE_CONFIG, java_to_string
from .responses import (
    DataFormatError,
    InsufficientPrivileges,
    NotFound,
    XnatErrorResponse,
    empty,
    json_response,
    read_json,
)
from .state import principal_of, state_of

SERVICE_ROLE = "JupyterHub"
routes = web.RouteTableDef()


async def _posted_map(request: web.Request) -> dict:
    """The XNAT settings form posts JSON; form encoding is accepted too."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {key: str(value) for key, value in (await request.post()).items()}
    body = await read_json(request)
    if not isinstance(body, dict):
        raise DataFormatError("JSON parse error: expected an object of preference names and values")
    return body


@routes.get("/xapi/jupyterhub/preferences")
async def get_preferences(request: web.Request) -> web.Response:
    principal = principal_of(request)
    prefs = state_of(request).prefs
    if principal.is_admin or principal.has_any_role(SERVICE_ROLE):
        return json_response(prefs.all())
    return json_response({"allUsersCanStartJupyter": prefs.get("allUsersCanStartJupyter")})


@routes.get("/xapi/jupyterhub/preferences/{name}")
async def get_preference(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in JUPYTERHUB_PREFERENCES:
        raise NotFound(f"No preference named {name} for tool jupyterhub.")
    principal = principal_of(request)
    if name == "jupyterHubToken" and not (principal.is_admin or principal.has_any_role(SERVICE_ROLE)):
        raise InsufficientPrivileges("Only administrators and the JupyterHub service account can read the token.")
    return json_response({name: state_of(request).prefs.get(name)})


@routes.post("/xapi/jupyterhub/preferences")
async def set_preferences(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    prefs = state_of(request).prefs
    values = await _posted_map(request)
    if any(value is None for value in values.values()):
        # value.toString() on a JSON null throws in XNAT; here nothing is stored in that case
        raise XnatErrorResponse("Preference values must not be null.")
    for name, value in values.items():
        # XNAT quirk (§2.3, defect 17): unknown names are logged and skipped, the answer is still 200
        if name in JUPYTERHUB_PREFERENCES:
            prefs.set_from_json(name, value)
    return empty()


@routes.post("/xapi/jupyterhub/preferences/{name}")
async def set_preference(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    name = request.match_info["name"]
    if name not in JUPYTERHUB_PREFERENCES:
        # InvalidPreferenceName surfaces as 500 on the single-name form (§2.3)
        raise XnatErrorResponse(f"Invalid preference name {name} for tool jupyterhub.")
    # XNAT quirk (§2.3): the body is bound as a raw String, so a JSON string literal keeps its quotes
    state_of(request).prefs.set_raw(name, (await request.read()).decode("utf-8"))
    return empty()


@routes.get("/xapi/siteConfig")
async def get_site_config(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    prefs = state_of(request).prefs
    return json_response({name: prefs.site(name) for name in SITE_CONFIG})


@routes.post("/xapi/siteConfig")
async def set_site_config(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    prefs = state_of(request).prefs
    values = await _posted_map(request)
    for name, value in values.items():
        if name in SITE_CONFIG and value is not None:
            prefs.set_site(name, java_to_string(value))
    return empty()


@routes.get("/xapi/siteConfig/{name}")
async def get_site_config_property(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in SITE_CONFIG:
        raise NotFound(f"No site configuration property named {name}.")
    value = state_of(request).prefs.site(name)
    if isinstance(value, str):
        # Spring writes a String result as-is, unquoted, although the endpoint produces JSON (inferred)
        return web.Response(text=value, content_type="application/json")
    return json_response(value)


@routes.post("/xapi/siteConfig/{name}")
async def set_site_config_property(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    name = request.match_info["name"]
    if name not in SITE_CONFIG:
        raise NotFound(f"No site configuration property named {name}.")
    raw = (await request.read()).decode("utf-8")
    if request.content_type == "application/json":
        try:
            parsed = json.loads(raw)
            raw = java_to_string(parsed) if parsed is not None and not isinstance(parsed, (list, dict)) else raw
        except json.JSONDecodeError:
            pass
    state_of(request).prefs.set_site(name, raw)
    return empty()
