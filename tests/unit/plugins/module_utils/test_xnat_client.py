"""The XNAT client: retries, timeouts, TLS options, error messages and URL escaping."""

import json
import socket
import threading
import time

import pytest
import requests

from ansible_collections.xnat_jupyterhub.deploy.plugins.module_utils.xnat import XnatRequestError, XnatRestClient

ADMIN_PASSWORD = "Adm1n-S3cret-value"
USER_PASSWORD = "Us3r-S3cret-value"
REFUSED = ("HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /xapi "
           "(Caused by NewConnectionError('<urllib3.connection.HTTPConnection object>: "
           "Failed to establish a new connection: [Errno 111] Connection refused'))")
RESET = ("('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))")


class FakeResponse:
    def __init__(self, status, body="", content_type="application/json"):
        self.status_code = status
        self.text = body if isinstance(body, str) else json.dumps(body)
        self.headers = {"Content-Type": content_type}

    def json(self):
        return json.loads(self.text)


class FakeSession:
    """Answers requests from a script of responses and exceptions, and records what was sent."""

    instances = []

    def __init__(self, script=None):
        self.script = list(script or [])
        self.sent = []
        self.sleeps = []
        self.headers = {}
        self.closed = False
        FakeSession.instances.append(self)

    def request(self, method, url, **kwargs):
        self.sent.append(dict(kwargs, method=method, url=url))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    def close(self):
        self.closed = True


def make_client(script, **kwargs):
    """A client whose session (client.session) follows `script` and records backoff sleeps in client.session.sleeps."""
    session = FakeSession(script)
    kwargs.setdefault("retries", 3)
    return XnatRestClient("https://xnat.example.org/", "admin", ADMIN_PASSWORD, session_factory=lambda: session,
                          sleep=session.sleeps.append, **kwargs)


def test_path_segments_are_escaped():
    client = make_client([FakeResponse(200, [])])
    session = client.session
    client.get_user_roles("o'brien/../admin?x")
    assert session.sent[0]["url"] == "https://xnat.example.org/xapi/users/o%27brien%2F..%2Fadmin%3Fx/roles"


@pytest.mark.parametrize("status", [502, 503, 504])
def test_get_is_retried_on_gateway_statuses_with_backoff(status):
    client = make_client([FakeResponse(status), FakeResponse(status), FakeResponse(200, ["JupyterHub"])])
    session = client.session
    sleeps = client.session.sleeps
    assert client.get_user_roles("jupyterhub") == ["JupyterHub"]
    assert len(session.sent) == 3
    assert sleeps == [0.5, 1.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 500])
def test_other_statuses_are_not_retried(status):
    client = make_client([FakeResponse(status, "nope", "text/plain")])
    session = client.session
    sleeps = client.session.sleeps
    with pytest.raises(XnatRequestError) as error:
        client.get_user_roles("jupyterhub")
    assert error.value.status == status
    assert len(session.sent) == 1
    assert sleeps == []


def test_retries_are_bounded():
    client = make_client([FakeResponse(502, "Bad Gateway", "text/plain")] * 3, retries=2)
    session = client.session
    sleeps = client.session.sleeps
    with pytest.raises(XnatRequestError) as error:
        client.get_user_roles("jupyterhub")
    assert str(error.value) == "XNAT answered HTTP 502 to GET /xapi/users/jupyterhub/roles: Bad Gateway"
    assert len(session.sent) == 3
    assert sleeps == [0.5, 1.0]


def test_post_is_retried_on_503_only():
    client = make_client([FakeResponse(503), FakeResponse(200)])
    session = client.session
    client.set_jupyterhub_preferences({"startTimeout": 300})
    assert len(session.sent) == 2
    for status in (502, 504):
        client = make_client([FakeResponse(status, "gateway", "text/plain"), FakeResponse(200)])
        session = client.session
        with pytest.raises(XnatRequestError) as error:
            client.set_jupyterhub_preferences({"startTimeout": 300})
        assert error.value.status == status
        assert len(session.sent) == 1


def test_connection_refused_is_retried_then_reported():
    client = make_client([requests.exceptions.ConnectionError(REFUSED)] * 4)
    sleeps = client.session.sleeps
    with pytest.raises(XnatRequestError) as error:
        client.get_jupyterhub_preferences()
    assert str(error.value) == "cannot connect to XNAT at https://xnat.example.org: Connection refused (4 attempts)"
    assert error.value.status is None
    assert sleeps == [0.5, 1.0, 2.0]


