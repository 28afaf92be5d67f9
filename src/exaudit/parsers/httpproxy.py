"""Exchange HttpProxy logs (``<install>\\Logging\\HttpProxy\\<Protocol>\\HttpProxy_<yyyymmddhh>-<n>.LOG``).

The front end's record of every proxied request: ``AnchorMailbox`` (``ServerInfo~…`` = the
CVE-2021-26855 SSRF), ``BackEndCookie``, ``RoutingHint``, ``UrlStem``, ``HttpStatus``,
``AuthenticatedUser``, ``ClientIpAddress``. Column sets differ between 2013, 2016 and 2019, so
fields are mapped by the ``#Fields`` header; a header-less excerpt gets the 2016/2019 74-column set.
``stats.meta`` receives ``protocol`` (from the protocol folder, else the ``Protocol`` column) and
``exchange_build`` (from ``#Version`` or the Major/Minor/Build/RevisionVersion columns).

References:
    reference/microsoft-css-exchange.md §1.4, §1.7, §1.15.1 (Test-ProxyLogon's checks and columns);
    reference/published-attack-examples.md §1 (real rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from exaudit.parsers.base import ParseStats, Record
from exaudit.parsers.exchange_csv import HTTPPROXY_FIELDS, parse_csv_log

ARTIFACT = "httpproxy"
PROTOCOLS = (
    "Autodiscover",
    "Eas",
    "Ecp",
    "Ews",
    "Mapi",
    "Oab",
    "Owa",
    "OwaCalendar",
    "PowerShell",
    "RpcHttp",
    "Rest",
    "RestAPI",
    "O365SuiteService",
    "PushNotifications",
    "E4e",
)
_BY_LOWER = {p.lower(): p for p in PROTOCOLS}
_FOLDER = re.compile(r"[\\/]HttpProxy[\\/]([^\\/]+)[\\/]", re.IGNORECASE)


def protocol_from_path(path: str) -> str | None:
    match = _FOLDER.search(path)
    if not match:
        return None
    return _BY_LOWER.get(match.group(1).lower(), match.group(1))


def parse(stream: BinaryIO, path: str, stats: ParseStats, artifact: str = ARTIFACT) -> Iterator[Record]:
    protocol = protocol_from_path(path)
    if protocol:
        stats.meta["protocol"] = protocol

    def hook(record: Record, stats: ParseStats) -> None:
        if "protocol" not in stats.meta and record.fields.get("Protocol"):
            stats.meta["protocol"] = _BY_LOWER.get(record.fields["Protocol"].lower(), record.fields["Protocol"])

    return parse_csv_log(stream, path, stats, artifact, HTTPPROXY_FIELDS, hook)
