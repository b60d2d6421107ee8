"""Docker Swarm spawner whose notebook services are configured by XNAT."""

from __future__ import annotations

import asyncio
import fnmatch
import inspect
import json
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from docker.errors import APIError
from docker.types import (
    ContainerSpec,
    EndpointSpec,
    Mount,
    Placement,
    Resources,
    RestartPolicy,
    SecretReference,
    TaskTemplate,
)
from dockerspawner import SwarmSpawner
from tornado import web
from tornado.httpclient import HTTPClientError
from tornado.simple_httpclient import SimpleAsyncHTTPClient
from traitlets import Any as AnyTrait
from traitlets import Bool, Float, Instance, Integer, List, Unicode, default, validate

from .api_guard import is_server_name
from .service_spec import InvalidUserOptions, ServiceSpec, SpecSettings, service_name, user_options_to_service_spec
from .settings import SettingsError, read_secret_file
from .xnat import XnatClient, XnatUnreachable, for_log

if TYPE_CHECKING:
    from traitlets.utils.bunch import Bunch

SERVICE_LABEL = "xnat-jupyterhub.service"
USER_LABEL = "xnat-jupyterhub.user"
SERVER_LABEL = "xnat-jupyterhub.server"

# Task states after which swarm will not run this task (restart condition "none").
FINAL_TASK_STATES = {"complete", "shutdown", "failed", "rejected", "orphaned", "remove"}
# Task states of a notebook that runs or is on its way to running.
LIVE_TASK_STATES = {"new", "pending", "assigned", "accepted", "ready", "preparing", "starting", "running"}


def task_address(task: dict[str, Any] | None, network: str) -> str | None:
    """The IP address of a swarm task on the named network (name or id), or None."""
    for attachment in (task or {}).get("NetworksAttachments") or []:
        net = attachment.get("Network") or {}
        if network in (net.get("ID"), (net.get("Spec") or {}).get("Name")):
            for cidr in attachment.get("Addresses") or []:
                return cidr.split("/", 1)[0]
    return None


def _http_error(status: int, message: str) -> web.HTTPError:
    """An HTTP error whose message the user sees.

    The message is an argument because JupyterHub %-formats log_message and Docker or XNAT text may hold
    '%'. jupyterhub_message carries it to the user: without it, JupyterHub's spawn page replaces the
    reason of a failed spawn with "Failed to start your server on the last attempt", and its progress
    stream shows "HTTP 400: Bad Request (...)".
    """
    error = web.HTTPError(status, "%s", message)
    error.jupyterhub_message = message  # type: ignore[attr-defined]  # JupyterHub's own attribute, read at runtime
    return error


DASHBOARD_PROXY = "jhsingle-native-proxy"


def dashboard_args(args: list[str]) -> list[str]:
    """A dashboard's command (contract §2.6.6) with its activity reported as it is, so idle dashboards are culled.

    jhsingle-native-proxy reports "active now" every few minutes unless told `--no-force-alive`; XNAT's
    templates do not say it, and XNAT's inactivity timeout (contract §3.5) would never stop a dashboard.
    """
    if args and args[0].rsplit("/", 1)[-1] == DASHBOARD_PROXY \
            and not {"--force-alive", "--no-force-alive"} & set(args):
        return [*args, "--no-force-alive"]
    return args


