"""Hub settings: plain values from environment variables, secrets only from files.

`load_settings(os.environ)` returns a HubSettings or raises SettingsError
with a message that names the variable or file at fault. jupyterhub_config.py
documents every variable in ENV_VARS and applies the result.
"""

import os
import re
import stat
from dataclasses import dataclass
from urllib.parse import urlsplit

from .proxy_headers import parse_networks


class SettingsError(Exception):
    """A setting or secret file is missing or wrong; the message says which and why."""


# name -> (default, meaning). None as default means "required".
ENV_VARS = {
    "JH_XNAT_URL": (None, "XNAT's root URL, e.g. https://xnat.example.org"),
    "JH_XNAT_USERNAME": ("jupyterhub", "XNAT service account the hub fetches launch options with"),
    "JH_XNAT_VERIFY_TLS": ("true", "verify XNAT's TLS certificate"),
    "JH_XNAT_CA_FILE": ("", "CA bundle for XNAT's certificate (empty: system CAs)"),
    "JH_XNAT_CLIENT_CERT": ("", "client certificate for mutual TLS with XNAT (key: secret JH_SECRET_XNAT_CLIENT_KEY)"),
    "JH_XNAT_CONNECT_TIMEOUT": ("5", "seconds to wait for a connection to XNAT"),
    "JH_XNAT_REQUEST_TIMEOUT": ("20", "seconds to wait for XNAT's whole answer"),
    "JH_BASE_URL": ("/jupyterhub", "URL prefix of the hub behind the reverse proxy"),
    "JH_HUB_CONNECT_IP": ("jupyterhub", "name notebooks use to reach the hub: the hub's swarm service name"),
    "JH_NETWORK": ("jupyterhub", "attachable overlay network shared by the hub and the notebooks"),
    "JH_DATA_DIR": ("/srv/jupyterhub", "persistent directory for the hub database and generated cookie secret"),
    "JH_START_TIMEOUT": ("180", "seconds a notebook may take to start"),
    "JH_HTTP_TIMEOUT": ("75", "seconds a started notebook may take to answer HTTP"),
    "JH_PENDING_GRACE": ("10", "seconds a notebook task may wait unplaceable before the spawn fails"),
    "JH_DOCKER_API_THREADS": ("8", "threads making Docker API calls for all spawns"),
    "JH_SERVICE_PREFIX": ("jupyter", "prefix of notebook service names"),
    "NB_UID": ("1000", "user id notebooks run as (owner of the XNAT workspaces)"),
    "NB_GID": ("1000", "group id notebooks run as"),
    "JH_ALLOWED_IMAGES": ("", "comma-separated image patterns XNAT may launch (empty: any)"),
    "JH_ALLOWED_BIND_PREFIXES": ("", "comma-separated host directories bind mounts must lie under (empty: any)"),
    "JH_SECRETS_FILE_IMAGES": ("*xnat-jupyterhub/notebook:*", "image patterns that read tokens from a per-notebook secret file instead of the environment"),
    "JH_ADMIN_USERS": ("", "comma-separated hub admin usernames (exact XNAT logins)"),
    "JH_TRUSTED_PROXIES": ("", "comma-separated addresses or networks of further proxies whose X-Forwarded-For/-Proto"
                               " the hub believes (its own proxy and its container's gateway always count)"),
    "JH_LOG_LEVEL": ("INFO", "hub log level"),
    "JH_IDLE_CULLER_TIMEOUT": ("0", "seconds without activity after which the hub stops a notebook; 0 turns the hub's culler off (XNAT culls on its own)"),
    "JH_IDLE_CULLER_EVERY": ("300", "seconds between the idle culler's checks (with JH_IDLE_CULLER_TIMEOUT)"),
    "JH_SECRETS_DIR": ("/run/secrets", "directory holding the secret files below"),
    "JH_SECRET_XNAT_PASSWORD": ("jh_xnat_password", "file name: the XNAT service account's password (required)"),
    "JH_SECRET_XNAT_SERVICE_TOKEN": ("jh_xnat_service_token", "file name: API token of the hub service 'xnat' (required)"),
    "JH_SECRET_COOKIE": ("jh_cookie_secret", "file name: cookie secret, 64 hex digits (optional; else generated in JH_DATA_DIR)"),
    "JH_SECRET_PROXY_TOKEN": ("jh_proxy_auth_token", "file name: proxy auth token (optional; else generated per start)"),
    "JH_SECRET_XNAT_CLIENT_KEY": ("jh_xnat_client_key", "file name: key of JH_XNAT_CLIENT_CERT (required with it)"),
    "JH_SECRET_DB_URL": ("jh_db_url", "file name: database URL with credentials (optional; else SQLite in JH_DATA_DIR)"),
}

