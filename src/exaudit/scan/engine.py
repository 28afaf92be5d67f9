"""The scan engine: asyncio workers, one bounded conversation per host, results streamed as they finish.

Per host (docs/scan.md lists every request), stopping as soon as the build is exact:

1. ``GET /owa/`` on the first port that answers (https first, plain http if the TLS handshake fails or stalls);
2. if it redirected to the OWA logon form: the ECP export-tool manifest (usually the exact build);
3. the same-host redirects from ``/owa/`` (at most ``MAX_REDIRECTS``), i.e. the logon page and its resource paths;
4. if Exchange did not show itself: ``GET /EWS/Exchange.asmx`` (401 with Exchange headers);
5. the export-tool manifest, then the versioned ECP folders of the CU's known builds, ``/EWS/Exchange.asmx`` and
   ``/autodiscover/autodiscover.xml`` for an ``X-OWA-Version`` header;
6. the requested probes.

Bounds: ``concurrency`` hosts in flight, ``rate`` requests per second overall, ``timeout`` per request and
``host_timeout`` for the whole conversation with one host. Every failure ends as the target's ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from exaudit.model import Precision, ScanResult
from exaudit.scan import exposure, probes
from exaudit.scan.fingerprint import (
    AUTODISCOVER_PATH,
    EWS_PATH,
    EXPORTTOOL_PATH,
    OWA_PATH,
    Clue,
    Observation,
    clues_from,
    merge,
    needs_more,
    versioned_exporttool_path,
)
from exaudit.scan.http import MAX_BODY, FetchError, Pacer, fetch, insecure_ssl_context, new_session, tcp_accepts
from exaudit.scan.targets import DEFAULT_PORTS, IPNetwork, Target, TargetSpec, expand, host_for_url

MAX_REDIRECTS = 5
MAX_VERSIONED_FOLDERS = 24  # a CU has had at most ~20 SUs and hotfix updates
VERSIONED_BUDGET = 1.5  # x --timeout for the whole versioned-folder search, so it never uses up the host bound
SILENT_KINDS = ("refused", "unreachable", "connect_timeout")  # nothing listens: a CIDR member is left out


@dataclass
class ScanOptions:
    ports: tuple[int, ...] = DEFAULT_PORTS
    probes: tuple[str, ...] = ()
    concurrency: int = 200
    rate: float = 0.0  # requests per second, 0 = unbounded
    timeout: float = 5.0  # per request
    host_timeout: float | None = None  # whole host; default 4 x timeout
    max_body: int = MAX_BODY
    scope: list[IPNetwork] | None = None  # also enforced when host names are resolved at connect time
    on_done: Callable[[], None] | None = None  # called once per target, also for silent CIDR members (progress bars)

    def bound(self) -> float:
        return self.host_timeout if self.host_timeout else 4 * self.timeout


@dataclass
class _Host:
    """The conversation with one host: where it answered and what it said."""

    target: Target
    session: aiohttp.ClientSession
    pacer: Pacer
    options: ScanOptions
    base: str = ""
    clues: list[Clue] = field(default_factory=list)
    asked: set[str] = field(default_factory=set)
    truncated: list[str] = field(default_factory=list)
    budget: asyncio.Timeout | None = None

    async def get(self, path: str, cookie: str | None = None) -> Observation:
        waited = await self.pacer.wait()
        deadline = self.budget.when() if self.budget is not None else None
        if waited and self.budget is not None and deadline is not None:
            self.budget.reschedule(deadline + waited)  # --rate waits do not use up the host's time bound
        headers = {"Cookie": cookie} if cookie else None
        observation, truncated = await fetch(self.session, self.base, path, headers=headers, max_body=self.options.max_body)
        if truncated:
            self.truncated.append(path)
        return observation

    async def ask(self, path: str) -> Observation | None:
        """A fingerprinting request whose failure only means 'no clue here'."""
        self.asked.add(path)
        try:
            observation = await self.get(path)
        except FetchError:
            return None
        self.clues.extend(clues_from(observation))
        return observation


# --------------------------------------------------------------------------- one host


async def scan_target(target: Target, session: aiohttp.ClientSession, pacer: Pacer, options: ScanOptions) -> ScanResult | None:
    """The result for one target, or None for a CIDR member where nothing listens."""
    host = _Host(target, session, pacer, options)
    result = ScanResult(target=target.given)
    try:
        async with asyncio.timeout(options.bound()) as host.budget:
            await _converse(host, result)
    except TimeoutError:
        result.error = f"no complete answer within the per-host time bound of {options.bound():g} s"
        if not result.exchange:
            _conclude(host, result)  # keep what the answers so far revealed
    except FetchError as exc:
        if target.member and exc.kind in SILENT_KINDS:
            return None
        result.error = str(exc)
        result.reachable = exc.kind not in SILENT_KINDS
    if target.member and not result.reachable:
        return None
    return result


async def _converse(host: _Host, result: ScanResult) -> None:
    first = await _connect(host, result)
    host.clues.extend(clues_from(first))
    if needs_more(merge(host.clues)) and _redirects_to_logon(host, first):
        await host.ask(EXPORTTOOL_PATH)  # usually exact: then the logon page adds nothing and is skipped
    if needs_more(merge(host.clues)):
        await _follow_owa(host, first, result)
    await _fingerprint(host)
    _conclude(host, result)
    if result.exchange and host.options.probes:
        result.probes, result.mitigations = await _run_probes(host, host.options.probes)
        exposure.apply_probes(result.cves, result.probes, result.mitigations)


def _conclude(host: _Host, result: ScanResult) -> None:
    """Fingerprint and exposure from every clue gathered so far."""
    fp = merge(host.clues)
    if host.truncated and not fp.exchange:
        result.error = f"response body larger than {host.options.max_body // 1024} KiB at {host.truncated[0]}; stopped reading"
    if not fp.exchange:
        return
    result.exchange, result.build, result.build_precision, result.build_method = True, fp.build, fp.precision, fp.method
    result.product = fp.product
    result.cves = exposure.assess(fp.build, fp.product)


async def _connect(host: _Host, result: ScanResult) -> Observation:
    """``GET /owa/`` on the first port and scheme that answers HTTP."""
    target = host.target
    last: FetchError | None = None
    for port in target.ports:
        result.target = target.name_for(port)
        for scheme in _schemes(target, port):
            host.base = result.url = f"{scheme}://{host_for_url(target.host)}:{port}"
            try:
                observation = await host.get(OWA_PATH)
            except FetchError as exc:
                last = await _explain(exc, target.host, port, host.options.timeout)
                if last.kind in ("tls", "tls_stalled"):
                    continue  # maybe plain HTTP on this port
                if last.kind in SILENT_KINDS:
                    break  # next port
                raise last from exc
            result.reachable = True
            host.asked.add(OWA_PATH)
            return observation
    assert last is not None
    if last.kind == "tls_stalled":
        raise FetchError("timeout", "TCP connection accepted, but no TLS handshake or HTTP answer in time (tarpit?)")
    raise last


async def _explain(exc: FetchError, address: str, port: int, timeout: float) -> FetchError:
    """A connect timeout where TCP does open is a server that stalls the TLS handshake, not an empty address."""
    if exc.kind == "connect_timeout" and await tcp_accepts(address, port, timeout):
        return FetchError("tls_stalled", "TCP connection accepted, but the TLS handshake stalled")
    return exc


def _schemes(target: Target, port: int) -> tuple[str, ...]:
    if target.scheme:
        return (target.scheme,)
    return ("http",) if port == 80 else ("https", "http")


async def _follow_owa(host: _Host, observation: Observation, result: ScanResult) -> None:
    """Follow same-origin redirects from ``/owa/`` (to the logon page); a loop becomes the error."""
    seen = [observation.path]
    for hop in range(MAX_REDIRECTS + 1):
        if hop:
            host.clues.extend(clues_from(observation))
        path = _same_origin_path(host.base, observation) if observation.status in (301, 302, 303, 307, 308) else None
        if path is None:
            return
        if len(seen) > MAX_REDIRECTS:
            break
        seen.append(path)
        upgraded = _scheme_change(host.base, observation.location or "")
        if upgraded:
            host.base = result.url = upgraded  # http -> https on the same host: follow it there
        try:
            observation = await host.get(path)
        except FetchError:
            return
    if not merge(host.clues).exchange:
        result.error = f"redirect loop: more than {MAX_REDIRECTS} redirects from {OWA_PATH}"


def _redirects_to_logon(host: _Host, observation: Observation) -> bool:
    """``/owa/`` answered with a redirect to the OWA logon form, as Exchange 2013+ does (2010 too: then 404)."""
    path = _same_origin_path(host.base, observation) if observation.status in (301, 302, 303, 307, 308) else None
    return path is not None and path.lower().startswith("/owa/auth/logon.aspx")


def _same_origin_path(base: str, observation: Observation) -> str | None:
    """The path of a redirect to this host (any scheme or port: some servers drop a non-default port), else None.

    The path is then requested on the origin already being scanned, so a redirect never leads out of scope.
    """
    location = (observation.location or "").strip()
    if location.startswith("/") and not location.startswith("//"):
        return location
    parts = urlsplit(location)
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() != (urlsplit(base).hostname or "").lower():
        return None
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _scheme_change(base: str, location: str) -> str | None:
    """The new origin when a redirect to the same host changes the scheme (port from the URL or the default)."""
    parts, ours = urlsplit(location), urlsplit(base)
    if parts.scheme not in ("http", "https") or parts.scheme == ours.scheme or parts.hostname != ours.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return f"{parts.scheme}://{host_for_url(parts.hostname or '')}:{port}"


async def _fingerprint(host: _Host) -> None:
    if not merge(host.clues).exchange:
        await host.ask(EWS_PATH)
    for path in (EXPORTTOOL_PATH, EWS_PATH, AUTODISCOVER_PATH):
        fp = merge(host.clues)
        if not fp.exchange or not needs_more(fp):
            return
        if path == EXPORTTOOL_PATH and fp.product == "2010":
            continue  # the eDiscovery export tool came with 2013
        if path not in host.asked:
            await host.ask(path)
        if path == EXPORTTOOL_PATH:
            await _versioned_exporttool(host)


async def _versioned_exporttool(host: _Host) -> None:
    """A CU-level build and no ``Current`` manifest: try the ECP folders of that CU's known builds, newest first.

    One at a time (one kept-alive connection) within its own time budget: running out of it only leaves the build
    at CU precision, it is not an error.
    """
    fp = merge(host.clues)
    if fp.precision is not Precision.CU or fp.build is None:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(VERSIONED_BUDGET * host.options.timeout):
            for build in exposure.known_builds_of_cu(fp.build)[:MAX_VERSIONED_FOLDERS]:
                await host.ask(versioned_exporttool_path(build))
                if not needs_more(merge(host.clues)):
                    return


# --------------------------------------------------------------------------- probes


async def _run_probes(host: _Host, names: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    answers: dict[tuple[str, str | None], Observation | FetchError] = {}

    async def answer(path: str, cookie: str | None) -> Observation | FetchError:
        key = (path, cookie)
        if key not in answers:
            answers[key] = await _twice_if_aborted(host, path, cookie)
        return answers[key]

    found: list[dict[str, Any]] = []
    mitigations: list[dict[str, Any]] = []
    for name in names:
        spec = probes.PROBES[name]
        test = await answer(spec.test_path, spec.test_cookie)
        if spec.control_path is None:
            found.append(probes.judge_proxylogon(test))
            continue
        entry, mitigation = probes.judge_mitigation(name, test, await answer(spec.control_path, None))
        found.append(entry)
        if mitigation:
            mitigations.append(mitigation)
    return found, mitigations


async def _twice_if_aborted(host: _Host, path: str, cookie: str | None) -> Observation | FetchError:
    """An abort is only believed when it happens twice: a stale keep-alive connection can also drop."""
    outcome: Observation | FetchError = FetchError("error", "not sent")
    for _ in range(2):
        try:
            return await host.get(path, cookie)
        except FetchError as exc:
            outcome = exc
            if exc.kind != "aborted":
                return exc
    return outcome


# --------------------------------------------------------------------------- many hosts


async def scan_stream(specs: Iterable[TargetSpec], options: ScanOptions) -> AsyncIterator[ScanResult]:
    """Results in completion order; ``concurrency`` hosts in flight; CIDR ranges expand lazily."""
    pending: Iterator[Target] = expand(specs, options.ports)
    queue: asyncio.Queue[ScanResult | None] = asyncio.Queue()
    pacer = Pacer(options.rate)
    context = insecure_ssl_context()

    async def worker() -> None:
        for target in pending:  # shared iterator: each target goes to exactly one worker
            async with new_session(context, options.timeout, options.scope) as session:
                result = await _safe_scan(target, session, pacer, options)
            await asyncio.sleep(0)  # let the closed sockets go (FIN sent) before this worker opens the next host's
            if options.on_done is not None:
                options.on_done()
            if result is not None:
                await queue.put(result)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, options.concurrency))]
    done = asyncio.gather(*workers)
    done.add_done_callback(lambda _: queue.put_nowait(None))
    try:
        while (item := await queue.get()) is not None:
            yield item
        await done
    finally:
        for task in workers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await done


async def _safe_scan(target: Target, session: aiohttp.ClientSession, pacer: Pacer, options: ScanOptions) -> ScanResult | None:
    try:
        return await scan_target(target, session, pacer, options)
    except Exception as exc:  # a bug must cost one target, not the run
        return ScanResult(target=target.given, error=f"internal error: {type(exc).__name__}: {exc}")
