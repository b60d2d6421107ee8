"""The deployed local site (inventories/local) as the end-to-end tests reach it: addresses,
credentials, the XNAT and hub APIs, the swarm, and site.yml itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest
import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventories" / "local"
BASE_URL = "https://localhost"
HUB_URL = BASE_URL + "/jupyterhub"
HTTP_TIMEOUT = 30
PLAYBOOK_TIMEOUT = 900

# Labels the hub's spawner puts on every notebook service.
USER_LABEL = "xnat-jupyterhub.user"
SERVER_LABEL = "xnat-jupyterhub.server"

# The suite's own XNAT users (role Jupyter) and the local inventory's user without that role.
ALICE, BOB, VIEWER = "e2e-alice", "e2e-bob", "viewer"
# SUBJ01_MR1 of project DEMO01 in the stand-in's sample archive: its id, its mount, its archive folder.
EXPERIMENT_ID = "XNAT_E00001"
EXPERIMENT_TARGET = "/data/projects/DEMO01/experiments/SUBJ01_MR1"
EXPERIMENT_ARCHIVE = Path("DEMO01") / "arc001" / "SUBJ01_MR1"


class SiteNotDeployed(Exception):
    """The local site is not (fully) deployed on this machine."""


class Passwords(dict):
    """Usernames to passwords, kept out of reprs (pytest prints fixture values in failure reports)."""

    def __repr__(self) -> str:
        return f"Passwords({', '.join(self)})"


def inventory_vars() -> dict:
    """The local inventory's variables; the keys the tests read hold plain values, not templates."""
    return yaml.safe_load((INVENTORY / "group_vars" / "all" / "main.yml").read_text(encoding="utf-8"))


def credentials_dir() -> Path:
    """site_credentials_dir of the local inventory (a plain path there), or E2E_CREDENTIALS_DIR."""
    return Path(os.environ.get("E2E_CREDENTIALS_DIR") or inventory_vars()["site_credentials_dir"])


def credential(name: str) -> str:
    path = credentials_dir() / name
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise SiteNotDeployed(f"cannot read the credential {path}: {e}") from None


def http(method: str, url: str, *, token: str | None = None, **kwargs) -> requests.Response:
    """One request to the site. verify=False per request: REQUESTS_CA_BUNDLE would override a session's."""
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["Authorization"] = f"token {token}"
    kwargs.setdefault("allow_redirects", False)
    return requests.request(method, url, headers=headers, verify=False, timeout=HTTP_TIMEOUT, **kwargs)


def wait_until(what: str, probe, timeout: float, interval: float = 1.0):
    """Call probe() until it returns something truthy; fail naming `what` and the last answer at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            result = probe()
        except (requests.RequestException, docker.errors.DockerException) as e:
            result, last = None, e
        else:
            last = result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last answer: {last!r}")
        time.sleep(interval)


class XnatAdmin:
    """XNAT's user API, called the way an XNAT administrator would (here the stand-in's)."""

    def __init__(self, username: str, password: str):
        self.auth = (username, password)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return http(method, BASE_URL + path, auth=self.auth, **kwargs)

    def ensure_user(self, username: str, password: str, roles: list[str]) -> None:
        """Create the user, or reset an existing one's password, enable it, and grant the roles."""
        profile = {"username": username, "password": password, "email": f"{username}@example.org",
                   "firstName": "End-to-end", "lastName": username, "enabled": True, "verified": True}
        created = self.call("POST", "/xapi/users", json=profile)
        if created.status_code == 409:
            updated = self.call("PUT", f"/xapi/users/{username}",
                                json={"password": password, "enabled": True, "verified": True})
            assert updated.status_code in (200, 304), f"resetting {username}: {updated.status_code} {updated.text}"
        else:
            assert created.status_code == 201, f"creating {username}: {created.status_code} {created.text}"
        for role in roles:
            granted = self.call("PUT", f"/xapi/users/{username}/roles/{role}")
            assert granted.status_code == 200, f"granting {role} to {username}: {granted.status_code} {granted.text}"

    def disable_user(self, username: str) -> None:
        self.call("PUT", f"/xapi/users/{username}/enabled/false")

    def compute_ids(self, environment: str, hardware: str) -> tuple[int, int]:
        """The ids XNAT gave the compute environment and the hardware with these names."""
        environments = self.call("GET", "/xapi/compute/environments").json()
        hardwares = self.call("GET", "/xapi/compute/hardware").json()
        env_id = next(e["id"] for e in environments if e["computeEnvironment"]["name"] == environment)
        hw_id = next(h["id"] for h in hardwares if h["hardware"]["name"] == hardware)
        return env_id, hw_id


