"""Log parsers: recognise a file's artifact, then stream its records.

Public API (pinned by tests)::

    from exaudit.parsers import classify, parser_for, ParseStats
    artifact = classify(file, head)            # file: EvidenceFile, head: its first HEAD_BYTES bytes
    if artifact:
        stats = ParseStats()
        with file.open() as stream:
            for record in parser_for(artifact)(stream, file.path, stats):
                ...                            # Record(artifact, path, line, time (UTC), fields, raw)

Artifacts: ``iis``, ``httpproxy``, ``ecp_server``, ``ecp_activity``, ``oabgen``, ``rps_http``,
``rps_cmdlet``, ``local_powershell``, ``evtx``, ``event_json``, ``event_xml``; error artifacts
``lfs_pointer``, ``empty``, ``wrong_format`` parse to no record and one ``ErrorEntry`` of that kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import BinaryIO

from exaudit.model import ErrorEntry
from exaudit.parsers import cmdletinfra, ecp, events_json, events_xml, evtx, httpproxy, iis, oabgen
from exaudit.parsers.base import Parser, ParseStats, Record
from exaudit.parsers.recognize import ERROR_ARTIFACTS, HEAD_BYTES, Recognition, classify, recognise

_ERROR_MESSAGES = {
    "lfs_pointer": "Git LFS pointer file: the log content was never fetched (run git lfs pull); not evidence of absence",
    "empty": "empty file: no records, not evidence of absence",
    "wrong_format": "named like a log but its content matches no known format",
}

PARSERS: dict[str, Parser] = {
    "iis": iis.parse,
    "httpproxy": httpproxy.parse,
    "ecp_server": ecp.parse,
    "ecp_activity": ecp.parse_activity,
    "oabgen": oabgen.parse,
    "rps_http": partial(cmdletinfra.parse, artifact=cmdletinfra.RPS_HTTP),
    "rps_cmdlet": partial(cmdletinfra.parse, artifact=cmdletinfra.RPS_CMDLET),
    "local_powershell": partial(cmdletinfra.parse, artifact=cmdletinfra.LOCAL_POWERSHELL),
    "evtx": evtx.parse,
    "event_json": events_json.parse,
    "event_xml": events_xml.parse,
}
ARTIFACTS = frozenset(PARSERS)


def _error_parser(kind: str, stream: BinaryIO, path: str, stats: ParseStats) -> Iterator[Record]:
    stats.errors.append(ErrorEntry(where=path, kind=kind, message=_ERROR_MESSAGES[kind]))
    return iter(())


def parser_for(artifact: str) -> Parser:
    """The parser for an artifact name from ``classify``; ``KeyError`` for an unknown name."""
    if artifact in ERROR_ARTIFACTS:
        return partial(_error_parser, artifact)
    return PARSERS[artifact]


__all__ = [
    "ARTIFACTS",
    "ERROR_ARTIFACTS",
    "HEAD_BYTES",
    "ParseStats",
    "Parser",
    "Recognition",
    "Record",
    "classify",
    "parser_for",
    "recognise",
]
