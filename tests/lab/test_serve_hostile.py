"""Each hostile kind misbehaves as named, over real loopback sockets (plain HTTP unless TLS is the point)."""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator

import pytest

from exaudit.lab import Endpoint, Lab, ServerSpec

SPECS = {
    "tarpit": ServerSpec(kind="tarpit", tls=False),
    "tarpit_tls": ServerSpec(kind="tarpit"),
    "endless": ServerSpec(kind="endless", tls=False),
    "redirect_loop": ServerSpec(kind="redirect_loop", tls=False),
    "garbage": ServerSpec(kind="garbage", tls=False),
    "reset": ServerSpec(kind="reset"),
    "slow_headers": ServerSpec(kind="slow_headers", tls=False, drip=0.02),
    "plain_iis": ServerSpec(kind="plain", tls=False),
    "plain_nginx": ServerSpec(kind="plain", plain_server="nginx", tls=False),
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with Lab(list(SPECS.values()), first_address="127.0.92.1", port=0, tls_dir=tmp_path_factory.mktemp("tls")) as running:
        yield running


def endpoint(lab: Lab, name: str) -> Endpoint:
    return lab.endpoints[list(SPECS).index(name)]


def send_get(ep: Endpoint, path: str = "/owa/") -> socket.socket:
    sock = socket.create_connection((ep.host, ep.port), timeout=5)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {ep.host}\r\n\r\n".encode())
    return sock


def test_tarpit_accepts_and_never_answers(lab: Lab) -> None:
    ep = endpoint(lab, "tarpit")
    with send_get(ep) as sock:
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)
    recorded = [r for r in lab.requests if r.address == ep.host]
    assert recorded and recorded[-1].outcome == "silent" and recorded[-1].status is None


def test_tarpit_with_tls_completes_the_handshake_then_stays_silent(lab: Lab) -> None:
    ep = endpoint(lab, "tarpit_tls")
    raw = socket.create_connection((ep.host, ep.port), timeout=5)
    with ssl._create_unverified_context().wrap_socket(raw, server_hostname=ep.host) as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        tls.settimeout(0.3)
        with pytest.raises(TimeoutError):
            tls.recv(1)


def test_endless_body_never_ends(lab: Lab) -> None:
    with send_get(endpoint(lab, "endless")) as sock:
        received = bytearray()
        while len(received) < 1_000_000:
            chunk = sock.recv(65536)
            assert chunk, "the endless body ended"
            received += chunk
    head = bytes(received).split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length" not in head


def test_redirect_loop_cycles(lab: Lab) -> None:
    ep = endpoint(lab, "redirect_loop")
    seen = []
    path = "/owa/"
    connection = http.client.HTTPConnection(ep.host, ep.port, timeout=5)
    for _ in range(4):
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 302
        location = response.getheader("Location") or ""
        path = location.split(f"{ep.port}", 1)[1]
        seen.append(path.split("?")[0])
    connection.close()
    assert seen == ["/owa/auth/logon.aspx", "/owa/", "/owa/auth/logon.aspx", "/owa/"]


def test_garbage_is_not_http(lab: Lab) -> None:
    connection = http.client.HTTPConnection(endpoint(lab, "garbage").host, endpoint(lab, "garbage").port, timeout=5)
    connection.request("GET", "/")
    with pytest.raises(http.client.BadStatusLine):
        connection.getresponse()
    connection.close()


def test_reset_sends_rst(lab: Lab) -> None:
    ep = endpoint(lab, "reset")
    assert ep.url.startswith("http://")  # a reset happens before any TLS
    with send_get(ep) as sock, pytest.raises(ConnectionResetError):
        sock.recv(1024)


def test_slow_headers_never_finish(lab: Lab) -> None:
    received = bytearray()
    with send_get(endpoint(lab, "slow_headers")) as sock:
        sock.settimeout(0.5)
        while len(received) < 40:  # 17 bytes of status line, then one header byte per drip
            chunk = sock.recv(1024)
            assert chunk, "the server closed"
            assert len(chunk) < 100, "headers were sent at once, not dripped"
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK\r\nX-Slow-0000: a")
    assert b"\r\n\r\n" not in received


def test_plain_sites_are_not_exchange(lab: Lab) -> None:
    for name, server in (("plain_iis", "Microsoft-IIS/10.0"), ("plain_nginx", "nginx/1.24.0")):
        ep = endpoint(lab, name)
        connection = http.client.HTTPConnection(ep.host, ep.port, timeout=5)
        connection.request("GET", "/owa/auth/logon.aspx")
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status == 404
        assert response.getheader("Server") == server
        assert b"/owa/auth/" not in body and response.getheader("X-OWA-Version") is None


def test_malformed_request_is_refused_and_flagged(lab: Lab) -> None:
    ep = endpoint(lab, "plain_iis")
    with socket.create_connection((ep.host, ep.port), timeout=5) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 400 Bad Request")
    bad = [r for r in lab.requests if r.address == ep.host and r.outcome == "bad"]
    assert bad and bad[-1].flagged


def test_idle_connections_are_closed() -> None:
    with Lab([ServerSpec(tls=False)], first_address="127.0.92.201", port=0, idle_timeout=0.2) as lab:
        ep = lab.endpoints[0]
        with socket.create_connection((ep.host, ep.port), timeout=5) as sock:
            assert sock.recv(1) == b""  # closed by the server after the idle timeout (IIS connectionTimeout)


def test_request_bodies_are_not_buffered_and_the_method_is_refused(lab: Lab) -> None:
    ep = endpoint(lab, "plain_iis")
    with socket.create_connection((ep.host, ep.port), timeout=5) as sock:
        sock.sendall(b"POST /owa/auth.owa HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    assert received.startswith(b"HTTP/1.1 405 Method Not Allowed") and b"Connection: close" in received
    posted = [r for r in lab.requests if r.address == ep.host and r.method == "POST"]
    assert posted and posted[-1].flagged and posted[-1].status == 405