KNOWN_WEAK_TOKENS = {"secret-token", "jupyterhub", "changeme", "password"}
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class SecretFile:
    """A validated secret: where it is and what it holds (the value never appears in repr)."""

    path: str

    def read(self):
        return read_secret_file(self.path)

    def __repr__(self):
        return f"SecretFile({self.path!r})"


@dataclass(frozen=True)
class HubSettings:
    xnat_url: str
    xnat_username: str
    xnat_verify_tls: bool
    xnat_ca_file: str
    xnat_client_cert: str
    xnat_client_key: SecretFile | None
    xnat_connect_timeout: float
    xnat_request_timeout: float
    base_url: str
    hub_connect_ip: str
    network: str
    data_dir: str
    start_timeout: int
    http_timeout: int
    pending_grace: float
    docker_api_threads: int
    service_prefix: str
    notebook_uid: int
    notebook_gid: int
    allowed_images: tuple
    allowed_bind_prefixes: tuple
    secrets_file_images: tuple
    admin_users: tuple
    trusted_proxies: tuple
    log_level: str
    idle_culler_timeout: int
    idle_culler_every: int
    xnat_password: SecretFile
    xnat_service_token: SecretFile
    cookie_secret: SecretFile | None
    proxy_token: SecretFile | None
    db_url: SecretFile | None


def read_secret_file(path):
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


def _get(environ, name):
    default = ENV_VARS[name][0]
    value = environ.get(name, "").strip()
    if not value:
        if default is None:
            raise SettingsError(f"{name} must be set: {ENV_VARS[name][1]}")
        return default
    return value


def _bool(environ, name):
    value = _get(environ, name).lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {value!r}")


def _number(environ, name, kind, minimum):
    text = _get(environ, name)
    try:
        value = kind(text)
    except ValueError:
        raise SettingsError(f"{name} must be a {'whole ' if kind is int else ''}number, got {text!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {text!r}")
    return value


def _list(environ, name):
    return tuple(item.strip() for item in _get(environ, name).split(",") if item.strip())


def _secret(environ, name, required):
    """A SecretFile for a JH_SECRET_* variable.

    Optional secrets may be absent, but only under their default file name:
    a name set explicitly must exist.
    """
    directory = _get(environ, "JH_SECRETS_DIR")
    filename = _get(environ, name)
    if "/" in filename or filename in (".", ".."):
        raise SettingsError(f"{name} must be a file name inside JH_SECRETS_DIR, got {filename!r}")
    path = os.path.join(directory, filename)
    explicit = bool(environ.get(name, "").strip())
    if not required and not explicit and not os.path.lexists(path):
        return None
    try:
        read_secret_file(path)
    except SettingsError as e:
        raise SettingsError(f"{name}: {e}") from None
    return SecretFile(path)


def _xnat_url(environ):
    value = _get(environ, "JH_XNAT_URL").rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"JH_XNAT_URL must be an http(s) URL, got {value!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise SettingsError("JH_XNAT_URL must not carry credentials, a query or a fragment")
    return value


def _base_url(environ):
    value = "/" + _get(environ, "JH_BASE_URL").strip("/")
    if not re.fullmatch(r"/[A-Za-z0-9._~/-]*", value):
        raise SettingsError(f"JH_BASE_URL must be a URL path such as /jupyterhub, got {value!r}")
    return value


