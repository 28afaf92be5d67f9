"""The shareable indicators of a report, each with the findings that saw it (for STIX and MISP)."""

from __future__ import annotations

import ipaddress
import ntpath
from dataclasses import dataclass, field

from exaudit.model import Finding
from exaudit.render.view import ReportView, is_system_file


@dataclass
class SharedIndicator:
    kind: str  # ipv4 | ipv6 | url | uri | file | user_agent
    value: str
    sha256: str | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def name(self) -> str:
        """File name without its Windows folder (``C:\\inetpub\\…\\x.aspx`` → ``x.aspx``)."""
        return ntpath.basename(self.value) if self.kind == "file" else self.value

    @property
    def first_seen(self) -> str | None:
        return min((f.first_seen for f in self.findings if f.first_seen), default=None)

    @property
    def last_seen(self) -> str | None:
        return max((t for f in self.findings if (t := f.last_seen or f.first_seen)), default=None)


def _ip_kind(value: str) -> str | None:
    try:
        return "ipv4" if ipaddress.ip_address(value.strip("[]")).version == 4 else "ipv6"
    except ValueError:
        return None  # not an address: hostile or damaged text is not shared as an indicator


def collect(view: ReportView) -> list[SharedIndicator]:
    """Every distinct indicator of the findings, in first-seen order; file hashes come from the inputs."""
    found: dict[tuple[str, str], SharedIndicator] = {}
    linked: set[tuple[str, str, int]] = set()  # (kind, value, id(finding)): no O(n²) list membership

    def add(kind: str | None, value: str, finding: Finding) -> None:
        if not kind or not value or (kind, value, id(finding)) in linked:
            return
        linked.add((kind, value, id(finding)))
        found.setdefault((kind, value), SharedIndicator(kind, value)).findings.append(finding)

    for f in view.findings:
        for ip in f.indicators.ips:
            add(_ip_kind(ip), ip.strip("[]"), f)
        for url in f.indicators.urls:
            add("url" if "://" in url else "uri", url, f)
        for path in f.indicators.files:
            add(None if is_system_file(path) else "file", path, f)
        for agent in f.indicators.user_agents:
            add("user_agent", agent, f)
    for (kind, value), item in found.items():
        if kind == "file":
            item.sha256 = view.file_hashes.get(value)
    return sorted(found.values(), key=lambda i: (i.first_seen or "", i.kind, i.value))
