"""XnatSwarmSpawner against the XNAT stand-in and a fake Docker API (no Docker needed)."""

import asyncio
import base64
import copy
import json
import logging
import time
from types import SimpleNamespace

import pytest
import requests
from docker.errors import NotFound
from jupyterhub import orm
from jupyterhub.objects import Hub
from jupyterhub.utils import format_exception
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from traitlets.config import Config

from test_service_spec import XNAT_OPTIONS
from xnat_jupyterhub_hub.spawner import SERVICE_LABEL, XnatSwarmSpawner

SERVICE_PASSWORD = "svc-Pa55word"
USER = "JSmith"
SERVER = "20250311T172455123Z"


def not_found():
    response = requests.Response()
    response.status_code = 404
    return NotFound("not found", response=response)


class FakeDocker:
    """The Docker API calls the spawner makes, with scripted task states."""

    def __init__(self):
        self.calls = []
        self.services = {}
        self.secret_store = {}
        self.task_states = [{"State": "running"}]
        # Inspections for which a removed service's task still exists (its container stopping).
        self.task_lingers = 0
        self.node_state = "ready"

    def __call__(self, method, *args, **kwargs):
        self.calls.append((method, args, kwargs))
        future = asyncio.get_running_loop().create_future()
        try:
            future.set_result(getattr(self, method)(*args, **kwargs))
        except Exception as e:
            future.set_exception(e)
        return future

    def methods(self):
        return [c[0] for c in self.calls]

    def inspect_service(self, name):
        for service in self.services.values():
            if name in (service["ID"], service["Spec"]["Name"]):
                return service
        raise not_found()

    def create_service(self, task_template, name, labels=None, endpoint_spec=None):
        service_id = f"svc{len(self.services) + 1}"
        self.services[service_id] = {"ID": service_id, "Spec": {"Name": name, "Labels": labels,
                                                                "TaskTemplate": task_template,
                                                                "EndpointSpec": endpoint_spec}}
        return {"ID": service_id}

    def remove_service(self, name):
        service = self.inspect_service(name)
        del self.services[service["ID"]]

    def tasks(self, filters):
        if not self.services:
            return []
        status = self.task_states.pop(0) if len(self.task_states) > 1 else self.task_states[0]
        return [{"ID": "task1", "NodeID": "node1", "CreatedAt": "2025-03-11T17:24:55Z", "Status": dict(status),
                 "NetworksAttachments": [
                     {"Network": {"ID": "ingress1", "Spec": {"Name": "ingress"}}, "Addresses": ["10.255.0.9/16"]},
                     {"Network": {"ID": "net1", "Spec": {"Name": "jh-net"}}, "Addresses": ["10.0.1.7/24"]}]}]

    def inspect_node(self, node_id):
        return {"ID": node_id, "Status": {"State": self.node_state}}

    def inspect_task(self, task_id):
        if self.services or self.task_lingers > 0:
            self.task_lingers -= 1
            return {"ID": task_id}
        raise not_found()

    def create_secret(self, name, data, labels):
        self.secret_store[name] = {"ID": f"sec-{name}", "Spec": {"Name": name, "Labels": labels}, "data": data}
        return {"ID": f"sec-{name}"}

    def secrets(self, filters):
        key, _sep, value = filters["label"].partition("=")
        return [s for s in self.secret_store.values() if s["Spec"]["Labels"].get(key) == value]

    def remove_secret(self, secret_id):
        for name, secret in list(self.secret_store.items()):
            if secret["ID"] == secret_id:
                del self.secret_store[name]
                return
        raise not_found()


