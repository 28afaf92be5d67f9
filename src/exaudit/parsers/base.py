"""What every parser yields: a typed record with its vendor fields kept by header name.

Contract between parsers (one module per format) and detectors:

* ``Record.fields`` keeps the raw vendor fields under their header names exactly as the
  format names them (IIS W3C ``cs-uri-stem``, HttpProxy ``UrlStem``, EVTX ``EventID`` …);
  never positions. Detectors refer to these names per artifact.
* ``Record.time`` is timezone-aware UTC (or None when the line has none).
* A parser never raises on bad content: it counts bad lines in ``ParseStats`` and, for a file
  it cannot read at all, records one ``ErrorEntry``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol

from exaudit.model import ErrorEntry


@dataclass(slots=True)
class Record:
    artifact: str  # e.g. "iis", "httpproxy", "ecp_server", "oabgen", "rps_http", "rps_cmdlet", "evtx", "event_json"
    path: str  # the file as the server saw it (C:\Program Files\Microsoft\Exchange Server\V15\Logging\…)
    line: int  # 1-based line number, or the EVTX record id
    time: datetime | None
    fields: dict[str, str]
    raw: str = ""  # the line (or a compact rendering of the event), for evidence excerpts

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default) or default


@dataclass
class ParseStats:
    records: int = 0
    bad_lines: int = 0
    errors: list[ErrorEntry] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None
    meta: dict[str, str] = field(default_factory=dict)  # e.g. {"version": "15.1.2176.9"} from a log header

    def saw(self, ts: datetime | None) -> None:
        if ts is None:
            return
        if self.first is None or ts < self.first:
            self.first = ts
        if self.last is None or ts > self.last:
            self.last = ts


class Parser(Protocol):
    """One module per format exposes ``parse``."""

    def __call__(self, stream: BinaryIO, path: str, stats: ParseStats) -> Iterator[Record]: ...
