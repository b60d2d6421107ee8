"""Hub settings, each declared once in SETTINGS: its environment variable, how its text is read and
checked, its default, its meaning and the hub role's variable that sets it.

- `load_settings(os.environ)` reads them all and reports every wrong value at once, one line each
  (SettingsError); jupyterhub_config.py applies the result.
- `python -m xnat_jupyterhub_hub.settings` prints the table of settings that files/hub/README.md shows.
- The static test layer checks the hub role's defaults, argument specs and stack template against
  SETTINGS; the collection's validate playbook checks a site's values with these readers
  (plugins/filter/site_checks.py), before anything is deployed.

Secrets come only from files (swarm secrets). This module needs the standard library alone, so the
collection's plugins can load it from the source tree.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import stat
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class SettingsError(Exception):
    """Settings or secret files are missing or wrong; the message has one line per problem."""


# --- readers: text as an environment variable holds it -> a value, or ValueError saying what was expected ---

@dataclass(frozen=True)
class Reader:
    """Turns a setting's text into its value; `expected` completes "must be ..." in error messages."""

    expected: str
    argspec_type: str = "str"  # the Ansible argument spec type of a role variable that sets it

    def read(self, text: str) -> Any:
        return text


@dataclass(frozen=True)
class Text(Reader):
    pattern: str = ""
    upper: bool = False

    def read(self, text: str) -> Any:
        value = text.upper() if self.upper else text
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise ValueError(self.expected)
        return value


@dataclass(frozen=True)
class Flag(Reader):
    expected: str = "true or false"
    argspec_type: str = "bool"

    def read(self, text: str) -> bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(self.expected)


@dataclass(frozen=True)
class Number(Reader):
    minimum: float = 0
    whole: bool = True

    def read(self, text: str) -> int | float:
        try:
            value = int(text) if self.whole else float(text)
        except ValueError:
            raise ValueError(self.expected) from None
        if not math.isfinite(value) or value < self.minimum:
            raise ValueError(self.expected)
        return value


def whole(unit: str, minimum: int) -> Number:
    of = f" of {unit}" if unit else ""
    return Number(f"a whole number{of}, at least {minimum}", "int", minimum, True)


def decimal(unit: str, minimum: float) -> Number:
    of = f" of {unit}" if unit else ""
    return Number(f"a number{of}, at least {minimum:g}", "float", minimum, False)


@dataclass(frozen=True)
class Names(Reader):
    """A comma-separated list; each item must match `item_pattern` when one is given."""

    argspec_type: str = "list"
    item_pattern: str = ""

    def read(self, text: str) -> tuple[str, ...]:
        items = tuple(item.strip() for item in text.split(",") if item.strip())
        if self.item_pattern and any(not re.fullmatch(self.item_pattern, item) for item in items):
            raise ValueError(self.expected)
        return items


