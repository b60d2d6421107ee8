"""A minimal page that logs in, shows the sample data and launches notebooks the way XNAT's UI does."""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web

from . import dashboards
from .auth import SESSION_COOKIE, can_log_in
from .responses import DataFormatError, read_form
from .state import principal_of, principal_or_none, state_of
from .user_options import readable_projects

STATIC = Path(__file__).parent / "static"
BANNER = "XNAT stand-in for tests and demos — not XNAT"
IDP_TITLE = "Example identity provider — XNAT stand-in"
IDP_LOGIN = "/standin/idp/login"
MAX_IDP_USERNAME, MAX_IDP_PASSWORD = 255, 1024
routes = web.RouteTableDef()

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/static/standin.css"></head>
<body data-username="{username}">
<div id="standin-banner" data-test="banner">{banner}</div>
{body}
</body></html>"""


def _page(title: str, body: str, username: str = "", status: int = 200) -> web.Response:
    text = PAGE.format(title=html.escape(title), banner=html.escape(BANNER), body=body,
                       username=html.escape(username))
    return web.Response(text=text, content_type="text/html", status=status)


def _login_form(error: str = "") -> str:
    message = f'<p id="login-error" class="error">{html.escape(error)}</p>' if error else ""
    return f"""<main><h1>Log in</h1>{message}
<form id="login-form" method="post" action="/app/login">
<label>Username <input id="login-username" name="username" autocomplete="username" required></label>
<label>Password <input id="login-password" name="password" type="password" autocomplete="current-password"
 required></label>
<button id="login-submit" type="submit">Log in</button></form>
<p><a id="idp-login" href="{IDP_LOGIN}">Sign in with the example identity provider</a></p></main>"""


def _idp_form(error: str = "") -> str:
    message = f'<p id="idp-error" class="error">{html.escape(error)}</p>' if error else ""
    return f"""<main id="idp"><h1>Example identity provider</h1>
<p id="idp-notice">This sign-in page is part of the XNAT stand-in. It plays the identity provider that XNAT's
OpenID plugin sends users to, for accounts that have no XNAT password. It is not a real identity provider.</p>
{message}
<form id="idp-form" method="post" action="{IDP_LOGIN}">
<label>Username <input id="idp-username" name="username" autocomplete="username" required></label>
<label>Password <input id="idp-password" name="password" type="password" autocomplete="current-password"
 required></label>
