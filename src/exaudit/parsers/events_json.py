"""Windows events exported as JSON lines: Mordor/OTRF Security-Datasets (flat keys), Winlogbeat /
Elastic (``winlog.*``), and EVTX records rendered as JSON (``{"Event": {"System": …}}``).

Every shape is flattened to the EVTX field names (``EventID``, ``Channel``, ``Provider``,
``Computer``, ``EventRecordID``, event data by name) so one rule matches all three. Timestamps
without a zone (Mordor ``TimeCreated``) are taken as UTC. A line that is not a JSON object counts as
bad. Inside a .zip (as OTRF ships them) the evidence source expands the archive.

References:
    corpus events-json/ (OTRF psh_lsass_memory_dump_comsvcs.zip); Elastic Winlogbeat field reference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from exaudit.parsers.base import ParseStats, Record
from exaudit.parsers.evtx import add_event_data, add_user_data, compact, flatten_event, text_of
from exaudit.parsers.text import iter_lines, parse_iso_utc

ARTIFACT = "event_json"
_TIME_KEYS = ("@timestamp", "TimeCreated", "EventTime", "timestamp", "UtcTime")
_WINLOG = {
    "event_id": "EventID",
    "channel": "Channel",
    "provider_name": "Provider",
    "computer_name": "Computer",
    "record_id": "EventRecordID",
    "task": "Task",
    "opcode": "Opcode",
}
_FLAT_ALIASES = {"Hostname": "Computer", "SourceName": "Provider", "ProviderName": "Provider", "RecordNumber": "EventRecordID"}


def flatten_json_event(obj: dict[str, Any]) -> dict[str, str]:
    event = obj.get("Event")
    if isinstance(event, dict) and "System" in event:
        return flatten_event(event)
    winlog = obj.get("winlog")
    if isinstance(winlog, dict):
        return _winlogbeat(obj, winlog)
    fields = {str(k): text_of(v) for k, v in obj.items()}
    for alias, name in _FLAT_ALIASES.items():
        if alias in fields and name not in fields:
            fields[name] = fields[alias]
    return fields


def _winlogbeat(obj: dict[str, Any], winlog: dict[str, Any]) -> dict[str, str]:
    fields = {name: text_of(winlog[key]) for key, name in _WINLOG.items() if key in winlog}
    add_event_data(fields, winlog.get("event_data"))
    add_user_data(fields, winlog.get("user_data"))
    if isinstance(obj.get("message"), str):
        fields.setdefault("Message", obj["message"])
    if "@timestamp" in obj:
        fields.setdefault("@timestamp", text_of(obj["@timestamp"]))
    return fields


def event_time(fields: dict[str, str]) -> Any:
    for key in _TIME_KEYS:
        if fields.get(key):
            ts = parse_iso_utc(fields[key].replace(" ", "T", 1) if "T" not in fields[key] else fields[key])
            if ts is not None:
                return ts
    return None


def parse(stream: BinaryIO, path: str, stats: ParseStats, artifact: str = ARTIFACT) -> Iterator[Record]:
    for number, line in iter_lines(stream, path, stats):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            stats.bad_lines += 1
            continue
        if not isinstance(obj, dict):
            stats.bad_lines += 1
            continue
        fields = flatten_json_event(obj)
        ts = event_time(fields)
        stats.records += 1
        stats.saw(ts)
        yield Record(artifact, path, number, ts, fields, compact(fields))
    if stats.records == 0 and stats.bad_lines == 0 and not stats.errors:
        from exaudit.parsers.recognize import empty_error

        stats.errors.append(empty_error(path))
