"""What ``exaudit scan --resume RUN_ID`` needs: a run's settings recorded as arguments, and the targets left to do.

A scan records its targets and every option that changes results or bounds in the run's ``args`` (an argument
list, shown by ``exaudit runs``). Resuming parses them back, takes the results already stored for the run, and
scans only the targets (CIDR members one by one) that have none. docs/scan.md, "Resuming a killed scan".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from exaudit.scan.targets import DEFAULT_PORTS, Target, TargetError, TargetSpec, expand

_VALUED = ("--port", "--probe", "--scope", "--concurrency", "--rate", "--timeout", "--host-timeout", "--format")


@dataclass
class ScanSettings:
    """The arguments of one scan that decide what is sent and how it is bounded."""

    targets: list[str]
    ports: list[int] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    scope: Path | None = None
    concurrency: int = 200
    rate: float = 0.0
    timeout: float = 5.0
    host_timeout: float | None = None

    def argv(self, fmt: str) -> list[str]:
        """The argument list recorded with the run; ``@file`` and ``--scope`` paths made absolute."""
        args = [_absolute_file(t) for t in self.targets]
        args += [item for number in self.ports for item in ("--port", str(number))]
        args += [item for name in self.probes for item in ("--probe", name)]
        if self.scope is not None:
            args += ["--scope", str(self.scope.resolve())]
        args += ["--concurrency", str(self.concurrency), "--rate", repr(self.rate), "--timeout", repr(self.timeout)]
        if self.host_timeout is not None:
            args += ["--host-timeout", repr(self.host_timeout)]
        return [*args, "--format", fmt]

    @classmethod
    def from_argv(cls, args: Iterable[str]) -> ScanSettings:
        """Parse a recorded argument list back (runs recorded before options were recorded get the defaults)."""
        settings = cls(targets=[])
        items: Iterator[str] = iter(args)
        try:
            for item in items:
                if item not in _VALUED:
                    settings.targets.append(item)
                    continue
                _apply(settings, item, next(items))
        except (StopIteration, ValueError) as exc:
            raise TargetError(f"the run's recorded arguments cannot be read: {list(args)!r}") from exc
        if not settings.targets:
            raise TargetError("the run recorded no targets")
        return settings


def _apply(settings: ScanSettings, name: str, value: str) -> None:
    if name == "--port":
        settings.ports.append(int(value))
    elif name == "--probe":
        settings.probes.append(value)
    elif name == "--scope":
        settings.scope = Path(value)
    elif name == "--concurrency":
        settings.concurrency = int(value)
    elif name == "--rate":
        settings.rate = float(value)
    elif name == "--timeout":
        settings.timeout = float(value)
    elif name == "--host-timeout":
        settings.host_timeout = float(value)


def _absolute_file(target: str) -> str:
    """``@hosts.txt`` → ``@/abs/hosts.txt``: a resume may start from another folder."""
    return f"@{Path(target[1:]).resolve()}" if target.startswith("@") else target


def remaining(specs: Iterable[TargetSpec], done: Iterable[str], default_ports: tuple[int, ...] = DEFAULT_PORTS) -> list[TargetSpec]:
    """The targets without a stored result, in input order; a CIDR range becomes its undone members.

    ``done`` holds result names: the target as given, or ``address:port`` for a CIDR member (any of its ports).
    A member where nothing listened has no result and is tried again (it costs one refused connection).
    """
    names = set(done)
    left: list[TargetSpec] = []
    for spec in specs:
        if spec.network is None:
            if spec.given not in names:
                left.append(spec)
            continue
        left += [member_spec(t) for t in expand([spec], default_ports) if not any(t.name_for(p) in names for p in t.ports)]
    return left


def member_spec(target: Target) -> TargetSpec:
    """A spec that expands to exactly this CIDR member (named address:port, left out when nothing listens)."""
    return TargetSpec(target.given, network=ipaddress.ip_network(target.host), ports=target.ports, scheme=target.scheme)
