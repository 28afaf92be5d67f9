"""Views of scan results: the JSON document (canonical), JSON lines, CSV and a Rich table.

Everything a server sent (builds, reasons quoting headers, error text) is attacker-controlled: escaped for Rich,
formula-neutralised for CSV (cells starting with = + - @ tab CR get a leading apostrophe).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from rich.table import Table

from exaudit.model import SCHEMA, RunInfo, ScanResult, Status, to_jsonable
from exaudit.render.terminal import safe

CSV_COLUMNS = (
    "target",
    "url",
    "reachable",
    "exchange",
    "product",
    "build",
    "build_precision",
    "build_method",
    "worst",
    "vulnerable",
    "possibly_vulnerable",
    "mitigations",
    "error",
)


def actionable(results: Iterable[ScanResult]) -> bool:
    """True when any target has a vulnerable or possibly vulnerable CVE (exit code 1)."""
    return any(c.status.actionable for r in results for c in r.cves)


def result_dict(result: ScanResult, run: RunInfo | None = None) -> dict[str, Any]:
    data = to_jsonable(result)
    data["worst"] = result.worst.value if result.worst else None
    if run is not None:
        data["run"] = run.id
    return dict(data)


def document(results: Iterable[ScanResult], run: RunInfo | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema": SCHEMA, "kind": "scan", "results": [result_dict(r) for r in results]}
    if run is not None:
        doc["run"] = to_jsonable(run)
    return doc


def jsonl_line(result: ScanResult, run: RunInfo | None = None) -> str:
    return json.dumps(result_dict(result, run), ensure_ascii=False)


def cves_with(result: ScanResult, status: Status) -> list[str]:
    return [c.cve for c in result.cves if c.status is status]


def _mitigation_text(result: ScanResult) -> str:
    return ", ".join(f"{m['name']}={'present' if m['present'] else 'absent'}" for m in result.mitigations)


def safe_cell(value: Any) -> str:
    """CSV formula neutralisation (OWASP): a leading = + - @ tab or CR makes a spreadsheet evaluate the cell."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(results: Iterable[ScanResult]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        row = [
            r.target,
            r.url,
            r.reachable,
            r.exchange,
            r.product,
            r.build,
            r.build_precision.value,
            r.build_method,
            r.worst.value if r.worst else "",
            " ".join(cves_with(r, Status.VULNERABLE)),
            " ".join(cves_with(r, Status.POSSIBLY_VULNERABLE)),
            _mitigation_text(r),
            r.error,
        ]
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


_STYLE = {"vulnerable": "bold red", "possibly_vulnerable": "yellow", "unknown": "dim", "not_vulnerable": "green"}


def table(results: Iterable[ScanResult]) -> Table:
    """One row per target; the CVE column counts vulnerable / possibly vulnerable (the JSON lists them)."""
    grid = Table(title="exaudit scan (TLS certificates not verified)")
    for column in ("target", "product", "build", "precision", "worst", "vuln/poss", "notes"):
        grid.add_column(column, overflow="fold")
    for r in results:
        worst = r.worst.value if r.worst else ("-" if r.exchange else "")
        counts = f"{len(cves_with(r, Status.VULNERABLE))}/{len(cves_with(r, Status.POSSIBLY_VULNERABLE))}"
        notes = r.error or ("not Exchange" if r.reachable and not r.exchange else _mitigation_text(r))
        grid.add_row(
            safe(r.target),
            safe(r.product or ""),
            safe(r.build or ""),
            r.build_precision.value if r.exchange else "",
            f"[{_STYLE[worst]}]{worst}[/]" if worst in _STYLE else worst,
            counts if r.exchange else "",
            safe(notes or ""),
        )
    return grid