class HubApi:
    """JupyterHub's REST API through haproxy, with one token."""

    def __init__(self, token: str):
        self.token = token

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return http(method, HUB_URL + "/hub/api" + path, token=self.token, **kwargs)

    def user(self, name: str) -> dict | None:
        answer = self.call("GET", f"/users/{name}")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return answer.json()

    def servers(self, name: str) -> dict:
        user = self.user(name)
        return (user or {}).get("servers") or {}

    def remove_server(self, name: str, server: str) -> None:
        answer = self.call("DELETE", f"/users/{name}/servers/{server}", json={"remove": True})
        assert answer.status_code in (202, 204, 404), f"removing {name}/{server}: {answer.status_code} {answer.text}"


def server_url(user: str, server: str) -> str:
    return f"{HUB_URL}/user/{user}/{server}/"


def event_id() -> str:
    """A new server name and event id as XNAT's page makes them: the time as 20250311T172455123Z."""
    now = time.time_ns()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9)) + f"{now // 10**6 % 1000:03d}Z"


class XnatUser:
    """One XNAT user driving XNAT's JupyterHub API (the stand-in's, through haproxy) as XNAT's page does."""

    def __init__(self, username: str, password: str):
        self.username = username
        self.auth = (username, password)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return http(method, BASE_URL + path, auth=self.auth, **kwargs)

    def launch(self, server: str, environment_id: int, hardware_id: int, item: dict) -> str:
        """POST /xapi/jupyterhub/users/{u}/server/{s}; returns the event id to follow."""
        body = {"username": self.username, "servername": server, "eventTrackingId": server,
                "computeEnvironmentConfigId": environment_id, "hardwareConfigId": hardware_id, **item}
        answer = self.call("POST", f"/xapi/jupyterhub/users/{self.username}/server/{server}", json=body)
        assert answer.status_code == 200, f"launching {server}: {answer.status_code} {answer.text}"
        return server

    def stop(self, server: str) -> str:
        event = "stop-" + event_id()
        answer = self.call("DELETE", f"/xapi/jupyterhub/users/{self.username}/server/{server}",
                           params={"eventTrackingId": event})
        assert answer.status_code == 200, f"stopping {server}: {answer.status_code} {answer.text}"
        return event

    def finished_event(self, event: str, timeout: float) -> dict:
        """The event-tracking record once it has succeeded or failed."""
        def finished():
            answer = self.call("GET", f"/xapi/event_tracking/{event}")
            body = answer.json() if answer.status_code == 200 else {}
            return body if "succeeded" in body else None
        return wait_until(f"XNAT event {event}", finished, timeout, 0.25)

    def token(self) -> str:
        """A token for the user's servers, minted through XNAT as its Open link does."""
        answer = self.call("POST", f"/xapi/jupyterhub/users/{self.username}/tokens",
                           params={"expiresIn": "3600", "note": "reliability test"})
        assert answer.status_code == 200, f"token for {self.username}: {answer.status_code} {answer.text}"
        return answer.json()["token"]


class Swarm:
    """The swarm's view of the hub and the notebooks."""

    def __init__(self, hub_service: str):
        self.client = docker.from_env(timeout=HTTP_TIMEOUT)
        self.hub_service = hub_service

    def notebook_services(self, user: str, server: str | None = None) -> list:
        labels = [f"{USER_LABEL}={user}"] + ([f"{SERVER_LABEL}={server}"] if server else [])
        return self.client.services.list(filters={"label": labels})

    def service(self, name_or_id: str):
        return self.client.services.get(name_or_id)

    def running_task(self, name_or_id: str) -> dict | None:
        """The service's one running task, or None while there is none."""
        tasks = self.service(name_or_id).tasks(filters={"desired-state": "running"})
        running = [t for t in tasks if t["Status"]["State"] == "running"]
        return running[0] if len(running) == 1 else None

    def hub_env(self) -> dict[str, str]:
        env = self.service(self.hub_service).attrs["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env") or []
        return dict(item.split("=", 1) for item in env)


