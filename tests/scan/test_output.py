"""Renderers and the probe-to-exposure rules (pure; the real knowledge base)."""

from __future__ import annotations

import csv
import io

from rich.console import Console

from exaudit.model import CveStatus, Precision, ScanResult, Status
from exaudit.scan import exposure
from exaudit.scan.output import actionable, csv_text, document, safe_cell, table


def test_csv_neutralises_formulas() -> None:
    for evil in ("=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(evil) == "'" + evil
    assert safe_cell("15.1.2176.9") == "15.1.2176.9" and safe_cell(None) == ""
    result = ScanResult(target="=cmd|' /C calc'!A0", error="@evil")
    row = next(csv.DictReader(io.StringIO(csv_text([result]))))
    assert row["target"].startswith("'=") and row["error"] == "'@evil"


def test_table_escapes_server_text() -> None:
    result = ScanResult(target="127.0.0.5:8443", reachable=True, error="[bold red]not a valid HTTP response[/] [link=x]")
    console = Console(width=200, record=True)
    console.print(table([result]))
    assert "[bold red]not a valid HTTP response[/] [link=x]" in console.export_text()


def test_document_shape_and_actionable() -> None:
    safe = ScanResult(target="a", exchange=True, build_precision=Precision.EXACT, cves=[CveStatus("CVE-1", Status.NOT_VULNERABLE, "r")])
    doc = document([safe])
    assert doc["kind"] == "scan" and doc["results"][0]["worst"] == "not_vulnerable"
    assert actionable([safe]) is False
    safe.cves.append(CveStatus("CVE-2", Status.POSSIBLY_VULNERABLE, "r"))
    assert actionable([safe]) is True


def test_build_exposure_comes_from_the_kb() -> None:
    statuses = {c.cve: c for c in exposure.assess("15.1.1847.12", "2016")}
    assert statuses["CVE-2021-26855"].status is Status.NOT_VULNERABLE  # Mar21SU for an old CU
    assert statuses["CVE-2020-0688"].status is Status.VULNERABLE  # ... which does not contain Feb20SU
    unknown = exposure.assess(None, None)
    assert unknown and {c.status for c in unknown} == {Status.UNKNOWN}
    assert len(unknown) == len(statuses)


def probe(outcome: str) -> dict[str, object]:
    return {"name": "proxylogon", "cves": ["CVE-2021-26855"], "outcome": outcome, "evidence": "HTTP 500"}


def test_probes_raise_but_never_clear() -> None:
    cves = exposure.assess("15.1.2176", "2016")
    exposure.apply_probes(cves, [probe("vulnerable")], [])
    status = next(c for c in cves if c.cve == "CVE-2021-26855")
    assert status.status is Status.VULNERABLE and status.reason.startswith("confirmed by probe")

    cves = exposure.assess("15.1.2176.2", "2016")
    mitigation = {"name": "eomt", "cves": ["CVE-2021-26855"], "present": True}
    exposure.apply_probes(cves, [probe("aborted")], [mitigation])
    status = next(c for c in cves if c.cve == "CVE-2021-26855")
    assert status.status is Status.VULNERABLE
    assert status.reason.startswith("mitigated by URL Rewrite (eomt), vulnerable by build")

    cves = exposure.assess("15.1.2176", "2016")
    exposure.apply_probes(cves, [probe("not_vulnerable")], [])
    status = next(c for c in cves if c.cve == "CVE-2021-26855")
    assert status.status is Status.POSSIBLY_VULNERABLE and "probe saw no SSRF" in status.reason
