"""Sign in to the hub as an XNAT user, three ways, each of which can be turned off.

- **XNAT username and password**: checked against XNAT with `GET /xapi/users/{u}/roles` (the user's own
  Basic auth).
- **The XNAT session the browser holds** (contract §1.5): behind the product's haproxy XNAT (`/`) and the
  hub (`/jupyterhub`) share one origin, so the browser sends XNAT's session cookie to the hub's login
  page. The hub asks XNAT whose session it is (`GET /xapi/users/username` with that one cookie) and signs
  that exact user in, however they signed in to XNAT (OpenID, LDAP, local). It happens by itself when
  the login page is opened from this site (Sec-Fetch-Site same-origin or none) and with the page's
  "Continue with your XNAT session" button (a form post with JupyterHub's XSRF token). The cookie is
  sent to XNAT and nowhere else; it is never stored or logged.
- **An XNAT alias token** (§1.6): its alias in the username field and its secret in the password
  field. XNAT says whose token it is (`GET /xapi/users/username` with alias:secret as Basic auth) and
  the hub signs in that user: the way in for accounts without an XNAT password when the hub has an
  origin of its own.

Every way then applies the same rule (§1.1, §1.2): the user may use Jupyter when one of their roles is
`Jupyter` (any case) or XNAT's `allUsersCanStartJupyter` preference is true; users listed in
`allowed_users`/`admin_users` are let in on valid XNAT credentials alone.

Usernames keep their exact case: XNAT creates hub users under the exact XNAT
login (`POST /hub/api/users/JSmith`, which JupyterHub 5.5 does not normalize)
and XNAT compares logins case-sensitively, so lower-casing would split one
XNAT user into two hub users.

Logins made together are paced (Turnstile): the login pages and the hub's
database work after XNAT's answers run one per event-loop iteration, so a
burst of logins does not hold up the hub's other requests.
"""

from __future__ import annotations

import asyncio
import collections
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.auth import Authenticator
from jupyterhub.handlers.login import LoginHandler
from tornado import httputil, web
from traitlets import Bool, Instance, Integer, Unicode, default, validate

from .api_guard import checked_api_handlers
from .xnat import XnatClient, XnatUnreachable, for_log, is_xnat_username

# Key in the auth model carrying XNAT's verdict: "role", "all-users" or None (refused).
XNAT_ACCESS = "xnat_access"

MSG_BAD_USERNAME = (
    "That is not a valid XNAT username. XNAT usernames start with a letter and contain"
    " only letters, digits and the characters - _ ' . (at most 64 characters)."
)
MSG_NO_PASSWORD = "Enter your XNAT password."
MSG_CASE_MISMATCH = (
    "XNAT accepted your password but spells your username differently."
    " Letter case matters: sign in with your username exactly as it appears in XNAT."
)
MSG_NOT_ALLOWED = (
    "Your XNAT account may not use Jupyter. Ask an XNAT administrator for the Jupyter role."
)
MSG_UNREACHABLE = (
    "XNAT could not be reached to check your login. Try again in a few minutes;"
    " if this persists, tell the site administrator."
)
MSG_XNAT_ERROR = (
    "XNAT could not check your login right now. Try again later;"
    " if this persists, tell the site administrator."
)
MSG_NO_SESSION = (
    "This browser has no XNAT session, or it has ended. Sign in to XNAT first, or sign in here with"
    " your XNAT username and password or an XNAT alias token."
)
MSG_SESSION_OFF = "Signing in with your XNAT session is turned off on this hub."
MSG_PASSWORD_OFF = (
    "Signing in with an XNAT password is turned off on this hub: continue with your XNAT session,"
    " or sign in with an XNAT alias token."
)
MSG_ALIAS_OFF = "Signing in with an XNAT alias token is turned off on this hub."
MSG_OTHER_ORIGIN = "Signing in with your XNAT session works only from this site's own pages."

# The name XNAT gives anonymous visitors on sites open to them: never a hub user.
XNAT_GUEST = "guest"

# XNAT alias tokens: a UUID as the alias, a random secret (contract §1.6).
ALIAS_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# What the hub passes on as XNAT's session cookie value: a plain token (Tomcat's are hex, with an optional
# .route suffix), so the Cookie header it builds can carry nothing else.
SESSION_VALUE_PATTERN = re.compile(r"[A-Za-z0-9._~+/=-]{1,512}")
COOKIE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,128}")