def hub_login(username: str, password: str) -> tuple[int, str]:
    """The hub's login form as a browser submits it, through haproxy: (status of the POST, page text)."""
    session = requests.Session()
    page = session.get(HUB_URL + "/hub/login", verify=False, timeout=HTTP_TIMEOUT)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and xsrf, f"the login page answered {page.status_code}"
    form = {"_xsrf": xsrf.group(1), "username": username, "password": password}
    answer = session.post(HUB_URL + "/hub/login", data=form, verify=False, timeout=HTTP_TIMEOUT,
                          allow_redirects=False)
    return answer.status_code, answer.text


def hub_is_healthy() -> bool:
    return http("GET", HUB_URL + "/hub/health").status_code == 200


@dataclass(frozen=True)
class NotebookState:
    """What changes when swarm replaces or restarts a notebook."""
    service_id: str
    task_id: str
    container_id: str


def notebook_state(swarm: Swarm, user: str, server: str) -> NotebookState:
    services = swarm.notebook_services(user, server)
    assert len(services) == 1, f"{user}/{server} has {len(services)} notebook services"
    task = swarm.running_task(services[0].id)
    assert task, f"{services[0].name} has no running task"
    return NotebookState(services[0].id, task["ID"], task["Status"]["ContainerStatus"]["ContainerID"])


# Where JupyterLab shows the workspace of a notebook XNAT launched on an item (with data): its root holds
# `workspace` and `xnat-data` (files/notebook/entrypoint).
LAB_WORKSPACE = "workspace/"


def workspace_file(launch, name: str) -> str | None:
    """A file in the notebook's workspace, read through haproxy with the Jupyter contents API."""
    answer = http("GET", launch.url + "api/contents/" + LAB_WORKSPACE + name,
                  params={"content": "1", "type": "file", "format": "text"},
                  token=launch.token)
    return answer.json()["content"] if answer.status_code == 200 else None


def write_workspace_file(launch, name: str, text: str) -> None:
    answer = http("PUT", launch.url + "api/contents/" + LAB_WORKSPACE + name,
                  json={"type": "file", "format": "text", "content": text},
                  token=launch.token)
    assert answer.status_code in (200, 201), f"writing {name}: {answer.status_code} {answer.text}"