class XnatSwarmSpawner(SwarmSpawner):
    """SwarmSpawner that builds each notebook service from XNAT's user options.

    A subclass, not a pre_spawn_hook: a hook can only mutate config traits
    (which then leak into the next spawn) and cannot replace SwarmSpawner's
    read-only bind-only `mounts`, its slow task watching or its one-thread
    Docker executor.
    """

    xnat = Instance(XnatClient)

    @default("xnat")
    def _default_xnat(self) -> XnatClient:
        return XnatClient(parent=self)

    xnat_service_username = Unicode(
        "jupyterhub", help="XNAT account (role JupyterHub) that reads launch options."
    ).tag(config=True)
    xnat_service_password_file = Unicode(
        help="File holding that account's password; read at every spawn."
    ).tag(config=True)
    xnat_public_url = Unicode(
        "/", help="Where users find XNAT in their browser; notebooks get it as XNAT_PUBLIC_URL (JupyterLab's link)."
    ).tag(config=True)
    notebook_uid = Integer(1000, help="User id the notebook runs as.").tag(config=True)
    notebook_gid = Integer(1000, help="Group id the notebook runs as.").tag(config=True)
    notebook_home = Unicode(
        "/workspace/{raw_username}",
        help="HOME and working directory when XNAT sets no JUPYTERHUB_ROOT_DIR.",
    ).tag(config=True)
    allowed_xnat_images = List(
        Unicode(), help="Glob patterns of images XNAT may launch; empty accepts any image XNAT names."
    ).tag(config=True)
    allowed_bind_prefixes = List(
        Unicode(), help="Host directories bind-mount sources must lie under; empty accepts any."
    ).tag(config=True)
    secrets_file_images = List(
        Unicode(),
        ["*xnat-jupyterhub/notebook:*", "*xnat-jupyterhub/dashboard:*"],
        help="Glob patterns of images whose entrypoint reads secret_env_names from a swarm"
        " secret file; other images get them as plain environment variables.",
    ).tag(config=True)
    secret_env_names = List(
        Unicode(),
        ["JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN", "XNAT_USER", "XNAT_PASS"],
        help="Environment variables kept out of the service spec for secrets_file_images.",
    ).tag(config=True)
    secrets_file_name = Unicode(
        "notebook-env.json", help="File name of the secret under /run/secrets in the notebook."
    ).tag(config=True)
    allow_token_in_url = Bool(
        True, help="Set JUPYTERHUB_ALLOW_TOKEN_IN_URL=1: XNAT opens notebooks with ?token=."
    ).tag(config=True)
    endpoint_mode = Unicode(
        "dnsrr",
        help="How the service name resolves: 'dnsrr' to the task's own address (one hop, and works"
        " where the kernel lacks IPVS), 'vip' to a swarm virtual IP.",
    ).tag(config=True)
    docker_api_threads = Integer(
        8, help="Threads for Docker API calls, shared by all spawns (dockerspawner uses 1)."
    ).tag(config=True)
    task_poll_interval = Float(0.5, help="Seconds between task-state checks while starting.").tag(config=True)
    pending_grace = Float(
        10.0, help="Seconds a task may stay unplaceable (pending with an error) before the spawn fails."
    ).tag(config=True)
    ready_check_interval = Float(
        0.1,
        help="Seconds between the spawner's own checks that a started notebook answers HTTP. start()"
        " returns at the first answer, so the hub's check, whose back-off waits up to 5 s between"
        " tries, finds the server up at once; a notebook that exits meanwhile fails the spawn with"
        " swarm's reason. 0 leaves the waiting to the hub alone.",
    ).tag(config=True)
    ready_check_limit = Float(
        30.0, help="Seconds the spawner checks before it leaves the rest of the waiting to the hub (http_timeout)."
    ).tag(config=True)

    old_task_wait = Float(
        30.0, help="Seconds a stop waits for the removed service's task to be gone, so a start under the same name"
        " never meets the old container."
    ).tag(config=True)

    forget_failed_after = Float(
        15.0, help="Seconds after a failed start of a named server before the hub removes it (negative: keep it)."
        " XNAT names every launch anew, so a failed one would otherwise stay on the user's home page as a dead"
        " server; the delay leaves its failure message readable in the progress API meanwhile."
    ).tag(config=True)

    # Spawner.user_options is a Dict trait, and JupyterHub 5.5 sets it from the hub database whenever it loads a
    # server: one stored value that is not an object (JupyterHub stores a start request's body before it checks it)
    # would stop the hub at every start. Here such a value is logged, replaced by {} and repaired in the database.
    user_options = AnyTrait(help="The start request's options, as XNAT sent them; the configuration comes from XNAT.")

    @default("user_options")
    def _default_user_options(self) -> dict[str, Any]:
        return {}

    @validate("user_options")
    def _stored_options_are_an_object(self, proposal: Bunch) -> dict[str, Any]:
        value = proposal.value
        if isinstance(value, dict):
            return value
        user = getattr(self, "user", None)
        self.log.warning("Server %s of %s: its stored start options are %s, not an object; replaced by {}",
                         for_log(self.name), for_log(getattr(user, "name", "?")), type(value).__name__)
        if self.orm_spawner is not None:
            self.orm_spawner.user_options = {}
        return {}

    _executor: ClassVar[ThreadPoolExecutor | None] = None
    _spec: ServiceSpec | None = None
    _stop_requested = False

    @property
    def executor(self) -> ThreadPoolExecutor:
        # Replaces DockerSpawner.executor, one ThreadPoolExecutor(1) for all spawners: docker_api_threads threads.
        cls = type(self)
        if cls._executor is None:
            cls._executor = ThreadPoolExecutor(self.docker_api_threads, thread_name_prefix="docker-api")
        return cls._executor

    @default("client_kwargs")
    def _default_client_kwargs(self) -> dict[str, Any]:
        return {"max_pool_size": max(10, self.docker_api_threads)}

    @default("apply_user_options")
    def _default_apply_user_options(self) -> Callable[[Any, Any], None]:
        # XNAT's start request only echoes the launch; the configuration comes from XNAT's user-options endpoint.
        return lambda spawner, user_options: None

    @default("object_name")
    def _object_name_default(self) -> str:
        # Replaces DockerSpawner._object_name_default, which renders name_template ({prefix}-{username}--{servername}):
        # service_name() is DNS-label safe, at most 63 characters, and unique per exact (user, server).
        return service_name(self.prefix, self.user.name, self.name)

    def clear_state(self) -> None:
        super().clear_state()
        self._spec = None

    async def check_allowed(self, image: str) -> NoReturn:
        # Replaces DockerSpawner.check_allowed, which accepts an image from the start request's options when it is in
        # allowed_images: the image comes from XNAT's launch options only, so a requested image is always refused.
        raise _http_error(400, "The notebook image is chosen by XNAT, not by the start request.")

    # --- spawn -----------------------------------------------------------

    async def start(self) -> tuple[str, int]:
        if not is_server_name(self.name):
            # Reached from the hub's own pages (the API checks names before it stores them): nothing is created.
            raise _http_error(400, "Invalid server name: XNAT names servers with letters, digits, '.', '_' and '-'.")
        self._stop_requested = False
        self._spec = None
        self._spec = await self._fetch_service_spec()
        self._check_stop_requested()
        self.image = self._spec.image
        try:
            address = await super().start()
            await self._wait_until_answering(address)
            return address
        except BaseException:
            # JupyterHub calls stop() only for servers that poll as running,
            # so a rejected task would otherwise leave its service behind.
            await self._discard_service()
            # (Not after a stop request: the stop request's handler removes the server, as it was asked to.)
            if self.name and self.forget_failed_after >= 0 and not self._stop_requested:
                self._forget_task = asyncio.ensure_future(self._forget_when_stopped())
            raise

    async def _forget_when_stopped(self, limit: float = 120.0) -> None:
        """After a failed start, once JupyterHub has cleaned up after it and forget_failed_after has passed:
        remove this named server from the hub, as JupyterHub's API does for DELETE .../servers/{name} with
        {"remove": true}; not when it has been started again or removed meanwhile."""
        user = self.user
        deadline = time.monotonic() + limit
        while self._spawn_pending or self._stop_pending or self.active:
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.2)
        await asyncio.sleep(self.forget_failed_after)
        if user.spawners.get(self.name) is not self or self._spawn_pending or self._stop_pending or self.active:
            return  # removed already, replaced, or started again under the same name
        self.log.info("Removing %s, whose start failed", self._log_name_safe)
        db = user.db
        db.delete(self.orm_spawner)
        user.spawners.pop(self.name, None)
        db.commit()

    def request_stop(self) -> None:
        """Make a start in progress give up at its next step: a stop request arrived while it was starting.

        The start then fails like any other (JupyterHub stops and forgets the server) instead of being
        cancelled, which would leave JupyterHub's record of the server behind.
        """
        self._stop_requested = True

    def _check_stop_requested(self) -> None:
        if self._stop_requested:
            raise _http_error(409, "The server was stopped while it was starting.")

    async def _fetch_service_spec(self) -> ServiceSpec:
        segments = ["xapi", "jupyterhub", "users", self.user.name, "server"]
        if self.name:
            segments.append(self.name)
        segments.append("user-options")
        try:
            password = read_secret_file(self.xnat_service_password_file)
        except SettingsError as e:
            self.log.error("Cannot read the XNAT service password: %s", e)
            raise _http_error(500, "The hub cannot read its XNAT service password.") from None
        who = self._log_name_safe
        try:
            answer = await self.xnat.get(segments, self.xnat_service_username, password)
        except XnatUnreachable as e:
            self.log.error("Launch options for %s: XNAT unreachable: %s", who, e)
            raise _http_error(503, "XNAT unreachable: could not fetch the launch options.") from None
        if answer.status == 404:
            self.log.warning("Launch options for %s: XNAT has none (HTTP 404)", who)
            which = f"server {self.name}" if self.name else "the default server"
            raise _http_error(400, f"XNAT has no launch options for {which}: start it from XNAT.")
        if answer.status in (401, 403):
            self.log.error("Launch options for %s: XNAT rejected the service account %s (HTTP %d)",
                           who, for_log(self.xnat_service_username), answer.status)
            raise _http_error(
                502, f"XNAT rejected the hub's service account (HTTP {answer.status}): tell the site administrator.")
        if answer.status != 200:
            self.log.error("Launch options for %s: HTTP %d from XNAT: %s", who, answer.status, answer.excerpt())
            raise _http_error(502, f"XNAT failed to return the launch options (HTTP {answer.status}).")
        try:
            options = answer.json()
            return user_options_to_service_spec(
                options,
                SpecSettings(tuple(self.allowed_xnat_images), tuple(self.allowed_bind_prefixes)),
            )
        except ValueError as e:  # InvalidUserOptions, or a body that is not JSON
            reason = str(e) if isinstance(e, InvalidUserOptions) else "the answer is not JSON"
            self.log.error("Launch options for %s are unusable: %s", who, reason)
            raise _http_error(400, f"XNAT's launch options are invalid: {reason}") from None

    @property
    def _log_name_safe(self) -> str:
        return f"{for_log(self.user.name)}:{for_log(self.name)}"

    def _home(self) -> str:
        if self._spec and self._spec.env.get("JUPYTERHUB_ROOT_DIR"):
            return self._spec.env["JUPYTERHUB_ROOT_DIR"]
        return self.format_string(self.notebook_home)

    def get_env(self) -> dict[str, str]:
        # XNAT's variables first, so the hub's own JUPYTERHUB_* values and config win.
        env = dict(self._spec.env) if self._spec else {}
        env["HOME"] = self._home()
        env.update(super().get_env())
        env["XNAT_PUBLIC_URL"] = self.xnat_public_url
        if self.allow_token_in_url:
            env["JUPYTERHUB_ALLOW_TOKEN_IN_URL"] = "1"
        if self._spec and self._spec.mem_limit:
            env["MEM_LIMIT"] = str(self._spec.mem_limit)
        if self._spec and self._spec.cpu_limit:
            env["CPU_LIMIT"] = str(self._spec.cpu_limit)
        return env

    async def get_command(self) -> list[str] | None:
        # Only the last case calls DockerSpawner.get_command, which inspects the image for its Cmd and adds the args.
        extra = self.get_args()
        if self._spec and self._spec.args:
            return dashboard_args(list(self._spec.args)) + extra
        if self.cmd:
            return list(self.cmd) + extra
        if not extra:
            return None  # the image's own command
        return await super().get_command()

    @property
    def mounts(self) -> list[Mount]:
        configured = super().mounts
        from_xnat = [
            Mount(target=m.target, source=m.source, type=m.type, read_only=m.read_only)
            for m in (self._spec.mounts if self._spec else [])
        ]
        return configured + from_xnat

    def _uses_secrets_file(self, image: str) -> bool:
        return any(fnmatch.fnmatchcase(image, p) for p in self.secrets_file_images)

    async def _create_env_secret(self, values: dict[str, str]) -> SecretReference:
        name = f"{self.object_name[:52].rstrip('-')}-{secrets.token_hex(4)}"
        created = await self.docker(
            "create_secret",
            name=name,
            data=json.dumps(values).encode(),
            labels={SERVICE_LABEL: self.object_name},
        )
        return SecretReference(
            created["ID"],
            name,
            filename=self.secrets_file_name,
            uid=str(self.notebook_uid),
            gid=str(self.notebook_gid),
            mode=0o400,
        )

    async def create_object(self) -> dict[str, Any]:
        # Replaces SwarmSpawner.create_object of dockerspawner 14.0.0 (config alone, then an unbounded wait for a task):
        # image, labels, limits (config fills gaps), generic resources, constraints from XNAT; uid:gid, HOME workdir,
        # secret env file, restart none, endpoint_mode, service labels, distinct mount targets; start_object waits.
        spec = self._spec
        if spec is None:  # cleared by JupyterHub's stop (clear_state) while this start was still under way
            raise _http_error(409, "The server was stopped while it was starting.")
        mounts = self.mounts
        targets = [m["Target"] for m in mounts]
        if len(targets) != len(set(targets)):
            raise _http_error(400, "Two mounts share one target directory.")
        env = self.get_env()
        secret_refs = []
        if self._uses_secrets_file(spec.image):
            hidden = {k: env.pop(k) for k in self.secret_env_names if k in env}
            secret_refs.append(await self._create_env_secret(hidden))

        container_kwargs = dict(
            image=spec.image,
            env=env,
            args=await self.get_command(),
            mounts=mounts,
            user=f"{self.notebook_uid}:{self.notebook_gid}",
            workdir=env["HOME"],
            labels=spec.labels or None,
            secrets=secret_refs or None,
        )
        container_kwargs.update(self.extra_container_spec)

        def nano(cpus: float | None) -> int | None:
            return int(cpus * 1e9) if cpus else None

        resources_kwargs = dict(
            mem_limit=spec.mem_limit or self.mem_limit or None,
            mem_reservation=spec.mem_reservation or self.mem_guarantee or None,
            cpu_limit=nano(spec.cpu_limit or self.cpu_limit),
            cpu_reservation=nano(spec.cpu_reservation or self.cpu_guarantee),
            generic_resources=spec.generic_resources or None,
        )
        resources_kwargs.update(self.extra_resources_spec)

        placement_kwargs = dict(self.extra_placement_spec)
        placement_kwargs["constraints"] = list(placement_kwargs.get("constraints") or []) + spec.constraints

        task_kwargs = dict(
            container_spec=ContainerSpec(**container_kwargs),
            resources=Resources(**resources_kwargs),
            networks=[self.network_name] if self.network_name else [],
            placement=Placement(**placement_kwargs),
            # A notebook that exits or is killed stays stopped; JupyterHub notices.
            restart_policy=RestartPolicy(condition="none"),
        )
        task_kwargs.update(self.extra_task_spec)

        endpoint_kwargs: dict[str, Any]
        if self.use_internal_ip:
            endpoint_kwargs = {"mode": self.endpoint_mode}
        else:
            endpoint_kwargs = {"ports": {None: (self.port, "tcp")}}
        endpoint_kwargs.update(self.extra_endpoint_spec)

        create_kwargs = dict(
            name=self.object_name,
            task_template=TaskTemplate(**task_kwargs),
            endpoint_spec=EndpointSpec(**endpoint_kwargs),
            labels={SERVICE_LABEL: self.object_name, USER_LABEL: self.user.name, SERVER_LABEL: self.name},
        )
        create_kwargs.update(self.extra_create_kwargs)
        return await self.docker("create_service", **create_kwargs)

    async def _newest_task(self) -> dict[str, Any] | None:
        tasks = await self.docker("tasks", filters={"service": self.object_id or self.object_name})
        return max(tasks, key=lambda t: t.get("CreatedAt", ""), default=None)

    async def _newest_task_status(self) -> tuple[str, str, dict[str, Any]]:
        """(state, problem, status) of the newest task; state is "" when there is no task."""
        status = ((await self._newest_task()) or {}).get("Status") or {}
        state = (status.get("State") or "").lower()
        problem = (status.get("Err") or status.get("Message") or state or "no task")[:300]
        return state, problem, status

    async def start_object(self) -> None:
        """Wait for the task to run; fail at once when swarm rejects it or cannot place it."""
        # Replaces SwarmSpawner.start_object, which polls with back-off (1 s to 11 s), waits out "rejected" and
        # unplaceable tasks until start_timeout and raises RuntimeError: here every task_poll_interval, with HTTP
        # errors, pending_grace for unplaceable tasks and request_stop.
        unplaceable_since = None
        while True:
            self._check_stop_requested()
            state, problem, status = await self._newest_task_status()
            if state == "running":
                return
            if state in FINAL_TASK_STATES:
                self.log.error("Notebook service %s task %s: %s", self.object_name, state, problem)
                raise _http_error(500, f"The swarm could not start the notebook ({state}): {problem}")
            if state == "pending" and status.get("Err"):
                now = time.monotonic()
                unplaceable_since = unplaceable_since or now
                if now - unplaceable_since >= self.pending_grace:
                    self.log.error("Notebook service %s cannot be placed: %s", self.object_name, problem)
                    raise _http_error(503, f"The swarm cannot place the notebook: {problem}")
            else:
                unplaceable_since = None
            await asyncio.sleep(self.task_poll_interval)

    async def poll(self) -> int | str | None:
        """None while the notebook's task runs (or starts) on a node that is up; otherwise why not.

        Swarm keeps reporting the last state of a task whose node is lost ("running") for hours, so the
        node is asked too: a notebook on a node that is down counts as stopped.
        """
        # Replaces SwarmSpawner.poll, which counts only running, starting, pending and preparing tasks as alive and
        # never asks the node.
        task = await self.get_task()
        if not task:
            return 0
        status = task.get("Status") or {}
        state = (status.get("State") or "").lower()
        if state not in LIVE_TASK_STATES:
            return f"task {state}: {(status.get('Err') or status.get('Message') or '')[:200]}"
        node_id = task.get("NodeID")
        if node_id:
            node_state = await self._node_state(node_id)
            if node_state != "ready":
                return f"its node is {node_state}"
        return None

    async def _node_state(self, node_id: str) -> str:
        """The swarm's view of a node: ready, down, disconnected, unknown, or gone."""
        try:
            node = await self.docker("inspect_node", node_id)
        except APIError as e:
            if e.status_code == 404:
                return "gone"
            raise
        return ((node.get("Status") or {}).get("State") or "unknown").lower()

    async def get_ip_and_port(self) -> tuple[str, int]:
        """The running task's own address on the hub's network, not the service's DNS name.

        After a server is stopped and started again under the same name, swarm's DNS can still answer with the
        old task's address for a second or more: the proxy and the readiness check must reach the new task.
        """
        task = await self._newest_task()
        address = task_address(task, self.network_name)
        if not address:
            self.log.warning("Notebook service %s: its task has no address on network %s; using the service name",
                             self.object_name, self.network_name)
            return await super().get_ip_and_port()
        return address, self.port

    async def _fail_if_task_ended(self) -> None:
        state, problem, _status = await self._newest_task_status()
        if state in FINAL_TASK_STATES or not state:
            self.log.error("Notebook service %s ended while starting: %s", self.object_name, problem)
            raise _http_error(500, f"The notebook stopped while starting ({state or 'gone'}): {problem}")

    async def _wait_until_answering(self, address: tuple[str, int]) -> None:
        """Return once the notebook answers HTTP (any status below 500, as the hub counts it) or ready_check_limit."""
        server = self.server
        if self.ready_check_interval <= 0 or server is None or self.internal_ssl or not isinstance(address, tuple):
            return
        ip, port = address
        url = f"http://{ip}:{port}{server.base_url.rstrip('/')}/api"
        client = SimpleAsyncHTTPClient(force_instance=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(self.ready_check_limit, self.http_timeout)
        next_task_check = loop.time() + 1.0
        try:
            while loop.time() < deadline:
                self._check_stop_requested()
                try:
                    await client.fetch(url, follow_redirects=False, connect_timeout=1.0, request_timeout=2.0)
                    return
                except HTTPClientError as e:
                    if e.code < 500:
                        return
                except Exception:  # refused, not resolvable yet, reset: not up yet
                    pass
                if loop.time() >= next_task_check:
                    await self._fail_if_task_ended()
                    next_task_check = loop.time() + 1.0
                await asyncio.sleep(self.ready_check_interval)
            self.log.info("Notebook %s does not answer yet after %.0f s; the hub keeps waiting", url,
                          min(self.ready_check_limit, self.http_timeout))
        finally:
            client.close()

    # --- clean-up --------------------------------------------------------

    async def remove_object(self) -> None:
        """Remove the service (by id, else by name) and its secrets, and wait until its task is gone."""
        # Replaces SwarmSpawner.remove_object, which removes the service by object_id alone, fails on a 404 and
        # returns while its container may still run (a start under the same name would then meet it).
        target = self.object_id or self.object_name
        self.log.info("Removing service %s", target)
        try:
            tasks = await self.docker("tasks", filters={"service": target})
        except APIError as e:
            if e.status_code != 404:
                raise
            tasks = []
        try:
            await self.docker("remove_service", target)
        except APIError as e:
            if e.status_code != 404:
                raise
        # A task on a node that is down stops only when the node comes back: nothing to wait for.
        nodes = {t.get("NodeID") for t in tasks if t.get("NodeID")}
        up = {n for n in nodes if await self._node_state(n) == "ready"}
        await self._wait_until_tasks_gone({t["ID"] for t in tasks if not t.get("NodeID") or t["NodeID"] in up})
        for secret in await self.docker("secrets", filters={"label": f"{SERVICE_LABEL}={self.object_name}"}):
            try:
                await self.docker("remove_secret", secret["ID"])
            except APIError as e:
                if e.status_code != 404:
                    raise

    async def _wait_until_tasks_gone(self, task_ids: set[str]) -> None:
        """Until swarm has removed the given tasks (their containers have stopped), or old_task_wait seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.old_task_wait
        while task_ids and loop.time() < deadline:
            left: set[str] = set()
            for task_id in task_ids:
                try:
                    await self.docker("inspect_task", task_id)
                    left.add(task_id)
                except APIError as e:
                    if e.status_code != 404:
                        raise
            task_ids = left
            if task_ids:
                await asyncio.sleep(self.task_poll_interval)
        if task_ids:
            self.log.warning("Notebook service %s: %d task(s) still shutting down after %.0f s",
                             self.object_name, len(task_ids), self.old_task_wait)

    async def _discard_service(self) -> None:
        try:
            await self.remove_object()
        except Exception:
            self.log.exception("Could not remove notebook service %s", self.object_name)
        self.object_id = ""

    async def run_post_stop_hook(self) -> None:
        # Also reached for servers that died or never ran, where stop() is skipped.
        await self._discard_service()
        result = super().run_post_stop_hook()
        if inspect.isawaitable(result):
            await result
