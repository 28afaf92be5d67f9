"""Windows events exported as XML (``wevtutil qe <channel> /f:xml``, Event Viewer "Save as XML").

The export is a run of ``<Event xmlns="…/win/2004/08/events/event">…</Event>`` elements, with or
without an ``<Events>`` wrapper and often without line breaks. The stream is read in blocks and cut
at each ``</Event>``; each event is parsed alone (bounded size; documents with a DTD or entities are
refused, so no entity expansion can happen) and flattened like an EVTX record. ``Record.line`` is
the event's ordinal in the file.

References:
    Microsoft, wevtutil documentation (``qe``, ``/f:xml``); Windows Event schema
    (``http://schemas.microsoft.com/win/2004/08/events/event``).
"""

from __future__ import annotations

import codecs
import xml.etree.ElementTree as ET  # DTDs and entities are refused before parsing
from collections.abc import Iterator
from typing import BinaryIO

from exaudit.model import ErrorEntry
from exaudit.parsers.base import ParseStats, Record
from exaudit.parsers.evtx import compact
from exaudit.parsers.text import MAX_LINE, READ_ERRORS, parse_iso_utc, sniff_encoding

ARTIFACT = "event_xml"
_END = "</Event>"


def parse(stream: BinaryIO, path: str, stats: ParseStats, artifact: str = ARTIFACT) -> Iterator[Record]:
    ordinal = 0
    for chunk in _events(stream, path, stats):
        ordinal += 1
        fields = _flatten(chunk)
        if fields is None:
            stats.bad_lines += 1
            continue
        ts = parse_iso_utc(fields.get("TimeCreated", ""))
        stats.records += 1
        stats.saw(ts)
        yield Record(artifact, path, ordinal, ts, fields, compact(fields))
    if stats.records == 0 and stats.bad_lines == 0 and not stats.errors:
        from exaudit.parsers.recognize import empty_error

        stats.errors.append(empty_error(path))


def _events(stream: BinaryIO, path: str, stats: ParseStats) -> Iterator[str]:
    try:
        head = stream.read(4)
    except READ_ERRORS as exc:
        stats.errors.append(ErrorEntry(where=path, kind="damaged", message=str(exc)[:300]))
        return
    codec, bom = sniff_encoding(head)
    decoder = codecs.getincrementaldecoder(codec)("replace")
    buffer = decoder.decode(head[bom:])
    while True:
        try:
            block = stream.read(1 << 16)
        except READ_ERRORS as exc:
            stats.errors.append(ErrorEntry(where=path, kind="damaged", message=str(exc)[:300]))
            return
        buffer += decoder.decode(block, final=not block)
        while (end := buffer.find(_END)) >= 0:
            start = _event_start(buffer, end)
            if start >= 0:
                yield buffer[start : end + len(_END)]
            buffer = buffer[end + len(_END) :]
        if len(buffer) > MAX_LINE:
            stats.bad_lines += 1
            buffer = buffer[-len(_END) :]
        if not block:
            if _event_start(buffer, len(buffer)) >= 0:
                stats.bad_lines += 1  # a torn last event
            return


def _event_start(buffer: str, end: int) -> int:
    """The ``<Event`` (not ``<EventData``/``<EventID``) that opens the element closing at ``end``."""
    position = end
    while True:
        position = buffer.rfind("<Event", 0, position)
        if position < 0:
            return -1
        follower = buffer[position + 6 : position + 7]
        if follower in (" ", ">", "\n", "\r", "\t"):
            return position


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _flatten(text: str) -> dict[str, str] | None:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return None
    try:
        root = ET.fromstring(text)  # noqa: S314 - no DTD, no entities (checked above)
    except ET.ParseError:
        return None
    fields: dict[str, str] = {}
    for section in root:
        name = _local(section.tag)
        if name == "System":
            _system(section, fields)
        elif name == "EventData":
            _event_data(section, fields)
        elif name == "UserData":
            for leaf in section.iter():
                if len(leaf) == 0 and leaf is not section:
                    fields.setdefault(_local(leaf.tag), (leaf.text or "").strip())
        elif name == "RenderingInfo":
            message = section.find("{*}Message")
            if message is not None and message.text:
                fields.setdefault("Message", message.text)
    return fields


def _system(section: ET.Element, fields: dict[str, str]) -> None:
    for child in section:
        name = _local(child.tag)
        if name == "Provider":
            fields["Provider"] = child.get("Name", "")
        elif name == "TimeCreated":
            fields["TimeCreated"] = child.get("SystemTime", "")
        elif name == "Security":
            if child.get("UserID"):
                fields["UserID"] = child.get("UserID", "")
        elif len(child) == 0:
            fields[name] = (child.text or "").strip()


def _event_data(section: ET.Element, fields: dict[str, str]) -> None:
    unnamed: list[str] = []
    for child in section:
        value = child.text or ""
        if _local(child.tag) == "Data" and child.get("Name"):
            fields.setdefault(child.get("Name", ""), value)
        else:
            unnamed.append(value)
    for index, value in enumerate(unnamed):
        fields.setdefault(f"Data[{index}]", value)
    if unnamed:
        fields.setdefault("Data", "\n".join(unnamed))
