import asyncio
import datetime
import ipaddress
import ssl

import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from traitlets.config import Config

from xnat_jupyterhub_hub import xnat as xnat_module
from xnat_jupyterhub_hub.xnat import XnatClient, XnatUnreachable


def make_client(url, **config):
    c = Config()
    c.XnatClient.url = url
    c.XnatClient.connect_timeout = 1.0
    c.XnatClient.request_timeout = 5.0
    for key, value in config.items():
        setattr(c.XnatClient, key, value)
    return XnatClient(config=c)


class SlowHandler(web.RequestHandler):
    """Answers after a short wait and records how many requests were in flight at once."""

    def initialize(self, counts):
        self.counts = counts

    async def get(self):
        self.counts["now"] += 1
        self.counts["most"] = max(self.counts["most"], self.counts["now"])
        try:
            await asyncio.sleep(0.3)
        finally:
            self.counts["now"] -= 1
        self.write({"ok": True})


async def serve(handlers, ssl_options=None):
    sock, port = bind_unused_port()
    server = HTTPServer(web.Application(handlers), ssl_options=ssl_options)
    server.add_sockets([sock])
    return server, port


@pytest_asyncio.fixture
async def slow_xnat():
    counts = {"now": 0, "most": 0}
    server, port = await serve([(r"/.*", SlowHandler, {"counts": counts})])
    yield f"http://127.0.0.1:{port}", counts
    server.stop()
    await server.close_all_connections()


@pytest.mark.asyncio
async def test_concurrent_requests_are_bounded_by_max_connections(slow_xnat):
    url, counts = slow_xnat
    # connect_timeout far below the wait: a request queued inside tornado would fail after it
    client = make_client(url, max_connections=3, connect_timeout=0.1)
    answers = await asyncio.gather(*(client.get(["xapi", "n", str(i)], "u", "p") for i in range(9)))
    assert [a.status for a in answers] == [200] * 9
    assert counts["most"] == 3


@pytest.mark.asyncio
async def test_waiting_longer_than_the_request_timeout_for_a_connection_fails_clearly(slow_xnat):
    url, _counts = slow_xnat
    client = make_client(url, max_connections=2, request_timeout=0.2)
    _pool_client, free_connections = client._pool()
    for _slot in range(2):
        await free_connections.acquire()
    with pytest.raises(XnatUnreachable, match="all 2 connections in use for 0.2 s"):
        await client.get(["xapi", "x"], "u", "p")
    for _slot in range(2):
        free_connections.release()
    client.request_timeout = 5.0
    assert (await client.get(["xapi", "x"], "u", "p")).status == 200


@pytest.mark.asyncio
async def test_failed_requests_give_their_connection_back(closed_port_url, slow_xnat):
    url, _counts = slow_xnat
    broken = make_client(closed_port_url, max_connections=1, request_timeout=0.5)
    for _attempt in range(3):
        with pytest.raises(XnatUnreachable, match="cannot connect|no answer"):
            await broken.get(["xapi", "x"], "u", "p")
    # the limit is shared per event loop, so a leaked slot would leave none for this request
    assert (await make_client(url).get(["xapi", "x"], "u", "p")).status == 200


def test_max_connections_must_be_positive():
    with pytest.raises(Exception, match="at least 1"):
        make_client("http://127.0.0.1:1", max_connections=0)


# --- TLS ---------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xnat-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "xnat.crt", tmp_path / "xnat.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


class PlainHandler(web.RequestHandler):
    def get(self):
        self.write({"ok": True})


@pytest_asyncio.fixture
async def https_xnat(certificate):
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(*certificate)
    server, port = await serve([(r"/.*", PlainHandler)], ssl_options=server_tls)
    yield f"https://127.0.0.1:{port}"
    server.stop()
    await server.close_all_connections()


@pytest.fixture
def counted_tls_setups(monkeypatch):
    """The CA file of every client SSLContext built, by this package or by tornado."""
    xnat_module._ssl_context.cache_clear()
    calls = []
    real = ssl.create_default_context

    def counting(*args, **kwargs):
        calls.append(kwargs.get("cafile"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    yield calls
    xnat_module._ssl_context.cache_clear()


@pytest.mark.asyncio
async def test_tls_settings_are_built_once_and_reused(https_xnat, certificate, counted_tls_setups):
    ca_file = certificate[0]
    client = make_client(https_xnat, ca_file=ca_file)
    for _attempt in range(3):
        assert (await client.get(["xapi", "x"], "u", "p")).status == 200
    # a second client with the same settings, as each spawner has, shares the context
    assert (await make_client(https_xnat, ca_file=ca_file).get(["xapi", "x"], "u", "p")).status == 200
    assert counted_tls_setups.count(ca_file) == 1


@pytest.mark.asyncio
async def test_certificate_checks_follow_the_settings(https_xnat, counted_tls_setups):
    with pytest.raises(XnatUnreachable, match="TLS failure|certificate"):
        await make_client(https_xnat).get(["xapi", "x"], "u", "p")
    assert (await make_client(https_xnat, verify_tls=False).get(["xapi", "x"], "u", "p")).status == 200


@pytest.mark.asyncio
async def test_unreadable_ca_file_fails_clearly(https_xnat, tmp_path, counted_tls_setups):
    client = make_client(https_xnat, ca_file=str(tmp_path / "missing.pem"))
    with pytest.raises(XnatUnreachable, match="cannot set up TLS"):
        await client.get(["xapi", "x"], "u", "p")
