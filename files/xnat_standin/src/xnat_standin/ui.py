"""A minimal page that logs in, shows the sample data and launches notebooks the way XNAT's UI does."""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web

from .auth import SESSION_COOKIE
from .state import principal_of, principal_or_none, state_of
from .user_options import readable_projects

STATIC = Path(__file__).parent / "static"
BANNER = "XNAT stand-in for tests and demos — not XNAT"
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
<button id="login-submit" type="submit">Log in</button></form></main>"""


def _launch_button(xsi_type: str, item_id: str, label: str, project_id: str) -> str:
    attributes = {"data-xsi-type": xsi_type, "data-item-id": item_id, "data-item-label": label,
                  "data-project-id": project_id}
    rendered = " ".join(f'{name}="{html.escape(value)}"' for name, value in attributes.items())
    return f'<button type="button" class="launch" data-test="launch" {rendered}>Launch Jupyter</button>'


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
<table id="servers"><thead><tr><th>Name</th><th>Item</th><th>Ready</th><th></th></tr></thead><tbody></tbody></table>
</section></main>
<script src="/static/standin.js"></script>"""
    return _page("XNAT stand-in", body, principal.username)


@routes.get("/app/login")
async def login_form(request: web.Request) -> web.Response:
    return _page("Log in — XNAT stand-in", _login_form())


@routes.post("/app/login")
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    auth = state_of(request).auth
    user = await auth.verify(str(form.get("username", "")), str(form.get("password", "")))
    if user is None:
        return _page("Log in — XNAT stand-in", _login_form("Invalid username or password."), status=401)
    response = web.HTTPFound("/")
    response.set_cookie(SESSION_COOKIE, auth.start_session(user), httponly=True, samesite="Strict", path="/")
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
