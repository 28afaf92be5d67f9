"""``distributed_scan``: the scanner's own scan, run on shards of the targets, merged in input order.

The targets are parsed (and checked against ``scope``) once, here, with the scanner's ``prepare``. They are
then cut into contiguous shards of the expanded target list; a CIDR range travels as (range, first, last)
and each worker expands its own slice with the scanner's ``TargetSpec.expand``, so a /12 is never listed
in memory. Each worker runs ``exaudit.scan.scan`` on its shard; ``concurrency`` and ``rate`` are overall
bounds, split evenly over the shards that run at once.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from exaudit.engine.base import EngineError, Executor
from exaudit.model import ScanResult, scan_result_from_dict, to_jsonable
from exaudit.scan.targets import DEFAULT_PORTS, Target, TargetSpec, host_for_url

# Two shards per worker: a slow shard (or worker) does not hold the run up for long, while each shard still ends
# with only one tail of slow hosts to wait for (each shard is one asyncio scan with its own concurrency).
SHARDS_PER_WORKER = 2


@dataclass(frozen=True)
class ScanShard:
    """One task: slices ``[start, stop)`` of expanded target specs, and the scan options (plain data; ``scope`` is a
    tuple of address ranges, not a file name, since the file need not exist on the worker)."""

    pieces: tuple[tuple[TargetSpec, int, int], ...]
    default_ports: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)


def distributed_scan(
    targets: Iterable[str | TargetSpec], executor: Executor, shards: int | None = None, **options: Any
) -> list[ScanResult]:
    """Scan ``targets`` on ``executor``; the same results as ``exaudit.scan.scan``, in input order.

    ``options`` are ``shard_tasks``'s (the scanner's own: ports, probes, concurrency, rate, timeout, host_timeout,
    scope). Input order is the order of the targets, then address order inside a CIDR range. ``shards`` defaults
    to two per worker (one in-process). Raises ``TargetError`` / ``ProbeError`` / ``ValueError`` as ``scan`` does.
    """
    return list(iter_distributed_scan(targets, executor, shards, **options))


def iter_distributed_scan(
    targets: Iterable[str | TargetSpec], executor: Executor, shards: int | None = None, **options: Any
) -> Iterator[ScanResult]:
    """As ``distributed_scan``, yielding each shard's results as soon as it and the shards before it are done.

    The targets and options are checked when this is called, before the first result is asked for.
    """
    tasks = shard_tasks(targets, executor, shards, **options)
    return (scan_result_from_dict(item) for batch in executor.map(scan_shard, tasks) for item in batch)


def shard_tasks(
    targets: Iterable[str | TargetSpec],
    executor: Executor,
    shards: int | None = None,
    *,
    ports: Sequence[int] = (),
    probes: Sequence[str] = (),
    concurrency: int = 200,
    rate: float = 0.0,
    timeout: float = 5.0,
    host_timeout: float | None = None,
    scope: Path | None = None,
) -> list[ScanShard]:
    """The tasks of a distributed scan: targets checked (scope included) and cut into shards, options divided.

    The scope's ranges travel with every shard, so a worker also refuses a host name that resolves outside them
    at connect time (the scanner's ``ScopedResolver``), just as a local scan does.
    """
    from exaudit.scan import prepare
    from exaudit.scan.probes import probe_names
    from exaudit.scan.targets import read_scope

    if concurrency < 1 or timeout <= 0 or rate < 0:
        raise ValueError("concurrency must be at least 1, timeout positive and rate not negative")
    probe_names(tuple(probes))  # an unknown probe fails here, before any task is sent
    if shards is not None and shards < 1:
        raise EngineError(f"shards must be at least 1, not {shards}")
    specs = prepare(targets, ports, scope)
    count = min(sum(spec.count() for spec in specs), shards or _default_shards(executor))
    running = max(1, min(count, executor.workers))
    options = {
        "ports": tuple(ports),
        "probes": tuple(probes),
        "concurrency": max(1, math.ceil(concurrency / running)),
        "rate": rate / running,
        "timeout": timeout,
        "host_timeout": host_timeout,
        "scope": tuple(read_scope(scope)) if scope is not None else None,
    }
    default_ports = tuple(ports) or DEFAULT_PORTS
    return [ScanShard(pieces, default_ports, options) for pieces in split(specs, count)]


def _default_shards(executor: Executor) -> int:
    return 1 if executor.workers == 1 else executor.workers * SHARDS_PER_WORKER  # in-process: one scan, no tails


def split(specs: Sequence[TargetSpec], shards: int) -> list[tuple[tuple[TargetSpec, int, int], ...]]:
    """Cut the expanded target list into ``shards`` contiguous slices of near-equal size."""
    total = sum(spec.count() for spec in specs)
    size = math.ceil(total / shards) if shards else total
    out: list[tuple[tuple[TargetSpec, int, int], ...]] = []
    current: list[tuple[TargetSpec, int, int]] = []
    room = size
    for spec in specs:
        start, end = 0, spec.count()
        while start < end:
            take = min(room, end - start)
            current.append((spec, start, start + take))
            start += take
            room -= take
            if room == 0:
                out.append(tuple(current))
                current, room = [], size
    if current:
        out.append(tuple(current))
    return out


# --------------------------------------------------------------------------- on the worker


def scan_shard(shard: ScanShard) -> list[dict[str, Any]]:
    """Scan one shard with the scanner's API; results as JSON-ready dicts in the shard's target order."""
    from exaudit.scan import scan

    targets = [t for spec, start, stop in shard.pieces for t in islice(spec.expand(shard.default_ports), start, stop)]
    results = scan([single_spec(t) for t in targets], **shard.options)
    position = _positions(targets)
    results.sort(key=lambda r: position.get(r.target, len(targets)))
    return [to_jsonable(r) for r in results]


def single_spec(target: Target) -> TargetSpec:
    """A spec that expands to exactly this target (a CIDR member stays a member: named address:port, silent if dead)."""
    if target.member:
        network = ipaddress.ip_network(target.host)  # a /32 or /128: expands to the one address
        return TargetSpec(target.given, network=network, ports=target.ports, scheme=target.scheme)
    return TargetSpec(target.given, host=target.host, ports=target.ports, scheme=target.scheme)


def _positions(targets: list[Target]) -> dict[str, int]:
    """Result name → position of its target: the name given, or address:port for each port of a CIDR member."""
    position: dict[str, int] = {}
    for index, target in enumerate(targets):
        names = [f"{host_for_url(target.host)}:{port}" for port in target.ports] if target.member else [target.given]
        for name in names:
            position.setdefault(name, index)
    return position
