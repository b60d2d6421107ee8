# JupyterHub configuration for the stand-in's launch tests: a real hub on loopback, with the service
# `xnat` that XNAT calls, named servers, and JupyterHub's own mock single-user server as the notebook.
# The pre-spawn hook fetches the user options from the stand-in as the service account, like the
# reference hub does, and records them so a test can compare them with what the stand-in stored.
import asyncio
import base64
import json
import os
import sys
import urllib.request
from pathlib import Path

from jupyterhub.proxy import Proxy

c = get_config()  # noqa: F821  # pylint: disable=undefined-variable  # provided by JupyterHub

WORK = Path(os.environ["HUB_WORK_DIR"])


class InMemoryProxy(Proxy):
    """No proxy process: the tests call the hub API directly and never route user traffic."""

    routes: dict = {}

    async def start(self):
        pass

    async def stop(self):
        pass

    async def add_route(self, routespec, target, data):
        self.routes[routespec] = {"routespec": routespec, "target": target, "data": data}

    async def delete_route(self, routespec):
        self.routes.pop(routespec, None)

    async def get_all_routes(self):
        return dict(self.routes)


async def fetch_user_options(spawner):
    url = (f"{(WORK / 'standin-url').read_text().strip()}/xapi/jupyterhub/users/{spawner.user.name}"
           f"/server/{spawner.name}/user-options")
    password = (WORK / "service-password").read_text().strip()
    credentials = base64.b64encode(f"jupyterhub:{password}".encode()).decode()

    def fetch():
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {credentials}"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.load(reply)

    options = await asyncio.to_thread(fetch)
    (WORK / f"spawned-{spawner.user.name}-{spawner.name}.json").write_text(json.dumps(options))
    spawner.environment.update(options["task_template"]["container_spec"]["env"])


c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ['HUB_PORT']}/jupyterhub"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['HUB_API_PORT']}"
c.JupyterHub.proxy_class = InMemoryProxy
c.JupyterHub.db_url = f"sqlite:///{WORK / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(WORK / "cookie_secret")
c.JupyterHub.authenticator_class = "null"
c.Authenticator.any_allow_config = True
c.JupyterHub.allow_named_servers = True
c.JupyterHub.cleanup_servers = True
c.JupyterHub.services = [{"name": "xnat", "api_token": (WORK / "service-token").read_text().strip()}]
c.JupyterHub.load_roles = [{"name": "xnat-role", "scopes": ["admin:servers", "admin:users", "read:hub", "tokens"],
                            "services": ["xnat"]}]
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(WORK / "homes" / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.tests.mocksu"]
c.Spawner.start_timeout = 20
c.Spawner.http_timeout = 20
c.Spawner.pre_spawn_hook = fetch_user_options