@dataclass(frozen=True)
class Credentials:
    """How one sign-in talks to XNAT: the user's Basic credentials or the browser's XNAT session."""

    basic: tuple[str, str] | None = None
    session: tuple[str, str] | None = None

    async def get(self, xnat: XnatClient, segments: Sequence[str], accept: str = "application/json") -> Any:
        if self.session is not None:
            return await xnat.get(segments, session=self.session, accept=accept)
        assert self.basic is not None  # one of the two is always set by the callers below
        return await xnat.get(segments, *self.basic, accept=accept)


def own_origin(request: httputil.HTTPServerRequest) -> str:
    """The origin the browser used: protocol (from the trusted forwarded headers) and Host."""
    return f"{request.protocol}://{request.host}".lower()


def from_this_site(request: httputil.HTTPServerRequest) -> bool:
    """Whether a request was started by this site's own pages, or typed or bookmarked by the user.

    Browsers say so in Sec-Fetch-Site; without it, an Origin or Referer of this very origin counts.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    for header in ("Origin", "Referer"):
        value = request.headers.get(header)
        if value:
            parts = urlsplit(value)
            return f"{parts.scheme}://{parts.netloc}".lower() == own_origin(request)
    return False


class Turnstile:
    """Lets callers through one per event-loop iteration, in the order they arrive.

    Work each caller does synchronously right after passing is then spread over
    separate iterations, and the loop serves its other callbacks and timers in between.
    """

    def __init__(self) -> None:
        self._taken = False
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    async def pass_through(self) -> None:
        loop = asyncio.get_running_loop()
        if self._taken or self._waiting:
            turn = loop.create_future()
            self._waiting.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._hand_on()  # the turn was ours: pass it on
                raise
        else:
            self._taken = True
        loop.call_soon(self._hand_on)

    def _hand_on(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # still taken, now by that caller
                return
        self._taken = False


class XnatLoginHandler(LoginHandler):
    """JupyterHub's login page, which first tries the XNAT session the browser holds; pages asked for together
    are rendered one per loop iteration (~2 ms each)."""

    async def get(self) -> None:
        await self.authenticator.turnstile.pass_through()
        authenticator = self.authenticator
        if (self.current_user is None and authenticator.session_login
                and self.get_cookie(authenticator.session_cookie) and from_this_site(self.request)):
            try:
                user = await self.login_user({"xnat_session": "on opening the page"})
            except web.HTTPError as e:
                # A session that ended, XNAT down, no Jupyter role: the sign-in form, saying why.
                self.set_status(e.status_code)
                self.finish(await self._render(login_error=e.log_message))
                return
            if user:
                self._jupyterhub_user = user
                self.redirect(self.get_next_url(user))
                return
        await super().get()


class XnatAuthenticator(Authenticator):
    """Password login against XNAT, non-blocking, with timeouts and escaped URLs."""

    jupyter_role = Unicode(
        "Jupyter", help="XNAT role, compared case-insensitively, that grants use of Jupyter."
    ).tag(config=True)

    max_password_length = Integer(
        1024, help="Longer passwords are refused without asking XNAT."
    ).tag(config=True)

    password_login = Bool(True, help="Sign in with an XNAT username and password.").tag(config=True)
    session_login = Bool(
        True, help="Sign in with the XNAT session the browser holds (XNAT and the hub on one origin)."
    ).tag(config=True)
    alias_token_login = Bool(
        True, help="Sign in with an XNAT alias token: its alias as the username, its secret as the password."
    ).tag(config=True)
    session_cookie = Unicode("JSESSIONID", help="Name of XNAT's session cookie.").tag(config=True)

    @validate("session_cookie")
    def _check_session_cookie(self, proposal: Any) -> str:
        if not COOKIE_NAME_PATTERN.fullmatch(proposal.value):
            raise ValueError(f"XnatAuthenticator.session_cookie is not a cookie name: {proposal.value!r}")
        return str(proposal.value)

    xnat = Instance(XnatClient)

    @default("xnat")
    def _default_xnat(self) -> XnatClient:
        return XnatClient(parent=self)

    # Spreads the synchronous work of logins over loop iterations, so other requests are served in between.
    turnstile = Instance(Turnstile, ())

    def get_handlers(self, app: Any) -> list[tuple[str, type]]:
        # Replaces Authenticator.get_handlers, which returns only ("/login", LoginHandler): here the login page is
        # XnatLoginHandler (paced by the turnstile) and the checked API handlers come after it.
        # JupyterHub puts the authenticator's handlers ahead of its own: the checked API handlers replace its
        # handlers for the same URLs (see api_guard).
        return [("/login", XnatLoginHandler), *checked_api_handlers()]

    @default("allow_existing_users")
    def _default_allow_existing_users(self) -> bool:
        # Replaces Authenticator's default (_allow_existing_users_default: True when allowed_users is set).
        # Users XNAT created in the hub still need XNAT's verdict at the login form.
        return False

    def check_allow_config(self) -> None:
        """XNAT's role and preference are the allow config: nothing to warn about."""
        # Replaces Authenticator.check_allow_config, which warns at start-up when no allow config is set.

    def normalize_username(self, username: str) -> str:
        """Keep the exact XNAT login (see the module docstring); only username_map applies."""
        # Replaces Authenticator.normalize_username, which lower-cases the name before applying username_map.
        return self.username_map.get(username, username)

    def validate_username(self, username: str) -> bool:
        return super().validate_username(username) and is_xnat_username(username)

    def check_allowed(self, username: str, authentication: dict[str, Any] | None = None) -> bool:
        """XNAT's verdict from authenticate(), or an explicit listing in config.

        JupyterHub may call this with authentication=None for names from its
        config; those are allowed only when listed, never by default.
        """
        if authentication and authentication.get(XNAT_ACCESS):
            return True
        if super().check_allowed(username, authentication) or username in self.admin_users:
            return True
        if authentication is not None and XNAT_ACCESS in authentication:
            self.log.info("XNAT login %s: no %s role and allUsersCanStartJupyter is off",
                          for_log(username), self.jupyter_role)
            raise web.HTTPError(403, MSG_NOT_ALLOWED)
        return False

    async def authenticate(self, handler: web.RequestHandler | None,
                           data: dict[str, Any] | None) -> dict[str, Any] | None:
        data = data or {}
        model: dict[str, Any] | None
        if data.get("xnat_session"):
            model = await self._session_verdict(handler)
        else:
            model = await self._xnat_verdict(data)
        if model:
            # Next, for a login it allows, JupyterHub stores the user in its database: some 10 ms of synchronous
            # work. XNAT's answers to logins made together arrive together; they go on one per loop iteration,
            # or the loop would serve nothing else until all of that work is done.
            await self.turnstile.pass_through()
        return model

    async def _session_verdict(self, handler: web.RequestHandler | None) -> dict[str, Any]:
        """Sign in the owner of the browser's XNAT session; an HTTPError (shown on the form) when there is none."""
        if not self.session_login:
            raise web.HTTPError(403, MSG_SESSION_OFF)
        if handler is None:
            raise web.HTTPError(403, MSG_NO_SESSION)
        request = handler.request
        origin = request.headers.get("Origin")
        if request.method != "GET" and (origin and origin.lower() != own_origin(request)
                                        or request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site")):
            self.log.warning("XNAT session sign-in refused: request from another origin (%s)", for_log(origin))
            raise web.HTTPError(403, MSG_OTHER_ORIGIN)
        value = handler.get_cookie(self.session_cookie) or ""
        if not SESSION_VALUE_PATTERN.fullmatch(value):
            self.log.info("XNAT session sign-in: %s", "no XNAT session cookie" if not value
                          else f"the XNAT session cookie is not a plain token ({len(value)} chars)")
            raise web.HTTPError(403, MSG_NO_SESSION)
        credentials = Credentials(session=(self.session_cookie, value))
        owner = await self._owner(credentials, "XNAT session")
        if owner is None:
            raise web.HTTPError(403, MSG_NO_SESSION)
        model = await self._access(owner, credentials, "XNAT session")
        if model is None:  # the session ended between the two calls
            raise web.HTTPError(403, MSG_NO_SESSION)
        return model

    async def _owner(self, credentials: Credentials, way: str) -> str | None:
        """The XNAT user these credentials act as (GET /xapi/users/username), or None when XNAT refuses them."""
        try:
            # XNAT produces this one as text/plain only (contract §1.5): any other Accept is a 406.
            answer = await credentials.get(self.xnat, ["xapi", "users", "username"], accept="text/plain")
        except XnatUnreachable as e:
            self.log.error("%s sign-in: XNAT unreachable: %s", way, e)
            raise web.HTTPError(503, MSG_UNREACHABLE) from None
        if answer.status in (401, 403):
            self.log.info("%s sign-in: XNAT does not accept it (HTTP %d)", way, answer.status)
            return None
        owner = answer.body.decode("utf-8", "replace").strip() if answer.status == 200 else ""
        if not is_xnat_username(owner):
            self.log.error("%s sign-in: unexpected answer from XNAT for the user's name: HTTP %d %s",
                           way, answer.status, answer.excerpt())
            raise web.HTTPError(502, MSG_XNAT_ERROR)
        if owner == XNAT_GUEST:
            # An XNAT open to anonymous visitors names a session nobody signed in to "guest".
            self.log.info("%s sign-in: XNAT names the caller %s, an anonymous visitor", way, XNAT_GUEST)
            return None
        return owner

    async def _xnat_verdict(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        username = data.get("username") or ""
        password = data.get("password") or ""
        if not isinstance(username, str) or not isinstance(password, str):
            raise web.HTTPError(403, MSG_BAD_USERNAME)
        alias = ALIAS_PATTERN.fullmatch(username) is not None
        if alias and self.alias_token_login:
            return await self._alias_verdict(username, password)
        if alias and not is_xnat_username(username):
            raise web.HTTPError(403, MSG_ALIAS_OFF)
        if not is_xnat_username(username):
            self.log.warning("XNAT login refused without asking XNAT: invalid username %s",
                             for_log(username))
            raise web.HTTPError(403, MSG_BAD_USERNAME)
        if not self.password_login:
            raise web.HTTPError(403, MSG_PASSWORD_OFF)
        if not password or len(password) > self.max_password_length:
            self.log.info("XNAT login %s: empty or oversized password", for_log(username))
            raise web.HTTPError(403, MSG_NO_PASSWORD)
        return await self._access(username, Credentials(basic=(username, password)), "XNAT password")

    async def _alias_verdict(self, alias: str, secret: str) -> dict[str, Any] | None:
        """Sign in the owner of an XNAT alias token (None for a token XNAT does not accept)."""
        if not secret or len(secret) > self.max_password_length:
            raise web.HTTPError(403, MSG_NO_PASSWORD)
        credentials = Credentials(basic=(alias, secret))
        way = f"XNAT alias token {alias[:8]}..."
        owner = await self._owner(credentials, way)
        if owner is None:
            return None
        if owner == alias and not self.password_login:  # an XNAT username that looks like an alias
            raise web.HTTPError(403, MSG_PASSWORD_OFF)
        return await self._access(owner, credentials, way)

    async def _access(self, username: str, credentials: Credentials, way: str) -> dict[str, Any] | None:
        """The auth model for `username`, with XNAT's verdict on Jupyter use (role, or the all-users preference)."""
        roles = await self._xnat_json(username, credentials, ["xapi", "users", username, "roles"])
        if roles is None:
            return None
        if way != "XNAT password":
            self.log.info("%s sign-in for %s", way, for_log(username))
        if not isinstance(roles, list):
            self.log.error("XNAT login %s: roles answer is not a list", for_log(username))
            raise web.HTTPError(502, MSG_XNAT_ERROR)
        if any(isinstance(r, str) and r.lower() == self.jupyter_role.lower() for r in roles):
            return {"name": username, XNAT_ACCESS: "role"}

        preference = await self._xnat_json(
            username, credentials,
            ["xapi", "jupyterhub", "preferences", "allUsersCanStartJupyter"],
            missing_ok=True,
        )
        all_users = isinstance(preference, dict) and preference.get("allUsersCanStartJupyter") is True
        return {"name": username, XNAT_ACCESS: "all-users" if all_users else None}

    async def _xnat_json(self, username: str, credentials: Credentials, segments: Sequence[str],
                         missing_ok: bool = False) -> Any:
        """One XNAT call as the user; the parsed JSON, or None for wrong credentials.

        Every other failure raises an HTTPError whose message JupyterHub shows
        on the login form.
        """
        what = segments[-1]
        try:
            answer = await credentials.get(self.xnat, segments)
        except XnatUnreachable as e:
            self.log.error("XNAT login %s: XNAT unreachable (%s): %s", for_log(username), what, e)
            raise web.HTTPError(503, MSG_UNREACHABLE) from None
        if answer.status == 401:
            self.log.info("XNAT login %s: XNAT rejected the credentials (HTTP 401)", for_log(username))
            return None
        if answer.status == 403 and what == "roles":
            self.log.warning("XNAT login %s: password accepted but the username's letter case"
                             " differs from the XNAT login (HTTP 403)", for_log(username))
            raise web.HTTPError(403, MSG_CASE_MISMATCH)
        if answer.status == 404 and missing_ok:
            self.log.warning("XNAT login %s: XNAT has no %s preference (HTTP 404); treated as false",
                             for_log(username), what)
            return {}
        if answer.status != 200:
            self.log.error("XNAT login %s: unexpected HTTP %d from XNAT for %s: %s",
                           for_log(username), answer.status, what, answer.excerpt())
            raise web.HTTPError(502, MSG_XNAT_ERROR)
        try:
            return answer.json()
        except ValueError:
            self.log.error("XNAT login %s: XNAT's answer for %s is not JSON: %s",
                           for_log(username), what, answer.excerpt())
            raise web.HTTPError(502, MSG_XNAT_ERROR) from None