@pytest.fixture
def docker():
    return FakeDocker()


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "jh_xnat_password"
    path.write_text(SERVICE_PASSWORD + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def make_spawner(fake_xnat, docker, password_file):
    fake_xnat.add("jupyterhub", SERVICE_PASSWORD, ["JupyterHub"])

    def make(server=SERVER, user=USER, **config):
        c = Config()
        c.XnatClient.url = fake_xnat.url
        c.XnatClient.request_timeout = 2.0
        c.XnatSwarmSpawner.xnat_service_password_file = str(password_file)
        c.XnatSwarmSpawner.network_name = "jh-net"
        c.XnatSwarmSpawner.use_internal_ip = True
        c.XnatSwarmSpawner.task_poll_interval = 0.01
        c.XnatSwarmSpawner.secrets_file_images = ["xnat-jupyterhub/notebook:*"]
        for key, value in config.items():
            setattr(c.XnatSwarmSpawner, key, value)
        hub_user = SimpleNamespace(name=user, escaped_name=user, url=f"/jupyterhub/user/{user}/")
        orm_spawner = SimpleNamespace(name=server, server=None, user_options=None, state=None)
        spawner = XnatSwarmSpawner(
            user=hub_user, orm_spawner=orm_spawner, hub=Hub(base_url="/jupyterhub/hub/"), config=c,
        )
        spawner.api_token = "hub-api-token-123"
        spawner.docker = docker
        return spawner

    return make


def created_service(docker):
    (service,) = docker.services.values()
    return service


def container_spec(docker):
    return created_service(docker)["Spec"]["TaskTemplate"]["ContainerSpec"]


def env_of(docker):
    return dict(item.split("=", 1) for item in container_spec(docker)["Env"])


@pytest.mark.asyncio
async def test_start_builds_the_service_from_xnat_options(fake_xnat, docker, make_spawner):
    options = copy.deepcopy(XNAT_OPTIONS)
    template = options["task_template"]
    template["container_spec"]["image"] = "xnat-jupyterhub/notebook:1.0"
    template["container_spec"]["command"] = "jupyterhub-singleuser --debug 'a b'"
    template["container_spec"]["labels"] = {"team": "neuro"}
    template["container_spec"]["mounts"].append(
        {"target": "/shared", "source": "shared_vol", "type": "volume", "read_only": True})
    template["resources"]["generic_resources"] = {"gpu": "1"}
    fake_xnat.user_options[(USER, SERVER)] = options
    docker.task_states = [{"State": "pending"}, {"State": "preparing"}, {"State": "running"}]
    spawner = make_spawner()

    # The task's own address on the hub's network, never a DNS name that may still point at an old task.
    assert await spawner.start() == ("10.0.1.7", 8888)

    assert fake_xnat.raw_paths == [f"/xapi/jupyterhub/users/{USER}/server/{SERVER}/user-options"]
    service = created_service(docker)
    assert service["Spec"]["Name"] == spawner.object_name
    assert service["Spec"]["Labels"] == {SERVICE_LABEL: spawner.object_name,
                                         "xnat-jupyterhub.user": USER, "xnat-jupyterhub.server": SERVER}
    task = service["Spec"]["TaskTemplate"]
    spec = task["ContainerSpec"]
    assert spec["Image"] == "xnat-jupyterhub/notebook:1.0"
    assert spec["Args"] == ["jupyterhub-singleuser", "--debug", "a b"]
    assert spec["User"] == "1000:1000"
    assert spec["Dir"] == "/workspace/jsmith"
    assert spec["Labels"] == {"team": "neuro"}
    assert [(m["Target"], m["Source"], m["Type"], m["ReadOnly"]) for m in spec["Mounts"]] == [
        ("/workspace/jsmith", "/srv/xnat-data/workspaces/users/jsmith", "bind", False),
        ("/data/projects/NEURO01/experiments/SUBJ01_MR1", "/srv/xnat-data/archive/NEURO01/arc001/SUBJ01_MR1",
         "bind", True),
        ("/shared", "shared_vol", "volume", True),
    ]
    assert task["RestartPolicy"]["Condition"] == "none"
    assert task["Resources"]["Limits"]["NanoCPUs"] == 2_000_000_000
    assert task["Resources"]["Limits"]["MemoryBytes"] == 4 * 1024**3
    assert task["Resources"]["Reservations"]["GenericResources"] == [
        {"DiscreteResourceSpec": {"Kind": "gpu", "Value": 1}}]
    assert task["Placement"]["Constraints"] == ["node.role==worker"]
    assert task["Networks"] == [{"Target": "jh-net"}]
    assert service["Spec"]["EndpointSpec"] == {"Mode": "dnsrr"}

    env = env_of(docker)
    assert env["JUPYTERHUB_ALLOW_TOKEN_IN_URL"] == "1"
    assert env["HOME"] == "/workspace/jsmith"
    assert env["XNAT_HOST"] == "https://xnat.example.org"
    assert env["JUPYTERHUB_USER"] == USER
    # tokens travel in a swarm secret, not in the inspectable service spec
    for name in ("JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN", "XNAT_USER", "XNAT_PASS"):
        assert name not in env
    (secret,) = docker.secret_store.values()
    assert json.loads(secret["data"]) == {"JUPYTERHUB_API_TOKEN": "hub-api-token-123",
                                          "JPY_API_TOKEN": "hub-api-token-123",
                                          "XNAT_USER": "alias", "XNAT_PASS": "secret"}
    (ref,) = spec["Secrets"]
    assert ref["SecretName"] == secret["Spec"]["Name"] and len(ref["SecretName"]) <= 64
    assert ref["File"] == {"Name": "notebook-env.json", "UID": "1000", "GID": "1000", "Mode": 0o400}
    assert "hub-api-token-123" not in json.dumps(service)


@pytest.mark.asyncio
async def test_foreign_images_get_tokens_in_the_environment(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    await make_spawner().start()
    env = env_of(docker)
    assert env["XNAT_PASS"] == "secret" and env["JUPYTERHUB_API_TOKEN"] == "hub-api-token-123"
    assert docker.secret_store == {}
    assert "Secrets" not in container_spec(docker)
    assert container_spec(docker)["Args"] is None  # the image's own command


@pytest.mark.asyncio
async def test_default_server_options_path_has_no_double_slash(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[("o'neil.j", "")] = XNAT_OPTIONS
    await make_spawner(server="", user="o'neil.j").start()
    assert fake_xnat.raw_paths == ["/xapi/jupyterhub/users/o%27neil.j/server/user-options"]


@pytest.mark.parametrize("server", [".", "..", "a/b?c", "a\0b", "x" * 65, "-lead", "caf\u00e9", "<b>"])
@pytest.mark.asyncio
async def test_invalid_server_names_are_refused_before_xnat_and_docker(fake_xnat, docker, make_spawner, server):
    fake_xnat.user_options[(USER, server)] = XNAT_OPTIONS
    with pytest.raises(web.HTTPError) as info:
        await make_spawner(server=server).start()
    assert info.value.status_code == 400
    assert info.value.get_message().startswith("Invalid server name")
    assert fake_xnat.raw_paths == [] and docker.calls == []


@pytest.mark.asyncio
async def test_stop_returns_once_the_old_task_is_gone(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    spawner = make_spawner()
    await spawner.start()
    docker.task_lingers = 3
    await spawner.stop()
    await spawner.run_post_stop_hook()
    assert docker.services == {}
    assert docker.methods().count("inspect_task") == 4  # three while it stopped, one that found it gone


@pytest.mark.asyncio
async def test_stop_gives_up_waiting_for_a_task_that_stays(fake_xnat, docker, make_spawner, caplog):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    spawner = make_spawner(old_task_wait=0.2)
    await spawner.start()
    docker.task_lingers = 10**6
    started = time.monotonic()
    await spawner.run_post_stop_hook()
    assert 0.2 <= time.monotonic() - started < 3
    assert "still shutting down" in caplog.text


@pytest.mark.asyncio
async def test_a_notebook_whose_node_is_lost_counts_as_stopped(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    spawner = make_spawner()
    await spawner.start()
    assert await spawner.poll() is None
    docker.node_state = "down"  # swarm still says the task is running
    assert await spawner.poll() == "its node is down"
    # Removing it does not wait for a task that stops only when its node comes back.
    docker.task_lingers = 10**6
    started = time.monotonic()
    await spawner.run_post_stop_hook()
    assert time.monotonic() - started < 1
    assert docker.services == {} and "inspect_task" not in docker.methods()


@pytest.mark.asyncio
async def test_a_stop_request_makes_a_start_in_progress_fail_and_clean_up(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    docker.task_states = [{"State": "preparing"}]
    spawner = make_spawner()
    starting = asyncio.ensure_future(spawner.start())
    while "create_service" not in docker.methods():
        await asyncio.sleep(0.01)
    spawner.request_stop()
    with pytest.raises(web.HTTPError) as info:
        await asyncio.wait_for(starting, 5)
    assert (info.value.status_code, info.value.get_message()) == (409, "The server was stopped while it was starting.")
    assert docker.services == {} and docker.secret_store == {}
    # The next start is not affected.
    docker.task_states = [{"State": "running"}]
    assert await spawner.start() == ("10.0.1.7", 8888)


@pytest.mark.parametrize("stored", [[1], "text", 5, [{"a": 1}]])
def test_stored_options_that_are_not_an_object_are_replaced(make_spawner, caplog, stored):
    spawner = make_spawner()
    spawner.orm_spawner.user_options = stored
    caplog.set_level(logging.WARNING)
    spawner.user_options = stored
    assert spawner.user_options == {}
    assert spawner.orm_spawner.user_options == {}
    assert f"its stored start options are {type(stored).__name__}, not an object" in caplog.text


@pytest.mark.parametrize("setup, status, message", [
    (lambda x: None, 400, f"XNAT has no launch options for server {SERVER}: start it from XNAT."),
    (lambda x: x.accounts.clear(), 502,
     "XNAT rejected the hub's service account (HTTP 401): tell the site administrator."),
    (lambda x: x.accounts["jupyterhub"].roles.clear(), 502,
     "XNAT rejected the hub's service account (HTTP 403): tell the site administrator."),
    (lambda x: setattr(x, "fail_with", 500), 502, "XNAT failed to return the launch options (HTTP 500)."),
])
@pytest.mark.asyncio
async def test_xnat_refusals_fail_the_spawn_clearly(fake_xnat, docker, make_spawner, setup, status, message):
    setup(fake_xnat)
    with pytest.raises(web.HTTPError) as info:
        await make_spawner().start()
    assert (info.value.status_code, info.value.get_message()) == (status, message)
    # What the user sees: the spawn page and the progress stream ("Spawn failed: ...") take the message from
    # format_exception, which without jupyterhub_message would be "HTTP 400: Bad Request (...)" and, on the
    # page, JupyterHub's generic "Failed to start your server on the last attempt".
    assert format_exception(info.value)[0] == message
    assert "create_service" not in docker.methods()


@pytest.mark.asyncio
async def test_unreachable_xnat_fails_the_spawn(silent_xnat_url, docker, make_spawner):
    spawner = make_spawner()
    spawner.xnat.url = silent_xnat_url
    spawner.xnat.request_timeout = 0.3
    with pytest.raises(web.HTTPError) as info:
        await spawner.start()
    assert info.value.get_message() == "XNAT unreachable: could not fetch the launch options."


@pytest.mark.asyncio
async def test_invalid_options_name_the_field(fake_xnat, docker, make_spawner):
    options = copy.deepcopy(XNAT_OPTIONS)
    options["task_template"]["container_spec"]["command"] = "run 'oops"
    fake_xnat.user_options[(USER, SERVER)] = options
    with pytest.raises(web.HTTPError) as info:
        await make_spawner().start()
    assert info.value.status_code == 400
    assert "task_template.container_spec.command cannot be parsed" in info.value.get_message()


@pytest.mark.asyncio
async def test_missing_password_file_fails_the_spawn(fake_xnat, docker, make_spawner, password_file):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    password_file.chmod(0o644)
    with pytest.raises(web.HTTPError, match="cannot read its XNAT service password"):
        await make_spawner().start()
    assert fake_xnat.raw_paths == []


@pytest.mark.asyncio
async def test_rejected_task_fails_at_once_and_removes_the_service(fake_xnat, docker, make_spawner):
    options = copy.deepcopy(XNAT_OPTIONS)
    options["task_template"]["container_spec"]["image"] = "xnat-jupyterhub/notebook:1.0"
    fake_xnat.user_options[(USER, SERVER)] = options
    docker.task_states = [{"State": "pending"}, {
        "State": "rejected", "Message": "preparing",
        "Err": 'invalid mount config for type "bind": bind source path does not exist: /srv/x (100%)'}]
    with pytest.raises(web.HTTPError) as info:
        await make_spawner().start()
    assert "bind source path does not exist: /srv/x (100%)" in str(info.value)
    assert docker.services == {} and docker.secret_store == {}


@pytest.mark.asyncio
async def test_unplaceable_task_fails_after_the_grace_period(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    docker.task_states = [{"State": "pending", "Message": "pending task scheduling",
                           "Err": "no suitable node (scheduling constraints not satisfied on 1 node)"}]
    started = time.monotonic()
    with pytest.raises(web.HTTPError) as info:
        await make_spawner(pending_grace=0.3).start()
    assert info.value.status_code == 503
    assert "no suitable node" in info.value.get_message()
    assert time.monotonic() - started >= 0.3
    assert docker.services == {}


class LateNotebook:
    """A loopback HTTP server that starts listening only after `delay` seconds, like a starting notebook."""

    def __init__(self, delay):
        self.delay = delay
        self.paths = []
        sock, self.port = bind_unused_port()
        sock.close()
        self._server = None

    async def serve_later(self):
        await asyncio.sleep(self.delay)
        paths = self.paths

        class Api(web.RequestHandler):
            def get(self):
                paths.append(self.request.path)
                self.write({"version": "2.0"})

        self._server = HTTPServer(web.Application([(r"/.*", Api)]))
        self._server.listen(self.port, "127.0.0.1")

    def close(self):
        if self._server:
            self._server.stop()


def with_server(spawner, base_url):
    # What JupyterHub sets before it calls start(): the server record with its URL prefix.
    spawner.orm_spawner.server = orm.Server(base_url=base_url, proto="http", ip="", port=0,
                                            cookie_name="jupyterhub-user")
    return spawner


@pytest.mark.asyncio
async def test_start_returns_once_the_notebook_answers(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    notebook = LateNotebook(delay=0.4)
    spawner = with_server(make_spawner(ready_check_interval=0.05), f"/jupyterhub/user/{USER}/{SERVER}/")

    async def loopback_address():
        return "127.0.0.1", notebook.port

    spawner.get_ip_and_port = loopback_address
    serving = asyncio.ensure_future(notebook.serve_later())
    try:
        started = time.monotonic()
        assert await spawner.start() == ("127.0.0.1", notebook.port)
        waited = time.monotonic() - started
    finally:
        await serving
        notebook.close()
    assert waited >= 0.4
    assert notebook.paths == [f"/jupyterhub/user/{USER}/{SERVER}/api"]
    assert docker.services  # the running notebook is kept


@pytest.mark.asyncio
async def test_notebook_exiting_while_starting_fails_the_spawn_with_the_reason(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    docker.task_states = [{"State": "running"}, {"State": "running"},
                          {"State": "failed", "Err": "task: non-zero exit (1)"}]
    spawner = with_server(make_spawner(ready_check_interval=0.05), f"/jupyterhub/user/{USER}/{SERVER}/")
    sock, port = bind_unused_port()  # bound, never listening: connections are refused
    sock.close()

    async def loopback_address():
        return "127.0.0.1", port

    spawner.get_ip_and_port = loopback_address
    started = time.monotonic()
    with pytest.raises(web.HTTPError) as info:
        await spawner.start()
    assert info.value.status_code == 500
    assert "The notebook stopped while starting (failed): task: non-zero exit (1)" in info.value.get_message()
    assert time.monotonic() - started < 5
    assert docker.services == {} and docker.secret_store == {}


@pytest.mark.asyncio
async def test_ready_check_gives_up_to_the_hub_after_its_limit(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    spawner = with_server(make_spawner(ready_check_interval=0.05, ready_check_limit=0.3),
                          f"/jupyterhub/user/{USER}/{SERVER}/")
    sock, port = bind_unused_port()
    sock.close()

    async def loopback_address():
        return "127.0.0.1", port

    spawner.get_ip_and_port = loopback_address
    started = time.monotonic()
    assert await spawner.start() == ("127.0.0.1", port)
    assert 0.3 <= time.monotonic() - started < 3
    assert docker.services


@pytest.mark.asyncio
async def test_cancelled_start_removes_the_service(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    docker.task_states = [{"State": "preparing"}]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(make_spawner().start(), timeout=0.5)
    assert docker.services == {}


@pytest.mark.asyncio
async def test_nothing_leaks_from_one_spawn_into_the_next(fake_xnat, docker, make_spawner):
    spawner = make_spawner()
    options = copy.deepcopy(XNAT_OPTIONS)
    options["task_template"]["container_spec"]["env"]["ONLY_FIRST"] = "1"
    fake_xnat.user_options[(USER, SERVER)] = options
    await spawner.start()
    await spawner.stop()
    assert docker.services == {}

    second = copy.deepcopy(XNAT_OPTIONS)
    second["task_template"]["container_spec"]["mounts"] = []
    second["task_template"]["container_spec"]["env"] = {}
    second["task_template"]["resources"] = None
    second["task_template"]["placement"] = None
    fake_xnat.user_options[(USER, SERVER)] = second
    spawner.clear_state()
    await spawner.start()
    spec = container_spec(docker)
    assert "Mounts" not in spec or spec["Mounts"] == []
    assert "ONLY_FIRST" not in env_of(docker) and "XNAT_PASS" not in env_of(docker)
    assert env_of(docker)["HOME"] == f"/workspace/{USER}"
    task = created_service(docker)["Spec"]["TaskTemplate"]
    assert not task["Placement"].get("Constraints")
    assert not task.get("Resources", {}).get("Limits")


@pytest.mark.asyncio
async def test_stale_service_of_the_same_server_is_replaced(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    spawner = make_spawner()
    docker.services["old"] = {"ID": "old", "Spec": {"Name": spawner.object_name}}
    await spawner.start()
    assert list(docker.services) != ["old"] and len(docker.services) == 1


@pytest.mark.asyncio
async def test_post_stop_hook_removes_a_dead_service_and_its_secret(fake_xnat, docker, make_spawner):
    options = copy.deepcopy(XNAT_OPTIONS)
    options["task_template"]["container_spec"]["image"] = "xnat-jupyterhub/notebook:1.0"
    fake_xnat.user_options[(USER, SERVER)] = options
    spawner = make_spawner()
    await spawner.start()
    docker.task_states = [{"State": "failed", "Err": "task: non-zero exit (137)"}]
    assert await spawner.poll() is not None  # JupyterHub now skips stop() and runs the hook
    await spawner.run_post_stop_hook()
    assert docker.services == {} and docker.secret_store == {}


@pytest.mark.asyncio
async def test_image_in_the_start_request_is_refused(fake_xnat, docker, make_spawner):
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    spawner = make_spawner()
    spawner.user_options = {"image": "evil/miner"}
    with pytest.raises(web.HTTPError, match="chosen by XNAT"):
        await spawner.start()
    assert docker.services == {}


@pytest.mark.asyncio
async def test_service_password_never_reaches_the_logs(fake_xnat, docker, make_spawner, caplog):
    caplog.set_level(logging.DEBUG)
    fake_xnat.user_options[(USER, SERVER)] = XNAT_OPTIONS
    await make_spawner().start()
    fake_xnat.accounts["jupyterhub"].roles.clear()
    with pytest.raises(web.HTTPError):
        await make_spawner().start()
    assert caplog.records
    assert SERVICE_PASSWORD not in caplog.text
    assert base64.b64encode(f"jupyterhub:{SERVICE_PASSWORD}".encode()).decode() not in caplog.text


def test_docker_calls_run_on_a_pool(make_spawner):
    spawner = make_spawner(docker_api_threads=6)
    XnatSwarmSpawner._executor = None
    assert spawner.executor._max_workers == 6
    assert spawner.client_kwargs["max_pool_size"] == 10
    XnatSwarmSpawner._executor = None


def test_entry_point_names_the_spawner(entry_points):
    from jupyterhub.app import JupyterHub

    assert JupyterHub(spawner_class="xnat-swarm").spawner_class is XnatSwarmSpawner


@pytest.mark.asyncio
async def test_xnat_start_request_body_is_accepted_quietly(make_spawner, caplog):
    caplog.set_level(logging.WARNING)
    await make_spawner()._run_apply_user_options({"xsiType": "xnat:projectData", "task_template": None})
    assert "unhandled user_options" not in caplog.text


@pytest.mark.asyncio
@pytest.mark.parametrize(("command", "args"), [
    ("jhsingle-native-proxy --port 8888 --destport 5006 bokeh-root-cmd /d/app.py {--}port={port}",
     ["jhsingle-native-proxy", "--port", "8888", "--destport", "5006", "bokeh-root-cmd", "/d/app.py", "{--}port={port}",
      "--no-force-alive"]),
    ("/usr/local/bin/jhsingle-native-proxy --destport 8501 streamlit run a.py",
     ["/usr/local/bin/jhsingle-native-proxy", "--destport", "8501", "streamlit", "run", "a.py", "--no-force-alive"]),
    # A site that chose otherwise in its framework template keeps its choice; other commands are left alone.
    ("jhsingle-native-proxy --force-alive voila a.ipynb",
     ["jhsingle-native-proxy", "--force-alive", "voila", "a.ipynb"]),
    ("jupyterhub-singleuser --no-force-alive", ["jupyterhub-singleuser", "--no-force-alive"]),
    ("run-jhsingle-native-proxy x", ["run-jhsingle-native-proxy", "x"]),
])
async def test_dashboards_report_their_real_activity(fake_xnat, docker, make_spawner, command, args):
    options = copy.deepcopy(XNAT_OPTIONS)
    options["dashboardConfigId"] = 3
    options["task_template"]["container_spec"]["command"] = command
    fake_xnat.user_options[(USER, SERVER)] = options
    await make_spawner().start()
    assert container_spec(docker)["Args"] == args
