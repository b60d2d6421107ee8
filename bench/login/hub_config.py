"""JupyterHub configuration of the login benchmark: loopback only, logins only, fresh state per run.

benchmark.py sets the BENCH_* variables; BENCH_AUTHENTICATOR picks `xnat` (the product's
authenticator) or `blocking` (the baseline). Both hubs get the product's database and
garbage-collector settings (as files/hub/jupyterhub_config.py applies them), so the two
runs differ only in the authenticator.
"""

import gc
import os
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stall_meter import StallHandler  # noqa: E402
from xnat_jupyterhub_hub.db import tune_sqlite  # noqa: E402

c = get_config()  # noqa: F821  # pylint: disable=undefined-variable
env = os.environ
state_dir = Path(env["BENCH_STATE_DIR"])

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(env["BENCH_PROXY_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["BENCH_HUB_PORT"])
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['BENCH_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.auth_token = secrets.token_hex(32)
c.ConfigurableHTTPProxy.pid_file = str(state_dir / "proxy.pid")
c.JupyterHub.db_url = (
    "sqlite:///:memory:" if env["BENCH_HUB_DB"] == "memory" else f"sqlite:///{state_dir / 'jupyterhub.sqlite'}"
)
tune_sqlite()
c.JupyterHub.cookie_secret = secrets.token_bytes(32)
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.implicit_spawn_seconds = 0
c.JupyterHub.extra_handlers = [(r"/bench/stall", StallHandler)]

if env["BENCH_AUTHENTICATOR"] == "xnat":
    from xnat_jupyterhub_hub.authenticator import XnatAuthenticator  # noqa: E402

    c.JupyterHub.authenticator_class = XnatAuthenticator
    c.XnatClient.url = env["BENCH_XNAT_URL"]
    if env.get("BENCH_XNAT_MAX_CONNECTIONS"):
        c.XnatClient.max_connections = int(env["BENCH_XNAT_MAX_CONNECTIONS"])
else:
    from blocking_authenticator import BlockingXnatAuthenticator  # noqa: E402

    c.JupyterHub.authenticator_class = BlockingXnatAuthenticator
    c.BlockingXnatAuthenticator.xnat_url = env["BENCH_XNAT_URL"]

gc.freeze()
