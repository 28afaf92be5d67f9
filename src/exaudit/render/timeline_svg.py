"""Geometry of the attack-timeline chart (inline SVG): numbers only, the template draws them.

One row per server, one mark per event, x proportional to time (UTC). Labels are escaped by the
template like every other text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from exaudit.model import Severity, TimelineEvent, iso, parse_iso

WIDTH, LEFT, RIGHT, TOP, ROW = 960, 170, 20, 30, 32
MAX_MARKS = 3000  # beyond this the browser slows down; the table and JSON keep every event

COLOURS = {
    "critical": "#8b0000",
    "high": "#d9480f",
    "medium": "#e8a400",
    "low": "#1c7ed6",
    "info": "#868e96",
}


@dataclass
class Mark:
    x: float
    y: float
    colour: str
    label: str


@dataclass
class Tick:
    x: float
    label: str
    anchor: str = "middle"


@dataclass
class Chart:
    width: int
    height: int
    rows: list[tuple[float, str]] = field(default_factory=list)  # (y, host)
    marks: list[Mark] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    left: int = LEFT
    right: int = WIDTH - RIGHT
    hidden: int = 0


def build_chart(events: list[TimelineEvent], severities: dict[str, Severity]) -> Chart | None:
    """Place ``events`` (already sorted); ``severities`` maps a finding id to its severity for the colour."""
    timed = [(parse_iso(e.time), e) for e in events]
    points = [(t if t.tzinfo else t.replace(tzinfo=UTC), e) for t, e in timed if t is not None]
    if not points:
        return None
    hosts = sorted({e.host for _, e in points}, key=str.lower)
    start, end = points[0][0], points[-1][0]
    if end - start < timedelta(minutes=1):
        start, end = start - timedelta(minutes=30), end + timedelta(minutes=30)
    span = (end - start).total_seconds()
    chart = Chart(width=WIDTH, height=TOP + ROW * len(hosts) + 40)
    row_y = {h: TOP + ROW * i + ROW / 2 for i, h in enumerate(hosts)}
    chart.rows = [(row_y[h], h) for h in hosts]
    usable = chart.right - chart.left

    def x_of(t: datetime) -> float:
        return round(chart.left + usable * (t - start).total_seconds() / span, 1)

    for t, e in points[:MAX_MARKS]:
        sev = severities.get(e.finding or "", Severity.MEDIUM)
        chart.marks.append(Mark(x_of(t), row_y[e.host], COLOURS[sev.value], f"{iso(t)} UTC {e.message}"))
    chart.hidden = max(0, len(points) - MAX_MARKS)
    for i in range(4):
        t = start + (end - start) * i / 3
        anchor = "start" if i == 0 else "end" if i == 3 else "middle"  # keep the end labels inside the chart
        chart.ticks.append(Tick(x_of(t), (iso(t.replace(microsecond=0)) or "").replace("T", " "), anchor))
    return chart
