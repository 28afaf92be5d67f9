"""Findings as CSV that stays inert in a spreadsheet.

A cell that starts with ``=`` ``+`` ``-`` ``@``, a tab or a carriage return (or their full-width forms,
which some spreadsheets also accept) is a formula to Excel and LibreOffice; such cells are prefixed with
``'`` so they are shown as text (OWASP "CSV Injection").

References:
    OWASP, CSV Injection (https://owasp.org/www-community/attacks/CSV_Injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from exaudit.render.view import ReportView

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")

FINDING_COLUMNS = (
    "id", "host", "severity", "confidence", "stage", "rule", "title", "cves", "attack",
    "first_seen_utc", "last_seen_utc", "count", "source_path", "source_line",
    "ips", "urls", "files", "user_agents", "evidence",
)  # fmt: skip


def neutralise(value: Any) -> Any:
    """A spreadsheet-safe cell: text that a spreadsheet would read as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()


def render_findings_csv(view: ReportView, lang: str) -> str:
    """One row per finding; list cells are joined with `` | ``. Times are ISO 8601 UTC."""
    rows = []
    for f in view.findings:
        ind = f.indicators
        rows.append(
            [
                f.id, f.host, f.severity.value, f.confidence, f.stage, f.rule, f.title,
                " | ".join(f.cves), " | ".join(f.attack), f.first_seen or "", f.last_seen or "", f.count,
                f.source.path if f.source else "", f.source.line if f.source and f.source.line is not None else "",
                " | ".join(ind.ips), " | ".join(ind.urls), " | ".join(ind.files), " | ".join(ind.user_agents), f.evidence,
            ]
        )  # fmt: skip
    return write_csv(FINDING_COLUMNS, rows)
