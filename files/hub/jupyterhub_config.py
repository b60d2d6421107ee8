"""JupyterHub configuration of the JupyterHub-for-XNAT hub image.

Plain settings come from environment variables, secrets only from files (swarm secrets under
JH_SECRETS_DIR); each is declared once in xnat_jupyterhub_hub.settings.SETTINGS, whose table
files/hub/README.md shows (python -m xnat_jupyterhub_hub.settings prints it). Wrong values stop the
hub at start-up with one line each. Secret files must be regular, non-empty and closed to group and
others (mode 0400 or 0600, owned by the hub's user); an optional secret is skipped when its file is
absent under the default name, while a name set explicitly must exist. JH_UID / JH_GID are build
arguments of the image and the user the stack runs the hub as; JH_GID must be able to use the Docker
socket.

Idle culling by the hub is off by default because XNAT's plugin already culls idle servers
(preferences inactivityTimeout, 60 min, and maxServerLifetime, 48 h); when turning it on, set XNAT's
inactivityTimeout to 0 so that one policy decides. With JH_IDLE_CULLER_TIMEOUT > 0 the hub runs
jupyterhub-idle-culler, which stops (and, like XNAT, removes) servers idle that long, checking every
JH_IDLE_CULLER_EVERY seconds. The hub learns of activity late: proxy traffic every 300 s
(last_activity_interval) and each notebook's own report every 300 s +-10 %
(JUPYTERHUB_ACTIVITY_INTERVAL), so a server in use can look up to about 330 s idle. Use 600 s or more
in service; shorter timeouts suit only tests, where an untouched server is stopped between TIMEOUT and
TIMEOUT + EVERY seconds after it started.
"""

import gc
import importlib.resources
import os
import sys

# Imported here, not only named below, so that gc.freeze() at the end covers their modules too.
import xnat_jupyterhub_hub.authenticator  # noqa: F401  # pylint: disable=unused-import
import xnat_jupyterhub_hub.spawner  # noqa: F401  # pylint: disable=unused-import
from xnat_jupyterhub_hub import proxy_headers
from xnat_jupyterhub_hub.db import tune_sqlite
from xnat_jupyterhub_hub.settings import SETTINGS, SettingsError, load_settings

c = get_config()  # noqa: F821  # pylint: disable=undefined-variable  # provided by JupyterHub

try:
    settings = load_settings(os.environ)
except SettingsError as e:
    sys.exit(f"jupyterhub_config: {e}")

# Every setting declared with a trait (SETTINGS) goes to that trait; the rest are applied below.
for setting in SETTINGS:
    if setting.trait:
        section, trait = setting.trait.split(".")
        value = getattr(settings, setting.attr)
        c[section][trait] = list(value) if isinstance(value, tuple) else value

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
        "description": (
            "What XNAT's JupyterHub plugin needs: create users, start and stop their servers, mint their tokens"
        ),
        # admin:users covers read/list users (and POST /users/{u}); servers covers read:servers and delete:servers.
        "scopes": ["read:hub", "admin:users", "servers", "tokens"],
        "services": ["xnat"],
    }
]

# --- Metrics for Prometheus: /hub/metrics with the "metrics" service's token, which may read nothing else ---
if settings.metrics_token:
    c.JupyterHub.services.append({"name": "metrics", "api_token": settings.metrics_token.read()})
    c.JupyterHub.load_roles.append({
        "name": "metrics",
        "description": "Read the hub's Prometheus metrics, nothing else",
        "scopes": ["read:metrics"],
        "services": ["metrics"],
    })

# --- XNAT connection (authenticator and spawner) ---
c.XnatClient.client_key_file = settings.xnat_client_key.path if settings.xnat_client_key else ""

# --- Login ---
# Classes by import path rather than entry-point name ("xnat", "xnat-swarm"): JupyterHub tries a plain import of the
# name first, and the xnat client package (xnatpy), if installed next to the hub, would win; the
# path also works where the package is on PYTHONPATH without being installed.
c.JupyterHub.authenticator_class = "xnat_jupyterhub_hub.authenticator.XnatAuthenticator"
c.Authenticator.admin_users = set(settings.admin_users)

# --- The hub's pages as part of XNAT ---
# Sign-in page ("Sign in with your XNAT account"), home page (servers with what XNAT launched them on, no start
# buttons: servers start from XNAT) and a link back to XNAT on every page; after sign-in the home page, never a
# start of the default server, which XNAT has no launch options for.
c.JupyterHub.template_paths = [str(importlib.resources.files("xnat_jupyterhub_hub") / "templates")]
c.JupyterHub.template_vars = {"xnat_url": settings.xnat_public_url}
c.JupyterHub.redirect_to_server = False

# --- Notebooks on the swarm ---
c.JupyterHub.spawner_class = "xnat_jupyterhub_hub.spawner.XnatSwarmSpawner"
c.XnatSwarmSpawner.use_internal_ip = True
c.XnatSwarmSpawner.xnat_service_password_file = settings.xnat_password.path
# For the link back to XNAT in JupyterLab (the notebook image's Help menu).
c.XnatSwarmSpawner.xnat_public_url = settings.xnat_public_url

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

# --- The site's own configuration (the hub role's hub_extra_config): run last, in name order, with this `c` ---
if os.path.isdir(settings.extra_config_dir):
    for snippet in sorted(os.listdir(settings.extra_config_dir)):
        if snippet.endswith(".py"):
            snippet_path = os.path.join(settings.extra_config_dir, snippet)
            with open(snippet_path, encoding="utf-8") as snippet_file:
                snippet_code = compile(snippet_file.read(), snippet_path, "exec")
            exec(snippet_code, {"c": c, "get_config": lambda: c})  # noqa: S102  # pylint: disable=exec-used

# The objects of the modules loaded so far live as long as the hub: left out of the collector's full passes, which
# would otherwise go through all of them and stop the event loop for 100 ms and more while users log in.
gc.freeze()
