"""What faces the network: haproxy only, owning the forwarding headers, logging without tokens; the hub's
cookies Secure behind its TLS."""

from __future__ import annotations

import json
import secrets
import socket

from local_site import HUB_URL, REPO, http, wait_until

PROBE_NETWORK = "rel-probe-net"
# Runs in a container on a network of the test's own: which of the host's ports answer on the bridge's gateway?
PROBE = """
import json, socket, sys
gateway = sys.argv[1]
result = {}
for port in (443, 8000, 8080, 8405):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((gateway, port))
        result[port] = "open"
    except OSError as e:
        result[port] = type(e).__name__
    finally:
        s.close()
print(json.dumps(result))
"""


def haproxy_ring() -> str:
    """The request log lines haproxy keeps in its ring "requests"."""
    with socket.socket(socket.AF_UNIX) as admin:
        admin.connect("/run/haproxy/admin.sock")
        admin.sendall(b"show events requests\n")
        chunks = []
        while chunk := admin.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def test_only_haproxy_answers_from_other_hosts(site, figures):
    base = json.loads((REPO / "build" / "images.json").read_text(encoding="utf-8"))["base"]
    client = site.swarm.client
    network = client.networks.create(PROBE_NETWORK, driver="bridge", labels={"rel-probe": "1"})
    try:
        gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
        output = client.containers.run(base, ["python3", "-c", PROBE, gateway], network=PROBE_NETWORK,
                                       remove=True, stdout=True, stderr=True)
    finally:
        network.remove()
    seen = {int(port): state for port, state in json.loads(output).items()}
    figures.add("exposure", f"from another network, on the host's address: haproxy 443 {seen[443]},"
                f" hub 8000 {seen[8000]}, XNAT stand-in 8080 {seen[8080]}, haproxy metrics 8405 {seen[8405]}")
    assert seen == {443: "open", 8000: "ConnectionRefusedError", 8080: "ConnectionRefusedError",
                    8405: "ConnectionRefusedError"}


def test_forwarding_headers_are_haproxys_and_tokens_stay_out_of_the_log(site, figures):
    marker = secrets.token_hex(6)
    token = "tok" + secrets.token_hex(12)
    answer = http("GET", f"{HUB_URL}/hub/api/rel-{marker}", params={"token": token, "x": "1"},
                  headers={"X-Real-IP": "6.6.6.8", "X-Forwarded-For": "6.6.6.9", "Forwarded": "for=6.6.6.7",
                           "X-Forwarded-Proto": "http"})
    assert answer.status_code == 404

    def hub_line():
        # The running hub container's log (docker service logs also reads every old task's and can take minutes).
        [container] = site.swarm.client.containers.list(
            filters={"label": f"com.docker.swarm.service.name={site.swarm.hub_service}"})
        logs = container.logs(tail=400).decode("utf-8", "replace")
        return next((line for line in logs.splitlines() if f"/rel-{marker}" in line and "log:" in line), None)

    line = wait_until("the hub to log the request", hub_line, 30)
    ring = [entry for entry in haproxy_ring().splitlines() if f"rel-{marker}" in entry]
    figures.add("headers and logs", f"hub logged the client as {line.split('(')[-1].split(')')[0]!r};"
                f" haproxy logged {ring[-1].split(chr(34))[1] if ring else 'nothing'!r}")
    assert "@127.0.0.1)" in line, line
    assert "6.6.6." not in line
    assert ring and "token=***&x=1" in ring[-1], ring
    assert token not in haproxy_ring()


def test_hub_cookies_are_secure_and_same_site_through_haproxy(figures):
    page = http("GET", f"{HUB_URL}/hub/login")
    cookies = page.raw.headers.getlist("Set-Cookie")
    figures.add("cookies", "; ".join(sorted({part.strip() for c in cookies for part in c.split(";")[1:]})))
    assert cookies
    for cookie in cookies:
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert "secure" in attributes and "SameSite=Lax" in cookie, cookie
