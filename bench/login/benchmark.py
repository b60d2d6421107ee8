"""Login throughput of the hub: the XNAT authenticator against a blocking baseline.

Starts the XNAT stand-in with added latency, then for each authenticator a fresh
JupyterHub behind configurable-http-proxy, all on loopback. Every user logs in at
once through the proxy, each with its own cookie jar: GET /hub/login, then POST the
form until the 302 that sets the login cookie. The hub reports its worst event-loop
stall of the run (stall_meter.py). Prints logins/s for both and their ratio, and ours against
the floor: one XNAT round trip plus the hub's own work, the latter measured by the same logins
against a second stand-in that answers at once.
"""

import argparse
import asyncio
import base64
import html
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STANDIN_SRC = REPO / "files" / "xnat_standin" / "src"
HUB_SRC = REPO / "files" / "hub" / "src"  # the checkout's hub package, installed in the venv or not
CHP_PACKAGE = "configurable-http-proxy@5.1.0"
LOGIN_COOKIE = "jupyterhub-hub-login"
XSRF_FIELD = re.compile(r'name="_xsrf" value="([^"]+)"')
LOGIN_ERROR = re.compile(r'class="login_error">\s*(.*?)\s*<', re.S)
WARMUP_USER = "benchwarmup"
AUTHENTICATORS = {"xnat": "XnatAuthenticator (ours)", "blocking": "blocking baseline"}
STARTUP_SECONDS = 60
TARGET_RATIO = 10
TARGET_STALL_MS = 100
TARGET_FLOOR_RATIO = 3
MAX_USERS = 200


class BenchError(Exception):
    """The run cannot give a meaningful number; the message says why."""


@dataclass(frozen=True)
class Result:
    authenticator: str
    logins: int
    wall_seconds: float
    max_stall_seconds: float

    @property
    def per_second(self):
        return self.logins / self.wall_seconds


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Child processes of this run, each in its own session so Ctrl-C reaches only us."""

    def __init__(self):
        self.running = []

    def start(self, argv, log_path, **kwargs):
        with open(log_path, "wb") as log:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True, **kwargs)
        self.running.append(process)
        return process

    def stop(self, process, grace=10):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running.remove(process)

    def stop_all(self):
        for process in reversed(list(self.running)):
            self.stop(process)


def stop_orphaned_proxy(pid_file):
    """The hub stops its proxy on SIGTERM; if it died first, the pid file names the orphan."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if b"configurable-http-proxy" in cmdline:
        os.kill(pid, signal.SIGTERM)


def proxy_bin_dir(tmp):
    """Directory holding configurable-http-proxy: from PATH, else installed into this run's temp dir."""
    found = shutil.which("configurable-http-proxy")
    if found:
        return Path(found).parent
    prefix = tmp / "chp"
    try:
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                        "--loglevel=error", CHP_PACKAGE],
                       check=True, timeout=120, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    except (OSError, subprocess.SubprocessError) as e:
        detail = getattr(e, "stderr", b"") or b""
        raise BenchError(f"cannot install {CHP_PACKAGE} with npm: {e} {detail.decode(errors='replace')[-500:]}") from e
    return prefix / "node_modules" / ".bin"


async def wait_until_up(url, process, what, ok=lambda status: status < 500):
    deadline = time.monotonic() + STARTUP_SECONDS
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(f"{what} exited with status {process.returncode} while starting")
            try:
                async with session.get(url) as answer:
                    if ok(answer.status):
                        return
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(0.2)
    raise BenchError(f"{what} did not answer {url} within {STARTUP_SECONDS} s")


async def start_standin(processes, tmp, accounts, latency_ms):
    tmp.mkdir(parents=True, exist_ok=True)
    data_dir = tmp / "standin"
    admin_password = tmp / "admin-password"
    seed = tmp / "seed.json"
    for path, text in ((admin_password, secrets.token_urlsafe(18)),
                       (seed, json.dumps({"users": [
                           {"username": name, "password": password, "email": f"{name}@example.org",
                            "enabled": True, "verified": True, "roles": ["Jupyter"]}
                           for name, password in accounts.items()]}))):
        path.touch(mode=0o600)
        path.write_text(text)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(STANDIN_SRC), os.environ.get("PYTHONPATH")])))
    process = processes.start(
        [sys.executable, "-m", "xnat_standin", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir),
         "--admin-password-file", str(admin_password), "--seed", str(seed),
         "--latency-ms", str(latency_ms), "--log-level", "WARNING"],
        tmp / "standin.log", env=env)
    url = f"http://127.0.0.1:{port}"
    await wait_until_up(f"{url}/", process, "the XNAT stand-in")
    return url


async def check_accounts(standin_url, accounts):
    """Every account has the Jupyter role; asking once also puts each password into the
    stand-in's verified cache, so neither measured run pays its PBKDF2 cost."""
    async def roles(session, name, password):
        basic = base64.b64encode(f"{name}:{password}".encode()).decode()
        async with session.get(f"{standin_url}/xapi/users/{name}/roles",
                               headers={"Authorization": f"Basic {basic}"}) as answer:
            if answer.status != 200 or "Jupyter" not in await answer.json():
                raise BenchError(f"stand-in account {name}: HTTP {answer.status} {await answer.text()!r}")

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(roles(session, name, password) for name, password in accounts.items()))


