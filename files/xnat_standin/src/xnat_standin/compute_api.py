"""/xapi/compute/{environments,hardware,constraints} (contract §2.4)."""

from __future__ import annotations

from aiohttp import web

from . import compute, dashboards
from .auth import require_admin
from .responses import AlreadyExists, DataFormatError, IllegalArgument, empty, json_response, read_json_of
from .state import principal_of, state_of

routes = web.RouteTableDef()
KINDS = "{kind:environments|hardware|constraints}"


def _config_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not text.isdigit():
        raise DataFormatError(f"Failed to convert value '{text}' to type long")
    return int(text)


@routes.get("/xapi/compute/environments/available")
async def available(request: web.Request) -> web.Response:
    store = state_of(request).store
    config_type = request.query.get("type")
    if config_type is not None and config_type not in compute.CONFIG_TYPES:
        raise DataFormatError(f"Unknown compute environment type {config_type}")
    execution_scope = {key: request.query[code] for code, key in compute.QUERY_SCOPES.items() if code in request.query}
    return json_response(compute.available_environments(store, config_type, execution_scope))


@routes.get(f"/xapi/compute/{KINDS}")
async def list_configs(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store = state_of(request).store
    kind = request.match_info["kind"]
    config_type = request.query.get("type") if kind == compute.ENVIRONMENTS else None
    if config_type is not None and config_type not in compute.CONFIG_TYPES:
        raise DataFormatError(f"Unknown compute environment type {config_type}")
    return json_response([compute.render(kind, config_id, config, store)
                          for config_id, config in store.compute_configs(kind)
                          if config_type is None or config_type in config.get("configTypes", [])])


@routes.post(f"/xapi/compute/{KINDS}")
async def create_config(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store = state_of(request).store
    kind = request.match_info["kind"]
    config = compute.NORMALISERS[kind](await read_json_of(request, dict, "a configuration object"))
    compute.validate(kind, config, store)
    config_id = store.add_compute_config(kind, config)
    return json_response(compute.render(kind, config_id, config, store), status=201)


@routes.get(f"/xapi/compute/{KINDS}/{{id}}")
async def get_config(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store = state_of(request).store
    kind, config_id = request.match_info["kind"], _config_id(request)
    return json_response(compute.render(kind, config_id, compute.require(store, kind, config_id), store))


@routes.put(f"/xapi/compute/{KINDS}/{{id}}")
async def update_config(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store = state_of(request).store
    kind, config_id = request.match_info["kind"], _config_id(request)
    body = await read_json_of(request, dict, "a configuration object")
    if str(body.get("id")) != str(config_id):  # Jackson would coerce "5" to 5
        # XNAT: the body's id must equal the path id, else IllegalArgumentException -> 500 (§2.4)
        raise IllegalArgument(f"The ID in the path ({config_id}) does not match the ID in the body.")
    compute.require(store, kind, config_id)
    config = compute.NORMALISERS[kind](body)
    compute.validate(kind, config, store)
    store.replace_compute_config(kind, config_id, config)
    return json_response(compute.render(kind, config_id, config, store))


@routes.delete(f"/xapi/compute/{KINDS}/{{id}}")
async def delete_config(request: web.Request) -> web.Response:
    require_admin(principal_of(request))
    store = state_of(request).store
    kind, config_id = request.match_info["kind"], _config_id(request)
    compute.require(store, kind, config_id)
    users = dashboards.users_of(store, kind, config_id) if kind != compute.CONSTRAINTS else []
    if users:
        raise AlreadyExists(f"The {kind} config {config_id} is used by the dashboards: " + ", ".join(users))
    store.delete_compute_config(kind, config_id)
    if kind == compute.HARDWARE:
        for env_id, env in store.compute_configs(compute.ENVIRONMENTS):
            refs = (env.get("hardwareOptions") or {}).get("hardwareConfigs") or []
            if config_id in refs:
                env["hardwareOptions"]["hardwareConfigs"] = [ref for ref in refs if ref != config_id]
                store.replace_compute_config(compute.ENVIRONMENTS, env_id, env)
    return empty(204)
