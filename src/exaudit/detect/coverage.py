"""How far back the evidence lets us see, per log type: the companion of every verdict.

Test-ProxyLogon printed "Nothing suspicious detected" when the logs had rotated away; its log-age
line ("just to let you know how far back the script is able to see", CSS-Exchange#251) confused
users. Here coverage is first/last timestamp, days covered, missing days (gaps) per log type, and
the log types that are absent, so that ``no_evidence`` is never read as "clean".

References: reference/microsoft-css-exchange.md §1.9 (Get-LogAge), §6 (#251).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from exaudit.model import Coverage, iso

# Which log types matter for what, to say what a missing one hides.
KEY_LOGS: dict[str, str] = {
    "iis": "IIS logs (web requests: every chain, web shell use)",
    "httpproxy": "HttpProxy logs (ProxyLogon SSRF, CVE-2021-26855)",
    "ecp_server": "ECP server logs (CVE-2021-27065 virtual directory changes)",
    "events": "Windows event logs (process starts, cmdlets, CVE-2021-26857)",
}
EVENT_ARTIFACTS = frozenset({"evtx", "event_json", "event_xml"})
SHORT_DAYS = 30.0  # Exchange keeps about 30 days by default; less is worth saying


@dataclass
class FileSpan:
    artifact: str
    records: int
    first: datetime | None
    last: datetime | None


def _days(first: datetime, last: datetime) -> float:
    return round((last - first).total_seconds() / 86400, 1)


def _gaps(spans: list[tuple[date, date]]) -> list[dict[str, str]]:
    """Whole days between the first and last timestamp that no file covers."""
    covered: set[date] = set()
    for start, end in spans:
        day = start
        while day <= end:
            covered.add(day)
            day += timedelta(days=1)
    if not covered:
        return []
    gaps: list[dict[str, str]] = []
    day, end = min(covered), max(covered)
    gap_start: date | None = None
    while day <= end:
        if day not in covered and gap_start is None:
            gap_start = day
        if day in covered and gap_start is not None:
            gaps.append({"from": gap_start.isoformat(), "to": (day - timedelta(days=1)).isoformat()})
            gap_start = None
        day += timedelta(days=1)
    return gaps


def coverage_of(spans: Iterable[FileSpan]) -> list[Coverage]:
    by_artifact: dict[str, list[FileSpan]] = {}
    for span in spans:
        by_artifact.setdefault(span.artifact, []).append(span)
    result: list[Coverage] = []
    for artifact in sorted(by_artifact):
        files = by_artifact[artifact]
        firsts = [f.first for f in files if f.first]
        lasts = [f.last for f in files if f.last]
        cov = Coverage(artifact=artifact, files=len(files), records=sum(f.records for f in files))
        if firsts and lasts:
            first, last = min(firsts), max(lasts)
            cov.first, cov.last, cov.days = iso(first), iso(last), _days(first, last)
            cov.gaps = _gaps([(f.first.date(), f.last.date()) for f in files if f.first and f.last])
        result.append(cov)
    return result


def caveats(coverage: list[Coverage]) -> list[str]:
    """Plain sentences on what the evidence cannot show: missing, empty, short or gapped log types."""
    present = {c.artifact: c for c in coverage if c.records}
    notes: list[str] = []
    for key, label in KEY_LOGS.items():
        covs = [c for a, c in present.items() if (a in EVENT_ARTIFACTS if key == "events" else a == key)]
        if not covs:
            notes.append(f"no {label} in the evidence: what they record cannot be seen")
            continue
        for cov in covs:
            if cov.days < SHORT_DAYS:
                notes.append(f"{cov.artifact} logs cover only {cov.days} days ({cov.first} to {cov.last})")
            if cov.gaps:
                missing = sum((date.fromisoformat(g["to"]) - date.fromisoformat(g["from"])).days + 1 for g in cov.gaps)
                notes.append(f"{cov.artifact} logs miss {missing} day(s) between {cov.first} and {cov.last}")
    return notes
