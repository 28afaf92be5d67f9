"""The Exchange "CSV with directives" log family, shared by the HttpProxy, ECP, OABGenerator and
CmdletInfra parsers.

Every file carries ``#Software``, ``#Version``, ``#Log-type``, ``#Date`` and ``#Fields`` directives;
the field names come from ``#Fields:`` (or, when the directives are missing, from a first line that
is a header, as ``Import-Csv`` reads it; or from the artifact's default column set for header-less
excerpts). Values are CSV: mostly plain, sometimes double-quoted with doubled quotes and commas or
line breaks inside. Names are matched case-insensitively to the canonical spelling
(``ClientIPAddress`` → ``ClientIpAddress``, ``BackendCookie`` → ``BackEndCookie``).

References:
    reference/microsoft-css-exchange.md §1.15 (directives, 74 HttpProxy columns, ECP EventData,
    "map fields by header name, never by position"); corpus exchange-logs/ (Qazeer/artefacts.help).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from exaudit.parsers.base import ParseStats, Record
from exaudit.parsers.text import MAX_LINE, excerpt, iter_lines, parse_iso_utc

HTTPPROXY_FIELDS = (
    "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,"
    "UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,"
    "UserAgent,ClientIpAddress,ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,"
    "TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,"
    "ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,HttpPipelineLatency,CalculateTargetBackEndLatency,"
    "GlsLatencyBreakup,TotalGlsLatency,AccountForestLatencyBreakup,TotalAccountForestLatency,"
    "ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,SharedCacheLatencyBreakup,"
    "TotalSharedCacheLatency,ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,"
    "BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,"
    "BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,HandlerCompletionLatency,"
    "RequestHandlerLatency,HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,"
    "TotalRequestTime,RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,EdgeTraceId,"
    "DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus"
).split(",")
ECP_FIELDS = ["TimeStamp", "ServerName", "EventId", "EventData"]
OTHER_KNOWN = ["StartTime", "Cmdlet", "Parameters", "ClientInfo", "ClientApplication", "UrlStem", "Timestamp"]
CANONICAL = {name.lower(): name for name in [*HTTPPROXY_FIELDS, *ECP_FIELDS, *OTHER_KNOWN]}
TIME_FIELDS = ("DateTime", "TimeStamp", "Timestamp", "date-time", "StartTime")
VERSION_FIELDS = ("MajorVersion", "MinorVersion", "BuildVersion", "RevisionVersion")
_LEADING_TS = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?Z?")
_BUILD = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{1,4})\.(\d{1,4})$")
MAX_CONTINUATION = 1000  # physical lines one quoted record may span

RecordHook = Callable[[Record, ParseStats], None]


def canonical(names: list[str]) -> list[str]:
    return [CANONICAL.get(name.strip().lower(), name.strip()) for name in names]


def normalise_build(text: str) -> str | None:
    """``15.01.2375.007`` → ``15.1.2375.7``; format versions like ``15.0.0.0`` are not builds."""
    match = _BUILD.match(text.strip())
    if not match:
        return None
    parts = [int(p) for p in match.groups()]
    if parts[2] == 0:
        return None
    return ".".join(str(p) for p in parts)


def parse_csv_log(
    stream: BinaryIO,
    path: str,
    stats: ParseStats,
    artifact: str,
    default_fields: list[str] | None = None,
    hook: RecordHook | None = None,
) -> Iterator[Record]:
    """Records of one Exchange CSV log; ``hook`` may enrich each record or ``stats.meta``."""
    fields: list[str] | None = default_fields
    time_field = time_field_of(fields)
    declared_by_directive = False
    lines = iter_lines(stream, path, stats)
    for number, line in lines:
        if not line:
            continue
        if line[0] == "#":
            declared = _directive(line, stats)
            if declared:
                fields, time_field, declared_by_directive = declared, time_field_of(declared), True
            continue
        if not line[0].isdigit() and _looks_like_header(line):
            if not declared_by_directive:  # an Import-Csv style first-line header
                fields = canonical(line.split(","))
                time_field = time_field_of(fields)
            continue
        if line.count('"') % 2:
            joined = _continue_quoted(line, lines, stats)
            if joined is None:
                continue
            line = joined
        record = _record(line, number, path, artifact, fields, time_field)
        if record is None:
            stats.bad_lines += 1
            continue
        if "exchange_build" not in stats.meta:
            _build_from_columns(record, stats)
        if hook is not None:
            hook(record, stats)
        stats.records += 1
        stats.saw(record.time)
        yield record
    if stats.records == 0 and stats.bad_lines == 0 and not stats.errors:
        from exaudit.parsers.recognize import empty_error

        stats.errors.append(empty_error(path))


def _directive(line: str, stats: ParseStats) -> list[str] | None:
    name, _, value = line[1:].partition(":")
    key = name.strip().lower()
    value = value.strip()
    if key == "fields":
        return canonical(value.split(","))
    if key in ("software", "version", "log-type", "date") and key not in stats.meta:
        stats.meta[key] = value
        if key == "version" and "exchange_build" not in stats.meta:
            build = normalise_build(value)
            if build:
                stats.meta["exchange_build"] = build
    return None


def _looks_like_header(line: str) -> bool:
    first = line.split(",", 1)[0].strip().strip('"')
    return bool(first) and not first[0].isdigit() and first.lower() in {f.lower() for f in TIME_FIELDS}


def _continue_quoted(line: str, lines: Iterator[tuple[int, str]], stats: ParseStats) -> str | None:
    """Join physical lines until the quotes balance (a quoted value held a line break)."""
    parts = [line]
    size = len(line)
    quotes = line.count('"')
    for _ in range(MAX_CONTINUATION):
        nxt = next(lines, None)
        if nxt is None:
            break
        parts.append(nxt[1])
        size += len(nxt[1])
        quotes += nxt[1].count('"')
        if quotes % 2 == 0:
            return "\n".join(parts)
        if size > MAX_LINE:
            break
    stats.bad_lines += 1
    return None


def split_csv(line: str) -> list[str]:
    if '"' not in line:
        return line.split(",")
    try:
        return next(csv.reader([line], strict=False))
    except (csv.Error, StopIteration):
        return line.split(",")


def _record(line: str, number: int, path: str, artifact: str, fields: list[str] | None, time_field: str | None) -> Record | None:
    if fields is None:
        return _freeform(line, number, path, artifact)
    values = split_csv(line)
    if len(values) > len(fields):
        return None
    if len(values) < len(fields):
        if len(values) < 2:
            return None
        values = values + [""] * (len(fields) - len(values))  # older builds write fewer trailing columns
    mapped = dict(zip(fields, values, strict=True))
    ts = parse_iso_utc(mapped[time_field]) if time_field else None
    return Record(artifact, path, number, ts, mapped, excerpt(line))


def time_field_of(fields: list[str] | None) -> str | None:
    return next((name for name in TIME_FIELDS if name in fields), None) if fields else None


def _freeform(line: str, number: int, path: str, artifact: str) -> Record | None:
    """A header-less text log line: the message, with its leading timestamp when there is one."""
    match = _LEADING_TS.match(line)
    ts = parse_iso_utc(match.group(0).replace(" ", "T")) if match else None
    return Record(artifact, path, number, ts, {"Message": line}, excerpt(line))


def _build_from_columns(record: Record, stats: ParseStats) -> None:
    parts = [record.fields.get(name, "") for name in VERSION_FIELDS]
    if all(p.isdigit() for p in parts):
        build = normalise_build(".".join(parts))
        if build:
            stats.meta["exchange_build"] = build
