"""JupyterHub configuration of the JupyterHub-for-XNAT hub image.

Plain settings come from environment variables, secrets only from files
(swarm secrets under JH_SECRETS_DIR). A missing or wrong value stops the hub
at start-up with a message naming it.

| Variable | Default | Meaning |
|---|---|---|
| JH_XNAT_URL | (required) | XNAT's root URL, e.g. https://xnat.example.org |
| JH_XNAT_USERNAME | jupyterhub | XNAT service account (role JupyterHub) that reads launch options |
| JH_XNAT_VERIFY_TLS | true | verify XNAT's TLS certificate |
| JH_XNAT_CA_FILE | (empty) | CA bundle for XNAT's certificate; empty uses the system CAs |
| JH_XNAT_CLIENT_CERT | (empty) | client certificate for mutual TLS with XNAT; its key is a secret |
| JH_XNAT_CONNECT_TIMEOUT | 5 | seconds to wait for a connection to XNAT |
| JH_XNAT_REQUEST_TIMEOUT | 20 | seconds to wait for XNAT's whole answer |
| JH_BASE_URL | /jupyterhub | URL prefix of the hub behind the reverse proxy |
| JH_HUB_CONNECT_IP | jupyterhub | name notebooks reach the hub by: the hub's swarm service name |
| JH_NETWORK | jupyterhub | attachable overlay network shared by hub and notebooks |
| JH_DATA_DIR | /srv/jupyterhub | persistent directory: hub database, generated cookie secret |
| JH_START_TIMEOUT | 180 | seconds a notebook may take to start |
| JH_HTTP_TIMEOUT | 75 | seconds a started notebook may take to answer HTTP |
| JH_PENDING_GRACE | 10 | seconds a notebook task may stay unplaceable before the spawn fails |
| JH_DOCKER_API_THREADS | 8 | threads making Docker API calls for all spawns |
| JH_SERVICE_PREFIX | jupyter | prefix of notebook service names |
| NB_UID | 1000 | user id notebooks run as (owner of the XNAT workspaces); never 0 |
| NB_GID | 1000 | group id notebooks run as |
| JH_ALLOWED_IMAGES | (empty) | comma-separated image patterns XNAT may launch; empty accepts any |
| JH_ALLOWED_BIND_PREFIXES | (empty) | comma-separated host directories bind mounts must lie under; empty accepts any |
| JH_SECRETS_FILE_IMAGES | *xnat-jupyterhub/notebook:* | image patterns that read tokens from a per-notebook secret file, not the environment |
| JH_ADMIN_USERS | (empty) | comma-separated hub admins (exact XNAT logins) |
| JH_TRUSTED_PROXIES | (empty) | further proxies (addresses, networks) whose X-Forwarded-For/-Proto the hub believes |
| JH_LOG_LEVEL | INFO | hub log level |
| JH_IDLE_CULLER_TIMEOUT | 0 | seconds without activity after which the hub stops a notebook; 0 = no culling by the hub (below) |
| JH_IDLE_CULLER_EVERY | 300 | seconds between the idle culler's checks |
| JH_SECRETS_DIR | /run/secrets | directory of the secret files below |
| JH_SECRET_XNAT_PASSWORD | jh_xnat_password | file: the XNAT service account's password (required) |
| JH_SECRET_XNAT_SERVICE_TOKEN | jh_xnat_service_token | file: API token of hub service `xnat`, XNAT's jupyterHubToken (required) |
| JH_SECRET_COOKIE | jh_cookie_secret | file: cookie secret, 64 hex digits (optional; else generated in JH_DATA_DIR) |
| JH_SECRET_PROXY_TOKEN | jh_proxy_auth_token | file: proxy auth token (optional; else generated per start) |
| JH_SECRET_XNAT_CLIENT_KEY | jh_xnat_client_key | file: key of JH_XNAT_CLIENT_CERT (required with it) |
| JH_SECRET_DB_URL | jh_db_url | file: database URL with credentials (optional; else SQLite in JH_DATA_DIR) |

Secret files must be regular, non-empty and closed to group and others
(mode 0400 or 0600, owned by the hub's user). An optional secret is skipped
when its file is absent under the default name; a name set explicitly must exist.
JH_UID / JH_GID are build arguments of the image and the user the stack runs
the hub as; JH_GID must be able to use the Docker socket.

Idle culling by the hub is off by default because XNAT's plugin already culls
idle servers (preferences inactivityTimeout, 60 min, and maxServerLifetime,
48 h); when turning it on, set XNAT's inactivityTimeout to 0 so that one policy
decides. With JH_IDLE_CULLER_TIMEOUT > 0 the hub runs jupyterhub-idle-culler,
which stops (and, like XNAT, removes) servers idle that long, checking every
JH_IDLE_CULLER_EVERY seconds. The hub learns of activity late: proxy traffic
every 300 s (last_activity_interval) and each notebook's own report every
300 s +-10 % (JUPYTERHUB_ACTIVITY_INTERVAL), so a server in use can look up to
about 330 s idle. Use 600 s or more in service; shorter timeouts suit only
tests, where an untouched server is stopped between TIMEOUT and
TIMEOUT + EVERY seconds after it started.
"""

import gc
import os
import sys

# Imported here, not only named below, so that gc.freeze() at the end covers their modules too.
import xnat_jupyterhub_hub.authenticator  # noqa: F401  # pylint: disable=unused-import
import xnat_jupyterhub_hub.spawner  # noqa: F401  # pylint: disable=unused-import
from xnat_jupyterhub_hub import proxy_headers
from xnat_jupyterhub_hub.db import tune_sqlite
from xnat_jupyterhub_hub.settings import SettingsError, load_settings