<button id="idp-submit" type="submit">Sign in</button></form>
<p><a href="/app/login">Back to the XNAT log-in page</a></p></main>"""


def _launch_button(xsi_type: str, item_id: str, label: str, project_id: str) -> str:
    attributes = {"data-xsi-type": xsi_type, "data-item-id": item_id, "data-item-label": label,
                  "data-project-id": project_id}
    rendered = " ".join(f'{name}="{html.escape(value)}"' for name, value in attributes.items())
    return f'<button type="button" class="launch" data-test="launch" {rendered}>Launch Jupyter</button>'


def _dashboard_buttons(request: web.Request, xsi_type: str, item_id: str, label: str, project_id: str) -> str:
    """One button per dashboard available on this item (XNAT's "Start Jupyter Dashboard" dialog, one click)."""
    principal, state = principal_of(request), state_of(request)
    scope = {"Site": state.prefs.site("siteId"), "Project": project_id, "User": principal.username,
             "DataType": xsi_type}
    buttons = []
    for config_id, config in dashboards.available(state.store, scope):
        name = config["dashboard"]["name"]
        attributes = {"data-test": f"dashboard-launch-{name}", "data-dashboard-config-id": str(config_id),
                      "data-dashboard-name": name,
                      "data-compute-environment-config-id": str(config["computeEnvironmentConfigId"]),
                      "data-hardware-config-id": str(config["hardwareConfigId"]),
                      "data-xsi-type": xsi_type, "data-item-id": item_id, "data-item-label": label,
                      "data-project-id": project_id}
        rendered = " ".join(f'{key}="{html.escape(value)}"' for key, value in attributes.items())
        buttons.append(f'<button type="button" class="dashboard-launch" {rendered}>'
                       f'Start dashboard {html.escape(name)}</button>')
    return f'<span class="dashboards" data-test="dashboards">{"".join(buttons)}</span>' if buttons else ""


def _tree(request: web.Request) -> str:
    principal = principal_of(request)
    store = state_of(request).store
    items = []
    for project in readable_projects(store, principal.user, principal.roles):
        pid = project["id"]
        subjects = []
        for subject in store.subjects(pid):
            experiments = []
            for experiment in store.experiments(subject["id"]):
                scans = "".join(
                    f'<li data-test="scan" data-id="{scan["id"]}">Scan {html.escape(scan["scan_id"])} '
                    f'({html.escape(scan["type"])}) '
                    f'{_launch_button(scan["xsi_type"], str(scan["id"]), scan["scan_id"], pid)}</li>'
                    for scan in store.scans(experiment["id"]))
                experiments.append(
                    f'<li data-test="experiment" data-id="{html.escape(experiment["id"])}">'
                    f'{html.escape(experiment["label"])} <small>{html.escape(experiment["id"])}</small> '
                    f'{_launch_button(experiment["xsi_type"], experiment["id"], experiment["label"], pid)}'
                    f'{_dashboard_buttons(request, experiment["xsi_type"], experiment["id"], experiment["label"], pid)}'
                    f'<ul>{scans}</ul></li>')
            subjects.append(
                f'<li data-test="subject" data-id="{html.escape(subject["id"])}">{html.escape(subject["label"])} '
                f'{_launch_button("xnat:subjectData", subject["id"], subject["label"], pid)}'
                f'<ul>{"".join(experiments)}</ul></li>')
        items.append(
            f'<li data-test="project" data-id="{html.escape(pid)}"><strong>{html.escape(pid)}</strong> '
            f'{html.escape(project["name"])} {_launch_button("xnat:projectData", pid, pid, pid)}'
            f'<ul>{"".join(subjects)}</ul></li>')
    return f'<ul id="data-tree">{"".join(items)}</ul>' if items else '<p id="data-tree">No readable projects.</p>'


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    principal = principal_or_none(request)
    if principal is None:
        raise web.HTTPFound("/app/login")
    username = html.escape(principal.username)
    body = f"""<header>Logged in as <span id="current-user">{username}</span> ·
<a id="logout" href="/app/logout">Log out</a></header>
<main>
<section><h2>Data</h2>{_tree(request)}</section>
<section id="launch-panel" hidden><h2>Launch a notebook on <span id="launch-item"></span></h2>
<label>Compute environment <select id="compute-environment"></select></label>
<label>Hardware <select id="hardware"></select></label>
<button id="launch-start" type="button">Start</button></section>
<section><h2>Activity</h2>
<p id="launch-status" data-state="idle"><span id="launch-message">Nothing started yet.</span></p></section>
<section><h2>My Jupyter servers</h2><p id="servers-message"></p>
<table id="servers"><thead><tr><th>Name</th><th>Type</th><th>Item</th><th>Ready</th><th></th></tr></thead>
<tbody></tbody></table>
</section></main>
<script src="/static/standin.js"></script>"""
    return _page("XNAT stand-in", body, principal.username)


@routes.get("/app/login")
async def login_form(request: web.Request) -> web.Response:
    return _page("Log in — XNAT stand-in", _login_form())


@routes.post("/app/login")
async def login(request: web.Request) -> web.Response:
    form = await read_form(request)
    auth = state_of(request).auth
    user = await auth.verify(str(form.get("username", "")), str(form.get("password", "")))
    if user is None:
        return _page("Log in — XNAT stand-in", _login_form("Invalid username or password."), status=401)
    response = web.HTTPFound("/")
    response.set_cookie(SESSION_COOKIE, auth.start_session(user), httponly=True, samesite="Strict", path="/")
    raise response


@routes.get(IDP_LOGIN)
async def idp_login_form(request: web.Request) -> web.Response:
    return _page(IDP_TITLE, _idp_form())


@routes.post(IDP_LOGIN)
async def idp_login(request: web.Request) -> web.Response:
    """Signing in through the identity provider, as XNAT's OpenID plugin ends it: an XNAT session for the
    `openid` account, enabled and verified, whose password at the provider this is (contract §6)."""
    try:
        form = await read_form(request)
    except DataFormatError:
        return _page(IDP_TITLE, _idp_form("The sign-in form could not be read."), status=400)
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        return _page(IDP_TITLE, _idp_form("Enter a username and a password."), status=400)
    if len(username) > MAX_IDP_USERNAME or len(password) > MAX_IDP_PASSWORD or "\0" in password or \
            any(ord(c) < 0x20 or ord(c) == 0x7F for c in username):
        return _page(IDP_TITLE, _idp_form("That username or password is not valid here."), status=400)
    auth = state_of(request).auth
    user = await auth.verify_at_idp(username, password)
    if user is None:
        return _page(IDP_TITLE, _idp_form("Wrong username or password: the identity provider did not sign you in."),
                     status=401)
    if not can_log_in(user):
        return _page(IDP_TITLE, _idp_form("The identity provider knows you, but your XNAT account is disabled or "
                                          "not verified: ask the XNAT administrator."), status=401)
    response = web.HTTPFound("/")
    response.set_cookie(SESSION_COOKIE, auth.start_session(user), httponly=True, samesite="Lax", path="/")
    raise response


@routes.get("/app/logout")
async def logout(request: web.Request) -> web.Response:
    state_of(request).auth.end_session(request.cookies.get(SESSION_COOKIE))
    response = web.HTTPFound("/app/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    app.router.add_static("/static/", STATIC)