def test_post_is_retried_only_when_the_connection_was_never_made():
    client = make_client([requests.exceptions.ConnectionError(REFUSED), FakeResponse(201, {"id": 4})])
    session = client.session
    assert client.create_compute("hardware", {"hardware": {"name": "Small"}}) == {"id": 4}
    assert len(session.sent) == 2
    client = make_client([requests.exceptions.ConnectionError(RESET), FakeResponse(201, {"id": 4})])
    session = client.session
    with pytest.raises(XnatRequestError) as error:
        client.create_compute("hardware", {"hardware": {"name": "Small"}})
    assert str(error.value) == "cannot connect to XNAT at https://xnat.example.org: ConnectionError (1 attempt)"
    assert len(session.sent) == 1


def test_read_timeout_is_not_retried():
    client = make_client([requests.exceptions.ReadTimeout("read timed out")], timeout=7.5)
    session = client.session
    sleeps = client.session.sleeps
    with pytest.raises(XnatRequestError) as error:
        client.get_jupyterhub_preferences()
    assert str(error.value) == ("XNAT at https://xnat.example.org did not answer GET /xapi/jupyterhub/preferences "
                                "within 7.5 seconds")
    assert len(session.sent) == 1
    assert sleeps == []


def test_tls_failure_is_reported_at_once():
    client = make_client([requests.exceptions.SSLError("certificate verify failed: self-signed certificate")])
    with pytest.raises(XnatRequestError) as error:
        client.get_jupyterhub_preferences()
    assert str(error.value) == ("TLS connection to XNAT at https://xnat.example.org failed: "
                                "certificate verify failed: self-signed certificate")
    assert len(client.session.sent) == 1


def test_timeouts_and_tls_options_reach_every_request():
    client = make_client([FakeResponse(200, [])], connect_timeout=3.0, timeout=12.0,
                         ca_path="/etc/site-ca.pem", client_cert="/etc/c.pem", client_key="/etc/c.key")
    session = client.session
    client.get_user_roles("jupyterhub")
    sent = session.sent[0]
    assert sent["timeout"] == (3.0, 12.0)
    assert sent["verify"] == "/etc/site-ca.pem"
    assert sent["cert"] == ("/etc/c.pem", "/etc/c.key")
    assert sent["auth"] == ("admin", ADMIN_PASSWORD)
    client = make_client([FakeResponse(200, [])], validate_certs=False, ca_path="/etc/site-ca.pem")
    session = client.session
    client.get_user_roles("jupyterhub")
    assert session.sent[0]["verify"] is False
    assert session.sent[0]["cert"] is None


def test_error_excerpt_is_short_and_never_holds_a_secret():
    body = "<html><body><h1>Oops</h1>password {} rejected for {} {}</body></html>".format(
        ADMIN_PASSWORD, USER_PASSWORD, "x" * 400)
    client = make_client([FakeResponse(400, body, "text/html")])
    client.add_secret(USER_PASSWORD)
    with pytest.raises(XnatRequestError) as error:
        client.update_user("jupyterhub", {"password": USER_PASSWORD})
    message = str(error.value)
    assert message.startswith("XNAT answered HTTP 400 to PUT /xapi/users/jupyterhub:"
                              " Oops password ******** rejected for ******** xxx")
    assert message.endswith("...")
    assert ADMIN_PASSWORD not in message and USER_PASSWORD not in message
    assert "<h1>" not in message
    assert len(message) < 300


def test_authentication_and_permission_errors_name_the_user_only():
    client = make_client([FakeResponse(401, "Bad credentials.", "text/plain")])
    with pytest.raises(XnatRequestError) as error:
        client.get_jupyterhub_preferences()
    assert str(error.value) == ("XNAT rejected the credentials of user 'admin' (HTTP 401)"
                                " on GET /xapi/jupyterhub/preferences: Bad credentials.")
    client = make_client([FakeResponse(403, "", "text/plain")])
    with pytest.raises(XnatRequestError) as error:
        client.list_compute("hardware")
    assert str(error.value) == ("user 'admin' is not allowed to GET /xapi/compute/hardware "
                                "(HTTP 403; a site administrator is needed)")


def test_credentials_are_checked_as_the_user_from_a_fresh_session():
    FakeSession.instances = []
    scripts = iter([[], [FakeResponse(200, ["JupyterHub"])], [FakeResponse(401, "Bad credentials.", "text/plain")]])
    client = XnatRestClient("https://xnat.example.org", "admin", ADMIN_PASSWORD,
                            session_factory=lambda: FakeSession(next(scripts)))
    assert client.credentials_work("jupyterhub", USER_PASSWORD) is True
    assert client.credentials_work("jupyterhub", "wrong") is False
    admin_session, first_probe, second_probe = FakeSession.instances
    assert admin_session.sent == []
    assert first_probe.sent[0]["auth"] == ("jupyterhub", USER_PASSWORD)
    assert first_probe.sent[0]["url"] == "https://xnat.example.org/xapi/users/jupyterhub/roles"
    assert first_probe.closed and second_probe.closed
    assert client.redact(f"x {USER_PASSWORD} y") == "x ******** y"


