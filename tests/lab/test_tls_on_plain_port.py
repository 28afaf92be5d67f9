"""A TLS ClientHello sent to a plain-HTTP endpoint gets an HTTP 400 at once and a close, as IIS and nginx answer it."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import pytest

from exaudit.lab import Lab, ServerSpec
from exaudit.scan import scan


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    specs = [
        ServerSpec(kind="plain", plain_server="iis", tls=False),
        ServerSpec(kind="plain", plain_server="nginx", tls=False),
        ServerSpec(build="15.2.1544.4", tls=False),
    ]
    with Lab(specs, first_address="127.0.94.1", port=0) as running:
        yield running


def answer_to_client_hello(host: str, port: int) -> bytes:
    """What the server sends back to a real ClientHello (Python's ssl module), read until it closes."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    handshake = context.wrap_bio(incoming, outgoing)
    with pytest.raises(ssl.SSLWantReadError):
        handshake.do_handshake()
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(outgoing.read())
        received = b""
        while chunk := sock.recv(65536):  # ends when the server closes; a hanging server fails on the timeout
            received += chunk
    return received


@pytest.mark.parametrize(("index", "server"), [(0, b"Microsoft-HTTPAPI/2.0"), (1, b"nginx/1.24.0"), (2, b"Microsoft-HTTPAPI/2.0")])
def test_client_hello_gets_400_and_close(lab: Lab, index: int, server: bytes) -> None:
    endpoint = lab.endpoints[index]
    lab.clear_requests()
    answer = answer_to_client_hello(endpoint.host, endpoint.port)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"\r\nServer: " + server + b"\r\n" in head and b"\r\nConnection: close" in head
    assert b"Bad Request" in body
    (record,) = [r for r in lab.requests if r.address == endpoint.host]
    assert (record.status, record.outcome, record.flagged) == (400, "tls", False)


def test_request_line_that_cannot_be_http_is_refused_at_once(lab: Lab) -> None:
    endpoint = lab.endpoints[0]
    lab.clear_requests()
    with socket.create_connection((endpoint.host, endpoint.port), timeout=10) as sock:
        sock.sendall(b"\r\nG{T / HTTP/1.1")  # no end of head yet: a server that waits for it would hang here
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert [(r.outcome, r.flagged) for r in lab.requests] == [("bad", True)]


def test_scanner_falls_back_to_http_without_waiting_for_a_timeout(lab: Lab) -> None:
    endpoint = lab.endpoints[2]
    lab.clear_requests()
    started = time.monotonic()
    (result,) = scan([f"{endpoint.host}:{endpoint.port}"], timeout=20)  # https is tried first on any port but 80
    elapsed = time.monotonic() - started
    assert (result.url, result.exchange, result.build) == (f"http://{endpoint.host}:{endpoint.port}", True, "15.2.1544.4")
    outcomes = [(r.outcome, r.method, r.path) for r in lab.requests]
    assert outcomes[0] == ("tls", "", outcomes[0][2]) and outcomes[1] == ("answered", "GET", "/owa/")
    assert elapsed < 10  # sanity bound only: a hanging answer would have cost the 20 s connect timeout
