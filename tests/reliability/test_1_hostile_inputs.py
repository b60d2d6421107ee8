"""The hostile-input corpus (hostile_inputs.yml) against the hub API, XNAT's launch API and the login form.

Every request goes through haproxy, as an attacker's would. Each must get a 4xx; afterwards no
notebook service or secret is left, the hub has not restarted, and neither database stored anything.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import ssl
import uuid
from collections import Counter
from http.client import HTTPException, HTTPSConnection
from pathlib import Path
from urllib.parse import urlsplit

import requests
import yaml

from conftest import EXPERIMENT, hub_db, hub_db_bytes
from local_site import BASE_URL, HTTP_TIMEOUT, HUB_URL, http, inventory_vars

CORPUS = yaml.safe_load((Path(__file__).parent / "hostile_inputs.yml").read_text(encoding="utf-8"))
STANDIN_DB = Path(inventory_vars().get("xnat_standin_data_dir", "/var/lib/xnat-standin/db")) / "standin.sqlite3"
XSRF = re.compile(r'name="_xsrf" value="([^"]+)"')


def _expand(value: str) -> str:
    return value.replace("{long}", "a" * CORPUS["long_length"])


SEGMENTS = [_expand(s) for s in CORPUS["path_segments"]]
STRINGS = [_expand(s) for s in CORPUS["strings"]]
WRONG_TYPES = CORPUS["wrong_types"]
BODIES = CORPUS["bodies"]
HUGE = b'{"a": "' + b"x" * CORPUS["huge_body_bytes"] + b'"}'


class Recorder:
    """Every answer, by endpoint; the hostile ones must all be 4xx."""

    def __init__(self):
        self.answers: list[tuple[str, int]] = []
        # sign-in page openings whose hostile cookie was no cookie at all: 200 with the form, no hub session
        self.forms_shown: list[tuple[str, int]] = []

    def send(self, label: str, method: str, url: str, **kwargs) -> int:
        try:
            status = http(method, url, **kwargs).status_code
        except requests.ConnectionError:
            status = 0  # a connection closed without an answer counts as a failure too
        self.answers.append((label, status))
        return status

    def send_huge(self, label: str, method: str, url: str, headers: dict[str, str], body: bytes = HUGE) -> int:
        """Sends an oversized body the way browsers and curl do: a refusal that arrives while the body is
        still being sent is read and counted (requests would report the closed connection instead)."""
        parts = urlsplit(url)
        conn = HTTPSConnection(parts.hostname, parts.port or 443, timeout=HTTP_TIMEOUT,
                                           context=ssl._create_unverified_context())  # noqa: S323  # self-signed
        try:
            conn.putrequest(method, parts.path + (f"?{parts.query}" if parts.query else ""))
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                conn.putheader(name, value)
            conn.endheaders()
            try:
                for start in range(0, len(body), 65536):
                    conn.send(body[start:start + 65536])
            except OSError:
                pass  # refused early: the answer is waiting
            status = conn.getresponse().status
        except (OSError, HTTPException):
            status = 0
        finally:
            conn.close()
        self.answers.append((label, status))
        return status

    def bad(self) -> list[tuple[str, int]]:
        return [(label, status) for label, status in self.answers if not 400 <= status < 500]


def standin_rows(table: str) -> int:
    with sqlite3.connect(f"file:{STANDIN_DB}?mode=ro", uri=True) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def user_token(user) -> str:
    """A token with the user's own hub scopes, made with their XNAT password (JupyterHub's token API allows it)."""
    answer = http("POST", f"{HUB_URL}/hub/api/users/{user.username}/tokens",
                  json={"auth": {"username": user.username, "password": user.auth[1]}, "note": "reliability"})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def json_body(body) -> dict:
    """requests keyword arguments that send `body` as a JSON document (null included), or as raw text when it is a
    string that is not JSON."""
    raw = body if isinstance(body, str) and body.startswith("{") else json.dumps(body)
    return {"data": raw, "headers": {"Content-Type": "application/json"}}


def hub_api_requests(rec: Recorder, token: str, user: str, other: str) -> None:
    """The hub's REST API: as XNAT's service, or as a user (whose own and another user's servers)."""
    api = f"{HUB_URL}/hub/api"
    start, tokens = f"{api}/users/{user}/servers/rel-hostile", f"{api}/users/{user}/tokens"
    for seg in SEGMENTS:
        rec.send("hub start, hostile name", "POST", f"{api}/users/{user}/servers/{seg}", token=token,
                 json={"xsiType": "xnat:projectData", "task_template": None})
        rec.send("hub stop, hostile name", "DELETE", f"{api}/users/{user}/servers/{seg}", token=token,
                 json={"remove": True})
        rec.send("hub user, hostile name", "POST", f"{api}/users/{seg}", token=token)
        rec.send("hub tokens of hostile user", "POST", f"{api}/users/{seg}/tokens", token=token, json={})
    for body in BODIES:
        for label, url in (("hub start", start), ("hub create users", f"{api}/users"), ("hub token", tokens)):
            rec.send(f"{label}, hostile body", "POST", url, token=token, **json_body(body))
        rec.send("hub stop, hostile body", "DELETE", start, token=token, **json_body(body))
    for value in STRINGS + WRONG_TYPES:
        rec.send("hub start, hostile option", "POST", start, token=token,
                 json={"xsiType": "xnat:projectData", "task_template": {"image": value}, "itemId": [value]})
        if not isinstance(value, bool):  # true and false are what 'remove' takes
            rec.send("hub stop, hostile remove", "DELETE", start, token=token, json={"remove": value})
        rec.send("hub create users, hostile names", "POST", f"{api}/users", token=token,
                 json={"usernames": [value]})
        rec.send("hub create users, names not a list", "POST", f"{api}/users", token=token,
                 json={"usernames": value or "secz"})
        rec.send("hub token, hostile lifetime", "POST", tokens, token=token, json={"expires_in": value})
        rec.send("hub token, hostile scopes", "POST", tokens, token=token, json={"scopes": value or "x"})
    for note in (5, [1], "a\0b", "n" * 1001):
        rec.send("hub token, hostile note", "POST", tokens, token=token, json={"note": note})
    rec.send("hub token, negative lifetime", "POST", tokens, token=token, json={"expires_in": -1})
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    rec.send_huge("hub start, 5 MB body", "POST", start, headers)
    rec.send_huge("hub token, 5 MB body", "POST", tokens, headers)
    rec.send("hub start for another user", "POST", f"{api}/users/{other}/servers/rel-hostile", token=token, json={})


def launch_api_requests(rec: Recorder, xnat_user, compute: tuple[int, int]) -> None:
    """XNAT's launch, stop and token API (the stand-in's), as the user's browser would call it."""
    name = xnat_user.username
    good = {"username": name, "servername": "rel-hostile", "eventTrackingId": "rel-hostile",
            "computeEnvironmentConfigId": compute[0], "hardwareConfigId": compute[1], **EXPERIMENT}
    base = f"{BASE_URL}/xapi/jupyterhub/users/{name}"
    for seg in SEGMENTS:
        rec.send("XNAT launch, hostile name", "POST", f"{base}/server/{seg}", auth=xnat_user.auth,
                 json={**good, "servername": seg, "eventTrackingId": seg})
        rec.send("XNAT stop, hostile name", "DELETE", f"{base}/server/{seg}", auth=xnat_user.auth,
                 params={"eventTrackingId": "rel-stop"})
    for field in ("servername", "eventTrackingId", "itemId", "itemLabel", "projectId", "xsiType",
                  "computeEnvironmentConfigId", "hardwareConfigId"):
        for value in STRINGS + WRONG_TYPES:
            rec.send(f"XNAT launch, hostile {field}", "POST", f"{base}/server/rel-hostile", auth=xnat_user.auth,
                     json={**good, field: value})
    for body in BODIES:
        rec.send("XNAT launch, hostile body", "POST", f"{base}/server/rel-hostile", auth=xnat_user.auth,
                 **json_body(body))
    rec.send("XNAT launch, missing fields", "POST", f"{base}/server/rel-hostile", auth=xnat_user.auth, json={})
    basic = base64.b64encode(":".join(xnat_user.auth).encode()).decode()
    rec.send_huge("XNAT launch, 5 MB body", "POST", f"{base}/server/rel-hostile",
                  {"Authorization": f"Basic {basic}", "Content-Type": "application/json"})
    for value in STRINGS:
        rec.send("XNAT stop, hostile event id", "DELETE", f"{base}/server/rel-hostile", auth=xnat_user.auth,
                 params={"eventTrackingId": value or "\x00"})
        rec.send("XNAT token, hostile expiry", "POST", f"{base}/tokens", auth=xnat_user.auth,
                 params={"expiresIn": value or "x", "note": "n"})
    rec.send("XNAT token, huge note", "POST", f"{base}/tokens", auth=xnat_user.auth,
             params={"expiresIn": "60", "note": "n" * 5000})


def session_requests(rec: Recorder, session: requests.Session, xsrf: str) -> None:
    """Sign-in with an XNAT session: hostile session cookies (opening the page and pressing the button), and
    the button pressed from another site."""
    values = [v for v in STRINGS if isinstance(v, str) and v.isprintable() and v.isascii()]
    values += ["", "A" * 8192, '"quoted"', "a;JSESSIONID=b", "../../etc/passwd", "%00", "0" * 32]
    own = {"Sec-Fetch-Site": "same-origin"}

    def call(label, method, cookie, headers, data=None):
        jar = {**session.cookies.get_dict(), "JSESSIONID": cookie}
        header = "; ".join(f"{k}={v}" for k, v in jar.items())
        try:
            answer = requests.request(method, f"{HUB_URL}/hub/login", data=data, verify=False, timeout=HTTP_TIMEOUT,
                                      allow_redirects=False, headers={**headers, "Cookie": header})
        except requests.ConnectionError:
            rec.answers.append((label, 0))
            return
        if (method == "GET" and answer.status_code == 200 and 'id="xnat-password-form"' in answer.text
                and "jupyterhub-hub-login" not in answer.headers.get("Set-Cookie", "")):
            # A cookie value the hub cannot even read as one (empty, quoted, cut by ;) is no session:
            # opening the page then just shows the sign-in form, as without a cookie.
            rec.forms_shown.append((label, answer.status_code))
            return
        rec.answers.append((label, answer.status_code))

    for value in values:
        call("session sign-in on opening, hostile cookie", "GET", value, own)
        call("session sign-in by button, hostile cookie", "POST", value, own, {"_xsrf": xsrf, "xnat_session": "1"})
    for headers in ({"Sec-Fetch-Site": "cross-site", "Origin": "https://elsewhere.example"},
                    {"Origin": "https://elsewhere.example"}, {"Referer": "https://elsewhere.example/x"}, {}):
        call("session sign-in from another site", "POST", "0" * 32, headers, {"_xsrf": xsrf, "xnat_session": "1"})


def login_form_requests(rec: Recorder) -> None:
    """The hub's login form, with the _xsrf token a browser would send."""
    session = requests.Session()
    page = session.get(f"{HUB_URL}/hub/login", verify=False, timeout=HTTP_TIMEOUT)
    assert page.status_code == 200
    xsrf = XSRF.search(page.text).group(1)

    def post(label, **form):
        try:
            status = session.post(f"{HUB_URL}/hub/login", data={"_xsrf": xsrf, **form}, verify=False,
                                  timeout=HTTP_TIMEOUT, allow_redirects=False).status_code
        except requests.ConnectionError:
            status = 0
        rec.answers.append((label, status))

    for value in STRINGS:
        post("login, hostile username", username=value, password="whatever-1")
        post("login, hostile password", username="rel-user-1", password=value or "\x00")
    post("login, no fields")
    for value in STRINGS:  # alias-token-shaped logins: a well-formed alias with a hostile secret, and the reverse
        post("login, alias token with hostile secret", username=str(uuid.uuid4()), password=value or "\x00")
        post("login, hostile alias-like name", username=f"{uuid.uuid4()}{value}", password="secret-1")
    session_requests(rec, session, xsrf)
    cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    rec.send_huge("login, 5 MB password", "POST", f"{HUB_URL}/hub/login",
                  {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies},
                  f"_xsrf={xsrf}&username=rel-user-1&password=".encode() + b"x" * CORPUS["huge_body_bytes"])


def test_hostile_inputs_get_a_4xx_and_change_nothing(site, xnat_users, compute, figures):
    user, other = xnat_users[0], xnat_users[1]
    service_token = site.hub.token
    for name in (user.username, other.username):  # both exist in the hub: "another user's" is about permission
        site.hub.call("POST", f"/users/{name}")
    own_token = user_token(user)
    services = {s.id for s in site.swarm.client.services.list()}
    secrets_before = {s.id for s in site.swarm.client.secrets.list()}
    hub_task = site.hub_task_id()
    db_bytes = hub_db_bytes()
    users = hub_db("SELECT id, name FROM users")
    spawners = hub_db("SELECT id, name FROM spawners")
    tokens = hub_db("SELECT count(*) FROM api_tokens")
    standin_before = {t: standin_rows(t) for t in ("user_options", "event_tracking", "users")}

    rec = Recorder()
    hub_api_requests(rec, service_token, user.username, other.username)
    hub_api_requests(rec, own_token, user.username, other.username)
    launch_api_requests(rec, user, compute)
    login_form_requests(rec)

    counts = Counter(f"{status // 100}xx" if status else "no answer" for _label, status in rec.answers)
    grown = hub_db_bytes() - db_bytes
    figures.add("hostile inputs", f"{len(rec.answers)} requests: {dict(sorted(counts.items()))}, and"
                f" {len(rec.forms_shown)} sign-in pages opened with an unreadable session cookie: the plain form;"
                f" hub database +{grown / 1024:.0f} KiB")
    assert rec.bad() == [], f"answers outside 4xx: {Counter(rec.bad()).most_common(20)}"
    assert {s.id for s in site.swarm.client.services.list()} == services, "a service was created or removed"
    assert {s.id for s in site.swarm.client.secrets.list()} == secrets_before, "a secret was created or removed"
    assert site.hub_task_id() == hub_task, "the hub restarted"
    assert hub_db("SELECT id, name FROM users") == users, "the hub stored a user"
    assert hub_db("SELECT id, name FROM spawners") == spawners, "the hub stored a server"
    assert hub_db("SELECT count(*) FROM api_tokens") == tokens, "the hub stored a token"
    assert {t: standin_rows(t) for t in standin_before} == standin_before, "the stand-in stored something"
    assert grown < 1024 * 1024, f"the hub database grew by {grown} bytes"
    assert json.loads(json.dumps(site.hub.servers(user.username))) == {}, "a server appeared"