c = get_config()  # noqa: F821  # pylint: disable=undefined-variable  # provided by JupyterHub

try:
    settings = load_settings(os.environ)
except SettingsError as e:
    sys.exit(f"jupyterhub_config: {e}")

c.Application.log_level = settings.log_level

# --- Hub, proxy, persistence ---
c.JupyterHub.bind_url = f"http://:8000{settings.base_url}"
c.JupyterHub.hub_ip = "0.0.0.0"
# Only notebooks use the service name; the proxy, in this container, keeps using the hostname.
c.Spawner.hub_connect_url = f"http://{settings.hub_connect_ip}:8081"
c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = 0  # XNAT enforces maxNamedServers itself
# Hub updates must not stop users' notebooks.
c.JupyterHub.cleanup_servers = False
c.JupyterHub.db_url = (
    settings.db_url.read() if settings.db_url
    else f"sqlite:///{os.path.join(settings.data_dir, 'jupyterhub.sqlite')}"
)
# SQLite in WAL mode with synchronous=NORMAL: no disk sync per commit; a hub crash loses no commit (see the module).
tune_sqlite()
c.JupyterHub.cookie_secret_file = (
    settings.cookie_secret.path if settings.cookie_secret
    else os.path.join(settings.data_dir, "jupyterhub_cookie_secret")
)
# Not on the volume: after a container restart a stale pid there could name a live process.
c.ConfigurableHTTPProxy.pid_file = "/tmp/jupyterhub-proxy.pid"
if settings.proxy_token:
    c.ConfigurableHTTPProxy.auth_token = settings.proxy_token.read()

# Client address and protocol from X-Forwarded-* only through trusted proxies, so a client cannot name its own
# address in the log and every cookie of a request that reached haproxy over HTTPS is Secure; request bodies of
# at most 1 MiB.
proxy_headers.install(settings.trusted_proxies)
# SameSite=Lax for the hub's cookies and, through JUPYTERHUB_COOKIE_OPTIONS, the notebooks' (which set Secure
# from the browser's protocol in X-Forwarded-Proto themselves).
c.JupyterHub.tornado_settings = {"cookie_options": {"samesite": "Lax"}}

# --- XNAT as a hub service ---
c.JupyterHub.services = [{"name": "xnat", "api_token": settings.xnat_service_token.read()}]
c.JupyterHub.load_roles = [
    {
        "name": "xnat",
        "description": "What XNAT's JupyterHub plugin needs: create users, start and stop their servers, mint their tokens",
        # admin:users covers read/list users (and POST /users/{u}); servers covers read:servers and delete:servers.
        "scopes": ["read:hub", "admin:users", "servers", "tokens"],
        "services": ["xnat"],
    }
]

# --- XNAT connection (authenticator and spawner) ---
c.XnatClient.url = settings.xnat_url
c.XnatClient.verify_tls = settings.xnat_verify_tls
c.XnatClient.ca_file = settings.xnat_ca_file
c.XnatClient.client_cert_file = settings.xnat_client_cert
c.XnatClient.client_key_file = settings.xnat_client_key.path if settings.xnat_client_key else ""
c.XnatClient.connect_timeout = settings.xnat_connect_timeout
c.XnatClient.request_timeout = settings.xnat_request_timeout

# --- Login ---
# Classes by import path rather than entry-point name ("xnat", "xnat-swarm"): JupyterHub tries a plain import of the
# name first, and the xnat client package (xnatpy), if installed next to the hub, would win; the
# path also works where the package is on PYTHONPATH without being installed.
c.JupyterHub.authenticator_class = "xnat_jupyterhub_hub.authenticator.XnatAuthenticator"
c.Authenticator.admin_users = set(settings.admin_users)

# --- Notebooks on the swarm ---
c.JupyterHub.spawner_class = "xnat_jupyterhub_hub.spawner.XnatSwarmSpawner"
c.XnatSwarmSpawner.network_name = settings.network
c.XnatSwarmSpawner.use_internal_ip = True
c.XnatSwarmSpawner.prefix = settings.service_prefix
c.XnatSwarmSpawner.start_timeout = settings.start_timeout
c.XnatSwarmSpawner.http_timeout = settings.http_timeout
c.XnatSwarmSpawner.pending_grace = settings.pending_grace
c.XnatSwarmSpawner.docker_api_threads = settings.docker_api_threads
c.XnatSwarmSpawner.notebook_uid = settings.notebook_uid
c.XnatSwarmSpawner.notebook_gid = settings.notebook_gid
c.XnatSwarmSpawner.allowed_xnat_images = list(settings.allowed_images)
c.XnatSwarmSpawner.allowed_bind_prefixes = list(settings.allowed_bind_prefixes)
c.XnatSwarmSpawner.secrets_file_images = list(settings.secrets_file_images)
c.XnatSwarmSpawner.xnat_service_username = settings.xnat_username
c.XnatSwarmSpawner.xnat_service_password_file = settings.xnat_password.path

# --- Idle culling (optional) ---
if settings.idle_culler_timeout:
    c.JupyterHub.services.append({
        "name": "idle-culler",
        "command": [
            sys.executable, "-m", "jupyterhub_idle_culler",
            f"--timeout={settings.idle_culler_timeout}",
            f"--cull-every={settings.idle_culler_every}",
            # XNAT gives every launch a new server name and removes the servers it stops.
            "--remove-named-servers=True",
        ],
    })
    c.JupyterHub.load_roles.append({
        "name": "idle-culler",
        "description": "Find servers idle too long and stop them; users are never deleted, so no admin:users",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    })

# The objects of the modules loaded so far live as long as the hub: left out of the collector's full passes, which
# would otherwise go through all of them and stop the event loop for 100 ms and more while users log in.
gc.freeze()
