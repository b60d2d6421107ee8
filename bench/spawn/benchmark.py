"""Notebook start time on the swarm: an XNAT launch through the hub against a bare docker service.

Deploys its own XNAT stand-in, hub and overlay probe as swarm services (swarm_site.py). Ours: the
launch XNAT's UI sends to the stand-in, until XNAT reports the server ready and the server answers
200 through the hub's proxy with a token minted through XNAT. Baseline: `docker service create` of
the same notebook image running a plain Jupyter server, until it answers 200 on the overlay
(overlay_probe.py). One at a time (median of repetitions) and ten at once (wall time until all are
ready). Prints both sides' times and their ratios; removes everything it created at the end.
"""

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import docker
from docker.errors import DockerException, NotFound

from swarm_site import (
    BASELINE_PREFIX,
    HUB_SERVICE,
    IMAGES_FILE,
    NOTEBOOK_PORT,
    NOTEBOOK_PREFIX,
    PREFIX,
    PROBE_SERVICE,
    STANDIN_SERVICE,
    BenchError,
    Site,
    live_owner,
    load_images,
    remove_owned,
)

TARGET_SINGLE = 1.3
TARGET_CONCURRENT = 1.5
MAX_CONCURRENT = 10
WARMUP_USER = "warmup"
# Both sides start from a quiet machine: the previous notebooks are gone, then this pause.
SETTLE_SECONDS = 2
HUB_SPAWN_TIME = re.compile(r"User (\S+) took ([0-9.]+) seconds to start")


@dataclass(frozen=True)
class Start:
    """One notebook start: seconds from the launch (or create) call until it answered 200."""

    name: str
    seconds: float
    xnat_ready_seconds: float = 0.0  # ours only: until XNAT's event said the server is ready


@dataclass(frozen=True)
class Crowd:
    """Notebooks started at once: wall time until the last answered, and each one's start."""

    wall_seconds: float
    starts: list


def event_id(offset_ms=0):
    """XNAT's eventTrackingId, also the server name: ISO time without '-', ':' and '.'."""
    now = datetime.now(UTC) + timedelta(milliseconds=offset_ms)
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z"


