"""Server behaviours the lab does not emulate, served by a small real aiohttp server on loopback.

* the export tool only under the versioned ECP folder (``/ecp/<build>/exporttool/...``), not ``Current``
  (remote-fingerprinting.md §3: the fallback of righel and the CheckInfo tool);
* an absolute redirect that drops the non-default port (``Location: https://host/owa/auth/logon.aspx``);
* Exchange recognisable only by ``X-FEServer`` on EWS, with no build anywhere (precision ``none``);
* an IPv6 loopback target.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web

from exaudit.model import Precision, ScanResult, Status
from exaudit.scan import scan
from exaudit.scan.fingerprint import EXPORTTOOL_NAME

MANIFEST = (
    b'<?xml version="1.0" encoding="utf-8"?><asmv1:assembly xmlns:asmv1="urn:schemas-microsoft-com:asm.v1">'
    b'<assemblyIdentity name="microsoft.exchange.ediscovery.exporttool.application" version="15.1.2176.9" /></asmv1:assembly>'
)
LOGON = (
    b'<html><head><title>Outlook</title><link rel="shortcut icon" href="/owa/auth/15.1.2176/themes/resources/favicon.ico"></head></html>'
)


def versioned_app(seen: list[str]) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if request.path == "/owa/":
            host = request.url.host or ""
            raise web.HTTPFound(f"http://{f'[{host}]' if ':' in host else host}/owa/auth/logon.aspx?url=x&reason=0")
        if request.path == "/owa/auth/logon.aspx":
            return web.Response(body=LOGON, content_type="text/html")
        if request.path == f"/ecp/15.1.2176.9/exporttool/{EXPORTTOOL_NAME}":
            return web.Response(body=MANIFEST, content_type="application/x-ms-application")
        return web.Response(status=404, text="not found")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    return app


def ews_only_app(seen: list[str]) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if request.path.lower() == "/ews/exchange.asmx":
            return web.Response(status=401, headers={"X-FEServer": "EXCH01", "WWW-Authenticate": "Negotiate"})
        return web.Response(status=404, text="not found")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    return app


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, tuple[str, list[str]]]]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    found: dict[str, tuple[str, list[str]]] = {}
    runners: list[web.AppRunner] = []

    async def start() -> None:
        apps = (("versioned", "127.0.82.1", versioned_app), ("ews", "127.0.82.2", ews_only_app), ("ipv6", "::1", versioned_app))
        for name, address, factory in apps:
            seen: list[str] = []
            runner = web.AppRunner(factory(seen))
            await runner.setup()
            site = web.TCPSite(runner, address, 0)
            await site.start()
            port = runner.addresses[0][1]
            runners.append(runner)
            found[name] = (f"http://{address}:{port}" if ":" not in address else f"[{address}]:{port}", seen)
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    started.wait(10)
    yield found
    for runner in runners:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_versioned_exporttool_folder_gives_the_exact_build(servers: dict[str, tuple[str, list[str]]]) -> None:
    url, seen = servers["versioned"]
    (result,) = scan([url], timeout=2)
    assert (result.exchange, result.build, result.build_precision) == (True, "15.1.2176.9", Precision.EXACT)
    assert result.build_method == "ecp exporttool manifest (/ecp/15.1.2176.9/)"
    assert "/owa/auth/logon.aspx" in seen  # the port-less absolute redirect was followed on the scanned origin
    assert next(c for c in result.cves if c.cve == "CVE-2021-26855").status is Status.NOT_VULNERABLE


def test_exchange_without_a_visible_build(servers: dict[str, tuple[str, list[str]]]) -> None:
    url, seen = servers["ews"]
    (result,) = scan([url], timeout=2)
    assert seen[:2] == ["/owa/", "/EWS/Exchange.asmx"]  # EWS is asked only because /owa/ showed nothing
    assert (result.exchange, result.build, result.build_precision, result.product) == (True, None, Precision.NONE, None)
    assert result.build_method == "exchange header x-feserver (/EWS/Exchange.asmx)"
    assert result.cves and {c.status for c in result.cves} == {Status.UNKNOWN}


def test_ipv6_target(servers: dict[str, tuple[str, list[str]]]) -> None:
    target, _ = servers["ipv6"]  # "[::1]:port", plain HTTP: TLS is tried first and falls back
    (result,) = scan([target], timeout=2)
    assert (result.target, result.url) == (target, f"http://{target}")
    assert (result.exchange, result.build) == (True, "15.1.2176.9")


def test_redirect_from_http_to_https_is_followed_on_the_same_host(servers: dict[str, tuple[str, list[str]]]) -> None:
    from exaudit.lab import Lab, ServerSpec

    with Lab([ServerSpec(build="15.1.2507.6", owa_version_header=False, exporttool=True)], first_address="127.0.82.9", port=0) as lab:
        tls_port = lab.endpoints[0].port
        app = web.Application()

        async def upgrade(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(f"https://127.0.82.9:{tls_port}/owa/")

        app.router.add_route("GET", "/{tail:.*}", upgrade)

        async def run() -> list[ScanResult]:
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.82.9", 0)
            await site.start()
            port = runner.addresses[0][1]
            try:
                return await asyncio.to_thread(scan, [f"http://127.0.82.9:{port}"], timeout=2)
            finally:
                await runner.cleanup()

        (result,) = asyncio.run(run())
    assert result.url == f"https://127.0.82.9:{tls_port}"
    assert (result.build, result.build_precision) == ("15.1.2507.6", Precision.EXACT)


def test_probe_is_inconclusive_when_the_control_also_fails() -> None:
    """A server that drops every request for /owa/auth/x.js, with or without the cookie: no mitigation claimed."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == "/owa/auth/x.js":
            assert request.transport is not None
            request.transport.abort()
            raise web.HTTPServiceUnavailable()
        return web.Response(body=LOGON, content_type="text/html")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)

    async def run() -> list[ScanResult]:
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.82.10", 0).start()
        port = runner.addresses[0][1]
        try:
            return await asyncio.to_thread(scan, [f"http://127.0.82.10:{port}"], probes=["eomt", "proxylogon"], timeout=2)
        finally:
            await runner.cleanup()

    (result,) = asyncio.run(run())
    assert {p["name"]: p["outcome"] for p in result.probes} == {"eomt": "inconclusive", "proxylogon": "aborted"}
    assert result.mitigations == []
    assert next(c for c in result.cves if c.cve == "CVE-2021-26855").status is Status.POSSIBLY_VULNERABLE
