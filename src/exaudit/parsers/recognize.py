"""Which artifact is this file? Decided by content, supported by path; never by path alone.

``classify(file, head)`` reads only the first bytes (``HEAD_BYTES``) and returns an artifact name:
``iis``, ``httpproxy``, ``ecp_server``, ``ecp_activity``, ``oabgen``, ``rps_http``, ``rps_cmdlet``,
``local_powershell``, ``evtx``, ``event_json``, ``event_xml``; or one of the error artifacts
``lfs_pointer``, ``empty``, ``wrong_format`` (their parser yields no record and records one
``ErrorEntry`` of that kind, so the normal classify → parse loop reports them); or ``None`` for
files that are not logs we read (web pages, binaries, Exchange logs outside our scope).

References:
    reference/microsoft-css-exchange.md §1.15 (directives); reference/style-and-ecosystem.md §7.6
    (EVTX); corpus SOURCES.md (LFS pointers, the Apache log that is not IIS).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from exaudit.evidence.base import EvidenceFile
from exaudit.model import ErrorEntry
from exaudit.parsers.text import decode_head

HEAD_BYTES = 8192
ERROR_ARTIFACTS = frozenset({"lfs_pointer", "empty", "wrong_format"})
LOG_SUFFIXES = (".log", ".txt", ".csv", ".json", ".jsonl", ".ndjson", ".evtx")

_LFS = b"version https://git-lfs.github.com/spec/v1"
_EVTX_MAGIC = b"ElfFile\x00"
_W3C_DATA = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ .*\b(GET|POST|HEAD|PUT|OPTIONS|DELETE|PROPFIND|RPC_IN_DATA|RPC_OUT_DATA)\b")
_HTTPPROXY_DATA = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\d]*Z,[0-9a-f-]{36},1[45],\d{1,2},\d+,\d+,")
_LOG_TYPES = {
    "httpproxy logs": "httpproxy",
    "ecp server log": "ecp_server",
    "ecp activity context log": "ecp_activity",
    "rps http logs": "rps_http",
    "rps cmdlet logs": "rps_cmdlet",
}


@dataclass(frozen=True)
class Recognition:
    artifact: str | None
    reason: str


def classify(file: EvidenceFile, head: bytes) -> str | None:
    """The artifact name for a file, from its server path and its first bytes."""
    return recognise(file, head).artifact


def recognise(file: EvidenceFile, head: bytes) -> Recognition:
    """``classify`` with the reason (shown in error entries and debug output)."""
    path = file.path.replace("/", "\\").lower()
    name = path.rsplit("\\", 1)[-1]
    if head.startswith(_LFS):
        return Recognition("lfs_pointer", "Git LFS pointer: the real content was never fetched")
    if head.startswith(_EVTX_MAGIC):
        return Recognition("evtx", "EVTX file header")
    if not head.strip(b"\x00 \t\r\n\xef\xbb\xbf\xff\xfe"):
        if name.endswith(LOG_SUFFIXES) or "\\logging\\" in path or "\\logfiles\\" in path:
            return Recognition("empty", "no content")
        return Recognition(None, "no content, not a log by name")
    if head.startswith(b"PK\x03\x04"):
        return Recognition(None, "zip archive (expanded by the evidence source)")
    text = decode_head(head)
    found = _by_directives(text, path)
    if found:
        return Recognition(found, "log directives")
    if _known_other(text):
        return Recognition(None, "an Exchange log type outside hunt's scope")
    found = _by_content(text, path)
    if found:
        return Recognition(found, "content")
    if name.endswith(LOG_SUFFIXES) or name.endswith(".log.old"):
        return Recognition("wrong_format", "named like a log, content matches no known format")
    return Recognition(None, "not a known log")


def _by_directives(text: str, path: str) -> str | None:
    directives = _directives(text)
    if not directives:
        return None
    software = directives.get("software", "").lower()
    fields = directives.get("fields", "")
    if "internet information services" in software or (" cs-method" in f" {fields}" and "," not in fields):
        return "iis"
    log_type = directives.get("log-type", "").lower()
    if log_type in _LOG_TYPES:
        return _cmdlet_kind(_LOG_TYPES[log_type], path)
    lowered_fields = fields.lower()
    if "oab" in log_type or ("oabgeneratorlog" in path and "exchange" in software):
        return "oabgen"
    if "cmdlet" in log_type and "cmdlet" in lowered_fields:
        return _cmdlet_kind("rps_cmdlet", path)
    if "rps" in log_type and "http" in log_type:
        return "rps_http"
    if not log_type and "anchormailbox" in lowered_fields and "urlstem" in lowered_fields:
        return "httpproxy"
    return None


def _known_other(text: str) -> bool:
    """An Exchange log of a type we do not read (message tracking, SMTP, EWS, agent, audit …)."""
    directives = _directives(text)
    return "microsoft exchange" in directives.get("software", "").lower() and bool(directives.get("log-type"))


def _cmdlet_kind(artifact: str, path: str) -> str:
    """Local (EMS) and remote cmdlet logs share a format; only the folder tells them apart."""
    if artifact == "rps_cmdlet" and "\\localpowershell\\" in path:
        return "local_powershell"
    return artifact


def _directives(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines()[:40]:
        if line.startswith("#") and ":" in line:
            key, _, value = line[1:].partition(":")
            out.setdefault(key.strip().lower(), value.strip())
    return out


def _by_content(text: str, path: str) -> str | None:
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    stripped = first.lstrip()
    if _W3C_DATA.match(first):
        return "iis"
    if _HTTPPROXY_DATA.match(first) or (first.startswith("DateTime,RequestId,") and "AnchorMailbox" in first):
        return "httpproxy"
    if first.startswith(("TimeStamp,ServerName,EventId,EventData", "Timestamp,ServerName,EventId,EventData")):
        return "ecp_activity" if "\\activity\\" in path else "ecp_server"
    if stripped.startswith("{") and _is_event_json(stripped):
        return "event_json"
    if stripped.startswith("<") and ("schemas.microsoft.com/win/2004/08/events/event" in text or "<Events>" in text):
        return "event_xml"
    if "oabgeneratorlog" in path and re.match(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d", first):
        return "oabgen"  # header-less OABGenerator text (no documented header)
    return None


def _is_event_json(line: str) -> bool:
    try:
        obj = json.loads(line)
    except ValueError:
        return False
    if not isinstance(obj, dict):
        return False
    keys = {k.lower() for k in obj}
    if keys & {"eventid", "event_id", "winlog", "eventrecordid"}:
        return True
    event = obj.get("Event", obj.get("event"))
    return isinstance(event, dict) and "System" in event  # an EVTX record rendered as JSON


def empty_error(where: str) -> ErrorEntry:
    return ErrorEntry(where=where, kind="empty", message="no records: the file is empty or holds only headers")