class Runs:
    """Starts and stops notebooks on both sides against one deployed site."""

    def __init__(self, site, session, args):
        self.site = site
        self.session = session
        self.args = args
        self.servers = {}  # XNAT user -> the named server it runs

    def _basic_auth(self, username):
        basic = base64.b64encode(f"{username}:{self.site.passwords[username]}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}

    async def _xnat(self, username, method, path, **kwargs):
        async with self.session.request(method, self.site.xnat_url + path, headers=self._basic_auth(username),
                                        **kwargs) as answer:
            return answer.status, await answer.text()

    async def _wait_event(self, username, event, deadline):
        """XNAT's activity record of a launch or stop, once finished; BenchError unless it succeeded."""
        while True:
            async with self.session.get(f"{self.site.xnat_url}/xapi/event_tracking/{event}",
                                        headers=self._basic_auth(username)) as answer:
                record = await answer.json(content_type=None) if answer.status == 200 else {}
            if record.get("succeeded") is True:
                return
            if record.get("succeeded") is False:
                raise BenchError(f"XNAT event {event} of {username} failed: {record.get('finalMessage')}")
            if time.monotonic() >= deadline:
                raise BenchError(f"XNAT event {event} of {username} not finished after {self.args.start_timeout} s")
            await asyncio.sleep(self.args.poll_interval)

    async def ours(self, username, offset_ms=0):
        """XNAT's launch as its UI sends it; then Open: a token minted through XNAT, one request through the proxy."""
        server = event_id(offset_ms)
        path = f"/xapi/jupyterhub/users/{username}/server/{server}"
        started = time.perf_counter()
        deadline = time.monotonic() + self.args.start_timeout
        status, text = await self._xnat(username, "POST", path, json=self.site.launch_body(username, server))
        if status != 200:
            raise BenchError(f"launch of {username}/{server}: HTTP {status} {text[:300]}")
        self.servers[username] = server
        await self._wait_event(username, server, deadline)
        xnat_ready = time.perf_counter() - started
        status, text = await self._xnat(username, "POST", f"/xapi/jupyterhub/users/{username}/tokens",
                                        params={"expiresIn": "600", "note": "benchspawn"})
        if status != 200:
            raise BenchError(f"token for {username}: HTTP {status} {text[:300]}")
        token = json.loads(text)["token"]
        url = f"{self.site.hub_url}/user/{username}/{server}/api/status"
        while True:
            async with self.session.get(url, headers={"Authorization": f"token {token}"},
                                        allow_redirects=False) as answer:
                if answer.status == 200:
                    return Start(username, time.perf_counter() - started, xnat_ready)
                last = answer.status
            if time.monotonic() >= deadline:
                raise BenchError(f"{url} answered HTTP {last}, not 200, after XNAT reported the server ready")
            await asyncio.sleep(self.args.poll_interval)

    async def stop_ours(self, username):
        server = self.servers.pop(username)
        event = f"stop-{event_id()}-{username}"
        status, text = await self._xnat(username, "DELETE", f"/xapi/jupyterhub/users/{username}/server/{server}",
                                        params={"eventTrackingId": event})
        if status != 200:
            raise BenchError(f"stop of {username}/{server}: HTTP {status} {text[:300]}")
        await self._wait_event(username, event, time.monotonic() + self.args.start_timeout)

    async def baseline(self, name):
        """docker service create, then the probe on the overlay until the server answers 200."""
        await asyncio.to_thread(self.site.prepare_baseline_home, name)
        started = time.perf_counter()
        await asyncio.to_thread(self.site.create_baseline, name)
        job = {"url": f"http://{name}:{NOTEBOOK_PORT}/api/status", "token": self.site.baseline_token,
               "timeout": self.args.start_timeout, "interval": self.args.poll_interval}
        async with self.session.post(f"{self.site.probe_url}/wait", json=job,
                                     timeout=aiohttp.ClientTimeout(total=self.args.start_timeout + 30)) as answer:
            outcome = await answer.json(content_type=None)
            if answer.status != 200:
                tasks = await asyncio.to_thread(self.site.task_problems, name)
                raise BenchError(f"baseline {name} did not answer 200 within {self.args.start_timeout} s: {outcome};"
                                 f" its task: {'; '.join(tasks) or 'none'}")
        return Start(name, time.perf_counter() - started)

    async def stop_baselines(self, names):
        for name in names:
            await asyncio.to_thread(self.site.remove_service, name)

    async def settle(self):
        await asyncio.to_thread(self.site.wait_notebooks_gone)
        await asyncio.sleep(SETTLE_SECONDS)

    # --- what the benchmark measures ---------------------------------------------------

    async def one_ours(self, username):
        try:
            return await self.ours(username)
        finally:
            if username in self.servers:
                await self.stop_ours(username)
            await self.settle()

    async def one_baseline(self, name):
        try:
            return await self.baseline(name)
        finally:
            await self.stop_baselines([name])
            await self.settle()

    async def crowd_ours(self, usernames):
        started = time.perf_counter()
        try:
            # distinct event ids: XNAT's UI in ten browsers would not launch in the same millisecond
            starts = await asyncio.gather(*(self.ours(u, offset_ms=i) for i, u in enumerate(usernames)))
            return Crowd(time.perf_counter() - started, starts)
        finally:
            await asyncio.gather(*(self.stop_ours(u) for u in usernames if u in self.servers), return_exceptions=True)
            await self.settle()

    async def crowd_baseline(self, names):
        started = time.perf_counter()
        try:
            starts = await asyncio.gather(*(self.baseline(name) for name in names))
            return Crowd(time.perf_counter() - started, starts)
        finally:
            await self.stop_baselines(names)
            await self.settle()


async def measure(site, args):
    loop = asyncio.get_running_loop()
    # Ten service creates at once need ten threads; the default pool has cores + 4.
    loop.set_default_executor(ThreadPoolExecutor(2 * MAX_CONCURRENT, thread_name_prefix="docker"))
    await asyncio.to_thread(site.deploy)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=4 * MAX_CONCURRENT)) as session:
        runs = Runs(site, session, args)
        if args.warmup:
            print("warm-up: one start on each side (not counted)", file=sys.stderr)
            await runs.one_ours(WARMUP_USER)
            await runs.one_baseline(f"{BASELINE_PREFIX}-{WARMUP_USER}")
        single = {"ours": [], "baseline": []}
        for i in range(1, args.repeat + 1):
            print(f"1 at a time: run {i} of {args.repeat}", file=sys.stderr)
            # alternate which side goes first, so a drift in the machine's load hits both alike
            sides = [("ours", runs.one_ours, f"solo{i:02d}"),
                     ("baseline", runs.one_baseline, f"{BASELINE_PREFIX}-solo{i:02d}")]
            for side, start, name in sides if i % 2 else reversed(sides):
                single[side].append(await start(name))
        crowd = {"ours": [], "baseline": []}
        for i in range(1, args.concurrent_rounds + 1):
            print(f"{args.concurrent} at once: round {i} of {args.concurrent_rounds}", file=sys.stderr)
            users = [f"crowd{i:02d}x{k:02d}" for k in range(1, args.concurrent + 1)]
            sides = [("ours", runs.crowd_ours, users),
                     ("baseline", runs.crowd_baseline, [f"{BASELINE_PREFIX}-{u}" for u in users])]
            for side, start, names in sides if i % 2 else reversed(sides):
                crowd[side].append(await start(names))
    return single, crowd


