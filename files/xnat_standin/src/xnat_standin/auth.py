"""Who is calling: HTTP Basic (password or alias token) or the page's session cookie."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass

from aiohttp import web

from .responses import InsufficientPrivileges, NotAuthenticated
from .store import OPENID, Store, User

ADMIN_ROLE = "Administrator"
PBKDF2_ITERATIONS = 20_000
SESSION_COOKIE = "JSESSIONID"
MAX_SESSIONS = 10_000
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def hash_password(password: str) -> str:
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), PBKDF2_ITERATIONS).hex()
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${salt}${digest}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        _scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations)).hex()
    return hmac.compare_digest(candidate, digest)


def hash_token_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def can_log_in(user: User) -> bool:
    """Disabled accounts fail Spring authentication (§1.1); so do unverified ones while XNAT's
    emailVerification setting is on, its default (inferred; §2.1 lists 'verified' as required)."""
    return user.enabled and user.verified


@dataclass(frozen=True)
class Principal:
    user: User
    roles: frozenset[str]

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def has_any_role(self, *roles: str) -> bool:
        """Role checks compare exact case (RoleXapiAuthorization, contract §1.3)."""
        return bool(self.roles.intersection(roles))


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise InsufficientPrivileges("You must be a site administrator to access this resource.")


def require_self_or_admin(principal: Principal, username: str) -> None:
    """UserXapiAuthorization: exact, case-sensitive comparison with the path username (§1.1)."""
    if not principal.is_admin and principal.username != username:
        raise InsufficientPrivileges(f"User {principal.username} can't access resources for user {username}.")


class Authenticator:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.sessions: dict[str, int] = {}
        # (user id, stored hash) -> sha256 of a password that verified; memory only, saves PBKDF2 per call
        self._verified: dict[tuple[int, str], bytes] = {}

    async def _password_matches(self, user: User, password: str, stored: str | None) -> bool:
        """`password` against a stored hash of `user` (their XNAT password, or their password at the IdP)."""
        if not stored:
            return False
        key = (user.id, stored)
        quick = hashlib.sha256(password.encode()).digest()
        if key in self._verified:
            return hmac.compare_digest(self._verified[key], quick)
        if await asyncio.to_thread(check_password, password, stored):
            self._verified[key] = quick
            return True
        return False

    async def verify(self, login: str, password: str) -> User | None:
        """The user these credentials belong to, or None."""
        if UUID_PATTERN.match(login):
            token = self.store.alias_token(login)
            if token is not None and token["valid"] and token["expires"] > time.time() * 1000 and \
                    hmac.compare_digest(token["secret_hash"], hash_token_secret(password)):
                user = self.store.user_by_id(token["user_id"])
                return user if user is not None and can_log_in(user) else None
        user = self.store.user_for_login(login)
        if user is None or not can_log_in(user):
            return None
        # an OpenID account has no XNAT password (password_hash is None), so this never matches for one
        return user if await self._password_matches(user, password, user.password_hash) else None

    async def verify_at_idp(self, login: str, password: str) -> User | None:
        """The OpenID account whose password at the stand-in's identity provider this is, or None.

        Enabled and verified are checked by the caller, which tells the two failures apart."""
        user = self.store.user_for_login(login)
        if user is None or user.auth_method != OPENID:
            return None
        return user if await self._password_matches(user, password, user.idp_password_hash) else None

    def principal(self, user: User) -> Principal:
        return Principal(user=user, roles=frozenset(self.store.roles(user.id)))

    async def identify(self, request: web.Request) -> Principal | None:
        """Basic credentials win over a session cookie; bad Basic credentials are a 401 at once."""
        header = request.headers.get("Authorization", "")
        if header[:6].lower() == "basic ":
            try:
                login, _sep, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise NotAuthenticated("Malformed Basic credentials.") from exc
            user = await self.verify(login, password)
            if user is None:
                raise NotAuthenticated("Bad credentials.")
            return self.principal(user)
        session = request.cookies.get(SESSION_COOKIE)
        if session and session in self.sessions:
            user = self.store.user_by_id(self.sessions[session])
            if user is not None and can_log_in(user):
                return self.principal(user)
        return None

    def start_session(self, user: User) -> str:
        session = secrets.token_urlsafe(32)
        self.sessions[session] = user.id
        if len(self.sessions) > MAX_SESSIONS:  # sessions never time out here, so drop the oldest
            del self.sessions[next(iter(self.sessions))]
        return session

    def end_session(self, session: str | None) -> None:
        if session:
            self.sessions.pop(session, None)

    def issue_alias_token(self, user: User, lifetime_seconds: int) -> tuple[str, str]:
        """A fresh XNAT alias token (alias, secret) that works as Basic credentials for its user."""
        alias = str(uuid.uuid4())
        secret = secrets.token_urlsafe(48)
        expires = int((time.time() + lifetime_seconds) * 1000)
        self.store.add_alias_token(alias, hash_token_secret(secret), user.id, expires)
        return alias, secret
