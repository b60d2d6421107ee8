"""Fault injection for tests: make matching requests answer an error status or hang.

Off unless the server runs with --fault-injection; then only administrators may set rules.
A rule is {"method": "GET", "path": "/xapi/users/*/roles", "status": 500, "message": "...",
"hang_seconds": 30, "times": 1}; method defaults to any, times to unlimited.
"""

from __future__ import annotations

import fnmatch

from aiohttp import web

from .auth import require_admin
from .responses import DataFormatError, NotFound, empty, json_response, read_json
from .state import State, principal_of, state_of

routes = web.RouteTableDef()
FAULTS_PATH = "/standin/faults"


def matching_rule(state: State, request: web.Request) -> dict | None:
    if request.path == FAULTS_PATH:
        return None
    for rule in state.faults.rules:
        if rule.get("method", request.method).upper() == request.method and \
                fnmatch.fnmatchcase(request.path, rule["path"]):
            if "times" in rule:
                rule["times"] -= 1
                if rule["times"] <= 0:
                    state.faults.rules.remove(rule)
            return rule
    return None


def _enabled(request: web.Request) -> State:
    state = state_of(request)
    if not state.settings.fault_injection:
        raise NotFound("Fault injection is disabled.")
    require_admin(principal_of(request))
    return state


@routes.get(FAULTS_PATH)
async def list_faults(request: web.Request) -> web.Response:
    return json_response(_enabled(request).faults.rules)


@routes.post(FAULTS_PATH)
async def add_fault(request: web.Request) -> web.Response:
    state = _enabled(request)
    rule = await read_json(request)
    if not isinstance(rule, dict) or not isinstance(rule.get("path"), str):
        raise DataFormatError("A fault rule needs at least a path glob.")
    if not rule.get("status") and not rule.get("hang_seconds"):
        raise DataFormatError("A fault rule needs a status, hang_seconds or both.")
    state.faults.rules.append(rule)
    return json_response(rule, status=201)


@routes.delete(FAULTS_PATH)
async def clear_faults(request: web.Request) -> web.Response:
    _enabled(request).faults.rules.clear()
    return empty(204)
