"""Who the client is and whether it used HTTPS, believed only from proxies the hub trusts.

A browser's request reaches the hub through two proxies: haproxy on the host (which terminates TLS
and sets X-Forwarded-For and X-Forwarded-Proto from the connection), then configurable-http-proxy
in the hub's container (which appends the address it saw and "http"). Tornado, as JupyterHub 5.5
runs it, takes the last X-Forwarded-Proto entry ("http": no Secure cookies behind TLS) and lets an
X-Real-IP header override the address, so a client could name itself in the hub's log.

Here the chain of X-Forwarded-For entries, plus the connection's own peer, is walked from the hub
outwards for as long as each hop is a trusted proxy: loopback and this container's own addresses
(configurable-http-proxy), this container's default gateway (Docker's bridge, where haproxy's
connections to the published port arrive) and the networks the site names. The first untrusted
hop is the client, and the X-Forwarded-Proto entry of the same hop says whether it used HTTPS.
X-Real-IP and X-Scheme are ignored. A notebook that calls the hub directly is its own client.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import struct
from collections.abc import Callable, Iterable
from typing import Any

from jupyterhub.handlers.base import BaseHandler
from tornado import httputil, iostream, web
from tornado.http1connection import HTTP1ServerConnection
from tornado.httpserver import HTTPServer, _HTTPRequestContext

# No request the hub serves needs more; notebooks' traffic does not pass through the hub's server.
MAX_BODY_BYTES = 1024 * 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def default_gateway(route_table: str = "/proc/net/route") -> str | None:
    """The IPv4 default gateway of this container or host, from the kernel's routing table."""
    try:
        with open(route_table, encoding="ascii") as table:
            next(table, None)
            for line in table:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000" and fields[2] != "00000000":
                    return socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))
    except (OSError, ValueError):
        pass
    return None


@functools.lru_cache(maxsize=256)
def is_local_address(address: str) -> bool:
    """True when `address` belongs to this container (binding to it succeeds)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.is_loopback:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
        return True
    except OSError:
        return False


def plain_address(address: str) -> str:
    """An IPv4 address written as IPv6 (::ffff:172.19.0.1, as configurable-http-proxy reports them) as IPv4."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped) if mapped else address


def client_of(forwarded_for: str | None, forwarded_proto: str | None, peer: str, protocol: str,
              trusted: Callable[[str], bool]) -> tuple[str, str]:
    """(address, protocol) of the client: the nearest hop that is not a trusted proxy.

    `forwarded_for` and `forwarded_proto` are the headers as received (comma-separated, oldest hop
    first); `peer` and `protocol` describe the connection itself.
    """
    hops = [plain_address(h.strip()) for h in (forwarded_for or "").split(",") if h.strip()] + [plain_address(peer)]
    protos = [p.strip().lower() for p in (forwarded_proto or "").split(",") if p.strip()] + [protocol]
    index = len(hops) - 1
    while index > 0 and trusted(hops[index]):
        index -= 1
    address = hops[index]
    # Each proxy appends one address and one protocol: align the two lists from the hub's end.
    proto_index = len(protos) - (len(hops) - index)
    proto = protos[proto_index] if 0 <= proto_index < len(protos) else protocol
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return peer, protocol
    return address, proto if proto in ("http", "https") else protocol


class TrustedProxies:
    """Membership test for addresses whose X-Forwarded-* headers the hub believes."""

    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self.networks = tuple(networks)

    def __call__(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return is_local_address(address) or any(ip in network for network in self.networks)


class _ProxyChainContext(_HTTPRequestContext):
    """Tornado's per-connection request context with the hub's rule for X-Forwarded-* headers."""

    def __init__(self, stream: iostream.IOStream, address: tuple, protocol: str | None,
                 trusted: TrustedProxies) -> None:
        super().__init__(stream, address, protocol)
        self._trusted = trusted

    def _apply_xheaders(self, headers: httputil.HTTPHeaders) -> None:
        self.remote_ip, self.protocol = client_of(
            headers.get("X-Forwarded-For"), headers.get("X-Forwarded-Proto"),
            self._orig_remote_ip, self._orig_protocol, self._trusted)


class ProxyAwareHTTPServer(HTTPServer):
    """JupyterHub's HTTP server with _ProxyChainContext and a body size limit.

    Replaces tornado 6.x HTTPServer.handle_stream, which builds its own context, only to build ours;
    JupyterHub 5.5 creates its server with xheaders=True, so _apply_xheaders runs for every request.
    """

    _trusted = TrustedProxies()

    def handle_stream(self, stream: iostream.IOStream, address: tuple) -> None:
        context = _ProxyChainContext(stream, address, self.protocol, self._trusted)
        conn = HTTP1ServerConnection(stream, self.conn_params, context)
        self._connections.add(conn)
        conn.start_serving(self)


def secure_cookies_over_https(handler_class: type[web.RequestHandler]) -> None:
    """Make handler_class.set_cookie mark every cookie of an HTTPS request Secure.

    JupyterHub 5.5 decides Secure per cookie for its login cookies but sets _xsrf with fixed settings;
    tornado adds cookies to a response after its output transforms run, so the method is wrapped.
    """
    original = handler_class.set_cookie
    if getattr(original, "secure_over_https", False):
        return

    @functools.wraps(original)
    def set_cookie(self: Any, name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        if self.request.protocol == "https":
            kwargs["secure"] = True
        original(self, name, value, *args, **kwargs)

    set_cookie.secure_over_https = True  # type: ignore[attr-defined]  # a marker on the function, read back above
    handler_class.set_cookie = set_cookie  # type: ignore[method-assign]  # the wrapping is the point (see above)


def install(extra_trusted: Iterable[Network] = ()) -> TrustedProxies:
    """Make every tornado HTTPServer this process creates from now on (JupyterHub's) a ProxyAwareHTTPServer,
    and every cookie JupyterHub sets over HTTPS Secure.

    Trusted: loopback, this container's addresses, its default gateway and `extra_trusted`.
    Call it from jupyterhub_config.py.
    """
    networks = list(extra_trusted)
    gateway = default_gateway()
    if gateway:
        networks.append(ipaddress.ip_network(gateway))
    trusted = TrustedProxies(networks)
    ProxyAwareHTTPServer._trusted = trusted  # pylint: disable=protected-access
    HTTPServer.configure(ProxyAwareHTTPServer, max_body_size=MAX_BODY_BYTES)
    secure_cookies_over_https(BaseHandler)
    return trusted