def users_of(args):
    users = [WARMUP_USER] + [f"solo{i:02d}" for i in range(1, args.repeat + 1)]
    users += [f"crowd{i:02d}x{k:02d}"
              for i in range(1, args.concurrent_rounds + 1) for k in range(1, args.concurrent + 1)]
    return users


def hub_spawn_times(log):
    """The hub's own start time per user:server, from its log line 'User u:s took N seconds to start'."""
    return {found.group(1).split(":")[0]: float(found.group(2)) for found in HUB_SPAWN_TIME.finditer(log)}


def verdict(ratio, target):
    return f"<= {target}x  {'met' if ratio <= target else 'NOT met'}"


def seconds_list(starts):
    return " ".join(f"{s.seconds:.2f}" for s in starts)


def spread(starts):
    values = [s.seconds for s in starts]
    return f"min {min(values):.2f}  median {statistics.median(values):.2f}  max {max(values):.2f}"


def print_parts(single, crowd, hub_times, args):
    """Where ours' time goes: per launch, the hub's part (its log), XNAT's part around it, and the opening."""
    parts = (("the hub starting it: from XNAT's start request to ready (hub log)",
              lambda s: hub_times[s.name]),
             (f"XNAT around it: its calls before, then polling every {args.xnat_polling_interval} s",
              lambda s: s.xnat_ready_seconds - hub_times[s.name]),
             ("opening it: a token through XNAT, the first request through the proxy",
              lambda s: s.seconds - s.xnat_ready_seconds))
    print(f"ours, where the time goes (medians in s, 1 at a time / {args.concurrent} at once):")
    for label, part in parts:
        values = [[part(s) for s in starts if s.name in hub_times] for starts in (single, crowd)]
        medians = [statistics.median(found) if found else float("nan") for found in values]
        print(f"  {label:<72}{medians[0]:>6.2f} / {medians[1]:.2f}")