async def log_in(session, base, username, password):
    async with session.get(f"{base}/hub/login") as page:
        text = await page.text()
    found = XSRF_FIELD.search(text)
    if page.status != 200 or not found:
        raise BenchError(f"GET /hub/login: HTTP {page.status}, _xsrf field {'found' if found else 'missing'}")
    form = {"_xsrf": html.unescape(found.group(1)), "username": username, "password": password}
    async with session.post(f"{base}/hub/login", data=form, allow_redirects=False) as answer:
        body = await answer.text()
        if answer.status != 302 or LOGIN_COOKIE not in answer.cookies:
            shown = LOGIN_ERROR.search(body)
            raise BenchError(f"POST /hub/login: HTTP {answer.status} without the login cookie: "
                             + (html.unescape(shown.group(1)) if shown else repr(body[:200])))


async def check_logged_in(session, base, username):
    """The login cookie really authenticates this user."""
    async with session.get(f"{base}/hub/api/user") as answer:
        model = await answer.json(content_type=None) if answer.status == 200 else {}
        if model.get("name") != username:
            raise BenchError(f"GET /hub/api/user after login: HTTP {answer.status}, name {model.get('name')!r}")


async def read_stall(base):
    """The hub's worst event-loop stall since the previous reading, in seconds."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(f"{base}/hub/bench/stall") as answer:
            if answer.status != 200:
                raise BenchError(f"stall meter: HTTP {answer.status}")
            reading = await answer.json()
    return reading["max_stall_seconds"], reading["samples"]


async def all_log_in(base, accounts, timeout):
    """Every account logs in at once; the wall time and the stall reading. Raises unless every
    login succeeded and its cookie authenticates that user."""
    async with AsyncExitStack() as stack:
        sessions = {}
        for name in accounts:
            jar = aiohttp.CookieJar(unsafe=True)  # unsafe: keep cookies from an IP-address host
            sessions[name] = await stack.enter_async_context(
                aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=timeout)))
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(log_in(sessions[name], base, name, password) for name, password in accounts.items()),
            return_exceptions=True)
        wall = time.perf_counter() - started
        failures = [f"{name}: {outcome if isinstance(outcome, BenchError) else repr(outcome)}"
                    for name, outcome in zip(accounts, outcomes, strict=True) if isinstance(outcome, BaseException)]
        if failures:
            raise BenchError(f"{len(failures)} of {len(accounts)} logins failed; first: " + "; ".join(failures[:3]))
        stall = await read_stall(base)
        await asyncio.gather(*(check_logged_in(sessions[name], base, name) for name in accounts))
    return wall, stall


async def measure(key, processes, tmp, proxy_bin, standin_url, users, warmup, args, latency_ms=None):
    state_dir = tmp / f"hub-{key}-{'run' if latency_ms is None else latency_ms}"
    state_dir.mkdir()
    proxy_port = free_port()
    env = dict(os.environ,
               PATH=f"{proxy_bin}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(HUB_SRC), os.environ.get("PYTHONPATH")])),
               BENCH_AUTHENTICATOR=key, BENCH_XNAT_URL=standin_url, BENCH_STATE_DIR=str(state_dir),
               BENCH_PROXY_PORT=str(proxy_port), BENCH_PROXY_API_PORT=str(free_port()),
               BENCH_HUB_PORT=str(free_port()), BENCH_HUB_DB=args.hub_db,
               BENCH_XNAT_MAX_CONNECTIONS=str(args.xnat_max_connections or ""))
    hub = processes.start([sys.executable, "-m", "jupyterhub", "-f", str(HERE / "hub_config.py")],
                          state_dir / "hub.log", cwd=state_dir, env=env)
    base = f"http://127.0.0.1:{proxy_port}"
    timeout = 30 + 2 * len(users) * args.latency_ms / 1000
    try:
        await wait_until_up(f"{base}/hub/api", hub, f"the hub ({key})", ok=lambda status: status == 200)
        # the warm-up login; with --returning-users every user logs in once first, so the
        # measured logins find their hub user instead of creating it
        await all_log_in(base, {**warmup, **users} if args.returning_users else warmup, timeout)
        await read_stall(base)
        wall, (stall, samples) = await all_log_in(base, users, timeout)
        if samples == 0:
            raise BenchError("the stall meter took no samples during the run")
    finally:
        processes.stop(hub)
        stop_orphaned_proxy(state_dir / "proxy.pid")
    label = AUTHENTICATORS[key] + ("" if latency_ms is None else f", XNAT at {latency_ms} ms")
    return Result(label, len(users), wall, stall)


async def run(args, tmp, processes):
    proxy_bin = proxy_bin_dir(tmp)
    users = {f"bench{i:03d}": secrets.token_urlsafe(16) for i in range(1, args.users + 1)}
    warmup = {WARMUP_USER: secrets.token_urlsafe(16)}
    standin_url = await start_standin(processes, tmp / "latency", {**users, **warmup}, args.latency_ms)
    await check_accounts(standin_url, {**users, **warmup})
    keys = [key for key in AUTHENTICATORS if args.blocking or key != "blocking"]
    results = [await measure(key, processes, tmp, proxy_bin, standin_url, users, warmup, args) for key in keys]
    # the floor's hub part: the same logins, XNAT answering at once (a stand-in without latency)
    instant_url = await start_standin(processes, tmp / "instant", {**users, **warmup}, 0)
    await check_accounts(instant_url, {**users, **warmup})
    results.append(await measure("xnat", processes, tmp, proxy_bin, instant_url, users, warmup, args, latency_ms=0))
    return results


def report(results, args, load_before):
    ours, instant = results[0], results[-1]
    baseline = results[1] if args.blocking else None
    print(f"\n{args.users} concurrent logins (distinct users) through configurable-http-proxy and JupyterHub;"
          f" XNAT stand-in latency {args.latency_ms} ms; hub database: SQLite {args.hub_db};"
          f" {'returning users' if args.returning_users else 'first logins'}"
          + (f"; XnatClient.max_connections={args.xnat_max_connections}" if args.xnat_max_connections else ""))
    print(f"{'authenticator':<42}{'logins':>7}{'wall (s)':>10}{'logins/s':>10}{'max stall (ms)':>16}")
    for r in results:
        print(f"{r.authenticator:<42}{r.logins:>7}{r.wall_seconds:>10.2f}{r.per_second:>10.1f}"
              f"{r.max_stall_seconds * 1000:>16.0f}")
    if baseline is not None:
        ratio = ours.per_second / baseline.per_second
        met = ratio >= TARGET_RATIO and ours.max_stall_seconds * 1000 < TARGET_STALL_MS
        print(f"ours / baseline: {ratio:.1f}x logins/s"
              f"  (target >= {TARGET_RATIO}x and max stall < {TARGET_STALL_MS} ms: {'met' if met else 'NOT met'})")
    floor = args.latency_ms / 1000 + instant.wall_seconds
    floor_ratio = ours.wall_seconds / floor
    met = floor_ratio < TARGET_FLOOR_RATIO and ours.max_stall_seconds * 1000 < TARGET_STALL_MS
    print(f"floor: one XNAT round trip ({args.latency_ms} ms) + the hub's own work ({instant.wall_seconds:.2f} s,"
          f" the same logins with XNAT answering at once) = {floor:.2f} s; ours {ours.wall_seconds:.2f} s ="
          f" {floor_ratio:.2f}x the floor (target < {TARGET_FLOOR_RATIO}x and max stall < {TARGET_STALL_MS} ms:"
          f" {'met' if met else 'NOT met'})")
    print("load average (1/5/15 min) before: {:.2f} {:.2f} {:.2f}".format(*load_before)
          + ", after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def print_log_tails(tmp, lines=15):
    for log in sorted(tmp.rglob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last lines of {log.relative_to(tmp)}:", *tail, sep="\n", file=sys.stderr)


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/run.sh login", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50,
                        help=f"distinct users logging in at once (default 50, at most {MAX_USERS})")
    parser.add_argument("--latency-ms", type=int, default=200, help="latency the stand-in adds to XNAT's answers")
    parser.add_argument("--xnat-max-connections", type=int, default=0,
                        help="set XnatClient.max_connections for our hub (default: the product's default)")
    parser.add_argument("--hub-db", choices=("file", "memory"), default="file",
                        help="the hub's SQLite database in a file (default, as deployed) or in memory,"
                             " which takes the disk's commit time out of every login")
    parser.add_argument("--returning-users", action="store_true",
                        help="measure logins of users the hub already knows (default: first logins,"
                             " which also create each hub user)")
    parser.add_argument("--no-blocking", dest="blocking", action="store_false",
                        help="skip the blocking baseline (its logins take users x latency one after another)")
    parser.add_argument("--time-limit", type=float, default=400, help="seconds before the whole run is abandoned")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be between 1 and {MAX_USERS}")

    signal.signal(signal.SIGTERM, interrupted)
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-login-"))
    processes = Processes()
    try:
        results = asyncio.run(asyncio.wait_for(run(args, tmp, processes), args.time_limit))
    except (BenchError, TimeoutError) as e:
        print(f"login benchmark failed: {str(e) or f'time limit of {args.time_limit:.0f} s reached'}", file=sys.stderr)
        processes.stop_all()
        print_log_tails(tmp)
        return 1
    except KeyboardInterrupt:
        print("login benchmark interrupted", file=sys.stderr)
        return 130
    finally:
        processes.stop_all()
        for pid_file in tmp.glob("hub-*/proxy.pid"):
            stop_orphaned_proxy(pid_file)
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, args, load_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
