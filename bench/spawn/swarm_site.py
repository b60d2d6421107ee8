"""What the spawn benchmark deploys on the swarm, and how it removes it.

The XNAT stand-in and the hub are deployed by the collection's own roles (as in the hub test layer),
under the benchmark's names and free host ports; the overlay probe and the baseline notebooks are
the benchmark's own services. Everything it creates (services, secrets, the overlay network) is named
benchspawn-...; remove_owned() removes all of that and nothing else.
"""

import json
import os
import secrets
import socket
import sys
from pathlib import Path

import requests
from docker.errors import APIError, NotFound
from docker.types import (
    EndpointSpec,
    Healthcheck,
    Mount,
    NetworkAttachmentConfig,
    Resources,
    RestartPolicy,
    SecretReference,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IMAGES_FILE = REPO / "build" / "images.json"
OWNER_FILE = REPO / "build" / "benchspawn.owner"
sys.path.insert(0, str(REPO / "tests" / "lib"))

import swarm_owned  # noqa: E402  # pylint: disable=wrong-import-position
from role_deploy import DeployError, hub_vars, run_roles, standin_vars  # noqa: E402  # pylint: disable=wrong-import-position

PREFIX = "benchspawn-"
LABELS = {"benchspawn.pid": str(os.getpid())}
NETWORK = PREFIX + "net"
STANDIN_STACK, HUB_STACK = PREFIX + "xnat", PREFIX + "hub"
STANDIN_SERVICE = STANDIN_STACK + "_standin"
HUB_SERVICE = HUB_STACK + "_hub"
PROBE_SERVICE = PREFIX + "probe"
NOTEBOOK_PREFIX = PREFIX + "nb"
BASELINE_PREFIX = PREFIX + "base"
BASELINE_SECRET = PREFIX + "base-env"
PROBE_PORT = 9000
NOTEBOOK_PORT = 8888
# Not an account on this host; the stand-in runs as it too, as XNAT's Tomcat user owns the archive.
NOTEBOOK_UID = NOTEBOOK_GID = 2371
HUB_API_URL = "http://jupyterhub:8000/jupyterhub/hub/api"
XNAT_ARCHIVE = "/data/xnat/archive"
XNAT_WORKSPACES = "/data/xnat/workspaces"
EXPERIMENT = {"xsiType": "xnat:mrSessionData", "itemId": "XNAT_E00001", "itemLabel": "SUBJ01_MR1",
              "projectId": "DEMO01"}
EXPERIMENT_DIR = ("DEMO01", "arc001", "SUBJ01_MR1")
EXPERIMENT_TARGET = "/data/projects/DEMO01/experiments/SUBJ01_MR1"
# The same limits for both sides; no reservations, so the bench never competes for placement.
CPU_LIMIT = 1.0
MEMORY_LIMIT = "1G"
REQUEST_SECONDS = 15


class BenchError(Exception):
    """The run cannot give a meaningful number; the message says why."""


def wait_for(what, check, timeout, interval=0.5):
    """Call check() until it returns something truthy and return that; BenchError after timeout seconds."""
    return swarm_owned.wait_for(what, check, timeout, interval, error=BenchError)


def free_port():
    """A host port nothing listens on; host-mode publishing binds it on every address."""
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def load_images(path, overrides):
    """Image references from the images layer's file, with command-line overrides; each must exist."""
    try:
        images = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        images = {}
        if not all(overrides.values()):
            raise BenchError(f"cannot read {path} ({e}): build the images (.venv/bin/ansible-playbook tests/images.yml)"
                             " or name every image with the --*-image options") from None
    images = {key: overrides.get(key) or images.get(key) for key in ("hub", "notebook", "standin")}
    missing = [key for key, ref in images.items() if not ref]
    if missing:
        raise BenchError(f"{path} names no image for {', '.join(missing)}")
    return images


def owned_containers(client, prefix=PREFIX):
    return swarm_owned.owned_containers(client, prefix)


def live_owner(client):
    """The pid of another benchmark run, still alive on this host, that owns the benchspawn- site; else None.

    The run that deploys writes its pid into OWNER_FILE (claim_site); `client` is unused, kept for the caller.
    """
    del client
    try:
        pid = OWNER_FILE.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            if b"spawn/benchmark.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
        except OSError:
            pass
    return None


def claim_site():
    """Record this run as the owner of the benchspawn- site (see live_owner)."""
    OWNER_FILE.parent.mkdir(parents=True, exist_ok=True)
    OWNER_FILE.write_text(str(os.getpid()), encoding="utf-8")


def remove_owned(client):
    """Remove every benchspawn- service, secret and the network; waits until they are gone."""
    swarm_owned.remove_owned(client, PREFIX, NETWORK, "the benchmark", error=BenchError)


class Site:
    """The stand-in, the hub and the overlay probe of one run, and the calls the benchmark makes."""

    def __init__(self, client, images, root, users, start_polling_interval):
        self.docker = client
        self.images = images
        self.root = root
        self.archive = root / "archive"
        self.workspaces = root / "workspaces"
        self.baseline_homes = root / "baseline"
        self.users = users
        self.start_polling_interval = start_polling_interval
        self.passwords = {name: "B-" + secrets.token_urlsafe(18) for name in ("admin", "jupyterhub", *users)}
        self.service_token = secrets.token_hex(32)
        self.baseline_token = secrets.token_hex(32)
        self.ports = {"standin": free_port(), "hub": free_port(), "probe": free_port()}
        self.xnat_url = f"http://127.0.0.1:{self.ports['standin']}"
        self.hub_url = f"http://127.0.0.1:{self.ports['hub']}/jupyterhub"
        self.probe_url = f"http://127.0.0.1:{self.ports['probe']}"
        self.node_id = client.info()["Swarm"]["NodeID"]
        self.environment_id = None
        self.hardware_id = None
        self.baseline_secret = None

    # --- deployment ----------------------------------------------------------------

    def deploy(self):
        claim_site()
        self.docker.networks.create(NETWORK, driver="overlay", attachable=True, labels=LABELS)
        self.baseline_homes.mkdir()
        os.chown(self.baseline_homes, NOTEBOOK_UID, NOTEBOOK_GID)
        try:
            run_roles(["xnat_standin", "hub"], self._role_vars(), self.root / "deploy.log")
        except DeployError as e:
            raise BenchError(str(e)) from None
        self._deploy_probe()
        self.baseline_secret = self.docker.secrets.create(
            name=BASELINE_SECRET, labels=LABELS, data=json.dumps({"JUPYTER_TOKEN": self.baseline_token}).encode())
        for name, url in ((STANDIN_SERVICE, f"{self.xnat_url}/app/login"), (HUB_SERVICE, f"{self.hub_url}/hub/health"),
                          (PROBE_SERVICE, f"{self.probe_url}/")):
            self._wait_serving(name, url)
        self._configure_xnat()

    def _role_vars(self):
        """The xnat_standin and hub roles' variables for this run: the stack templates that ship, benchmark names."""
        users = [{"username": name, "password": self.passwords[name], "email": f"{name}@example.org",
                  "firstName": name, "lastName": "Bench", "roles": ["Jupyter"]} for name in self.users]
        return {
            **standin_vars(self.images, self.root, STANDIN_STACK, NETWORK, self.ports["standin"], NOTEBOOK_UID,
                           self.passwords["admin"], users, {}),
            **hub_vars(self.images, self.root, HUB_STACK, NETWORK, self.ports["hub"], NOTEBOOK_UID,
                       self.passwords["jupyterhub"], self.service_token, NOTEBOOK_PREFIX),
            "hub_allowed_images": [self.images["notebook"]],
        }

    def _deploy_probe(self):
        source = (HERE / "overlay_probe.py").read_text(encoding="utf-8")
        self.docker.services.create(
            self.images["standin"], name=PROBE_SERVICE, labels=LABELS,
            command=["/usr/bin/tini", "--", "/opt/xnat-standin/bin/python", "-c", source, str(PROBE_PORT)],
            healthcheck=Healthcheck(test=["NONE"]),
            networks=[NetworkAttachmentConfig(NETWORK)],
            endpoint_spec=EndpointSpec(mode="dnsrr", ports={self.ports["probe"]: (PROBE_PORT, "tcp", "host")}),
            constraints=[f"node.id=={self.node_id}"],
            restart_policy=RestartPolicy(condition="none"),
        )

    def _wait_serving(self, name, url, timeout=120):
        service = self.docker.services.get(name)

        def running():
            tasks = service.tasks()
            failed = [t for t in tasks if t["Status"]["State"] in ("failed", "rejected", "complete", "shutdown")]
            if failed:
                status = failed[0]["Status"]
                raise BenchError(f"{name} did not start: {status['State']}"
                                 f" {status.get('Err') or status.get('Message')}")
            return [t for t in tasks if t["Status"]["State"] == "running"]

        wait_for(f"swarm to report {name} running", running, timeout)
        wait_for(f"{name} to answer {url}", lambda: requests.get(url, timeout=REQUEST_SECONDS).status_code == 200,
                 timeout)

    # --- XNAT's configuration, as its administrator sets it up -------------------------

    def xnat_call(self, username, method, path, expect=200, **kwargs):
        answer = requests.request(method, self.xnat_url + path, auth=(username, self.passwords[username]),
                                  timeout=REQUEST_SECONDS, **kwargs)
        if answer.status_code != expect:
            raise BenchError(f"XNAT stand-in: {method} {path}: HTTP {answer.status_code} {answer.text[:300]}")
        return answer

    def _configure_xnat(self):
        self.xnat_call("admin", "PUT", "/xapi/users/jupyterhub",
                       json={"password": self.passwords["jupyterhub"], "enabled": True})
        self.xnat_call("admin", "PUT", "/xapi/users/jupyterhub/roles/JupyterHub")
        self.xnat_call("admin", "POST", "/xapi/jupyterhub/preferences", json={
            "jupyterHubApiUrl": HUB_API_URL,
            "jupyterHubToken": self.service_token,
            "jupyterHubHostUrl": f"http://127.0.0.1:{self.ports['hub']}",
            "pathTranslationArchivePrefix": XNAT_ARCHIVE,
            "pathTranslationArchiveDockerPrefix": str(self.archive),
            "pathTranslationWorkspacePrefix": XNAT_WORKSPACES,
            "pathTranslationWorkspaceDockerPrefix": str(self.workspaces),
            "startTimeout": 120,
            "startPollingInterval": self.start_polling_interval,
            "stopPollingInterval": 1,
            "maxNamedServers": 1,
        })
        scopes = {key: {"scope": key, "enabled": True, "ids": []} for key in ("Site", "Project", "User")}
        self.hardware_id = self.xnat_call("admin", "POST", "/xapi/compute/hardware", expect=201, json={
            "hardware": {"name": "benchspawn", "cpuLimit": CPU_LIMIT, "cpuReservation": None,
                         "memoryLimit": MEMORY_LIMIT, "memoryReservation": None,
                         "constraints": [{"key": "node.id", "values": [self.node_id], "operator": "IN"}],
                         "environmentVariables": [], "genericResources": []},
            "scopes": scopes}).json()["id"]
        self.environment_id = self.xnat_call("admin", "POST", "/xapi/compute/environments", expect=201, json={
            "configTypes": ["JUPYTERHUB"],
            "computeEnvironment": {"name": "benchspawn notebook", "image": self.images["notebook"], "command": None,
                                   "environmentVariables": [], "mounts": []},
            "scopes": scopes,
            "hardwareOptions": {"allowAllHardware": False, "hardwareConfigs": [{"id": self.hardware_id}]}}).json()["id"]

    def launch_body(self, username, server):
        """XNAT's launch request for the sample experiment, as its UI sends it."""
        return {"username": username, "servername": server, "eventTrackingId": server,
                "computeEnvironmentConfigId": self.environment_id, "hardwareConfigId": self.hardware_id, **EXPERIMENT}

    # --- the baseline: the same image as a bare swarm service -------------------------

    def create_baseline(self, name):
        """The notebook image running a plain Jupyter server: same network, user, mounts, limits and
        placement as the hub's notebooks, the token from a secret file like theirs; no hub."""
        home = f"/workspace/{name}"
        return self.docker.services.create(
            self.images["notebook"], name=name, labels=LABELS,
            args=["jupyter", "server", "--ServerApp.ip=0.0.0.0", f"--ServerApp.port={NOTEBOOK_PORT}",
                  "--ServerApp.open_browser=False"],
            env=[f"HOME={home}"],
            user=f"{NOTEBOOK_UID}:{NOTEBOOK_GID}", workdir=home,
            mounts=[Mount(home, str(self.baseline_homes / name), type="bind"),
                    Mount(EXPERIMENT_TARGET, str(self.archive.joinpath(*EXPERIMENT_DIR)), type="bind", read_only=True)],
            secrets=[SecretReference(self.baseline_secret.id, self.baseline_secret.name, filename="notebook-env.json",
                                     uid=str(NOTEBOOK_UID), gid=str(NOTEBOOK_GID), mode=0o400)],
            resources=Resources(cpu_limit=int(CPU_LIMIT * 1e9), mem_limit=1024 ** 3),
            networks=[NETWORK],
            endpoint_spec=EndpointSpec(mode="dnsrr"),
            constraints=[f"node.id=={self.node_id}"],
            restart_policy=RestartPolicy(condition="none"),
        )

    def prepare_baseline_home(self, name):
        home = self.baseline_homes / name
        home.mkdir(exist_ok=True)
        os.chown(home, NOTEBOOK_UID, NOTEBOOK_GID)

    def remove_service(self, name):
        try:
            self.docker.services.get(name).remove()
        except NotFound:
            pass

    def wait_notebooks_gone(self, timeout=90):
        """Until no notebook container of either side is left, so the next measurement starts quiet."""
        wait_for("the notebook containers to be gone",
                 lambda: not [c for c in owned_containers(self.docker)
                              if c.labels["com.docker.swarm.service.name"].startswith(
                                  (NOTEBOOK_PREFIX, BASELINE_PREFIX))],
                 timeout, 0.5)

    def service_logs(self, name, tail=200):
        try:
            chunks = self.docker.services.get(name).logs(stdout=True, stderr=True, tail=tail)
            return b"".join(chunks).decode("utf-8", "replace")
        except (NotFound, APIError):
            return ""

    def task_problems(self, prefix):
        """Task states and errors of the services named prefix..., for a failure report."""
        lines = []
        for service in self.docker.services.list():
            if service.name.startswith(prefix):
                for task in service.tasks():
                    status = task["Status"]
                    lines.append(f"{service.name}: {status['State']} {status.get('Err') or status.get('Message', '')}")
        return lines
