"""Probes haproxy from inside a node and prints JSON for the verify playbook.

websocket: sends an Upgrade request for a hub path over TLS and expects the
101 answer, then bytes echoed back through the tunnel.
backends: reads haproxy's runtime statistics from its admin socket (status of
every server, so the health checks are known to pass).
"""
import json
import socket
import ssl
import sys


def websocket(host, port, path):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as conn:
            conn.sendall(
                (
                    f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                ).encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
            status_line = head.split(b"\r\n", 1)[0].decode()
            echoed = b""
            if " 101 " in status_line:
                payload = b"kernel-message"
                conn.sendall(payload)
                while len(echoed) < len(payload):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    echoed += chunk
            return {"status_line": status_line, "echoed": echoed.decode(errors="replace")}


def backends(socket_path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(socket_path)
        conn.sendall(b"show stat\n")
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = data.decode().splitlines()
    fields = lines[0].lstrip("# ").split(",")
    # zip(strict=) needs Python 3.10; this runs under the test node's /usr/bin/python3, whose version the base image
    # decides (images_debian_suite, MOLECULE_BASE_IMAGE), so it stays without it.
    rows = [dict(zip(fields, line.split(","))) for line in lines[1:] if line]  # noqa: B905
    return {f"{r['pxname']}/{r['svname']}": r["status"] for r in rows if r["svname"] not in ("FRONTEND", "BACKEND")}


if __name__ == "__main__":
    if sys.argv[1] == "websocket":
        print(json.dumps(websocket(sys.argv[2], int(sys.argv[3]), sys.argv[4])))
    else:
        print(json.dumps(backends(sys.argv[2])))
