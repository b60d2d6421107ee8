"""Runs haproxy with the role's rendered configuration between a client and two loopback echo
backends (the hub and XNAT) and checks where XNAT's session cookie goes: to XNAT and to the hub's
login page (which asks XNAT whose session it is), never to the rest of the hub or to notebooks."""

from __future__ import annotations

import http.client
import http.server
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COOKIE = "JSESSIONID"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def echo_backend(name: str, port: int) -> http.server.ThreadingHTTPServer:
    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.dumps({"backend": name, "cookie": self.headers.get_all("Cookie") or []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
            pass

    class Quiet(http.server.ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # haproxy's health checks close their connections early

    server = Quiet(("127.0.0.1", port), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def get(port: int, path: str, cookie: str | None) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie is not None else {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise AssertionError(f"GET {path} answered {response.status}: {body[:200]!r}")
    return json.loads(body)


# (path, Cookie header sent, backend expected, Cookie headers the backend must see)
CASES = [
    ("/", f"{COOKIE}=s1; other=1", "xnat", [f"{COOKIE}=s1; other=1"]),
    ("/data/projects", f"{COOKIE}=s1", "xnat", [f"{COOKIE}=s1"]),
    ("/jupyterhub/hub/login", f"{COOKIE}=s1; jupyterhub-session-id=h", "hub",
     [f"{COOKIE}=s1; jupyterhub-session-id=h"]),
    ("/jupyterhub/hub/login?next=%2Fjupyterhub%2F", f"{COOKIE}=s1", "hub", [f"{COOKIE}=s1"]),
    ("/jupyterhub/hub/home", f"{COOKIE}=s1; jupyterhub-session-id=h", "hub", ["jupyterhub-session-id=h"]),
    ("/jupyterhub/hub/home", f"jupyterhub-session-id=h; {COOKIE}=s1", "hub", ["jupyterhub-session-id=h"]),
    ("/jupyterhub/hub/home", f"a=1; {COOKIE}=s1; b=2", "hub", ["a=1; b=2"]),
    ("/jupyterhub/user/alice/x/lab", f"{COOKIE}=s1", "hub", []),
    ("/jupyterhub/user/alice/x/api/kernels", f"{COOKIE}=s1;{COOKIE}=s2", "hub", []),
    ("/jupyterhub/hub/login/../home", f"{COOKIE}=s1", "hub", []),
    ("/jupyterhub/hub/loginx", f"{COOKIE}=s1", "hub", []),
    ("/jupyterhub/user/alice/x/lab", f"X{COOKIE}=keep; {COOKIE}=s1", "hub", [f"X{COOKIE}=keep"]),
    ("/jupyterhub/user/alice/x/lab", "only=1", "hub", ["only=1"]),
    ("/jupyterhub/user/alice/x/lab", None, "hub", []),
]


def main() -> int:
    hub_port, xnat_port, proxy_port = free_port(), free_port(), free_port()
    servers = [echo_backend("hub", hub_port), echo_backend("xnat", xnat_port)]
    with tempfile.TemporaryDirectory(prefix="haproxy-cookie-") as scratch:
        config = Path(scratch) / "haproxy.cfg"
        variables = {
            "haproxy_tls_enabled": False, "haproxy_bind_address": "127.0.0.1", "haproxy_http_port": proxy_port,
            "haproxy_hub_servers": [{"name": "hub", "address": "127.0.0.1", "port": hub_port}],
            "haproxy_xnat_servers": [{"name": "xnat", "address": "127.0.0.1", "port": xnat_port}],
            "haproxy_test_keep": str(config),
        }
        subprocess.run(["ansible-playbook", "-i", "localhost,", str(ROOT / "tests/haproxy/render.yml"),
                        "-e", json.dumps(variables)], check=True, stdout=subprocess.DEVNULL)
        proxy = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", proxy_port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            failures = []
            for path, sent, backend, seen in CASES:
                got = get(proxy_port, path, sent)
                if got != {"backend": backend, "cookie": seen}:
                    failures.append(f"{path} with Cookie {sent!r}: expected {backend} {seen}, got {got}")
        finally:
            proxy.terminate()
            proxy.wait(10)
            for server in servers:
                server.shutdown()
    for failure in failures:
        print(f"FAIL {failure}")
    passed = len(CASES) - len(failures)
    print(f"{'FAIL' if failures else 'PASS'} session_cookie ({passed} of {len(CASES)} requests routed "
          "with the expected Cookie header)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
