"""Timesketch import files: JSONL (one event per line) or CSV.

Every row has Timesketch's mandatory ``message``, ``datetime`` (ISO 8601) and ``timestamp_desc``, and
``timestamp`` in microseconds since the epoch, consistent with ``datetime``. Extra fields are snake_case
and stable. Findings that no timeline event refers to get a row at their first sighting.

References:
    Timesketch, "Import from JSON or CSV" (google/timesketch docs/guides/user/import-from-json-csv.md);
    plaso's split of event data and presentation (timestamp_desc).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from exaudit.model import Finding, parse_iso
from exaudit.render.csv_out import write_csv
from exaudit.render.view import ReportView

COLUMNS = (
    "message", "datetime", "timestamp_desc", "timestamp", "hostname", "rule_id", "rule_title",
    "severity", "cve", "attack", "finding_id", "source_file", "source_line", "data_type",
)  # fmt: skip

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _when(text: str) -> tuple[str, int] | None:
    try:
        ts = parse_iso(text)
    except (TypeError, ValueError):
        return None
    if ts is None:
        return None
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    delta = ts - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return ts.isoformat(), micros


def _row(when: tuple[str, int], desc: str, message: str, host: str, finding: Finding | None, rule: str, source: Any) -> dict[str, Any]:
    return {
        "message": message,
        "datetime": when[0],
        "timestamp_desc": desc,
        "timestamp": when[1],
        "hostname": host,
        "rule_id": rule,
        "rule_title": finding.title if finding else "",
        "severity": finding.severity.value if finding else "",
        "cve": ", ".join(finding.cves) if finding else "",
        "attack": ", ".join(finding.attack) if finding else "",
        "finding_id": finding.id if finding else "",
        "source_file": source.path if source else "",
        "source_line": source.line if source and source.line is not None else "",
        "data_type": "exaudit:finding" if finding else "exaudit:event",
    }


def timesketch_rows(view: ReportView) -> list[dict[str, Any]]:
    by_id = {f.id: f for f in view.findings}
    rows, covered = [], set()
    for event in view.timeline:
        when = _when(event.time)
        if when is None:
            continue
        finding = by_id.get(event.finding or "")
        covered.add(event.finding)
        rows.append(_row(when, "Event Recorded", event.message or event.rule, event.host, finding, event.rule, event.source))
    for f in view.findings:
        for stamp, desc in ((f.first_seen, "First Seen"), (f.last_seen, "Last Seen")):
            when = _when(stamp) if stamp else None
            if when is None or f.id in covered or (desc == "Last Seen" and f.last_seen == f.first_seen):
                continue
            message = f"{f.title}: {f.evidence}" if f.evidence else f.title
            rows.append(_row(when, desc, " ".join(message.split())[:2000], f.host, f, f.rule, f.source))
    rows.sort(key=lambda r: r["timestamp"])
    return rows


def render_timesketch(view: ReportView, as_csv: bool = False) -> str:
    rows = timesketch_rows(view)
    if as_csv:
        return write_csv(COLUMNS, ([r[c] for c in COLUMNS] for r in rows))
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
