"""ECP server and ECP activity logs (``<install>\\Logging\\ECP\\Server\\ECPServer<yyyymmdd>-<n>.LOG``,
``…\\ECP\\Activity\\ECPActivity_<pid>_<yyyymmdd>-<n>.LOG``).

Four columns ``TimeStamp,ServerName,EventId,EventData``; ``EventData`` is a ``;``-separated list of
typed items (``S:CMD=Set-OabVirtualDirectory.ExternalUrl='…'``, ``S:URL=…``, ``S:BLD=15.1.2375.7``).
Each item is also exposed as its own field named as the log names it (``S:CMD``, ``S:URL``, ``S:BLD``
…), upper-cased key; a value that itself holds ``;`` stays whole because items are split only where
the next ``<type>:<KEY>=`` begins. ``S:BLD`` (or ``S:Bld``) gives ``stats.meta["exchange_build"]``.

References:
    reference/microsoft-css-exchange.md §1.7, §1.15.2 (CVE-2021-27065 Set-*VirtualDirectory regex);
    corpus exchange-logs/ECPServer*.LOG, ECPActivity_*.LOG.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from exaudit.parsers.base import ParseStats, Record
from exaudit.parsers.exchange_csv import ECP_FIELDS, normalise_build, parse_csv_log

SERVER = "ecp_server"
ACTIVITY = "ecp_activity"
_ITEM_START = re.compile(r"(?:^|;)((?:S|Dbl|I32|I64|F|B|Lng|D):[A-Za-z][\w.]*(?:\[[^\]]*\])?)=")


def event_items(data: str) -> dict[str, str]:
    """``S:CMD=a;b;S:URL=x`` → ``{"S:CMD": "a;b", "S:URL": "x"}`` (keys upper-cased after the type)."""
    items: dict[str, str] = {}
    matches = list(_ITEM_START.finditer(data))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(data)
        kind, _, key = match.group(1).partition(":")
        name = f"{kind}:{key.upper()}" if kind == "S" else match.group(1)
        items.setdefault(name, data[match.end() : end])
    return items


def _hook(record: Record, stats: ParseStats) -> None:
    data = record.fields.get("EventData", "")
    if not data:
        return
    items = event_items(data)
    for name, value in items.items():
        record.fields.setdefault(name, value)
    if "exchange_build" not in stats.meta and items.get("S:BLD"):
        build = normalise_build(items["S:BLD"])
        if build:
            stats.meta["exchange_build"] = build


def parse(stream: BinaryIO, path: str, stats: ParseStats, artifact: str = SERVER) -> Iterator[Record]:
    return parse_csv_log(stream, path, stats, artifact, ECP_FIELDS, _hook)


def parse_activity(stream: BinaryIO, path: str, stats: ParseStats, artifact: str = ACTIVITY) -> Iterator[Record]:
    return parse_csv_log(stream, path, stats, artifact, ECP_FIELDS, _hook)
