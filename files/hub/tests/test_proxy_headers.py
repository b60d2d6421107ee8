"""Client address and protocol from X-Forwarded-* headers, believed only from trusted proxies."""

import asyncio
import ipaddress
import re
import time

import aiohttp
import pytest

from xnat_jupyterhub_hub.proxy_headers import TrustedProxies, client_of, default_gateway, is_local_address
from xnat_jupyterhub_hub.settings import parse_networks

GATEWAY = "172.18.0.1"
TRUSTED = TrustedProxies(parse_networks([GATEWAY]))


@pytest.mark.parametrize("xff, proto, peer, expected", [
    # haproxy (TLS) -> docker's gateway -> configurable-http-proxy in the hub's container -> the hub.
    ("203.0.113.7, 172.18.0.1", "https,http", "127.0.0.1", ("203.0.113.7", "https")),
    # The same request over plain HTTP.
    ("203.0.113.7, 172.18.0.1", "http,http", "127.0.0.1", ("203.0.113.7", "http")),
    # A notebook on the overlay network calls the hub's proxy directly and claims an address and HTTPS.
    ("6.6.6.8, 10.0.1.5", "https,http", "127.0.0.1", ("10.0.1.5", "http")),
    ("6.6.6.8, 10.0.1.5", "https,https,https,http", "127.0.0.1", ("10.0.1.5", "http")),
    # A notebook calls the hub's own port with forged headers: it is the client.
    ("6.6.6.8", "https", "10.0.1.5", ("10.0.1.5", "http")),
    # configurable-http-proxy listens on IPv6 and reports IPv4 peers as ::ffff:a.b.c.d.
    ("203.0.113.7, ::ffff:172.18.0.1", "https,http", "::ffff:127.0.0.1", ("203.0.113.7", "https")),
    ("::ffff:10.0.1.5", "http", "127.0.0.1", ("10.0.1.5", "http")),
    # Curl on the host against the published port: the gateway is the farthest hop.
    ("172.18.0.1", "http", "127.0.0.1", ("172.18.0.1", "http")),
    # No headers at all.
    (None, None, "10.0.1.5", ("10.0.1.5", "http")),
    # Garbage where an address should be: the connection's peer.
    ("<script>, 172.18.0.1", "https,http", "127.0.0.1", ("127.0.0.1", "http")),
    # A protocol that is neither http nor https.
    ("203.0.113.7, 172.18.0.1", "gopher,http", "127.0.0.1", ("203.0.113.7", "http")),
    # Fewer protocol entries than hops: what cannot be aligned is not believed.
    ("203.0.113.7, 172.18.0.1", None, "127.0.0.1", ("203.0.113.7", "http")),
])
def test_client_is_the_nearest_untrusted_hop(xff, proto, peer, expected):
    assert client_of(xff, proto, peer, "http", TRUSTED) == expected


def test_x_real_ip_plays_no_part():
    # client_of takes no X-Real-IP: the context passes only X-Forwarded-For and X-Forwarded-Proto.
    assert client_of("203.0.113.7, 172.18.0.1", "https,http", "127.0.0.1", "http", TRUSTED)[0] == "203.0.113.7"


def test_trust_covers_loopback_own_addresses_and_named_networks():
    trusted = TrustedProxies(parse_networks(["192.0.2.0/24"]))
    assert trusted("127.0.0.1") and trusted("::1")
    assert trusted("192.0.2.44")
    assert not trusted("198.51.100.1") and not trusted("not-an-ip") and not trusted("")


def test_own_addresses_are_local_and_others_are_not():
    assert is_local_address("127.0.0.5")
    assert not is_local_address("192.0.2.1")  # TEST-NET-1: never an address of this machine
    assert not is_local_address("bogus")


@pytest.mark.parametrize("items, error", [
    (["10.0.0.0/8", "192.0.2.3"], None),
    (["10.0.0.0/33"], "'10.0.0.0/33' is not an IP address or network"),
    (["proxy.example.org"], "'proxy.example.org' is not an IP address or network"),
])
def test_trusted_networks_are_parsed_strictly(items, error):
    if error is None:
        assert parse_networks(items) == tuple(ipaddress.ip_network(i) for i in items)
    else:
        with pytest.raises(ValueError, match=re.escape(error)):
            parse_networks(items)


def test_default_gateway_is_read_from_the_routing_table(tmp_path):
    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t0001000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "eth1\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")
    assert default_gateway(str(table)) == "172.18.0.1"
    table.write_text("Iface\tDestination\tGateway\n")
    assert default_gateway(str(table)) is None
    assert default_gateway(str(tmp_path / "missing")) is None


@pytest.mark.asyncio
async def test_hub_cookies_are_secure_only_when_a_trusted_proxy_says_https(loopback_hub):
    # The test talks to the hub from loopback, a trusted hop, as a proxy on the hub's machine does.
    async def login_page_cookies(headers):
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{loopback_hub.url}/login", headers=headers) as page:
                assert page.status == 200
                return page.headers.getall("Set-Cookie")

    behind_tls = await login_page_cookies({"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    plain = await login_page_cookies({"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "http"})
    assert behind_tls and plain
    for cookie in behind_tls:
        assert "; Secure" in cookie and "SameSite=Lax" in cookie, cookie
    for cookie in plain:
        assert "; Secure" not in cookie and "SameSite=Lax" in cookie, cookie


@pytest.mark.asyncio
async def test_the_log_names_the_client_not_a_header_it_sent(loopback_hub):
    async with aiohttp.ClientSession() as session:
        headers = {"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "6.6.6.8", "X-Forwarded-Proto": "https"}
        async with session.get(f"{loopback_hub.url}/api/does-not-exist", headers=headers) as answer:
            assert answer.status == 404
    line = re.compile(r"404 GET /jupyterhub/hub/api/does-not-exist \(@([^)]*)\)")
    deadline = time.monotonic() + 5
    while not line.search(loopback_hub.log()) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    log = loopback_hub.log()
    assert line.search(log) and line.search(log).group(1) == "203.0.113.7", log[-2000:]
    assert "6.6.6.8" not in log


@pytest.mark.asyncio
async def test_bodies_over_one_mebibyte_are_refused_by_the_hub(loopback_hub):
    async with aiohttp.ClientSession() as session:
        try:
            async with session.post(f"{loopback_hub.url}/api/users/alice/tokens", data=b"x" * (2 * 1024 * 1024),
                                    headers={"Content-Type": "application/json"}) as answer:
                status = answer.status
        except aiohttp.ClientError:  # the hub may close the connection while the body is still being sent
            status = "closed"
    assert status in (400, "closed")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{loopback_hub.url}/api") as answer:
            assert answer.status == 200  # and the hub is still there
