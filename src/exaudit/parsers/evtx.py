"""Windows event logs (``C:\\Windows\\System32\\winevt\\Logs\\*.evtx``) through the ``evtx`` package.

``PyEvtxParser(...).records_json()`` gives one JSON document per record; ``flatten_event`` turns
it into flat fields: ``EventID``, ``Channel``, ``Provider``, ``Computer``, ``TimeCreated``,
``EventRecordID``, ``Level``, ``Task``, ``UserID`` from System, then every named
``EventData``/``UserData`` value under its own name. Unnamed ``<Data>`` values (classic providers
such as ``MSExchange CmdletLogs``) become ``Data[0]``, ``Data[1]`` … and ``Data`` (all joined by
newlines, so a rule can match anywhere in them). Damaged chunks are skipped by the parser
(``skip_errors``); each skip becomes one ``damaged`` error and the readable records are kept.

References:
    reference/style-and-ecosystem.md §7.6 (evtx 0.14 API, JSON shape, timestamp format);
    corpus evtx/ and evtx/corrupt/ (omerbenamram/evtx damaged samples, MSExchange Management WEC).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any, BinaryIO

from exaudit.model import ErrorEntry
from exaudit.parsers.base import ParseStats, Record
from exaudit.parsers.text import MAX_RAW, READ_ERRORS, parse_iso_utc

ARTIFACT = "evtx"
BATCH = 512  # records decoded while warnings are captured, then yielded
MAX_ERRORS = 50  # per file; a badly damaged file could otherwise flood the report
_SYSTEM_FIELDS = ("EventID", "Channel", "Computer", "EventRecordID", "Level", "Task", "Keywords", "Opcode", "Version")


def text_of(value: Any) -> str:
    """An XML value rendered by evtx: plain, ``{"#text": …}``, a list, or None."""
    if value is None:
        return ""
    if isinstance(value, dict):
        if "#text" in value:
            return text_of(value["#text"])
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list):
        return "\n".join(text_of(v) for v in value)
    return str(value)


def _attr(node: Any, name: str) -> str:
    if isinstance(node, dict):
        attrs = node.get("#attributes")
        if isinstance(attrs, dict) and attrs.get(name) is not None:
            return str(attrs[name])
    return ""


def flatten_event(event: dict[str, Any]) -> dict[str, str]:
    """One rendered ``Event`` (System + EventData/UserData) as flat string fields."""
    system = event.get("System") or {}
    fields: dict[str, str] = {}
    for name in _SYSTEM_FIELDS:
        if name in system:
            fields[name] = text_of(system[name])
    fields["Provider"] = _attr(system.get("Provider"), "Name")
    fields["TimeCreated"] = _attr(system.get("TimeCreated"), "SystemTime")
    user = _attr(system.get("Security"), "UserID")
    if user:
        fields["UserID"] = user
    add_event_data(fields, event.get("EventData"))
    add_user_data(fields, event.get("UserData"))
    return fields


def add_event_data(fields: dict[str, str], data: Any) -> None:
    if not isinstance(data, dict):
        if data:
            fields.setdefault("Data", text_of(data))
        return
    for key, value in data.items():
        if key == "#attributes":
            continue
        if key == "Data":
            add_unnamed(fields, value)
        else:
            fields.setdefault(key, text_of(value))


def add_unnamed(fields: dict[str, str], value: Any) -> None:
    values = value.get("#text") if isinstance(value, dict) else value
    items = values if isinstance(values, list) else [values]
    texts = [text_of(v) for v in items]
    for index, text in enumerate(texts):
        fields.setdefault(f"Data[{index}]", text)
    fields.setdefault("Data", "\n".join(texts))


def add_user_data(fields: dict[str, str], data: Any, depth: int = 0) -> None:
    """UserData is provider-specific XML: keep every leaf under its own name."""
    if not isinstance(data, dict) or depth > 8:
        return
    for key, value in data.items():
        if key == "#attributes":
            continue
        if isinstance(value, dict) and "#text" not in value:
            add_user_data(fields, value, depth + 1)
        else:
            fields.setdefault(key, text_of(value))


def compact(fields: dict[str, str]) -> str:
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= MAX_RAW else text[:MAX_RAW] + "…"


def parse(stream: BinaryIO, path: str, stats: ParseStats, artifact: str = ARTIFACT) -> Iterator[Record]:
    from evtx import PyEvtxParser

    try:
        records = PyEvtxParser(stream, skip_errors=True).records_json()
    except (*READ_ERRORS, TypeError) as exc:
        stats.errors.append(ErrorEntry(where=path, kind="damaged", message=f"not a readable EVTX file: {exc}"[:300]))
        return
    while True:
        batch, done = _next_batch(records, path, stats)
        for item in batch:
            record = _record(item, path, artifact, stats)
            if record is None:
                stats.bad_lines += 1
                continue
            stats.records += 1
            stats.saw(record.time)
            yield record
        if done:
            break
    if stats.records == 0 and not stats.errors:
        from exaudit.parsers.recognize import empty_error

        stats.errors.append(empty_error(path))


def _next_batch(records: Iterator[Any], path: str, stats: ParseStats) -> tuple[list[dict[str, Any]], bool]:
    """Decode up to BATCH records with warnings captured (never across a ``yield``)."""
    batch: list[dict[str, Any]] = []
    done = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for item in records:
                if item is None:
                    continue
                batch.append(item)
                if len(batch) >= BATCH:
                    break
            else:
                done = True
        except (*READ_ERRORS, StopIteration) as exc:
            stats.errors.append(ErrorEntry(where=path, kind="damaged", message=f"EVTX read stopped: {exc}"[:300]))
            done = True
    for warning in caught:
        if issubclass(warning.category, RuntimeWarning) and len(stats.errors) < MAX_ERRORS:
            stats.errors.append(ErrorEntry(where=path, kind="damaged", message=str(warning.message)[:300]))
    return batch, done


def _record(item: dict[str, Any], path: str, artifact: str, stats: ParseStats) -> Record | None:
    try:
        event = json.loads(item["data"]).get("Event") or {}
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
    if not isinstance(event, dict):
        return None
    fields = flatten_event(event)
    ts = parse_iso_utc(fields.get("TimeCreated", "")) or parse_iso_utc(str(item.get("timestamp", "")))
    number = item.get("event_record_id")
    return Record(artifact, path, int(number) if isinstance(number, int) else 0, ts, fields, compact(fields))
