# Copyright: Contributors to the xnat_jupyterhub.deploy collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one XNAT REST client of this collection.

It knows XNAT's URLs, status codes and error shapes (see the XNAT contract
document); modules only call its methods and never build URLs themselves.
"""

import json
import re
import time
import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.six.moves.urllib.parse import quote, urlsplit, urlunsplit

REQUESTS_IMPORT_ERROR = None
try:
    import requests
except ImportError:
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

# Placeholders shown instead of a secret in diffs and return values.
SECRET_UNCHANGED = "<hidden>"
SECRET_CHANGED = "<hidden, changed>"

RETRY_STATUSES = frozenset((502, 503, 504))
# Methods XNAT handles idempotently: repeating them after a lost answer is harmless.
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE"))
EXCERPT_LENGTH = 200
MAX_BACKOFF = 30.0

COMPUTE_KINDS = ("environments", "hardware", "constraints")
DASHBOARD_KINDS = ("frameworks", "configs")


def xnat_argument_spec():
    """Connection options shared by every module of the collection."""
    return dict(
        url=dict(type="str", required=True),
        auth_username=dict(type="str", required=True),
        auth_password=dict(type="str", required=True, no_log=True),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        connect_timeout=dict(type="float", default=10.0),
        timeout=dict(type="float", default=30.0),
        retries=dict(type="int", default=3),
    )


class XnatRequestError(Exception):
    """A failed XNAT call; the message carries the HTTP status and never a secret."""

    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.msg = msg
        self.status = status

    def __str__(self):
        return self.msg


def _without_userinfo(url):
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))


def _connection_reason(exc):
    """The short reason behind a requests connection error, e.g. 'Connection refused'."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if match:
        return match.group(1).strip()
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    return type(exc).__name__


def _connection_not_established(exc):
    """True when the request surely never reached XNAT, so even a POST may be repeated."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    return "NewConnectionError" in repr(exc.args)


def fail_module(module, exc, client=None):
    """fail_json with XNAT's HTTP status when there is one; changed if XNAT accepted a write before the failure."""
    extra = dict(status=exc.status) if exc.status is not None else {}
    module.fail_json(msg=exc.msg, changed=bool(client and client.changes_made), **extra)


