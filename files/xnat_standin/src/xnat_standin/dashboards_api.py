"""/xapi/jupyterhub/dashboards/{frameworks,configs} (contract §2.6)."""

from __future__ import annotations

import re

from aiohttp import web

from . import dashboards
from .auth import require_admin
from .responses import AlreadyExists, DataFormatError, NotFound, empty, json_response, read_json_of
from .state import principal_of, state_of

routes = web.RouteTableDef()
FRAMEWORKS = "/xapi/jupyterhub/dashboards/frameworks"
CONFIGS = "/xapi/jupyterhub/dashboards/configs"
PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _config_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not text.isdigit() or len(text) > 18:
        raise DataFormatError(f"Failed to convert value '{text[:40]}' to type long")
    return int(text)


def _framework(request: web.Request) -> tuple[int, dict]:
    name = request.match_info["name"]
    found = dashboards.framework_by_name(state_of(request).store, name)
    if found is None:
        raise NotFound(f"DashboardFramework {name[:80]} not found.")
    return found


# -- frameworks

@routes.get(FRAMEWORKS)
async def list_frameworks(request: web.Request) -> web.Response:
    principal_of(request)
    return json_response([dashboards.render_framework(fid, f)
                          for fid, f in state_of(request).store.compute_configs(dashboards.FRAMEWORKS)])


@routes.get(FRAMEWORKS + "/{name}")
async def get_framework(request: web.Request) -> web.Response:
    principal_of(request)
    return json_response(dashboards.render_framework(*_framework(request)))


@routes.post(FRAMEWORKS)
async def create_framework(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store = state_of(request).store
    framework = dashboards.normalise_framework(await read_json_of(request, dict, "a dashboard framework"))
    if dashboards.framework_by_name(store, framework["name"]) is not None:
        # XNAT's unique constraint on the name fails the insert with 500
        raise AlreadyExists(f"A dashboard framework named {framework['name']} already exists.")
    framework_id = store.add_compute_config(dashboards.FRAMEWORKS, framework)
    return json_response(dashboards.render_framework(framework_id, framework))


@routes.put(FRAMEWORKS + "/{name}")
async def update_framework(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store = state_of(request).store
    body = await read_json_of(request, dict, "a dashboard framework")
    framework_id, _current = _framework(request)
    # XNAT updates the framework of the body's id; the stand-in requires it to be the one named in the path
    if body.get("id") is not None and str(body.get("id")) != str(framework_id):
        raise DataFormatError(f"The id in the body does not match framework {request.match_info['name'][:80]}.")
    framework = dashboards.normalise_framework(body)
    other = dashboards.framework_by_name(store, framework["name"])
    if other is not None and other[0] != framework_id:
        raise AlreadyExists(f"A dashboard framework named {framework['name']} already exists.")
    store.replace_compute_config(dashboards.FRAMEWORKS, framework_id, framework)
    return json_response(dashboards.render_framework(framework_id, framework))


@routes.delete(FRAMEWORKS + "/{name}")
async def delete_framework(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store = state_of(request).store
    found = dashboards.framework_by_name(store, request.match_info["name"])
    if found is None:
        return empty()  # XNAT's delete(name) ignores unknown names
    users = dashboards.users_of(store, dashboards.FRAMEWORKS, found[0])
    if users:
        raise AlreadyExists(f"Dashboard framework {found[1]['name']} is used by the dashboards: " + ", ".join(users))
    store.delete_compute_config(dashboards.FRAMEWORKS, found[0])
    return empty()


# -- dashboard configs

@routes.get(CONFIGS)
async def list_configs(request: web.Request) -> web.Response:
    principal_of(request)
    store = state_of(request).store
    return json_response([dashboards.render_config(cid, c, store)
                          for cid, c in store.compute_configs(dashboards.DASHBOARDS)])


@routes.get(CONFIGS + "/available")
async def available_configs(request: web.Request) -> web.Response:
    principal_of(request)
    store = state_of(request).store
    scope = {key: request.query[code] for code, key in dashboards.QUERY_SCOPES.items() if code in request.query}
    return json_response([dashboards.render_config(cid, c, store) for cid, c in dashboards.available(store, scope)])


@routes.get(CONFIGS + "/{id}")
async def get_config(request: web.Request) -> web.Response:
    principal_of(request)
    store, config_id = state_of(request).store, _config_id(request)
    return json_response(dashboards.render_config(config_id, dashboards.require_config(store, config_id), store))


@routes.post(CONFIGS)
async def create_config(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store = state_of(request).store
    config = dashboards.normalise_config(await read_json_of(request, dict, "a dashboard config"), store)
    config_id = store.add_compute_config(dashboards.DASHBOARDS, config)
    return json_response(dashboards.render_config(config_id, config, store), status=201)


@routes.put(CONFIGS + "/{id}")
async def update_config(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store, config_id = state_of(request).store, _config_id(request)
    body = await read_json_of(request, dict, "a dashboard config")
    if str(body.get("id")) != str(config_id):
        # XNAT: "Dashboard config id does not match id in request path." (IllegalArgumentException, 500)
        raise DataFormatError("Dashboard config id does not match id in request path.")
    dashboards.require_config(store, config_id)
    config = dashboards.normalise_config(body, store)
    store.replace_compute_config(dashboards.DASHBOARDS, config_id, config)
    return json_response(dashboards.render_config(config_id, config, store))


@routes.delete(CONFIGS + "/{id}")
async def delete_config(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store, config_id = state_of(request).store, _config_id(request)
    dashboards.require_config(store, config_id)
    store.delete_compute_config(dashboards.DASHBOARDS, config_id)
    return empty(204)


async def _set_scope(request: web.Request, key: str, enable: bool, project_id: str | None = None) -> web.Response:
    require_admin(principal_of(request))
    store, config_id = state_of(request).store, _config_id(request)
    config = dashboards.require_config(store, config_id)
    scope = config["scopes"][key]
    if project_id is None:
        scope["enabled"] = enable
    elif enable and project_id not in scope["ids"]:
        scope["ids"].append(project_id)
    elif not enable and project_id in scope["ids"]:
        scope["ids"].remove(project_id)
    store.replace_compute_config(dashboards.DASHBOARDS, config_id, config)
    return empty(204)


@routes.post(CONFIGS + "/{id}/scope/site")
async def enable_site(request: web.Request) -> web.Response:
    return await _set_scope(request, "Site", True)


@routes.delete(CONFIGS + "/{id}/scope/site")
async def disable_site(request: web.Request) -> web.Response:
    return await _set_scope(request, "Site", False)


def _project(request: web.Request) -> str:
    project_id = request.match_info["project"]
    if not PROJECT_ID.fullmatch(project_id):
        raise DataFormatError("The project id must be a letter or digit, then letters, digits, '.', '_' or '-'"
                              " (at most 64 characters)")
    return project_id


@routes.post(CONFIGS + "/{id}/scope/project/{project}")
async def enable_project(request: web.Request) -> web.Response:
    return await _set_scope(request, "Project", True, _project(request))


@routes.delete(CONFIGS + "/{id}/scope/project/{project}")
async def disable_project(request: web.Request) -> web.Response:
    return await _set_scope(request, "Project", False, _project(request))
