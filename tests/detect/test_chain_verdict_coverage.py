"""Multi-record logic: the ProxyLogon chain, the verdict, coverage and gaps, dropped files, correlation."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from exaudit.detect.correlate import AttackerIndicators, attacker_indicators, correlated_hits, url_of_web_file
from exaudit.detect.coverage import FileSpan, caveats, coverage_of
from exaudit.detect.dropped import dropped_file_findings
from exaudit.detect.engine import RuleSet
from exaudit.detect.proxylogon import chain_findings
from exaudit.detect.verdict import host_verdict
from exaudit.evidence.base import EvidenceFile
from exaudit.model import Finding, Indicators, Severity, Verdict
from exaudit.parsers.base import Record

RULES = RuleSet()
T0 = datetime(2021, 2, 27, 19, 53, 36, tzinfo=UTC)
STEPS = (
    ("/autodiscover/autodiscover.xml?#", "200"),
    ("/mapi/emsmdb/?#", "200"),
    ("/ecp/proxyLogon.ecp?#", "241"),
    ("/ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary=x&schema=OABVirtualDirectory#", "200"),
    ("/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary=x&schema=OABVirtualDirectory#", "200"),
    ("/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary=x&schema=ResetOABVirtualDirectory#", "200"),
)


def chain(steps: tuple[tuple[str, str], ...], ip: str = "203.0.113.7") -> list[Finding]:
    hits = []
    for n, (path, status) in enumerate(steps):
        fields = {
            "AnchorMailbox": f"ServerInfo~a]@ex01.contoso.local:444{path}",
            "HttpStatus": status,
            "ClientIpAddress": ip,
            "UrlStem": "/ecp/y.js",
        }
        hits += RULES.match(Record("httpproxy", "C:\\HttpProxy_2021022719-1.LOG", n + 1, T0 + timedelta(seconds=n), fields, ""))
    return chain_findings(hits, "EX01")


def test_chain_stage_is_the_furthest_successful_step() -> None:
    assert [f.stage for f in chain(STEPS[:1])] == ["attempt"]
    assert [f.stage for f in chain(STEPS[:3])] == ["exploit"]
    full = chain(STEPS)
    assert [f.stage for f in full] == ["persistence"]
    assert set(full[0].cves) == {"CVE-2021-26855", "CVE-2021-27065"} and full[0].count == 6
    # A patched server answers every step with an error: the same requests are only an attempt.
    assert [f.stage for f in chain(tuple((p, "500") for p, _ in STEPS))] == ["attempt"]


def test_chain_separates_addresses() -> None:
    findings = chain(STEPS[:1], "198.51.100.1") + chain(STEPS, "198.51.100.2")
    assert sorted((f.indicators.ips[0], f.stage) for f in findings) == [("198.51.100.1", "attempt"), ("198.51.100.2", "persistence")]


def _finding(stage: str, severity: Severity = Severity.HIGH, confidence: str = "high") -> Finding:
    return Finding(
        rule=f"r-{stage}",
        title=stage,
        host="EX01",
        severity=severity,
        confidence=confidence,
        stage=stage,
        first_seen="2021-03-01T00:00:00Z",
    )


def test_verdicts_and_what_does_not_count() -> None:
    assert host_verdict("EX01", [_finding("attempt"), _finding("post")], []).verdict is Verdict.COMPROMISED
    assert host_verdict("EX01", [_finding("attempt"), _finding("exploit")], []).verdict is Verdict.EXPLOITED
    assert host_verdict("EX01", [_finding("attempt", Severity.LOW, "medium")], []).verdict is Verdict.ATTEMPTED
    weak = host_verdict("EX01", [_finding("post", Severity.MEDIUM, "low"), _finding("post", Severity.INFO, "high")], [])
    assert weak.verdict is Verdict.NO_EVIDENCE
    assert any("2 low-confidence" in r for r in weak.reasons)
    assert host_verdict("OTHER", [_finding("post")], []).verdict is Verdict.NO_EVIDENCE  # findings of another host


def test_coverage_days_gaps_and_caveats() -> None:
    day = datetime(2021, 3, 1, tzinfo=UTC)
    spans = [FileSpan("iis", 10, day + timedelta(days=d, hours=1), day + timedelta(days=d, hours=23)) for d in (0, 1, 4, 5)]
    [cov] = coverage_of(spans)
    assert (cov.files, cov.records, cov.days) == (4, 40, 5.9)
    assert cov.gaps == [{"from": "2021-03-03", "to": "2021-03-04"}]
    notes = caveats([cov])
    assert any("iis logs cover only 5.9 days" in n for n in notes)
    assert any("miss 2 day(s)" in n for n in notes)
    assert any("no HttpProxy logs" in n for n in notes) and any("no Windows event logs" in n for n in notes)
    verdict = host_verdict("EX01", [], [cov])
    assert verdict.verdict is Verdict.NO_EVIDENCE and any("not proof of a clean server" in r for r in verdict.reasons)


def _file(tmp_path: Path, server_path: str, data: bytes, when: datetime) -> EvidenceFile:
    local = tmp_path / server_path.replace("\\", "_").replace(":", "")
    local.write_bytes(data)
    os.utime(local, (when.timestamp(), when.timestamp()))
    return EvidenceFile(server_path, str(local), len(data), when.timestamp(), lambda: io.BytesIO(local.read_bytes()))


def test_dropped_files_weighed_by_attack_window(tmp_path: Path) -> None:
    attack = datetime(2021, 3, 2, 10, tzinfo=UTC)
    files = [
        _file(tmp_path, "C:\\Windows\\Temp\\lsass.dmp", b"MDMP\x93\xa7" + bytes(10), attack),
        _file(tmp_path, "C:\\ProgramData\\McAfee\\update.zip", b"PK\x05\x06", attack - timedelta(days=200)),
        _file(tmp_path, "C:\\ProgramData\\x7.zip", b"PK\x05\x06", attack + timedelta(hours=2)),
        _file(tmp_path, "C:\\Users\\anna\\Documents\\report.zip", b"PK\x05\x06", attack),
    ]
    exploit = _finding("exploit")
    exploit.first_seen = exploit.last_seen = "2021-03-02T09:00:00Z"
    found = {f.indicators.files[0]: f for f in dropped_file_findings(files, "EX01", [exploit])}
    assert found["C:\\Windows\\Temp\\lsass.dmp"].confidence == "high"
    assert "inside the attack window" in found["C:\\ProgramData\\x7.zip"].evidence
    assert set(found) == {"C:\\Windows\\Temp\\lsass.dmp", "C:\\ProgramData\\x7.zip"}
    # Without other findings, the same recent archive is not flagged (Test-ProxyLogon's false positives).
    assert {f.rule for f in dropped_file_findings(files, "EX01", [])} == {"dropped-lsass-dump"}


def test_correlation_uses_strong_findings_and_web_roots() -> None:
    strong = _finding("exploit")
    strong.indicators = Indicators(ips=["203.0.113.7", "127.0.0.1"], user_agents=["python-requests/2.25.1", "Mozilla/5.0 x"])
    shell = _finding("persistence")
    shell.indicators = Indicators(files=["C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\abc.aspx"])
    weak = _finding("attempt")
    weak.indicators = Indicators(ips=["198.51.100.99"])
    ind = attacker_indicators([strong, shell, weak])
    assert ind.ips == {"203.0.113.7"} and ind.user_agents == {"python-requests/2.25.1"} and ind.shell_urls == {"/owa/auth/abc.aspx"}
    assert url_of_web_file("C:\\inetpub\\wwwroot\\aspnet_client\\system_web\\x.aspx") == "/aspnet_client/system_web/x.aspx"
    records = [
        Record("iis", "u.log", 1, T0, {"c-ip": "203.0.113.7", "cs-uri-stem": "/owa/auth/logon.aspx", "sc-status": "200"}),
        Record("iis", "u.log", 2, T0, {"c-ip": "10.0.0.8", "cs-uri-stem": "/owa/auth/abc.aspx", "sc-status": "200"}),
        Record("iis", "u.log", 3, T0, {"c-ip": "10.0.0.9", "cs-uri-stem": "/owa/", "sc-status": "200"}),
        Record("iis", "u.log", 4, T0, {"c-ip": "203.0.113.7", "cs-uri-stem": "/owa/", "sc-status": "200"}),
    ]
    got = [(h.record.line, h.rule.id, h.stage) for h in correlated_hits(records, ind, already={("u.log", 4)})]
    assert got == [(1, "correlated-attacker-activity", "attempt"), (2, "correlated-webshell-access", "post")]
    assert not AttackerIndicators()
