"""``exaudit scan``: which Exchange servers answer, at which build, exposed to which CVE.

Python API (used by the CLI and the demo)::

    from exaudit.scan import scan, scan_iter
    results = scan(["mail.example.org", "10.0.0.0/24:443"], probes=("all",), concurrency=200, timeout=5)
    async for result in scan_iter(targets, ports=(443,)):  # streamed as each host completes
        ...

Targets are the notations of ``exaudit.scan.targets`` (strings, ``@file`` included) or parsed
``TargetSpec`` objects. Results are ``exaudit.model.ScanResult``. See docs/scan.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path

from exaudit.model import ScanResult
from exaudit.scan.engine import ScanOptions, scan_stream
from exaudit.scan.probes import PROBES, ProbeError, probe_names
from exaudit.scan.targets import DEFAULT_PORTS, IPNetwork, TargetError, TargetSpec, check_scope, parse_targets, read_scope

__all__ = [
    "PROBES",
    "ProbeError",
    "ScanOptions",
    "TargetError",
    "TargetSpec",
    "scan",
    "scan_iter",
]


def _options(
    ports: Sequence[int], probes: Sequence[str], concurrency: int, rate: float, timeout: float, host_timeout: float | None
) -> ScanOptions:
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if timeout <= 0 or rate < 0:
        raise ValueError("timeout must be positive and rate not negative")
    return ScanOptions(
        ports=tuple(ports) or DEFAULT_PORTS,
        probes=probe_names(tuple(probes)),
        concurrency=concurrency,
        rate=rate,
        timeout=timeout,
        host_timeout=host_timeout,
    )


Scope = Path | Sequence[IPNetwork]  # a scope file, or its ranges already read (what distributed scan shards carry)


def scope_ranges(scope: Scope | None) -> list[IPNetwork] | None:
    """The address ranges of a scope file (read now) or of ranges given as such; None for no scope."""
    if scope is None:
        return None
    if isinstance(scope, (str, Path)):
        return read_scope(Path(scope))
    return list(scope)


def prepare(targets: Iterable[str | TargetSpec], ports: Sequence[int] = (), scope: Scope | None = None) -> list[TargetSpec]:
    """Parse and de-duplicate targets; with ``scope``, refuse (``TargetError``) anything outside it."""
    items = list(targets)
    specs = [t for t in items if isinstance(t, TargetSpec)]
    texts = [t for t in items if isinstance(t, str)]
    if texts:
        specs += parse_targets(texts, ports)
    if not specs:
        raise TargetError("no targets given")
    ranges = scope_ranges(scope)
    if ranges is not None:
        check_scope(specs, ranges)
    return specs


async def scan_iter(
    targets: Iterable[str | TargetSpec],
    *,
    ports: Sequence[int] = (),
    probes: Sequence[str] = (),
    concurrency: int = 200,
    rate: float = 0.0,
    timeout: float = 5.0,
    host_timeout: float | None = None,
    scope: Scope | None = None,
    on_done: Callable[[], None] | None = None,
) -> AsyncIterator[ScanResult]:
    """Scan and yield each target's result as soon as it is complete (``on_done`` is called per target scanned)."""
    options = _options(ports, probes, concurrency, rate, timeout, host_timeout)
    options.on_done = on_done
    ranges = scope_ranges(scope)
    specs = prepare(targets, ports, ranges)
    options.scope = ranges
    async for result in scan_stream(specs, options):
        yield result


def scan(
    targets: Iterable[str | TargetSpec],
    *,
    ports: Sequence[int] = (),
    probes: Sequence[str] = (),
    concurrency: int = 200,
    rate: float = 0.0,
    timeout: float = 5.0,
    host_timeout: float | None = None,
    scope: Scope | None = None,
) -> list[ScanResult]:
    """Synchronous wrapper of ``scan_iter``: every result, in completion order."""

    async def collect() -> list[ScanResult]:
        stream = scan_iter(
            targets, ports=ports, probes=probes, concurrency=concurrency, rate=rate, timeout=timeout, host_timeout=host_timeout, scope=scope
        )
        return [result async for result in stream]

    return asyncio.run(collect())
