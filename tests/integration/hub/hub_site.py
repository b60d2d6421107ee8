"""The deployment the hub tests run against, and the calls they make to it.

The XNAT stand-in and the hub are deployed by the collection's own roles (xnat_standin, hub), as swarm
stacks on an overlay network of their own, under test names and ports. Everything created here has a
name starting with ittest-; remove_owned() removes all of it.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import requests
from docker.errors import NotFound

import swarm_owned
from role_deploy import hub_vars, run_roles, standin_vars
from swarm_owned import wait_for

REPO = Path(__file__).resolve().parents[3]
IMAGES_FILE = REPO / "build" / "images.json"

SUITE_LABEL = {"ittest.suite": "hub"}
NETWORK = "ittest-hub-net"
STANDIN_STACK, HUB_STACK, CULL_STACK = "ittest-xnat", "ittest-hub", "ittest-cull"
STANDIN_SERVICE = STANDIN_STACK + "_standin"
STANDIN_PORT = 18080
HUB_SERVICE = HUB_STACK + "_hub"
CULL_HUB_SERVICE = CULL_STACK + "_hub"
HUB_PORT = 18000
# The site's own hub configuration, as an operator adds it with the hub role's hub_extra_config.
ANNOUNCEMENT = "Site note from hub_extra_config: maintenance on Friday"
SITE_CONFIG = {"announcement": f"c.JupyterHub.template_vars['announcement'] = {ANNOUNCEMENT!r}"}
NOTEBOOK_PREFIX = "ittest-nb"
# Name prefixes of everything this suite creates, notebook services and their secrets included.
OWNED_PREFIXES = ("ittest-hub", "ittest-xnat", "ittest-nb-", "ittest-cull")
# Not an account on this host, so no host user can read what notebooks write.
NOTEBOOK_UID = NOTEBOOK_GID = 2301
# The hub's XNAT-side addresses as an XNAT admin would enter them; hosts resolve on NETWORK only.
HUB_API_URL = "http://jupyterhub:8000/jupyterhub/hub/api"
XNAT_ARCHIVE = "/data/xnat/archive"
XNAT_WORKSPACES = "/data/xnat/workspaces"
# XNAT names servers with its event id, an ISO time without '-', ':' and '.'.
SERVER_NAME = "20250311T172455123Z"
EXPERIMENT = {"xsiType": "xnat:mrSessionData", "itemId": "XNAT_E00001", "itemLabel": "SUBJ01_MR1",
              "projectId": "DEMO01"}
TIMEOUT = 10  # seconds for one HTTP request


def _password():
    return "T-" + secrets.token_urlsafe(18)


def remove_owned(client):
    """Remove every service, secret and network this suite owns; waits until they are gone."""
    swarm_owned.remove_owned(client, OWNED_PREFIXES, NETWORK, "the suite")


class Site:
    """The deployed stand-in and hub, with the calls the tests make to them."""

    def __init__(self, client, images, root):
        self.docker = client
        self.images = images
        self.root = root
        self.archive = root / "archive"
        self.workspaces = root / "workspaces"
        self.xnat_url = f"http://127.0.0.1:{STANDIN_PORT}"
        self.hub_url = f"http://127.0.0.1:{HUB_PORT}/jupyterhub"
        self.passwords = {"admin": _password(), "alice": _password(), "bob": _password(),
                          "jupyterhub": _password()}
        self.service_token = secrets.token_hex(32)
        self.hardware = {}
        self.environments = {}

    # --- XNAT (the stand-in) -----------------------------------------------

    def xnat(self, username):
        """A session that calls the stand-in with username's Basic credentials."""
        session = requests.Session()
        session.auth = (username, self.passwords[username])
        return session

    def xnat_call(self, username, method, path, expect=200, **kwargs):
        response = self.xnat(username).request(method, self.xnat_url + path, timeout=TIMEOUT, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text[:300]}"
        return response

    def launch(self, server, hardware, username="alice", item=None, environment="notebook"):
        """XNAT's launch as the UI sends it; returns the event id to follow."""
        body = {"username": username, "servername": server, "eventTrackingId": server or f"default-{time.time_ns()}",
                "computeEnvironmentConfigId": self.environments[environment],
                "hardwareConfigId": self.hardware[hardware],
                **(item or EXPERIMENT)}
        path = f"/xapi/jupyterhub/users/{username}/server" + (f"/{server}" if server else "")
        self.xnat_call(username, "POST", path, json=body)
        return body["eventTrackingId"]

    def stop(self, server, username="alice"):
        event = f"stop-{time.time_ns()}"
        path = f"/xapi/jupyterhub/users/{username}/server" + (f"/{server}" if server else "")
        self.xnat_call(username, "DELETE", path, params={"eventTrackingId": event})
        return event

    def wait_event(self, event, timeout, username="alice"):
        """The finished event-tracking record (succeeded true or false)."""

        def finished():
            answer = self.xnat(username).get(f"{self.xnat_url}/xapi/event_tracking/{event}", timeout=TIMEOUT)
            body = answer.json() if answer.status_code == 200 else {}
            return body if "succeeded" in body else None

        return wait_for(f"event {event} to finish", finished, timeout)

    def user_options(self, server, username="alice"):
        path = f"/xapi/jupyterhub/users/{username}/server/{server}/user-options"
        return self.xnat_call("jupyterhub", "GET", path).json()

    def configure_xnat(self):
        """What an XNAT administrator sets up for this hub: service account, preferences, compute."""
        self.xnat_call("admin", "PUT", "/xapi/users/jupyterhub",
                       json={"password": self.passwords["jupyterhub"], "enabled": True})
        self.xnat_call("admin", "PUT", "/xapi/users/jupyterhub/roles/JupyterHub")
        self.xnat_call("admin", "POST", "/xapi/jupyterhub/preferences", json={
            "jupyterHubApiUrl": HUB_API_URL,
            "jupyterHubToken": self.service_token,
            "jupyterHubHostUrl": f"http://127.0.0.1:{HUB_PORT}",
            "pathTranslationArchivePrefix": XNAT_ARCHIVE,
            "pathTranslationArchiveDockerPrefix": str(self.archive),
            "pathTranslationWorkspacePrefix": XNAT_WORKSPACES,
            "pathTranslationWorkspaceDockerPrefix": str(self.workspaces),
            "startTimeout": 100,
            "startPollingInterval": 1,
            "stopPollingInterval": 1,
            "maxNamedServers": 4,
        })
        scopes = {key: {"scope": key, "enabled": True, "ids": []} for key in ("Site", "Project", "User")}
        for name, constraint in (("small", {"key": "node.role", "values": ["manager"], "operator": "IN"}),
                                 ("impossible", {"key": "node.labels.ittest-unsatisfiable", "values": ["yes"],
                                                 "operator": "IN"})):
            created = self.xnat_call("admin", "POST", "/xapi/compute/hardware", expect=201, json={
                "hardware": {"name": f"ittest-{name}", "cpuLimit": 1.0, "cpuReservation": 0.1,
                             "memoryLimit": "1G", "memoryReservation": "128M", "constraints": [constraint],
                             "environmentVariables": [{"key": "ITTEST_HARDWARE", "value": name}],
                             "genericResources": []},
                "scopes": scopes}).json()
            self.hardware[name] = created["id"]
        # "crashing": the notebook image with a command that exits at once, as a broken image would.
        for name, command in (("notebook", None), ("crashing", "sh -c 'echo broken notebook >&2; exit 3'")):
            created = self.xnat_call("admin", "POST", "/xapi/compute/environments", expect=201, json={
                "configTypes": ["JUPYTERHUB"],
                "computeEnvironment": {"name": f"ittest {name}", "image": self.images["notebook"], "command": command,
                                       "environmentVariables": [{"key": "ITTEST_ENVIRONMENT", "value": name}],
                                       "mounts": []},
                "scopes": scopes,
                "hardwareOptions": {"allowAllHardware": False,
                                    "hardwareConfigs": [{"id": i} for i in self.hardware.values()]}}).json()
            self.environments[name] = created["id"]

    # --- the hub -------------------------------------------------------------

    def login(self, username, password):
        """The browser's login: GET the form for its _xsrf cookie, POST it back; returns (session, answer)."""
        session = requests.Session()
        form = session.get(f"{self.hub_url}/hub/login", timeout=TIMEOUT)
        assert form.status_code == 200, form.text[:300]
        xsrf = session.cookies.get("_xsrf")
        assert xsrf, "the login form set no _xsrf cookie"
        answer = session.post(f"{self.hub_url}/hub/login", timeout=30, allow_redirects=False,
                              data={"_xsrf": xsrf, "username": username, "password": password})
        return session, answer

    def hub_api(self, method, path, hub_url=None, **kwargs):
        """A hub API call as XNAT makes it, with the xnat service's token."""
        headers = {"Authorization": f"token {self.service_token}"}
        return requests.request(method, f"{hub_url or self.hub_url}/hub/api{path}", headers=headers,
                                timeout=kwargs.pop("timeout", TIMEOUT), **kwargs)

    def hub_server(self, server, username="alice", hub_url=None, include_stopped=False):
        """The hub's model of one server, or None when the hub does not list it (stopped servers only with
        include_stopped)."""
        answer = self.hub_api("GET", f"/users/{username}" + ("?include_stopped_servers" if include_stopped else ""),
                              hub_url=hub_url)
        assert answer.status_code == 200, answer.text[:300]
        return (answer.json().get("servers") or {}).get(server)

    def spawn_failure(self, server, username="alice", hub_url=None):
        """The message of the hub's progress stream for a spawn that failed."""
        answer = self.hub_api("GET", f"/users/{username}/servers/{server}/progress", hub_url=hub_url, stream=True)
        assert answer.status_code == 200, answer.text[:300]
        events = [json.loads(line[len("data:"):]) for line in answer.iter_lines(decode_unicode=True)
                  if line.startswith("data:")]
        assert events and events[-1].get("failed") is True, events
        return events[-1]["message"]

    def deploy_hub(self, stack, port, alias, prefix, **role_vars):
        """One hub as the product's hub role deploys it (its stack template), with test values."""
        run_roles(["hub"], {
            **hub_vars(self.images, self.root, stack, NETWORK, port, NOTEBOOK_UID, self.passwords["jupyterhub"],
                       self.service_token, prefix),
            "hub_network_alias": alias,
            "hub_xnat_connect_timeout": 3,
            "hub_xnat_request_timeout": 10,
            "hub_pending_grace": 10,
            "hub_allowed_images": ["xnat-jupyterhub/notebook:*"],
            **role_vars,
        }, self.root / f"deploy-{stack}.log")

    def deploy_standin(self):
        """The stand-in as the product's xnat_standin role deploys it, with the test's users and data."""
        users = [{"username": "alice", "password": self.passwords["alice"], "email": "alice@example.org",
                  "firstName": "Alice", "lastName": "Example", "roles": ["Jupyter"]},
                 {"username": "bob", "password": self.passwords["bob"], "email": "bob@example.org",
                  "firstName": "Bob", "lastName": "Example", "roles": []}]
        # DEBUG logs every request path: test_default_server reads them.
        run_roles(["xnat_standin"], standin_vars(self.images, self.root, STANDIN_STACK, NETWORK, STANDIN_PORT,
                                                 NOTEBOOK_UID, self.passwords["admin"], users,
                                                 {"XNAT_STANDIN_LOG_LEVEL": "DEBUG"}),
                  self.root / "deploy-standin.log")

    def wait_hub(self, name=HUB_SERVICE, hub_url=None, timeout=90):
        """Until the hub serves and swarm's DNS resolves its alias for XNAT and the notebooks."""

        def healthy():
            return requests.get(f"{hub_url or self.hub_url}/hub/health", timeout=TIMEOUT).status_code == 200

        self.wait_running(name, timeout)
        wait_for(f"{name} to answer", healthy, timeout)

    def wait_running(self, name, timeout):
        """Until swarm reports the service's task running: with a health check, not before it passes."""
        service = self.docker.services.get(name)

        def running():
            return [t for t in service.tasks({"desired-state": "running"}) if t["Status"]["State"] == "running"]

        wait_for(f"swarm to report {name} running", running, timeout)

    def restart_hub(self):
        """docker service update --force on the hub, then wait for the new task to serve."""
        service = self.docker.services.get(HUB_SERVICE)
        before = {task["ID"] for task in service.tasks()}
        service.force_update()

        def new_task():
            return [t for t in service.tasks({"desired-state": "running"}) if t["ID"] not in before]

        wait_for("a new hub task", new_task, 30)
        self.wait_hub()

    # --- swarm ------------------------------------------------------------------

    def notebook_services(self, server=None, username="alice"):
        """Notebook services the hub created for the user (one server, or all of them)."""
        services = self.docker.services.list(filters={"label": f"xnat-jupyterhub.user={username}"})
        return [s for s in services if server is None or s.attrs["Spec"]["Labels"]["xnat-jupyterhub.server"] == server]

    def notebook_secrets(self):
        return [s for s in self.docker.secrets.list() if s.name.startswith(("ittest-nb-", "ittest-cull-"))]

    def notebook_container(self, service):
        def running():
            return self.docker.containers.list(filters={"label": f"com.docker.swarm.service.id={service.id}"})
        return wait_for(f"the container of {service.name}", running, 30)[0]

    def scale_standin(self, replicas):
        service = self.docker.services.get(STANDIN_SERVICE)
        service.scale(replicas)
        if replicas:
            self.wait_standin()
        else:
            def no_container():
                return not self.docker.containers.list(
                    filters={"label": f"com.docker.swarm.service.id={service.id}"})
            wait_for("the stand-in's container to stop", no_container, 60)

    def wait_standin(self):
        def up():
            return requests.get(f"{self.xnat_url}/app/login", timeout=TIMEOUT).status_code == 200
        self.wait_running(STANDIN_SERVICE, 60)
        wait_for("the XNAT stand-in to answer", up, 60)

    def service_logs(self, name, tail=200):
        try:
            chunks = self.docker.services.get(name).logs(stdout=True, stderr=True, tail=tail)
        except NotFound:
            return ""
        return b"".join(chunks).decode("utf-8", "replace")