@dataclass
class Site:
    """The deployed local site, with the credentials the suite uses."""
    hub: HubApi  # with XNAT's service token: what XNAT itself may do in the hub
    xnat: XnatAdmin
    swarm: Swarm
    viewer_password: str = field(repr=False)
    archive_dir: Path
    workspaces_dir: Path
    environment: str  # the compute environment and hardware the local inventory registers in XNAT
    hardware: str
    logs: Path

    @classmethod
    def from_inventory(cls, logs: Path) -> Site:
        variables = inventory_vars()
        return cls(
            hub=HubApi(credential("jupyterhub-token")),
            xnat=XnatAdmin(variables["xnat_admin_username"], credential("xnat-admin")),
            swarm=Swarm(variables.get("hub_stack_name", "jupyterhub") + "_hub"),
            viewer_password=credential("viewer-user"),
            archive_dir=Path(variables["site_archive_dir"]),
            workspaces_dir=Path(variables["site_workspaces_dir"]),
            environment=variables["xnat_registration_compute_environments"][0]["name"],
            hardware=variables["xnat_registration_hardware"][0]["name"],
            logs=logs,
        )

    def check_deployed(self) -> None:
        if not hub_is_healthy():
            raise SiteNotDeployed("the hub's health check through haproxy does not answer 200")
        admin = self.xnat.call("GET", f"/xapi/users/{self.xnat.auth[0]}/roles")
        if admin.status_code != 200:
            raise SiteNotDeployed(f"the XNAT stand-in through haproxy answered {admin.status_code}"
                                  " to its administrator")
        if self.hub.call("GET", "/").status_code != 200:
            raise SiteNotDeployed("the hub refuses XNAT's service token")
        if self.swarm.running_task(self.swarm.hub_service) is None:
            raise SiteNotDeployed(f"the swarm service {self.swarm.hub_service} has no running task")

    def remove_all_servers(self, user: str) -> None:
        """Every server of `user` removed, and its notebook service gone from the swarm."""
        for server in self.hub.servers(user):
            self.hub.remove_server(user, server)
        wait_until(f"the hub to drop {user}'s servers", lambda: not self.hub.servers(user), 120)
        wait_until(f"the swarm to remove {user}'s notebook services",
                   lambda: not self.swarm.notebook_services(user), 120)

    def hub_task_id(self) -> str:
        task = wait_until(f"a running task of {self.swarm.hub_service}",
                          lambda: self.swarm.running_task(self.swarm.hub_service), 180)
        return task["ID"]

    def assert_notebook_kept(self, launch, before: NotebookState) -> None:
        """The same swarm service and container still runs the notebook, and the hub still routes to it."""
        assert notebook_state(self.swarm, launch.user, launch.server) == before, (
            "the notebook was replaced or restarted")
        wait_until("the hub's health check through haproxy", hub_is_healthy, 180)
        ready = self.hub.servers(launch.user).get(launch.server, {}).get("ready")
        assert ready is True, f"the hub no longer has {launch.user}/{launch.server} ready"
        wait_until(f"{launch.url} to answer through haproxy",
                   lambda: http("GET", launch.url + "api/status", token=launch.token).status_code == 200, 60)


def deployed_site(logs: Path) -> Site:
    """The deployed local site, or a test failure that says it is not there and how to deploy it."""
    problem = None
    try:
        found = Site.from_inventory(logs)
        found.check_deployed()
    except Exception as e:  # pylint: disable=broad-exception-caught  # whichever it is, the site is not there
        problem = f"{type(e).__name__}: {e}"
    if problem:
        pytest.fail(f"The local site is not deployed or not healthy ({problem}). These tests need it:"
                    " .venv/bin/ansible-playbook -i inventories/local site.yml", pytrace=False)
    return found


@dataclass
class PlaybookRun:
    returncode: int
    output: str
    log: Path

    RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

    def __repr__(self) -> str:
        return f"PlaybookRun(returncode={self.returncode}, log={str(self.log)!r})"

    def recap(self) -> dict[str, dict[str, int]]:
        return {host: {"ok": int(ok), "changed": int(changed), "unreachable": int(unreachable), "failed": int(failed)}
                for host, ok, changed, unreachable, failed in self.RECAP.findall(self.output.split("PLAY RECAP")[-1])}

    def changed(self) -> int:
        return sum(host["changed"] for host in self.recap().values())

    def changed_tasks(self) -> list[str]:
        """Names of the tasks that reported a change, for failure messages."""
        names, task = [], None
        for line in self.output.splitlines():
            if line.startswith("TASK ["):
                task = line[len("TASK ["):].split("]")[0]
            elif line.startswith("changed:") and task and task not in names:
                names.append(task)
        return names

    def describe(self) -> str:
        tail = "\n".join(self.output.splitlines()[-25:])
        return f"the playbook exited {self.returncode}; recap {self.recap()}; full log {self.log}\n{tail}"


def run_site_playbook(log: Path, *extra_args: str) -> PlaybookRun:
    """ansible-playbook -i inventories/local site.yml, from the checkout so its ansible.cfg applies."""
    return run_playbook(log, "site.yml", *extra_args)


def run_playbook(log: Path, playbook: str, *extra_args: str) -> PlaybookRun:
    """ansible-playbook -i inventories/local <playbook>, from the checkout so its ansible.cfg applies."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/local", playbook, *extra_args]
    done = subprocess.run(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=PLAYBOOK_TIMEOUT, check=False)
    log.write_text(done.stdout, encoding="utf-8")
    return PlaybookRun(done.returncode, done.stdout, log)