def test_credentials_check_reports_other_failures():
    client = make_client([FakeResponse(500, "boom", "text/plain")])
    with pytest.raises(XnatRequestError) as error:
        client.credentials_work("jupyterhub", USER_PASSWORD)
    assert str(error.value) == "XNAT answered HTTP 500 to GET /xapi/users/jupyterhub/roles: boom"


def test_undefined_roles_are_found_with_a_no_op_removal():
    client = make_client([FakeResponse(202, ["Bogus"])])
    session = client.session
    assert client.undefined_roles("jsmith", ["Bogus", "Jupyter"]) == ["Bogus"]
    assert session.sent[0]["method"] == "DELETE"
    assert json.loads(session.sent[0]["data"]) == ["Bogus", "Jupyter"]
    client = make_client([FakeResponse(200, [])])
    session = client.session
    assert client.undefined_roles("jsmith", ["Jupyter"]) == []
    client = make_client([])
    session = client.session
    assert client.undefined_roles("jsmith", []) == []
    assert session.sent == []


def test_only_accepted_writes_count_as_changes():
    client = make_client([FakeResponse(200, []), FakeResponse(202, ["Bogus"]), FakeResponse(500, "x", "text/plain")])
    client.get_user_roles("jsmith")
    client.undefined_roles("jsmith", ["Bogus"])
    with pytest.raises(XnatRequestError):
        client.set_user_enabled("jsmith", True)
    assert client.changes_made is False
    client = make_client([FakeResponse(200)])
    client.set_user_enabled("jsmith", True)
    assert client.changes_made is True


def test_partial_role_grant_is_an_error():
    client = make_client([FakeResponse(202, ["Bogus"])])
    with pytest.raises(XnatRequestError) as error:
        client.add_user_roles("jsmith", ["Bogus"])
    assert str(error.value) == "XNAT could not grant role(s) Bogus to user 'jsmith' (HTTP 202)"


def test_missing_user_is_none_not_an_error():
    client = make_client([FakeResponse(404, "User nobody not found.", "text/plain")])
    assert client.get_user("nobody") is None


def test_update_compute_puts_the_path_id_into_the_body():
    client = make_client([FakeResponse(200, {})])
    session = client.session
    client.update_compute("environments", 7, {"id": 1, "configTypes": ["JUPYTERHUB"]})
    assert session.sent[0]["url"] == "https://xnat.example.org/xapi/compute/environments/7"
    assert json.loads(session.sent[0]["data"])["id"] == 7


def test_url_must_be_http_and_credentials_in_it_stay_hidden():
    with pytest.raises(XnatRequestError) as error:
        XnatRestClient("ftp://xnat.example.org", "admin", ADMIN_PASSWORD)
    assert str(error.value) == "url must start with http:// or https:// and name a host, got 'ftp://xnat.example.org'"
    client = XnatRestClient("https://someone:hunter2@xnat.example.org", "admin", ADMIN_PASSWORD,
                            session_factory=lambda: FakeSession([requests.exceptions.ConnectionError(REFUSED)]),
                            retries=0)
    with pytest.raises(XnatRequestError) as error:
        client.get_jupyterhub_preferences()
    assert "hunter2" not in str(error.value)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_closed_port_fails_fast_with_a_real_session():
    port = _free_port()
    client = XnatRestClient(f"http://127.0.0.1:{port}", "admin", ADMIN_PASSWORD, connect_timeout=2, timeout=2,
                            retries=1, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(XnatRequestError) as error:
        client.get_jupyterhub_preferences()
    assert str(error.value) == f"cannot connect to XNAT at http://127.0.0.1:{port}: Connection refused (2 attempts)"
    assert time.monotonic() - started < 10


def test_silent_server_hits_the_read_timeout_with_a_real_session():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted = []
    stop = threading.Event()

    def accept_and_stay_silent():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except socket.timeout:
                continue

    thread = threading.Thread(target=accept_and_stay_silent)
    thread.start()
    try:
        port = listener.getsockname()[1]
        client = XnatRestClient(f"http://127.0.0.1:{port}", "admin", ADMIN_PASSWORD, connect_timeout=2, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(XnatRequestError) as error:
            client.get_user_roles("jupyterhub")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    assert str(error.value) == (f"XNAT at http://127.0.0.1:{port} did not answer GET /xapi/users/jupyterhub/roles "
                                "within 0.5 seconds")
    assert len(accepted) == 1
    assert 0.5 <= elapsed < 10