@dataclass(frozen=True)
class Networks(Reader):
    expected: str = "IP addresses or networks such as 10.20.0.5 or 10.20.0.0/24, comma-separated"
    argspec_type: str = "list"

    def read(self, text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        try:
            return parse_networks(item for item in text.split(",") if item.strip())
        except ValueError:
            raise ValueError(self.expected) from None


@dataclass(frozen=True)
class Url(Reader):
    expected: str = "an http(s) URL without credentials, query or fragment, such as https://xnat.example.org"

    def read(self, text: str) -> str:
        value = text.rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(self.expected)
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError(self.expected)
        return value


@dataclass(frozen=True)
class UrlPath(Reader):
    expected: str = "a URL path such as /jupyterhub (letters, digits and . _ ~ - /)"

    def read(self, text: str) -> str:
        value = "/" + text.strip("/")
        if not re.fullmatch(r"/[A-Za-z0-9._~/-]*", value) or "//" in value:
            raise ValueError(self.expected)
        return value


@dataclass(frozen=True)
class AbsolutePaths(Reader):
    expected: str = "absolute paths, comma-separated"
    argspec_type: str = "list"

    def read(self, text: str) -> tuple[str, ...]:
        items = Names(self.expected).read(text)
        if any(not item.startswith("/") or "\0" in item for item in items):
            raise ValueError(self.expected)
        return items


@dataclass(frozen=True)
class SecretName(Reader):
    """The file name of a secret under JH_SECRETS_DIR; the file itself is checked by load_settings."""

    expected: str = "a file name inside JH_SECRETS_DIR"
    required: bool = True

    def read(self, text: str) -> str:
        if "/" in text or text in (".", "..") or "\0" in text:
            raise ValueError(self.expected)
        return text


REQUIRED = None  # the default of a setting that has none


@dataclass(frozen=True)
class Setting:
    """One hub setting. `default` is text, as the environment would carry it; REQUIRED: none."""

    env: str
    attr: str  # the HubSettings attribute
    reader: Reader
    default: str | None
    meaning: str
    # The hub role's variable that sets it, and the role's default when it differs on purpose.
    role_var: str | None = None
    role_default: Any = field(default=None)
    # The configurable trait (Class.trait) jupyterhub_config.py sets from it.
    trait: str | None = None


IMAGE_PATTERN_ITEM = r"[^\s,]+"
SETTINGS: tuple[Setting, ...] = (
    Setting("JH_XNAT_URL", "xnat_url", Url(), REQUIRED,
            "XNAT's root URL as the hub reaches it, e.g. https://xnat.example.org", "hub_xnat_url",
            trait="XnatClient.url"),
    Setting("JH_XNAT_USERNAME", "xnat_username",
            Text("an XNAT username", pattern=r"[a-zA-Z][A-Za-z0-9\-_'.]{0,63}"), "jupyterhub",
            "XNAT service account (role JupyterHub) that reads launch options", "hub_xnat_username",
            trait="XnatSwarmSpawner.xnat_service_username"),
    Setting("JH_XNAT_VERIFY_TLS", "xnat_verify_tls", Flag(), "true", "verify XNAT's TLS certificate",
            "hub_xnat_verify_tls", trait="XnatClient.verify_tls"),
    Setting("JH_XNAT_CA_FILE", "xnat_ca_file", Text("an absolute path", pattern=r"(/.*)?"), "",
            "CA bundle for XNAT's certificate (empty: the system CAs); the role mounts hub_xnat_ca_file here",
            trait="XnatClient.ca_file"),
    Setting("JH_XNAT_CLIENT_CERT", "xnat_client_cert", Text("an absolute path", pattern=r"(/.*)?"), "",
            "client certificate for mutual TLS with XNAT; its key is the secret JH_SECRET_XNAT_CLIENT_KEY",
            trait="XnatClient.client_cert_file"),
    Setting("JH_XNAT_CONNECT_TIMEOUT", "xnat_connect_timeout", decimal("seconds", 0.1), "5",
            "seconds to wait for a connection to XNAT", "hub_xnat_connect_timeout", trait="XnatClient.connect_timeout"),
    Setting("JH_XNAT_REQUEST_TIMEOUT", "xnat_request_timeout", decimal("seconds", 0.1), "20",
            "seconds to wait for XNAT's whole answer", "hub_xnat_request_timeout", trait="XnatClient.request_timeout"),
    Setting("JH_BASE_URL", "base_url", UrlPath(), "/jupyterhub", "URL prefix of the hub behind the reverse proxy",
            "hub_base_url"),
    Setting("JH_XNAT_PUBLIC_URL", "xnat_public_url",
            Text("a URL path such as / or an http(s) URL", pattern=r"/(?!/)[^\s\"'<>\\]*|https?://[^\s\"'<>\\]+"), "/",
            "where users find XNAT in their browser: the links on the hub's pages and in JupyterLab",
            "hub_xnat_public_url"),
    Setting("JH_LOGIN_PASSWORD", "login_password", Flag(), "true", "sign in with an XNAT username and password",
            "hub_login_password", trait="XnatAuthenticator.password_login"),
    Setting("JH_LOGIN_XNAT_SESSION", "login_xnat_session", Flag(), "true",
            "sign in with the XNAT session the browser holds (XNAT and the hub on one origin)",
            "hub_login_xnat_session", trait="XnatAuthenticator.session_login"),
    Setting("JH_LOGIN_ALIAS_TOKEN", "login_alias_token", Flag(), "true",
            "sign in with an XNAT alias token (alias as the username, secret as the password)",
            "hub_login_alias_token", trait="XnatAuthenticator.alias_token_login"),
    Setting("JH_XNAT_SESSION_COOKIE", "xnat_session_cookie",
            Text("a cookie name", pattern=r"[A-Za-z0-9_.-]{1,128}"), "JSESSIONID",
            "name of XNAT's session cookie", "hub_xnat_session_cookie", trait="XnatAuthenticator.session_cookie"),
    Setting("JH_HUB_CONNECT_IP", "hub_connect_ip",
            Text("a host name or IPv4 address", pattern=r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"),
            "jupyterhub", "name notebooks reach the hub by: the hub's alias on the overlay network",
            "hub_network_alias"),
    Setting("JH_NETWORK", "network", Text("a Docker network name", pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*"),
            "jupyterhub", "attachable overlay network shared by the hub and the notebooks", "hub_network",
            "jupyterhub-network", trait="XnatSwarmSpawner.network_name"),
    Setting("JH_DATA_DIR", "data_dir", Text("an absolute path", pattern=r"/.*"), "/srv/jupyterhub",
            "persistent directory: the hub database and the generated cookie secret"),
    Setting("JH_START_TIMEOUT", "start_timeout", whole("seconds", 1), "180",
            "seconds a notebook may take to start", "hub_start_timeout", trait="XnatSwarmSpawner.start_timeout"),
    Setting("JH_HTTP_TIMEOUT", "http_timeout", whole("seconds", 1), "75",
            "seconds a started notebook may take to answer HTTP", "hub_http_timeout",
            trait="XnatSwarmSpawner.http_timeout"),
    Setting("JH_PENDING_GRACE", "pending_grace", decimal("seconds", 0), "10",
            "seconds a notebook task may stay unplaceable before its spawn fails", "hub_pending_grace",
            trait="XnatSwarmSpawner.pending_grace"),
    Setting("JH_DOCKER_API_THREADS", "docker_api_threads", whole("threads", 1), "8",
            "threads making Docker API calls for all spawns", trait="XnatSwarmSpawner.docker_api_threads"),
    Setting("JH_SERVICE_PREFIX", "service_prefix",
            Text("1-20 lower-case letters, digits or '-', starting with a letter", pattern=r"[a-z][a-z0-9-]{0,19}"),
            "jupyter", "prefix of notebook service names", trait="XnatSwarmSpawner.prefix"),
    Setting("NB_UID", "notebook_uid", whole("", 1), "1000",
            "user id notebooks run as (owner of the XNAT workspaces); never 0", "hub_notebook_uid",
            trait="XnatSwarmSpawner.notebook_uid"),
    Setting("NB_GID", "notebook_gid", whole("", 0), "1000", "group id notebooks run as",
            "hub_notebook_gid", trait="XnatSwarmSpawner.notebook_gid"),
    Setting("JH_ALLOWED_IMAGES", "allowed_images",
            Names("image patterns, comma-separated", item_pattern=IMAGE_PATTERN_ITEM), "",
            "image patterns XNAT may launch (empty: any)", "hub_allowed_images",
            trait="XnatSwarmSpawner.allowed_xnat_images"),
    Setting("JH_ALLOWED_BIND_PREFIXES", "allowed_bind_prefixes", AbsolutePaths(), "",
            "host directories bind mounts must lie under (empty: any)", "hub_allowed_bind_prefixes",
            trait="XnatSwarmSpawner.allowed_bind_prefixes"),
    Setting("JH_SECRETS_FILE_IMAGES", "secrets_file_images",
            Names("image patterns, comma-separated", item_pattern=IMAGE_PATTERN_ITEM),
            "*xnat-jupyterhub/notebook:*,*xnat-jupyterhub/dashboard:*",
            "image patterns whose notebooks read tokens from a secret file, not the environment",
            trait="XnatSwarmSpawner.secrets_file_images"),
    Setting("JH_ADMIN_USERS", "admin_users",
            Names("XNAT usernames, comma-separated", item_pattern=r"[a-zA-Z][A-Za-z0-9\-_'.]{0,63}"), "",
            "hub admins (exact XNAT logins)", "hub_admin_users"),
    Setting("JH_TRUSTED_PROXIES", "trusted_proxies", Networks(), "",
            "further proxies (addresses, networks) whose X-Forwarded-For/-Proto the hub believes",
            "hub_trusted_proxies"),
    Setting("JH_LOG_LEVEL", "log_level",
            Text("DEBUG, INFO, WARNING, ERROR or CRITICAL", pattern="DEBUG|INFO|WARNING|ERROR|CRITICAL", upper=True),
            "INFO", "hub log level", "hub_log_level", trait="Application.log_level"),
    Setting("JH_IDLE_CULLER_TIMEOUT", "idle_culler_timeout", whole("seconds", 0), "0",
            "seconds without activity after which the hub stops a notebook; 0: no culling by the hub",
            # The role turns culling on with hub_idle_culler_enabled and then passes this timeout.
            "hub_idle_culler_timeout", 3600),
    Setting("JH_IDLE_CULLER_EVERY", "idle_culler_every", whole("seconds", 1), "300",
            "seconds between the idle culler's checks", "hub_idle_culler_every"),
    Setting("JH_EXTRA_CONFIG_DIR", "extra_config_dir", Text("an absolute path", pattern=r"/.*"),
            "/etc/xnat-jupyterhub/config.d",
            "directory of the site's own configuration snippets (*.py), run last, in name order"),
    Setting("JH_SECRETS_DIR", "secrets_dir", Text("an absolute path", pattern=r"/.*"), "/run/secrets",
            "directory of the secret files below"),
    Setting("JH_SECRET_XNAT_PASSWORD", "xnat_password", SecretName(), "jh_xnat_password",
            "file: the XNAT service account's password (required)"),
    Setting("JH_SECRET_XNAT_SERVICE_TOKEN", "xnat_service_token", SecretName(), "jh_xnat_service_token",
            "file: API token of the hub service 'xnat', XNAT's jupyterHubToken (required)"),
    Setting("JH_SECRET_METRICS_TOKEN", "metrics_token", SecretName(required=False), "jh_metrics_token",
            "file: API token of the hub service 'metrics' (read:metrics only), for Prometheus (optional)"),
    Setting("JH_SECRET_COOKIE", "cookie_secret", SecretName(required=False), "jh_cookie_secret",
            "file: cookie secret, 64 hex digits (optional: else generated in JH_DATA_DIR)"),
    Setting("JH_SECRET_PROXY_TOKEN", "proxy_token", SecretName(required=False), "jh_proxy_auth_token",
            "file: proxy auth token (optional: else generated per start)"),
    Setting("JH_SECRET_XNAT_CLIENT_KEY", "xnat_client_key", SecretName(required=False), "jh_xnat_client_key",
            "file: key of JH_XNAT_CLIENT_CERT (required with it)"),
    Setting("JH_SECRET_DB_URL", "db_url", SecretName(required=False), "jh_db_url",
            "file: database URL with credentials (optional: else SQLite in JH_DATA_DIR)"),
)
SETTINGS_BY_ENV: dict[str, Setting] = {s.env: s for s in SETTINGS}
KNOWN_WEAK_TOKENS = {"secret-token", "jupyterhub", "changeme", "password"}
MIN_TOKEN_LENGTH = 16


def parse_networks(items: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses or CIDR networks; ValueError names the first one that is neither."""
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{item.strip()!r} is not an IP address or network") from None
    return tuple(networks)


@dataclass(frozen=True)
class SecretFile:
    """A validated secret: where it is (its value is read on demand and never appears in repr)."""

    path: str

    def read(self) -> str:
        return read_secret_file(self.path)

    def __repr__(self) -> str:
        return f"SecretFile({self.path!r})"


class HubSettings:
    """The settings' values by attribute name (Setting.attr); secrets as SecretFile or None."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # only reached for names that are not settings
        raise AttributeError(f"no hub setting {name!r}")

    def __repr__(self) -> str:
        return "HubSettings(" + ", ".join(f"{k}={v!r}" for k, v in sorted(self.__dict__.items())) + ")"


def read_secret_file(path: str) -> str:
    """Content of a secret file, stripped; SettingsError if missing, empty or readable by others."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SettingsError(f"secret file {path} does not exist") from None
    except OSError as e:
        raise SettingsError(f"secret file {path} cannot be read: {e.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SettingsError(f"secret file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise SettingsError(
            f"secret file {path} has mode {stat.S_IMODE(info.st_mode):04o}:"
            " group and others must have no access (use 0400 or 0600)"
        )
    try:
        with open(path, encoding="utf-8") as f:
            value = f.read().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"secret file {path} cannot be read: {e}") from None
    if not value:
        raise SettingsError(f"secret file {path} is empty")
    return value


def problem_with(setting: Setting, text: str) -> str | None:
    """Why `text` is not a valid value of `setting`, or None when it is."""
    try:
        setting.reader.read(text)
    except ValueError as e:
        return str(e)
    return None


def _text(environ: Mapping[str, str], setting: Setting) -> str | None:
    """The setting's text from the environment, its default, or None when required and absent."""
    value = (environ.get(setting.env) or "").strip()
    return value or setting.default


def load_settings(environ: Mapping[str, str]) -> HubSettings:
    """HubSettings from an environment mapping; SettingsError with one line per wrong value."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        text = _text(environ, setting)
        if text is None:
            problems.append(f"{setting.env} must be set: {setting.meaning}")
            continue
        try:
            values[setting.attr] = setting.reader.read(text)
        except ValueError as e:
            problems.append(f"{setting.env} must be {e}, got {text[:80]!r}")
    if not problems:
        problems += _check_files_and_secrets(environ, values)
    if problems:
        raise SettingsError("\n".join(problems))
    return HubSettings(values)


def _check_files_and_secrets(environ: Mapping[str, str], values: dict[str, Any]) -> list[str]:
    """Files named by settings exist; secret files are readable only by the hub; the token is strong."""
    problems = []
    for attr, env in (("xnat_ca_file", "JH_XNAT_CA_FILE"), ("xnat_client_cert", "JH_XNAT_CLIENT_CERT")):
        if values[attr] and not os.path.isfile(values[attr]):
            problems.append(f"{env}: {values[attr]} does not exist")
    for setting in SETTINGS:
        if not isinstance(setting.reader, SecretName):
            continue
        path = os.path.join(values["secrets_dir"], values[setting.attr])
        explicit = bool((environ.get(setting.env) or "").strip())
        needed = setting.reader.required or (setting.attr == "xnat_client_key" and values["xnat_client_cert"])
        if not needed and not explicit and not os.path.lexists(path):
            values[setting.attr] = None
            continue
        try:
            read_secret_file(path)
        except SettingsError as e:
            problems.append(f"{setting.env}: {e}")
            values[setting.attr] = None
            continue
        values[setting.attr] = SecretFile(path)
    token = values.get("xnat_service_token")
    if token is not None:
        text = token.read()
        if len(text) < MIN_TOKEN_LENGTH or text.lower() in KNOWN_WEAK_TOKENS:
            problems.append(f"JH_SECRET_XNAT_SERVICE_TOKEN: the token in {token.path} is too weak:"
                            f" use at least {MIN_TOKEN_LENGTH} random characters (e.g. openssl rand -hex 32)")
    cookie = values.get("cookie_secret")
    if cookie is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", cookie.read()):
        problems.append(f"JH_SECRET_COOKIE: {cookie.path} must hold 64 hex digits (openssl rand -hex 32)")
    return problems


def settings_table() -> str:
    """The Markdown table of every setting (files/hub/README.md shows it)."""
    rows = ["| Variable | Default | Meaning | Set by the hub role's |", "|---|---|---|---|"]
    for s in SETTINGS:
        default = "(required)" if s.default is None else (s.default or "(empty)")
        rows.append(f"| {s.env} | {default} | {s.meaning} | {s.role_var or ''} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(settings_table())
