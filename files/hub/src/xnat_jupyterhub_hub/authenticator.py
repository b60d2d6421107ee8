"""Log in to the hub with XNAT credentials.

The typed username and password are checked against XNAT with
`GET /xapi/users/{u}/roles` (the user's own Basic auth). The user may use
Jupyter when one of the roles is `Jupyter` (any case) or when XNAT's
`allUsersCanStartJupyter` preference is true; users listed in
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
from collections.abc import Mapping, Sequence
from typing import Any

from jupyterhub.auth import Authenticator
from jupyterhub.handlers.login import LoginHandler
from tornado import web
from traitlets import Instance, Integer, Unicode, default

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
    """JupyterHub's login page; pages asked for together are rendered one per loop iteration (~2 ms each)."""

    async def get(self) -> None:
        await self.authenticator.turnstile.pass_through()
        await super().get()


class XnatAuthenticator(Authenticator):
    """Password login against XNAT, non-blocking, with timeouts and escaped URLs."""

    jupyter_role = Unicode(
        "Jupyter", help="XNAT role, compared case-insensitively, that grants use of Jupyter."
    ).tag(config=True)

    max_password_length = Integer(
        1024, help="Longer passwords are refused without asking XNAT."
    ).tag(config=True)

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
        model = await self._xnat_verdict(data or {})
        if model:
            # Next, for a login it allows, JupyterHub stores the user in its database: some 10 ms of synchronous
            # work. XNAT's answers to logins made together arrive together; they go on one per loop iteration,
            # or the loop would serve nothing else until all of that work is done.
            await self.turnstile.pass_through()
        return model

    async def _xnat_verdict(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        username = data.get("username") or ""
        password = data.get("password") or ""
        if not is_xnat_username(username):
            self.log.warning("XNAT login refused without asking XNAT: invalid username %s",
                             for_log(username))
            raise web.HTTPError(403, MSG_BAD_USERNAME)
        if not password or len(password) > self.max_password_length:
            self.log.info("XNAT login %s: empty or oversized password", for_log(username))
            raise web.HTTPError(403, MSG_NO_PASSWORD)

        roles = await self._xnat_json(username, password, ["xapi", "users", username, "roles"])
        if roles is None:
            return None
        if not isinstance(roles, list):
            self.log.error("XNAT login %s: roles answer is not a list", for_log(username))
            raise web.HTTPError(502, MSG_XNAT_ERROR)
        if any(isinstance(r, str) and r.lower() == self.jupyter_role.lower() for r in roles):
            return {"name": username, XNAT_ACCESS: "role"}

        preference = await self._xnat_json(
            username, password,
            ["xapi", "jupyterhub", "preferences", "allUsersCanStartJupyter"],
            missing_ok=True,
        )
        all_users = isinstance(preference, dict) and preference.get("allUsersCanStartJupyter") is True
        return {"name": username, XNAT_ACCESS: "all-users" if all_users else None}

    async def _xnat_json(self, username: str, password: str, segments: Sequence[str], missing_ok: bool = False) -> Any:
        """One XNAT call as the user; the parsed JSON, or None for wrong credentials.

        Every other failure raises an HTTPError whose message JupyterHub shows
        on the login form.
        """
        what = segments[-1]
        try:
            answer = await self.xnat.get(segments, username, password)
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
