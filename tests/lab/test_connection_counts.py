"""The lab's connection accounting that scanning-safety tests rely on: accepted, in use now, and the peaks."""

from __future__ import annotations

import socket
import time

from exaudit.lab import Lab, ServerSpec


def wait_until(condition: object, seconds: float = 10.0) -> bool:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(condition())


def test_peaks_count_connections_and_addresses_in_use() -> None:
    specs = [ServerSpec(kind="plain", tls=False), ServerSpec(kind="plain", tls=False), ServerSpec(kind="plain", tls=False)]
    with Lab(specs, first_address="127.0.98.1", port=0) as lab:
        first, second, third = lab.endpoints
        sockets = [socket.create_connection((e.host, e.port), timeout=10) for e in (first, first, second)]
        assert wait_until(lambda: lab.open_connections() == {first.host: 2, second.host: 1})
        for sock in sockets:
            sock.close()
        assert wait_until(lambda: lab.open_connections() == {})
        with socket.create_connection((third.host, third.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(12) == b"HTTP/1.1 200"
        assert wait_until(lambda: lab.open_connections() == {})
        assert (lab.peak_connections, lab.peak_addresses) == (3, 2)
        assert lab.accepted() == {first.host: 2, second.host: 1, third.host: 1}
