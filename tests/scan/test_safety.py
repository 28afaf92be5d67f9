"""Scanning safety, proven on the lab's own log: only the documented GETs, only the given targets, bounds that hold.

One scan of a farm with every kind of server and every probe; the lab records each request and connection. The
allowed requests are read from docs/scan.md ("What is sent" and "Probes"), so the documentation and the scanner
cannot drift apart unnoticed.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exaudit.cli import main
from exaudit.lab import HOSTILE_KINDS, Lab, RecordedRequest, ServerSpec, farm_specs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scan.md"
FIRST = "127.0.95.1"
TARGETS = 30  # 127.0.95.0/27 holds .1-.30; the lab's .31-.36 are never targeted
CONCURRENCY = 5
HEADER_NAMES = {"host", "user-agent", "accept", "accept-encoding", "cookie"}


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def farm() -> list[ServerSpec]:
    exchange = [s for s in farm_specs(80, seed=7) if s.kind == "exchange"][:18]
    exchange += [ServerSpec(build="15.1.2176.2", eomt=True, tls=False), ServerSpec(build="15.2.986.5", eems=True)]
    plain = [ServerSpec(kind="plain"), ServerSpec(kind="plain", plain_server="nginx", tls=False), ServerSpec(kind="plain", tls=False)]
    hostile = [ServerSpec(kind=kind, drip=2.0) for kind in HOSTILE_KINDS] + [ServerSpec(kind="tarpit", tls=False)]
    targeted = exchange + plain + hostile
    assert len(targeted) == TARGETS
    return targeted + [ServerSpec(kind="plain", tls=False) for _ in range(6)]  # decoys: plain HTTP, so any connect shows


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with Lab(farm(), first_address=FIRST, port=free_port(FIRST), tls_dir=tmp_path_factory.mktemp("tls")) as running:
        yield running


@pytest.fixture(scope="module")
def scanned(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The scan (every probe, 5 hosts at once, 1 s per request) and what the lab saw of it."""
    output = tmp_path_factory.mktemp("scan") / "scan.json"
    args = ["scan", f"127.0.95.0/27:{lab.port}", "--probe", "all", "--concurrency", str(CONCURRENCY), "--timeout", "1"]
    started = time.monotonic()
    code = main([*args, "--format", "json", "--no-store", "-o", str(output)])
    elapsed = time.monotonic() - started
    document = json.loads(output.read_text(encoding="utf-8"))
    return {"code": code, "document": document, "elapsed": elapsed, "requests": lab.requests}


def documented_requests() -> tuple[list[re.Pattern[str]], str]:
    """Every ``GET /path`` named in docs/scan.md as a pattern, and the one Cookie value a probe may send."""
    text = DOCS.read_text(encoding="utf-8")
    patterns = []
    for path in set(re.findall(r"`GET (/[^`\s]*)`", text)):
        regex = re.escape(path).replace(re.escape("<build>"), r"[0-9.]+").replace(re.escape("?..."), r"\?.*")
        patterns.append(re.compile(regex + r"\Z"))
    (cookie,) = set(re.findall(r"`Cookie: ([^`]+)`", text))
    return patterns, cookie


def is_documented(request: RecordedRequest, patterns: list[re.Pattern[str]], cookie: str) -> bool:
    if request.method != "GET" or request.version != "HTTP/1.1":
        return False
    sent_cookie = request.header("cookie")
    if sent_cookie is not None and (sent_cookie != cookie or request.path != "/owa/auth/x.js"):
        return False
    return any(p.match(request.target) for p in patterns)


def test_only_documented_gets_with_documented_headers(lab: Lab, scanned: dict[str, Any]) -> None:
    patterns, cookie = documented_requests()
    assert len(patterns) >= 8  # the doc's list was found
    plain_ports = {e.host for e in lab.endpoints if not e.spec.tls}
    tls_hellos = [r for r in scanned["requests"] if r.outcome == "tls"]
    assert tls_hellos and {r.address for r in tls_hellos} <= plain_ports  # https tried first on plain ports: refused 400
    http = [r for r in scanned["requests"] if r.outcome != "tls"]
    undocumented = [(r.method, r.target, r.header("cookie")) for r in http if not is_documented(r, patterns, cookie)]
    assert undocumented == []
    assert not [r for r in scanned["requests"] if r.flagged]
    for request in http:
        assert {name.lower() for name, _ in request.headers} <= HEADER_NAMES
        assert (request.header("user-agent") or "").startswith("exaudit/")
        assert request.header("host") == f"{request.address}:{request.port}"
    assert any(r.header("cookie") == cookie for r in http)  # the probes did run
    assert {r.path for r in http} >= {"/owa/", "/owa/auth/x.js", "/autodiscover/autodiscover.json/powershell"}


def test_nothing_reaches_addresses_that_were_not_targeted(lab: Lab, scanned: dict[str, Any]) -> None:
    decoys = {e.host for e in lab.endpoints[TARGETS:]}
    assert not decoys & {r.address for r in scanned["requests"]}
    assert not decoys & set(lab.accepted())
    targeted = {e.host for e in lab.endpoints[:TARGETS]}
    assert {r.address for r in scanned["requests"]} <= targeted
    assert len({r.address for r in scanned["requests"]}) >= TARGETS - 1  # every target was asked (reset: no request)


def test_bounds_hold(lab: Lab, scanned: dict[str, Any]) -> None:
    results = {r["target"]: r for r in scanned["document"]["results"]}
    assert len(results) == TARGETS
    assert 1 <= lab.peak_addresses <= CONCURRENCY  # hosts in flight, as the servers saw them
    # a host's requests share one connection; only a TLS attempt given up on a plain port may still be closing when
    # the next connection to that host opens (the lab counts from accept until either side starts to close)
    assert lab.peak_connections <= 2 * CONCURRENCY
    by_kind = {e.spec.kind: results[f"{e.host}:{e.port}"] for e in lab.endpoints[:TARGETS] if e.spec.kind in HOSTILE_KINDS}
    assert "256 KiB" in by_kind["endless"]["error"]  # the endless body was cut at the cap
    for kind in ("tarpit", "slow_headers"):
        assert "time" in by_kind[kind]["error"]  # ended by a time bound, not by the server
    # no connection is left open: the scanner hung up on the endless stream, the tarpits and the drip
    deadline = time.monotonic() + 10
    while lab.open_connections() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.open_connections() == {}
    assert scanned["elapsed"] < 120  # sanity only: every host is bounded (4 x 1 s), 30 hosts 5 at a time


def test_scope_refuses_before_any_packet(lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scope = tmp_path / "scope.txt"
    scope.write_text("127.0.95.0/28  # only the first half\n")
    before, accepted = len(lab.requests), lab.accepted()
    code = main(["scan", f"127.0.95.0/27:{lab.port}", "--scope", str(scope), "--no-store", "--timeout", "1"])
    assert code == 2 and "outside the scope" in capsys.readouterr().err
    assert len(lab.requests) == before and lab.accepted() == accepted