def load_settings(environ):
    """HubSettings from an environment mapping; SettingsError names the first problem."""
    prefix = _get(environ, "JH_SERVICE_PREFIX")
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,19}", prefix):
        raise SettingsError(
            f"JH_SERVICE_PREFIX must be 1-20 lower-case letters, digits or '-', starting with a letter; got {prefix!r}"
        )
    log_level = _get(environ, "JH_LOG_LEVEL").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"JH_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    client_cert = environ.get("JH_XNAT_CLIENT_CERT", "").strip()
    if client_cert and not os.path.isfile(client_cert):
        raise SettingsError(f"JH_XNAT_CLIENT_CERT: {client_cert} does not exist")
    ca_file = environ.get("JH_XNAT_CA_FILE", "").strip()
    if ca_file and not os.path.isfile(ca_file):
        raise SettingsError(f"JH_XNAT_CA_FILE: {ca_file} does not exist")
    hub_connect_ip = _get(environ, "JH_HUB_CONNECT_IP")
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", hub_connect_ip):
        raise SettingsError(f"JH_HUB_CONNECT_IP must be a host name or IPv4 address, got {hub_connect_ip!r}")
    try:
        trusted_proxies = parse_networks(_list(environ, "JH_TRUSTED_PROXIES"))
    except ValueError as e:
        raise SettingsError(f"JH_TRUSTED_PROXIES: {e}") from None
    for bind_prefix in _list(environ, "JH_ALLOWED_BIND_PREFIXES"):
        if not bind_prefix.startswith("/"):
            raise SettingsError(f"JH_ALLOWED_BIND_PREFIXES: {bind_prefix!r} is not an absolute path")

    token = _secret(environ, "JH_SECRET_XNAT_SERVICE_TOKEN", required=True)
    token_value = token.read()
    if len(token_value) < MIN_TOKEN_LENGTH or token_value.lower() in KNOWN_WEAK_TOKENS:
        raise SettingsError(
            f"JH_SECRET_XNAT_SERVICE_TOKEN: the token in {token.path} is too weak:"
            f" use at least {MIN_TOKEN_LENGTH} random characters (e.g. openssl rand -hex 32)"
        )
    cookie = _secret(environ, "JH_SECRET_COOKIE", required=False)
    if cookie and not re.fullmatch(r"[0-9a-fA-F]{64}", cookie.read()):
        raise SettingsError(
            f"JH_SECRET_COOKIE: {cookie.path} must hold 64 hex digits (openssl rand -hex 32)"
        )

    return HubSettings(
        xnat_url=_xnat_url(environ),
        xnat_username=_get(environ, "JH_XNAT_USERNAME"),
        xnat_verify_tls=_bool(environ, "JH_XNAT_VERIFY_TLS"),
        xnat_ca_file=ca_file,
        xnat_client_cert=client_cert,
        xnat_client_key=_secret(environ, "JH_SECRET_XNAT_CLIENT_KEY", required=True) if client_cert else None,
        xnat_connect_timeout=_number(environ, "JH_XNAT_CONNECT_TIMEOUT", float, 0.1),
        xnat_request_timeout=_number(environ, "JH_XNAT_REQUEST_TIMEOUT", float, 0.1),
        base_url=_base_url(environ),
        hub_connect_ip=hub_connect_ip,
        network=_get(environ, "JH_NETWORK"),
        data_dir=_get(environ, "JH_DATA_DIR"),
        start_timeout=_number(environ, "JH_START_TIMEOUT", int, 1),
        http_timeout=_number(environ, "JH_HTTP_TIMEOUT", int, 1),
        pending_grace=_number(environ, "JH_PENDING_GRACE", float, 0),
        docker_api_threads=_number(environ, "JH_DOCKER_API_THREADS", int, 1),
        service_prefix=prefix,
        notebook_uid=_number(environ, "NB_UID", int, 1),
        notebook_gid=_number(environ, "NB_GID", int, 0),
        allowed_images=_list(environ, "JH_ALLOWED_IMAGES"),
        allowed_bind_prefixes=_list(environ, "JH_ALLOWED_BIND_PREFIXES"),
        secrets_file_images=_list(environ, "JH_SECRETS_FILE_IMAGES"),
        admin_users=_list(environ, "JH_ADMIN_USERS"),
        trusted_proxies=trusted_proxies,
        log_level=log_level,
        idle_culler_timeout=_number(environ, "JH_IDLE_CULLER_TIMEOUT", int, 0),
        idle_culler_every=_number(environ, "JH_IDLE_CULLER_EVERY", int, 1),
        xnat_password=_secret(environ, "JH_SECRET_XNAT_PASSWORD", required=True),
        xnat_service_token=token,
        cookie_secret=cookie,
        proxy_token=_secret(environ, "JH_SECRET_PROXY_TOKEN", required=False),
        db_url=_secret(environ, "JH_SECRET_DB_URL", required=False),
    )
