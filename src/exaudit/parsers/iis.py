"""IIS W3C extended logs (``C:\\inetpub\\logs\\LogFiles\\W3SVC<n>\\u_ex<yymmdd>.log``).

Fields are mapped by the ``#Fields:`` directive (several blocks per file are honoured: IIS writes a
new header after every restart or configuration change). Timestamps (``date`` + ``time``) are UTC,
as IIS writes them. A line with more space-separated values than fields usually carries a raw space
in the user agent (seen in published attack traces); the surplus is folded back into
``cs(User-Agent)`` rather than discarding the line. Header-less lines (log excerpts, SIEM exports)
get their layout guessed from the HTTP method's position.

References:
    Microsoft, "W3C Logging" (IIS docs); reference/microsoft-css-exchange.md §1.15.5;
    reference/peer-tools-and-iocs.md §5 (plaso winiis failures on Exchange lines);
    corpus iis-logs/ (real IIS 10 log, elastic/integrations header-less samples).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from exaudit.parsers.base import ParseStats, Record
from exaudit.parsers.text import MAX_RAW, excerpt, iter_lines

ARTIFACT = "iis"
METHODS = frozenset(
    "GET POST HEAD PUT DELETE OPTIONS PATCH TRACE CONNECT PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK SEARCH RPC_IN_DATA".split()
) | {"RPC_OUT_DATA"}
UA = "cs(User-Agent)"
_MIDDLE = ((), ("cs(Referer)",), ("cs(Referer)", "cs-host"), ("cs(Cookie)", "cs(Referer)", "cs-host"))


def parse(stream: BinaryIO, path: str, stats: ParseStats, artifact: str = ARTIFACT) -> Iterator[Record]:
    fields: list[str] | None = None
    ua_index = -1
    last_key, last_ts = "", None  # many lines share a second: parse each timestamp once
    for number, line in iter_lines(stream, path, stats):
        if not line:
            continue
        if line[0] == "#":
            if line.startswith("#Fields:"):
                fields = line[8:].split()
                ua_index = fields.index(UA) if UA in fields else -1
            else:
                _directive(line, stats)
            continue
        values = line.split(" ")
        if fields is None:
            mapped = guess_fields(values)
        elif len(values) == len(fields):
            mapped = dict(zip(fields, values, strict=True))
        else:
            mapped = _fold(fields, values, ua_index)
        if mapped is None:
            stats.bad_lines += 1
            continue
        date, time = mapped.get("date", ""), mapped.get("time", "")
        if date + time != last_key:
            last_key, last_ts = date + time, _timestamp(date, time)
            stats.saw(last_ts)
        stats.records += 1
        yield Record(artifact, path, number, last_ts, mapped, line if len(line) <= MAX_RAW else excerpt(line))
    if stats.records == 0 and stats.bad_lines == 0 and not stats.errors:
        from exaudit.parsers.recognize import empty_error

        stats.errors.append(empty_error(path))


def _directive(line: str, stats: ParseStats) -> None:
    name, _, value = line[1:].partition(":")
    key = name.strip().lower()
    if key in ("software", "version", "date") and key not in stats.meta:
        stats.meta[key] = value.strip()


def _fold(fields: list[str], values: list[str], ua_index: int) -> dict[str, str] | None:
    """Too many values: the user agent held raw spaces. Too few: a torn line (bad)."""
    extra = len(values) - len(fields)
    if extra <= 0 or ua_index < 0:
        return None
    joined = [*values[:ua_index], " ".join(values[ua_index : ua_index + extra + 1]), *values[ua_index + extra + 1 :]]
    return dict(zip(fields, joined, strict=True))


def _timestamp(date: str, time: str) -> datetime | None:
    if len(date) != 10 or len(time) < 8 or not date[:4].isdigit():
        return None
    try:
        return datetime.fromisoformat(f"{date}T{time[:8]}").replace(tzinfo=UTC)
    except ValueError:
        return None


def guess_fields(values: list[str]) -> dict[str, str] | None:
    """Name the values of a header-less W3C line around its HTTP method.

    Before the method: ``date time [s-sitename] [s-computername] s-ip``; after it the IIS default
    order ``cs-uri-stem cs-uri-query s-port cs-username c-ip [cs-version] cs(User-Agent)``, then
    optional ``cs(Cookie) cs(Referer) cs-host``, the ``sc-status sc-substatus sc-win32-status``
    triple and ``time-taken``; anything later is kept as ``x-field<n>``.
    """
    method_at = next((i for i in range(2, min(len(values), 6)) if values[i] in METHODS), -1)
    if method_at < 3 or len(values) < method_at + 7 or _timestamp(values[0], values[1]) is None:
        return None
    out = {"date": values[0], "time": values[1]}
    *named, out["s-ip"] = values[2:method_at]
    for value in named:
        out["s-sitename" if value.upper().startswith("W3SVC") else "s-computername"] = value
    names = ["cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username", "c-ip"]
    out.update(zip(names, values[method_at : method_at + 6], strict=False))
    rest = values[method_at + 6 :]
    if rest and rest[0].startswith("HTTP/"):
        out["cs-version"] = rest.pop(0)
    status_at = next((i for i in range(1, len(rest) - 2) if _is_status(rest[i : i + 3])), -1)
    if status_at < 0:
        return None
    out[UA] = rest[0]
    middle = rest[1:status_at]
    if len(middle) > 3:
        return None
    out.update(zip(_MIDDLE[len(middle)], middle, strict=True))
    out["sc-status"], out["sc-substatus"], out["sc-win32-status"] = rest[status_at : status_at + 3]
    tail = rest[status_at + 3 :]
    if tail:
        out["time-taken"] = tail.pop(0)
    for index, value in enumerate(tail, 1):
        out[f"x-field{index}"] = value
    return out


def _is_status(triple: list[str]) -> bool:
    status, sub, win32 = triple
    return len(status) == 3 and status.isdigit() and status[0] in "12345" and sub.isdigit() and win32.isdigit()
