"""Non-blocking calls from the hub to XNAT's REST API (tornado's AsyncHTTPClient)."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import ssl
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.simple_httpclient import SimpleAsyncHTTPClient
from traitlets import Bool, Float, Integer, Unicode, validate
from traitlets.config import LoggingConfigurable

from . import __version__

if TYPE_CHECKING:
    from traitlets.utils.bunch import Bunch

# XNAT's own rule for login names (Patterns.EXPR_USERNAME in XNAT core).
XNAT_USERNAME_PATTERN = re.compile(r"[a-zA-Z][A-Za-z0-9\-_'.]{0,63}")


def is_xnat_username(name: object) -> bool:
    """True if `name` is a login name XNAT could have issued."""
    return isinstance(name, str) and XNAT_USERNAME_PATTERN.fullmatch(name) is not None


def for_log(value: object, limit: int = 32) -> str:
    """A user-supplied string made safe for one log line: repr-escaped and length-capped."""
    text = str(value)
    if len(text) > limit:
        return f"{text[:limit]!r}...({len(text)} chars)"
    return repr(text)


class XnatUnreachable(Exception):
    """XNAT did not answer: connection refused, DNS failure, TLS failure or timeout."""


@dataclass(frozen=True)
class XnatAnswer:
    """Status code and body of one XNAT response."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON; ValueError if it is not JSON."""
        return json.loads(self.body.decode("utf-8"))

    def excerpt(self, limit: int = 200) -> str:
        """The start of the body, for a log line."""
        return for_log(self.body.decode("utf-8", "replace"), limit)


class XnatClient(LoggingConfigurable):
    """Where XNAT is and how to talk to it; shared by the authenticator and the spawner."""

    url = Unicode(
        help="XNAT's root URL, e.g. https://xnat.example.org (a path prefix such as /xnat is kept).",
    ).tag(config=True)

    @validate("url")
    def _check_url(self, proposal: Bunch) -> str:
        value = proposal.value.rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"XnatClient.url must be an http(s) URL, got {value!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("XnatClient.url must not carry credentials, a query or a fragment")
        if parts.scheme == "http":
            self.log.warning("XNAT URL %s is plain http: passwords cross the network unencrypted", value)
        return value

    verify_tls = Bool(True, help="Verify XNAT's TLS certificate.").tag(config=True)
    ca_file = Unicode("", help="CA bundle for XNAT's certificate; empty = system CAs.").tag(config=True)
    client_cert_file = Unicode("", help="Client certificate for mutual TLS with XNAT.").tag(config=True)
    client_key_file = Unicode("", help="Private key of the client certificate.").tag(config=True)
    connect_timeout = Float(5.0, help="Seconds to wait for a connection to XNAT.").tag(config=True)
    request_timeout = Float(20.0, help="Seconds to wait for XNAT's whole answer.").tag(config=True)
    max_connections = Integer(
        50,
        help="Concurrent requests to XNAT from this hub; more wait for a free one, at most request_timeout seconds.",
    ).tag(config=True)

    @validate("max_connections")
    def _check_max_connections(self, proposal: Bunch) -> int:
        if proposal.value < 1:
            raise ValueError(f"XnatClient.max_connections must be at least 1, got {proposal.value}")
        return proposal.value

    # One HTTP client and one connection limit per event loop, shared by every spawner and the
    # authenticator, apart from the client JupyterHub uses for its proxy so slow XNAT answers
    # cannot hold that up.
    _pools: ClassVar[
        weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[SimpleAsyncHTTPClient, asyncio.Semaphore]]
    ] = weakref.WeakKeyDictionary()

    def _pool(self) -> tuple[SimpleAsyncHTTPClient, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            # The semaphore does the waiting: tornado lets as many through, so no request waits in its queue,
            # where the wait would count against connect_timeout. Simple, not curl (which JupyterHub picks
            # when pycurl is installed): it takes the SSLContext.
            http = SimpleAsyncHTTPClient(force_instance=True, max_clients=self.max_connections)
            pool = self._pools[loop] = (http, asyncio.Semaphore(self.max_connections))
        return pool

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS settings for https URLs, built once: tornado would build them, CA bundle and all, per request."""
        return _ssl_context(self.verify_tls, self.ca_file, self.client_cert_file, self.client_key_file)

    def url_for(self, *segments: object) -> str:
        """XNAT URL for the given path segments, each escaped as one segment."""
        if not self.url:
            raise RuntimeError("XnatClient.url is not configured")
        return self.url + "/" + "/".join(quote(str(s), safe="") for s in segments)

    async def get(self, segments: Iterable[object], username: str = "", password: str = "", *,
                  session: tuple[str, str] | None = None, accept: str = "application/json") -> XnatAnswer:
        """GET a path with Basic auth, or with an XNAT session (cookie name, value) instead; returns XnatAnswer
        for any HTTP status. `accept` is the media type asked for (XNAT answers 406 to one its endpoint
        does not produce).

        Raises XnatUnreachable when no HTTP answer arrives within the timeouts.
        """
        url = self.url_for(*segments)
        try:
            tls = self.ssl_context() if url.startswith("https:") else None
        except (ssl.SSLError, OSError) as e:
            raise XnatUnreachable(f"cannot set up TLS for XNAT (CA file or client certificate): {e}") from None
        headers = {"Accept": accept}
        if session is not None:
            # Only this one cookie, never the browser's others; the caller checked that it is a plain token.
            headers["Cookie"] = f"{session[0]}={session[1]}"
        request = HTTPRequest(
            url,
            method="GET",
            headers=headers,
            auth_username=None if session is not None else username,
            auth_password=None if session is not None else password,
            auth_mode=None if session is not None else "basic",
            connect_timeout=self.connect_timeout,
            request_timeout=self.request_timeout,
            # A redirect would carry the credentials on to wherever it points.
            follow_redirects=False,
            ssl_options=tls,
            user_agent=f"xnat-jupyterhub-hub/{__version__}",
        )
        http, free_connections = self._pool()
        try:
            async with asyncio.timeout(self.request_timeout):
                await free_connections.acquire()
        except TimeoutError:
            raise XnatUnreachable(
                f"XNAT busy: all {self.max_connections} connections in use for {self.request_timeout:g} s"
            ) from None
        try:
            response = await http.fetch(request, raise_error=False)
        except HTTPClientError as e:
            # tornado reports timeouts as code 599
            raise XnatUnreachable(f"no answer from XNAT: {e.message or e}") from None
        except ssl.SSLError as e:
            raise XnatUnreachable(f"TLS failure talking to XNAT: {e.reason or e}") from None
        except OSError as e:
            raise XnatUnreachable(f"cannot connect to XNAT: {e.strerror or e}") from None
        finally:
            free_connections.release()
        if response.code == 599:
            raise XnatUnreachable(f"no answer from XNAT: {response.error}")
        return XnatAnswer(response.code, response.body or b"")


@functools.lru_cache(maxsize=8)
def _ssl_context(verify: bool, ca_file: str, client_cert_file: str, client_key_file: str) -> ssl.SSLContext:
    """One SSLContext per set of TLS settings; the files are read when it is built, so again only after a restart."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert_file:
        context.load_cert_chain(client_cert_file, client_key_file or None)
    return context