class XnatRestClient:
    """HTTP client for XNAT's admin REST API (users, roles, JupyterHub preferences, compute)."""

    def __init__(self, url, auth_username, auth_password, validate_certs=True, ca_path=None,
                 client_cert=None, client_key=None, connect_timeout=10.0, timeout=30.0,
                 retries=3, backoff=0.5, session_factory=None, sleep=time.sleep):
        if REQUESTS_IMPORT_ERROR is not None:
            raise XnatRequestError(missing_required_lib("requests"))
        if not re.match(r"^https?://[^/]+", url or ""):
            raise XnatRequestError("url must start with http:// or https:// and name a host, got {!r}".format(
                _without_userinfo(url or "")))
        self.base_url = url.rstrip("/")
        self.display_url = _without_userinfo(self.base_url)
        self.auth_username = auth_username
        self.timeouts = (connect_timeout, timeout)
        self.retries = max(0, retries)
        self.backoff = backoff
        self._sleep = sleep
        self._secrets = set()
        self.add_secret(auth_password)
        self._auth = (auth_username, auth_password)
        self.verify = (ca_path or True) if validate_certs else False
        if client_cert and client_key:
            self.cert = (client_cert, client_key)
        else:
            self.cert = client_cert
        self.changes_made = False
        self._session_factory = session_factory or requests.Session
        self.session = self._new_session()

    @classmethod
    def from_module(cls, module, secrets=()):
        """Build a client from a module's xnat_argument_spec() options; fail the module if requests is missing."""
        if REQUESTS_IMPORT_ERROR is not None:
            module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        p = module.params
        try:
            client = cls(p["url"], p["auth_username"], p["auth_password"], validate_certs=p["validate_certs"],
                         ca_path=p["ca_path"], client_cert=p["client_cert"], client_key=p["client_key"],
                         connect_timeout=p["connect_timeout"], timeout=p["timeout"], retries=p["retries"])
        except XnatRequestError as exc:
            module.fail_json(msg=exc.msg)
        for secret in secrets:
            client.add_secret(secret)
        return client

    # ---- plumbing -----------------------------------------------------------------------------

    def _new_session(self):
        session = self._session_factory()
        session.headers.update({"Accept": "application/json", "User-Agent": "xnat_jupyterhub.deploy"})
        return session

    def add_secret(self, value):
        """Remember a value that must never appear in an error message."""
        if value:
            self._secrets.add(str(value))

    def redact(self, text):
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "********")
        return text

    def url_for(self, *segments):
        """The absolute URL of a path whose segments are each escaped (so '/' or '?' in a name stay inside it)."""
        return self.base_url + "/" + "/".join(quote(str(s), safe="") for s in segments)

    def _excerpt(self, response):
        text = response.text or ""
        if "html" in response.headers.get("Content-Type", ""):
            text = re.sub(r"<[^>]*>", " ", text)
        text = " ".join(text.split())
        text = self.redact(text)
        if len(text) > EXCERPT_LENGTH:
            text = text[:EXCERPT_LENGTH] + "..."
        return text

    def _describe(self, method, url):
        return "{} {}".format(method, url[len(self.base_url):] or "/")

    def _backoff(self, attempt):
        self._sleep(min(self.backoff * (2 ** attempt), MAX_BACKOFF))

    def _send(self, method, url, auth, session=None, **kwargs):
        session = session or self.session
        attempts = self.retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = session.request(method, url, auth=auth, timeout=self.timeouts,
                                           verify=self.verify, cert=self.cert, **kwargs)
            except requests.exceptions.SSLError as exc:
                raise XnatRequestError(f"TLS connection to XNAT at {self.display_url} failed: "
                                       f"{self.redact(str(exc))[:EXCERPT_LENGTH]}") from exc
            except requests.exceptions.ConnectionError as exc:
                retryable = method in IDEMPOTENT_METHODS or _connection_not_established(exc)
                if last or not retryable:
                    raise XnatRequestError("cannot connect to XNAT at {}: {} ({:d} attempt{})".format(
                        self.display_url, _connection_reason(exc), attempt + 1, "" if attempt == 0 else "s")) from exc
                self._backoff(attempt)
                continue
            except requests.exceptions.Timeout as exc:
                raise XnatRequestError(f"XNAT at {self.display_url} did not answer {self._describe(method, url)}"
                                       f" within {self.timeouts[1]} seconds") from exc
            except requests.exceptions.RequestException as exc:
                raise XnatRequestError(f"request to XNAT at {self.display_url} failed: "
                                       f"{self.redact(str(exc))[:EXCERPT_LENGTH]}") from exc
            status = response.status_code
            retryable = status in RETRY_STATUSES and (method in IDEMPOTENT_METHODS or status == 503)
            if retryable and not last:
                self._backoff(attempt)
                continue
            return response
        raise XnatRequestError(f"no attempt was made to reach XNAT (retries={self.retries:d})")

    def request(self, method, segments, expect=(200,), params=None, json_body=None, auth=None, changes=None):
        """Send one request; return the response when its status is in `expect`, raise XnatRequestError otherwise.

        A successful request other than a GET counts as a change unless `changes` is False.
        """
        url = self.url_for(*segments)
        kwargs = {}
        if params:
            kwargs["params"] = params
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        response = self._send(method, url, auth or self._auth, **kwargs)
        if response.status_code in expect:
            if changes if changes is not None else method not in ("GET", "HEAD"):
                self.changes_made = True
            return response
        raise self._error(method, url, response, auth)

    def _error(self, method, url, response, auth=None):
        status = response.status_code
        who = (auth or self._auth)[0]
        what = self._describe(method, url)
        if status == 401:
            lead = f"XNAT rejected the credentials of user {who!r} (HTTP 401) on {what}"
        elif status == 403:
            lead = f"user {who!r} is not allowed to {what} (HTTP 403; a site administrator is needed)"
        else:
            lead = f"XNAT answered HTTP {status:d} to {what}"
        excerpt = self._excerpt(response)
        return XnatRequestError(f"{lead}: {excerpt}" if excerpt else lead, status=status)

    def _json(self, method, segments, response):
        try:
            return response.json()
        except ValueError as exc:
            raise XnatRequestError(f"XNAT answered {self._describe(method, self.url_for(*segments))}"
                                   f" with a body that is not JSON: {self._excerpt(response)}",
                                   status=response.status_code) from exc

    def get_json(self, segments, expect=(200,), params=None, auth=None):
        response = self.request("GET", segments, expect=expect, params=params, auth=auth)
        return self._json("GET", segments, response)

    # ---- users and roles ----------------------------------------------------------------------

    def user_enabled(self, username):
        """True/False for an existing user, None when XNAT has no such user.

        GET /xapi/users/{u} answers 500, not 404, for a missing user, so existence is read here.
        """
        response = self.request("GET", ("xapi", "users", username, "enabled"), expect=(200, 404))
        if response.status_code == 404:
            return None
        value = self._json("GET", ("xapi", "users", username, "enabled"), response)
        if isinstance(value, str):
            return value.strip().lower() == "true"
        return bool(value)

    def get_user(self, username):
        """The user's profile with its roles, or None when the user does not exist."""
        enabled = self.user_enabled(username)
        if enabled is None:
            return None
        user = self.get_json(("xapi", "users", username))
        user["enabled"] = enabled
        user["roles"] = self.get_user_roles(username)
        return user

    def create_user(self, body):
        self.request("POST", ("xapi", "users"), expect=(200, 201), json_body=body)

    def update_user(self, username, body):
        """PUT the profile fields in `body`; XNAT answers 304 when nothing changed."""
        self.request("PUT", ("xapi", "users", username), expect=(200, 304), json_body=body)

    def set_user_enabled(self, username, enabled):
        self.request("PUT", ("xapi", "users", username, "enabled", "true" if enabled else "false"))

    def set_user_verified(self, username, verified):
        self.request("PUT", ("xapi", "users", username, "verified", "true" if verified else "false"))

    def get_user_roles(self, username):
        roles = self.get_json(("xapi", "users", username, "roles"))
        if not isinstance(roles, list):
            raise XnatRequestError(
                f"XNAT answered GET /xapi/users/{username}/roles with {type(roles).__name__}, not a list")
        return sorted(str(r) for r in roles)

    def add_user_roles(self, username, roles):
        """Grant roles in one call; XNAT answers 202 with the roles it could not grant."""
        segments = ("xapi", "users", username, "roles")
        response = self.request("PUT", segments, expect=(200, 202), json_body=list(roles))
        if response.status_code == 202:
            failed = self._json("PUT", segments, response)
            raise XnatRequestError("XNAT could not grant role(s) {} to user {!r} (HTTP 202)".format(
                ", ".join(str(r) for r in failed) if isinstance(failed, list) else failed, username), status=202)

    def remove_user_role(self, username, role):
        self.request("DELETE", ("xapi", "users", username, "roles", role))

    def undefined_roles(self, username, roles):
        """The roles in `roles` that XNAT does not define, found without changing anything.

        XNAT lists no role definitions, but its bulk role removal answers 202 with the roles it could not
        remove; removing roles the user does not hold is a no-op for every defined role.
        """
        if not roles:
            return []
        segments = ("xapi", "users", username, "roles")
        response = self.request("DELETE", segments, expect=(200, 202), json_body=list(roles), changes=False)
        if response.status_code == 200:
            return []
        failed = self._json("DELETE", segments, response)
        return sorted(str(r) for r in failed) if isinstance(failed, list) else list(roles)

    def credentials_work(self, username, password):
        """Whether XNAT accepts this username and password; it refuses disabled accounts too.

        Sent from a fresh session, so the administrator's session cookie cannot answer for the user.
        """
        self.add_secret(password)
        segments = ("xapi", "users", username, "roles")
        url = self.url_for(*segments)
        session = self._new_session()
        try:
            response = self._send("GET", url, (username, password), session=session)
        finally:
            session.close()
        if response.status_code in (200, 401):
            return response.status_code == 200
        raise self._error("GET", url, response, auth=(username, password))

    # ---- JupyterHub plugin preferences --------------------------------------------------------

    def get_jupyterhub_preferences(self):
        prefs = self.get_json(("xapi", "jupyterhub", "preferences"))
        if not isinstance(prefs, dict):
            raise XnatRequestError(
                f"XNAT answered GET /xapi/jupyterhub/preferences with {type(prefs).__name__}, not a map")
        return prefs

    def set_jupyterhub_preferences(self, values):
        """POST a map of preferences; XNAT answers 200 and silently skips names it does not know."""
        self.request("POST", ("xapi", "jupyterhub", "preferences"), json_body=values)

    # ---- compute environments, hardware and constraints ---------------------------------------

    def _check_kind(self, kind):
        if kind not in COMPUTE_KINDS:
            raise ValueError(f"unknown compute kind {kind!r}")

    def list_compute(self, kind):
        self._check_kind(kind)
        items = self.get_json(("xapi", "compute", kind))
        if not isinstance(items, list):
            raise XnatRequestError(f"XNAT answered GET /xapi/compute/{kind} with {type(items).__name__}, not a list")
        return items

    def create_compute(self, kind, body):
        self._check_kind(kind)
        response = self.request("POST", ("xapi", "compute", kind), expect=(200, 201), json_body=body)
        return self._json("POST", ("xapi", "compute", kind), response)

    def update_compute(self, kind, config_id, body):
        """PUT a whole config; XNAT requires the body's id to equal the path id."""
        self._check_kind(kind)
        body = dict(body, id=config_id)
        self.request("PUT", ("xapi", "compute", kind, config_id), json_body=body)

    def delete_compute(self, kind, config_id):
        self._check_kind(kind)
        self.request("DELETE", ("xapi", "compute", kind, config_id), expect=(200, 204, 404))

    # ---- dashboard frameworks and dashboards (the plugin's /xapi/jupyterhub/dashboards) -----------

    def _dashboard_path(self, kind, *rest):
        if kind not in DASHBOARD_KINDS:
            raise ValueError(f"unknown dashboard kind {kind!r}")
        return ("xapi", "jupyterhub", "dashboards", kind) + rest

    def list_dashboards(self, kind):
        segments = self._dashboard_path(kind)
        items = self.get_json(segments)
        if not isinstance(items, list):
            raise XnatRequestError("XNAT answered GET /{} with {}, not a list".format(
                "/".join(segments), type(items).__name__))
        return items

    def create_dashboard(self, kind, body):
        segments = self._dashboard_path(kind)
        return self._json("POST", segments, self.request("POST", segments, expect=(200, 201), json_body=body))

    def update_dashboard(self, kind, key, body):
        """PUT a whole framework (key: its name) or dashboard (key: its id, which must also be the body's)."""
        self.request("PUT", self._dashboard_path(kind, key), json_body=body)

    def delete_dashboard(self, kind, key):
        self.request("DELETE", self._dashboard_path(kind, key), expect=(200, 204, 404))
