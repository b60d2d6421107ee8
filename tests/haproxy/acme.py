"""Applies the haproxy role with haproxy_tls_certificate: acme to this machine, against Debian's pebble
ACME test server on loopback, and checks what a site sees: the certificate haproxy serves was issued by
pebble (its HTTP-01 challenge answered by haproxy itself), a second run changes nothing, a renewal
replaces the certificate while HTTPS requests keep being answered, hostile challenge paths get 4xx, and
wrong settings fail before anything changes.

The role runs as on a real proxy host (apt, Debian's init script, reload), in a private mount namespace
whose /etc/haproxy, /run/haproxy and /etc/default/haproxy are scratch copies, so this machine's own
haproxy (if any) is untouched. Ports are free loopback ports."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).parent))
from session_cookie import echo_backend, free_port  # noqa: E402 (after the path)

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "localhost"  # resolves to 127.0.0.1 through /etc/hosts, for pebble's validation too
NAMESPACE_FLAG = "HAPROXY_ACME_TEST_NAMESPACE"


def write_tls_for_pebble(scratch: Path) -> Path:
    """A throwaway CA and a certificate for pebble's own HTTPS listeners; returns the CA's path."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme test directory CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (scratch / "directory-ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (scratch / "pebble-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (scratch / "pebble-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return scratch / "directory-ca.pem"


def wait_for(what: str, probe, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except (OSError, ssl.SSLError) as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not up after {timeout} s: {error}") from error
            time.sleep(0.1)


def run_role(variables: dict, extra: dict | None = None, *options: str) -> tuple[int, str, float]:
    started = time.monotonic()
    result = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(ROOT / "tests/haproxy/acme.yml"),
         "-e", json.dumps({**variables, **(extra or {})}), *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return result.returncode, result.stdout, time.monotonic() - started


def recap_changed(output: str) -> int:
    for line in output.splitlines():
        if line.startswith("localhost") and "changed=" in line:
            return int(line.split("changed=")[1].split()[0])
    raise AssertionError(f"no play recap in:\n{output[-2000:]}")


def served_leaf(port: int, trust: ssl.SSLContext) -> x509.Certificate:
    """The certificate haproxy serves; the handshake verifies its chain up to pebble's root."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with trust.wrap_socket(raw, server_hostname=DOMAIN) as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def raw_http(port: int, request: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while b"\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def http_get(port: int, path: str) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _separator, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


class HttpsLoop(threading.Thread):
    """HTTPS requests to haproxy, one connection each, at most 100 a second until stopped; counts answers
    other than 200."""

    def __init__(self, port: int, trust: ssl.SSLContext) -> None:
        super().__init__(daemon=True)
        self.port, self.trust = port, trust
        self.stop = threading.Event()
        self.requests, self.failures, self.errors, self.serials = 0, 0, [], set()

    def run(self) -> None:
        while not self.stop.is_set():
            self.requests += 1
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
                    with self.trust.wrap_socket(raw, server_hostname=DOMAIN) as tls:
                        leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
                        self.serials.add(leaf.serial_number)
                        request = f"GET /data/projects HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n"
                        tls.sendall(request.encode())
                        answer = b""
                        while chunk := tls.recv(65536):
                            answer += chunk
                if answer.split(b" ", 2)[1:2] != [b"200"]:
                    raise OSError(f"answer {answer[:40]!r}")
            except (OSError, ssl.SSLError) as error:
                self.failures += 1
                self.errors.append(str(error))
            self.stop.wait(0.01)


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def enter_private_mounts(scratch: Path) -> Path:
    """Scratch copies of haproxy's system paths, visible to this process and its children only."""
    etc, run = scratch / "etc-haproxy", scratch / "run-haproxy"
    etc.mkdir()
    run.mkdir()
    # Debian's init script reads its settings here; its pid file goes with the scratch run directory.
    (scratch / "default-haproxy").write_text("PIDFILE=/run/haproxy/haproxy.pid\n")
    Path("/run/haproxy").mkdir(exist_ok=True)
    mounts = ((etc, "/etc/haproxy"), (run, "/run/haproxy"), (scratch / "default-haproxy", "/etc/default/haproxy"))
    for source, target in mounts:
        subprocess.run(["mount", "--bind", str(source), target], check=True)
    return etc


def stop_haproxy() -> None:
    pidfile = Path("/run/haproxy/haproxy.pid")
    for pid in pidfile.read_text().split() if pidfile.exists() else []:
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            pass


def main() -> int:
    if os.environ.get(NAMESPACE_FLAG) != "1":
        os.environ[NAMESPACE_FLAG] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable, __file__])
    failures: list[str] = []

    def check(condition: bool, message: str) -> None:
        print(f"{'PASS' if condition else 'FAIL'} {message}")
        if not condition:
            failures.append(message)

    scratch = Path(tempfile.mkdtemp(prefix="haproxy-acme-"))
    etc = enter_private_mounts(scratch)
    directory_ca = write_tls_for_pebble(scratch)
    acme_port, management_port, http_port, https_port = free_port(), free_port(), free_port(), free_port()
    (scratch / "pebble.json").write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{acme_port}", "managementListenAddress": f"127.0.0.1:{management_port}",
        "certificate": str(scratch / "pebble-cert.pem"), "privateKey": str(scratch / "pebble-key.pem"),
        # pebble checks HTTP-01 on this port of the name's address: haproxy's HTTP frontend.
        "httpPort": http_port, "tlsPort": free_port(), "ocspResponderURL": "",
        "externalAccountBindingRequired": False}}))
    # No sleep before validating; every order needs a fresh challenge (no reuse of earlier authorizations).
    pebble = subprocess.Popen(["pebble", "-config", str(scratch / "pebble.json")],
                              env={**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0"},
                              stdout=open(scratch / "pebble.log", "w"), stderr=subprocess.STDOUT)
    hub_port, xnat_port = free_port(), free_port()
    backends = [echo_backend("hub", hub_port), echo_backend("xnat", xnat_port)]
    try:
        directory_trust = ssl.create_default_context(cafile=str(directory_ca))
        directory = f"https://{DOMAIN}:{acme_port}/dir"
        wait_for("pebble", lambda: urllib.request.urlopen(directory, context=directory_trust, timeout=2).read())
        variables = {
            "haproxy_bind_address": "127.0.0.1", "haproxy_http_port": http_port, "haproxy_https_port": https_port,
            "haproxy_hub_servers": [{"name": "hub", "address": "127.0.0.1", "port": hub_port}],
            "haproxy_xnat_servers": [{"name": "xnat", "address": "127.0.0.1", "port": xnat_port}],
            "haproxy_tls_certificate": "acme", "haproxy_acme_domains": [DOMAIN], "haproxy_acme_terms_agreed": True,
            "haproxy_acme_directory_url": directory, "haproxy_acme_directory_ca_path": str(directory_ca),
            "haproxy_acme_email": "hub-admin@example.org",
        }

        rc, out, issue_time = run_role(variables)
        check(rc == 0, f"first run obtains a certificate (rc {rc}, {issue_time:.1f} s)")
        if rc != 0:
            print(out[-4000:])
            return 1
        management = f"https://{DOMAIN}:{management_port}"
        root = urllib.request.urlopen(f"{management}/roots/0", context=directory_trust, timeout=10).read()
        intermediate = x509.load_pem_x509_certificate(
            urllib.request.urlopen(f"{management}/intermediates/0", context=directory_trust, timeout=10).read())
        site_trust = ssl.create_default_context(cadata=root.decode())
        leaf = served_leaf(https_port, site_trust)
        check(leaf.issuer == intermediate.subject, f"haproxy serves a certificate issued by pebble's intermediate "
              f"({leaf.issuer.rfc4514_string()}), verified up to pebble's root")
        try:
            leaf.verify_directly_issued_by(intermediate)
            signed = True
        except (ValueError, TypeError, Exception):  # noqa: BLE001 (any verification error is a failure here)
            signed = False
        check(signed, "the served certificate carries the intermediate's signature")
        check(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName) == [DOMAIN], f"the certificate names {DOMAIN}")

        rc, out, second_time = run_role(variables)
        check(rc == 0 and recap_changed(out) == 0, f"second run changes nothing (rc {rc}, "
              f"changed={recap_changed(out) if rc == 0 else '?'}, {second_time:.1f} s)")

        # The challenge map after the issue: haproxy answers the last token exactly, and nothing else.
        entries = [line.split() for line in (etc / "acme-challenge.map").read_text().splitlines() if line.strip()]
        check(len(entries) == 1, f"the challenge map holds the last order's token ({len(entries)} entries)")
        token, key_authorization = entries[0]
        status, body = http_get(http_port, f"/.well-known/acme-challenge/{token}")
        check((status, body.decode()) == (200, key_authorization), "haproxy answers a published token with its "
              "key authorization")
        prefix = "/.well-known/acme-challenge/"
        hostile = {
            "unknown token": prefix + "A" * 43,
            "token with an extra path segment": prefix + token + "/x",
            "traversal": prefix + "../../../../etc/passwd",
            "encoded traversal": prefix + "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "encoded NUL": prefix + token + "%00",
            "unicode": prefix + "%C3%A9t%C3%A9",
            "empty token": prefix,
            "long token (300 characters)": prefix + "a" * 300,
            "huge token (60000 characters)": prefix + "a" * 60000,
        }
        for name, path in hostile.items():
            status = raw_http(http_port, f"GET {path} HTTP/1.1\r\nHost: {DOMAIN}\r\n\r\n".encode())
            check(400 <= status < 500, f"hostile challenge path, {name}: {status}")
        status = raw_http(http_port, f"GET {prefix}{token}\0 HTTP/1.1\r\nHost: {DOMAIN}\r\n\r\n".encode())
        check(400 <= status < 500, f"hostile challenge path, raw NUL byte: {status}")

        # Wrong settings: a clear error, and the certificate and configuration stay as they were.
        before = (fingerprint(etc / "certs/site.pem"), fingerprint(etc / "haproxy.cfg"))
        wrong = {
            "unknown certificate source": ({"haproxy_tls_certificate": "letsencrypt"},
                                           "haproxy_tls_certificate must be one of: selfsigned, files, acme"),
            "renew days not a number": ({"haproxy_acme_renew_days": "soon"}, "haproxy_acme_renew_days"),
            "terms not agreed": ({"haproxy_acme_terms_agreed": False}, "haproxy_acme_terms_agreed must be true"),
            "IP address as a domain": ({"haproxy_acme_domains": ["127.0.0.1"]}, "no IP addresses"),
            "plain HTTP directory": ({"haproxy_acme_directory_url": f"http://{DOMAIN}:{acme_port}/dir"},
                                     "must be an https:// URL"),
        }
        for name, (extra, expected) in wrong.items():
            rc, out, _seconds = run_role(variables, extra)
            check(rc != 0 and expected in " ".join(out.split()), f"refused: {name}")
        rc, out, _seconds = run_role(variables, {"haproxy_acme_renew_days": 100000}, "--check")
        check(rc == 0 and recap_changed(out) > 0, "check mode reports a renewal that is due")
        check((fingerprint(etc / "certs/site.pem"), fingerprint(etc / "haproxy.cfg")) == before,
              "the refused runs and the check mode run changed neither the certificate nor the configuration")

        # Renewal under load: the certificate has fewer days left than asked for, so the role orders anew.
        loop = HttpsLoop(https_port, site_trust)
        loop.start()
        time.sleep(1)
        before_renewal = loop.requests
        rc, out, renew_time = run_role(variables, {"haproxy_acme_renew_days": 100000})
        during = loop.requests - before_renewal
        time.sleep(1)
        loop.stop.set()
        loop.join(15)
        renewed = served_leaf(https_port, site_trust)
        check(rc == 0, f"renewal run (rc {rc}, {renew_time:.1f} s)")
        if rc != 0:
            print(out[-4000:])
        check(renewed.serial_number != leaf.serial_number and renewed.issuer == intermediate.subject,
              "the renewal replaced the served certificate with a new one from pebble")
        check(leaf.serial_number in loop.serials and renewed.serial_number in loop.serials,
              f"the client loop saw the old and the new certificate ({len(loop.serials)} certificates seen)")
        check(loop.failures == 0, f"HTTPS requests during the renewal: {during}, in the whole loop: "
              f"{loop.requests}, failed: {loop.failures} {loop.errors[:3]}")
        rc, out, _seconds = run_role(variables)
        check(rc == 0 and recap_changed(out) == 0, "a run after the renewal changes nothing")
        if rc != 0 or recap_changed(out) != 0:
            print(out[-6000:])
        print(f"TIMING acme issue (first run of the role, install to served certificate) {issue_time:.1f} s; "
              f"second run {second_time:.1f} s; renewal run {renew_time:.1f} s with {during} HTTPS requests during "
              f"it, {loop.failures} failed")
    finally:
        stop_haproxy()
        pebble.terminate()
        pebble.wait(10)
        for backend in backends:
            backend.shutdown()
        if failures:
            print((scratch / "pebble.log").read_text()[-3000:])
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{'FAIL' if failures else 'PASS'} acme ({len(failures)} failed checks)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