def report(single, crowd, hub_log, site, args, load_before, elapsed):
    ours_single = statistics.median(s.seconds for s in single["ours"])
    base_single = statistics.median(s.seconds for s in single["baseline"])
    ours_crowd = statistics.median(c.wall_seconds for c in crowd["ours"])
    base_crowd = statistics.median(c.wall_seconds for c in crowd["baseline"])
    rounds = f"median of {args.concurrent_rounds} rounds" if args.concurrent_rounds > 1 else "wall"
    print(f"\nNotebook start on the swarm: XNAT launch through the hub (ours) versus docker service create"
          f" of the same image (baseline)\nnotebook image {site.images['notebook']}, hub image {site.images['hub']};"
          f" XNAT startPollingInterval {args.xnat_polling_interval} s; readiness checked every {args.poll_interval} s"
          " on both sides")
    print(f"{'':<32}{'ours (s)':>10}{'baseline (s)':>14}{'ours/baseline':>15}   target")
    for label, ours, base, target in (
            (f"1 at a time (median of {args.repeat})", ours_single, base_single, TARGET_SINGLE),
            (f"{args.concurrent} at once ({rounds})", ours_crowd, base_crowd, TARGET_CONCURRENT)):
        ratio = ours / base
        print(f"{label:<32}{ours:>10.2f}{base:>14.2f}{ratio:>14.2f}x   {verdict(ratio, target)}")
    print(f"1 at a time, each run (s): ours {seconds_list(single['ours'])};"
          f" baseline {seconds_list(single['baseline'])}")
    pair_ratios = [o.seconds / b.seconds for o, b in zip(single["ours"], single["baseline"], strict=True)]
    print(f"1 at a time, spread: ours {spread(single['ours'])}; baseline {spread(single['baseline'])};"
          f" ratio of each alternating pair min {min(pair_ratios):.2f}x  median {statistics.median(pair_ratios):.2f}x"
          f"  max {max(pair_ratios):.2f}x")
    for i, (ours, base) in enumerate(zip(crowd["ours"], crowd["baseline"], strict=True), 1):
        print(f"{args.concurrent} at once, round {i}, each notebook (s): ours {spread(ours.starts)};"
              f" baseline {spread(base.starts)}")
    print_parts(single["ours"], [s for c in crowd["ours"] for s in c.starts], hub_spawn_times(hub_log), args)
    print("load average (1/5/15 min) before: {:.2f} {:.2f} {:.2f}".format(*load_before)
          + ", after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()) + f"; whole run {elapsed:.0f} s")


def print_failure_logs(site, lines=40):
    for name in (HUB_SERVICE, STANDIN_SERVICE, PROBE_SERVICE):
        tail = site.service_logs(name, tail=lines).splitlines()
        if tail:
            print(f"--- last lines of service {name}:", *tail, sep="\n", file=sys.stderr)
    problems = site.task_problems(NOTEBOOK_PREFIX) + site.task_problems(BASELINE_PREFIX)
    if problems:
        print("--- notebook tasks:", *problems, sep="\n", file=sys.stderr)


def wait_for_quiet(max_load, wait):
    """The 1-minute load average before anything starts, after waiting up to `wait` seconds for it to fall
    to max_load; None when it stayed above (figures measured then compare a busy machine, not the product)."""
    deadline = time.monotonic() + wait
    while True:
        load = os.getloadavg()[0]
        if load <= max_load:
            return load
        if time.monotonic() >= deadline:
            return None
        print(f"waiting for a quiet machine: load {load:.2f} > {max_load:.2f}", file=sys.stderr)
        time.sleep(10)


def interrupted(signum, frame):
    raise KeyboardInterrupt


def check_engine(client, images):
    if client.info().get("Swarm", {}).get("ControlAvailable") is not True:
        raise BenchError("this Docker engine is not a swarm manager (docker swarm init --advertise-addr 127.0.0.1)")
    for key, ref in images.items():
        try:
            client.images.get(ref)
        except NotFound:
            raise BenchError(f"image {ref} ({key}) does not exist on this engine") from None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/run.sh spawn", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5,
                        help="starts one at a time on each side; the median counts (default 5)")
    parser.add_argument("--concurrent", type=int, default=MAX_CONCURRENT,
                        help=f"notebooks started at once on each side (default and most {MAX_CONCURRENT})")
    parser.add_argument("--concurrent-rounds", type=int, default=1,
                        help="rounds of starts at once per side (default 1)")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the uncounted first start on each side")
    parser.add_argument("--poll-interval", type=float, default=0.2,
                        help="seconds between readiness checks, the same on both sides (default 0.2)")
    parser.add_argument("--xnat-polling-interval", type=int, default=1,
                        help="XNAT's startPollingInterval preference in seconds (default 1; XNAT's own default is 8)")
    parser.add_argument("--start-timeout", type=float, default=150, help="seconds one start may take (default 150)")
    for key in ("hub", "notebook", "standin"):
        parser.add_argument(f"--{key}-image", help=f"image reference of the {key} (default: from {IMAGES_FILE})")
    parser.add_argument("--hub-log", type=Path,
                        help="also write the hub's log to this file, to see where its time goes")
    parser.add_argument("--time-limit", type=float, default=900, help="seconds before the whole run is abandoned")
    parser.add_argument("--max-load", type=float, default=0.5 * (os.cpu_count() or 1),
                        help="refuse to measure while the 1-minute load average stays above this"
                             " (default: half the cores)")
    parser.add_argument("--quiet-wait", type=float, default=120,
                        help="seconds to wait for the load to fall to --max-load (default 120)")
    args = parser.parse_args(argv)
    if not 1 <= args.concurrent <= MAX_CONCURRENT:
        parser.error(f"--concurrent must be between 1 and {MAX_CONCURRENT}")
    if not 1 <= args.repeat <= 20 or not 1 <= args.concurrent_rounds <= 5:
        parser.error("--repeat must be between 1 and 20, --concurrent-rounds between 1 and 5")
    if args.poll_interval <= 0 or args.xnat_polling_interval < 0:
        parser.error("--poll-interval must be positive, --xnat-polling-interval not negative")

    signal.signal(signal.SIGTERM, interrupted)
    if wait_for_quiet(args.max_load, args.quiet_wait) is None:
        print(f"spawn benchmark refused: the 1-minute load average stayed above {args.max_load:.2f} for"
              f" {args.quiet_wait:.0f} s (now {os.getloadavg()[0]:.2f}); other work would be measured too."
              " Run it on a quiet machine, or pass --max-load.", file=sys.stderr)
        return 2
    began = time.monotonic()
    load_before = os.getloadavg()
    try:
        images = load_images(IMAGES_FILE, {"hub": args.hub_image, "notebook": args.notebook_image,
                                           "standin": args.standin_image})
        client = docker.from_env(timeout=120, max_pool_size=2 * MAX_CONCURRENT)
        check_engine(client, images)
        other = live_owner(client)
        if other:
            raise BenchError(f"another spawn benchmark (pid {other}) is running on this swarm; run one at a time")
    except (BenchError, DockerException) as e:
        print(f"spawn benchmark cannot start: {e}", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    root.chmod(0o755)  # the stand-in and the notebooks (NOTEBOOK_UID) traverse it to their bind mounts
    site = None
    status = 0
    try:
        remove_owned(client)  # leftovers of an interrupted run
        site = Site(client, images, root, users_of(args), args.xnat_polling_interval)
        single, crowd = asyncio.run(asyncio.wait_for(measure(site, args), args.time_limit))
        hub_log = site.service_logs(HUB_SERVICE, tail="all")
        if args.hub_log:
            args.hub_log.write_text(hub_log, encoding="utf-8")
    except (BenchError, TimeoutError, DockerException, OSError) as e:
        print(f"spawn benchmark failed: {str(e) or f'time limit of {args.time_limit:.0f} s reached'}", file=sys.stderr)
        if site is not None:
            print_failure_logs(site)
        status = 1
    except KeyboardInterrupt:
        print("spawn benchmark interrupted", file=sys.stderr)
        status = 130
    finally:
        # Clean-up runs to its end: a second Ctrl-C would leave services behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(f"removing the benchmark's {PREFIX}* services, secrets and network", file=sys.stderr)
        try:
            remove_owned(client)
        except (BenchError, DockerException) as e:
            print(f"clean-up incomplete: {e}; remove what is left with: docker service ls --filter name={PREFIX}",
                  file=sys.stderr)
            status = status or 1
        shutil.rmtree(root, ignore_errors=True)
        client.close()
    if status == 0:
        report(single, crowd, hub_log, site, args, load_before, time.monotonic() - began)
    return status


if __name__ == "__main__":
    sys.exit(main())
