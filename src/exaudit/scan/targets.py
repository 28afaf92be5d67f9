"""Targets: what the user typed, turned into hosts and candidate ports.

Accepted notations (docs/scan.md): ``host``, ``host:port``, ``https://host:port/``, ``[::1]:8443``, a bare
IPv6 address, ``CIDR`` (ports from ``--port``), ``CIDR:port``, and ``@file``. A file is sniffed by content:
nmap XML (``-oX``, also masscan ``-oX``), masscan list (``-oL``) or JSON (``-oJ``), else one target per line
with ``#`` comments.

A ``--scope`` file lists the address ranges the user is allowed to scan; every target (hostnames after
resolution) must fall inside it, or the whole run is refused before any packet is sent.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PORTS = (443, 80)
MAX_CIDR_ADDRESSES = 1 << 20  # a /12 of IPv4; bigger sweeps are almost always a typo

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetError(ValueError):
    """A target or scope entry that cannot be understood or is not allowed; the message says which."""


@dataclass(frozen=True)
class Target:
    """One host to scan.

    ``given`` is the target exactly as the user wrote it (the result's ``target``). ``ports`` are tried in
    order; the first that answers is scanned. ``scheme`` is set when the user gave a URL. ``member`` marks a
    CIDR member: its result is named ``address:port`` and it is left out when nothing answered.
    """

    given: str
    host: str
    ports: tuple[int, ...]
    scheme: str | None = None
    member: bool = False

    def name_for(self, port: int) -> str:
        return f"{host_for_url(self.host)}:{port}" if self.member else self.given


@dataclass(frozen=True)
class TargetSpec:
    """One parsed target expression; a CIDR expands lazily (a /16 is 65,534 hosts)."""

    given: str
    host: str | None = None
    network: IPNetwork | None = None
    ports: tuple[int, ...] = ()
    scheme: str | None = None

    def count(self) -> int:
        if self.network is None:
            return 1
        return max(self.network.num_addresses - (2 if _drops_edges(self.network) else 0), 0)

    def expand(self, default_ports: tuple[int, ...]) -> Iterator[Target]:
        ports = self.ports or default_ports
        if self.network is None:
            assert self.host is not None
            yield Target(self.given, self.host, ports, self.scheme)
            return
        for address in self.network.hosts() if _drops_edges(self.network) else self.network:
            yield Target(self.given, str(address), ports, self.scheme, member=True)


def _drops_edges(network: IPNetwork) -> bool:
    return network.version == 4 and network.prefixlen < 31


def host_for_url(host: str) -> str:
    """IPv6 literals need brackets in URLs and in ``address:port``."""
    return f"[{host}]" if ":" in host else host


# --------------------------------------------------------------------------- single expressions

_HOST_PORT = re.compile(r"^(?P<host>[^\s:/\[\]]+)(?::(?P<port>\d+))?$")
_BRACKETED = re.compile(r"^\[(?P<host>[0-9A-Fa-f:.%\w]+)\](?::(?P<port>\d+))?$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")


def parse_target(text: str, ports: Iterable[int] = ()) -> TargetSpec:
    """Parse one target expression (not ``@file``); raise ``TargetError`` with a clear message."""
    given = text.strip()
    if not given:
        raise TargetError("empty target")
    port_list = tuple(ports)
    if "://" in given:
        return _parse_url(given)
    if "/" in given:
        return _parse_cidr(given, port_list)
    bracketed = _BRACKETED.match(given)
    if bracketed:
        host = _check_address(bracketed["host"], given)
        return TargetSpec(given, host=host, ports=_port_tuple(bracketed["port"], port_list, given))
    if given.count(":") >= 2:  # a bare IPv6 address
        return TargetSpec(given, host=_check_address(given, given), ports=port_list)
    match = _HOST_PORT.match(given)
    if not match or not _valid_host(match["host"]):
        raise TargetError(f"not a host, host:port, URL or CIDR: {given!r}")
    return TargetSpec(given, host=match["host"], ports=_port_tuple(match["port"], port_list, given))


def _parse_url(given: str) -> TargetSpec:
    parts = urlsplit(given)
    if parts.scheme not in ("http", "https"):
        raise TargetError(f"only http:// and https:// URLs can be scanned: {given!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"bad port in {given!r}") from exc
    host = parts.hostname
    if not host or not (_valid_host(host) or _is_ip(host)):
        raise TargetError(f"no valid host in URL {given!r}")
    return TargetSpec(given, host=host, ports=(port or (443 if parts.scheme == "https" else 80),), scheme=parts.scheme)


def _parse_cidr(given: str, ports: tuple[int, ...]) -> TargetSpec:
    net_text, port_text = given, None
    head, sep, tail = given.rpartition(":")
    if sep and tail.isdigit() and "/" in head and "/" not in tail and not given.endswith("]"):
        # "10.0.0.0/24:8443"; IPv6 CIDRs with a port need brackets: "[2001:db8::/120]:443"
        if head.count(":") == 0 or head.startswith("["):
            net_text, port_text = head, tail
    net_text = net_text.strip("[]")
    try:
        network = ipaddress.ip_network(net_text, strict=False)
    except ValueError as exc:
        raise TargetError(f"not a valid CIDR range: {given!r}") from exc
    spec = TargetSpec(given, network=network, ports=_port_tuple(port_text, ports, given))
    if spec.count() > MAX_CIDR_ADDRESSES:
        raise TargetError(f"{given!r} has {spec.count():,} addresses; split ranges larger than {MAX_CIDR_ADDRESSES:,}")
    return spec


def _port_tuple(port_text: str | None, ports: tuple[int, ...], given: str) -> tuple[int, ...]:
    if port_text is None:
        return ports
    port = int(port_text)
    if not 0 < port < 65536:
        raise TargetError(f"port out of range in {given!r}")
    return (port,)


def _check_address(text: str, given: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise TargetError(f"not a valid IP address: {given!r}") from exc


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _valid_host(text: str) -> bool:
    return _is_ip(text) or bool(_HOSTNAME.match(text))


def check_ports(ports: Iterable[int]) -> tuple[int, ...]:
    result = tuple(ports)
    for port in result:
        if not 0 < port < 65536:
            raise TargetError(f"port out of range: {port}")
    return result


# --------------------------------------------------------------------------- files


def read_target_file(path: Path, ports: Iterable[int] = ()) -> list[TargetSpec]:
    """Targets from a file: nmap/masscan XML, masscan -oL / -oJ, or one target per line."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TargetError(f"cannot read target file {path}: {exc.strerror or exc}") from exc
    head = text.lstrip()[:512]
    if head.startswith("<?xml") or "<nmaprun" in head:
        return _from_nmap_xml(text, path)
    if head.startswith("#masscan") or _MASSCAN_LINE.match(head):
        return _from_masscan_list(text)
    if head.startswith(("[", "{")):
        return _from_masscan_json(text, path)
    specs = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            specs.append(parse_target(entry, ports))
        except TargetError as exc:
            raise TargetError(f"{path}:{number}: {exc}") from exc
    return specs


def _open_service(address: str, port: int) -> TargetSpec:
    host = str(ipaddress.ip_address(address))
    return TargetSpec(f"{host_for_url(host)}:{port}", host=host, ports=(port,))


def _from_nmap_xml(text: str, path: Path) -> list[TargetSpec]:
    """nmap ``-oX`` (and masscan ``-oX``): every open TCP port of every host."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - expat refuses external entities; input is the user's own file
    except ET.ParseError as exc:
        raise TargetError(f"{path}: not valid nmap XML: {exc}") from exc
    specs = []
    for host in root.iter("host"):
        addresses = [a.get("addr", "") for a in host.iter("address") if a.get("addrtype") in ("ipv4", "ipv6")]
        if not addresses:
            continue
        for port in host.iter("port"):
            state = port.find("state")
            if port.get("protocol", "tcp") == "tcp" and state is not None and state.get("state") == "open":
                specs.append(_safe_service(addresses[0], port.get("portid", ""), path))
    return specs


_MASSCAN_LINE = re.compile(r"^open\s+tcp\s+(\d+)\s+(\S+)")


def _from_masscan_list(text: str) -> list[TargetSpec]:
    specs = []
    for line in text.splitlines():
        match = _MASSCAN_LINE.match(line.strip())
        if match:
            specs.append(_safe_service(match[2], match[1], None))
    return specs


def _from_masscan_json(text: str, path: Path) -> list[TargetSpec]:
    """masscan ``-oJ``; older versions leave a trailing comma before ``]``, so fall back to per-line JSON."""
    try:
        records = json.loads(text)
    except json.JSONDecodeError:
        records = []
        for line in text.splitlines():
            line = line.strip().rstrip(",")
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise TargetError(f"{path}: not valid masscan JSON: {exc}") from exc
    if isinstance(records, dict):
        records = [records]
    specs = []
    for record in records:
        if not isinstance(record, dict):
            continue
        for port in record.get("ports", []):
            if port.get("proto", "tcp") == "tcp" and port.get("status", "open") == "open":
                specs.append(_safe_service(str(record.get("ip", "")), str(port.get("port", "")), path))
    return specs


def _safe_service(address: str, port: str, path: Path | None) -> TargetSpec:
    try:
        port_number = int(port)
        if not 0 < port_number < 65536:
            raise ValueError(port)
        return _open_service(address, port_number)
    except ValueError as exc:
        raise TargetError(f"{path or 'masscan list'}: bad address or port {address!r}:{port!r}") from exc


# --------------------------------------------------------------------------- all together


def parse_targets(items: Iterable[str], ports: Iterable[int] = ()) -> list[TargetSpec]:
    """Every target expression (``@file`` included), duplicates removed, order kept."""
    port_list = check_ports(ports)
    specs: list[TargetSpec] = []
    seen: set[str] = set()
    for item in items:
        found = read_target_file(Path(item[1:]), port_list) if item.startswith("@") else [parse_target(item, port_list)]
        for spec in found:
            if spec.given not in seen:
                seen.add(spec.given)
                specs.append(spec)
    if not specs:
        raise TargetError("no targets given")
    return specs


def expand(specs: Iterable[TargetSpec], default_ports: tuple[int, ...] = DEFAULT_PORTS) -> Iterator[Target]:
    for spec in specs:
        yield from spec.expand(default_ports)


# --------------------------------------------------------------------------- scope


def read_scope(path: Path) -> list[IPNetwork]:
    """A scope file: one address or CIDR per line, ``#`` comments."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TargetError(f"cannot read scope file {path}: {exc.strerror or exc}") from exc
    scope = []
    for number, line in enumerate(lines, 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            scope.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise TargetError(f"{path}:{number}: not an address or CIDR range: {entry!r}") from exc
    if not scope:
        raise TargetError(f"scope file {path} lists no ranges")
    return scope


def check_scope(specs: Iterable[TargetSpec], scope: list[IPNetwork]) -> None:
    """Raise ``TargetError`` naming the first target outside the scope (hostnames are resolved first)."""
    for spec in specs:
        if spec.network is not None:
            if not any(spec.network.version == s.version and spec.network.subnet_of(s) for s in scope):  # type: ignore[arg-type]
                raise TargetError(f"target {spec.given!r} is outside the scope")
            continue
        assert spec.host is not None
        for address in _resolve(spec.host, spec.given):
            if not any(address in s for s in scope):
                raise TargetError(f"target {spec.given!r} ({address}) is outside the scope")


def _resolve(host: str, given: str) -> list[IPAddress]:
    if _is_ip(host):
        return [ipaddress.ip_address(host)]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise TargetError(f"cannot resolve {given!r} to check it against the scope: {exc}") from exc
    return sorted({ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}, key=str)
