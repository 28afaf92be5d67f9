"""Single-record rules on records built here: each attack line fires, each benign look-alike stays quiet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exaudit.detect.engine import RuleError, RuleSet, findings_from_hits, like_matcher, like_to_regex, load_rules_from
from exaudit.model import Severity
from exaudit.parsers.base import Record

RULES = RuleSet()
T0 = datetime(2021, 3, 3, 4, 5, 6, tzinfo=UTC)


def hits(artifact: str, **fields: str) -> dict[str, tuple[str, Severity]]:
    record = Record(artifact, "C:\\x.log", 7, T0, dict(fields), raw=",".join(fields.values()))
    return {h.rule.id: (h.stage, h.severity) for h in RULES.match(record)}


def proxy(**fields: str) -> dict[str, tuple[str, Severity]]:
    base = {"ClientIpAddress": "203.0.113.9", "UserAgent": "python-requests/2.25.1", "HttpStatus": "200", "Method": "POST"}
    return hits("httpproxy", **{**base, **fields})


def iis(**fields: str) -> dict[str, tuple[str, Severity]]:
    base = {
        "c-ip": "203.0.113.9",
        "cs(User-Agent)": "Mozilla/5.0",
        "sc-status": "200",
        "cs-method": "GET",
        "cs-uri-query": "-",
        "cs-username": "-",
    }
    return hits("iis", **{**base, **fields})


def event(**fields: str) -> dict[str, tuple[str, Severity]]:
    return hits("event_json", **fields)


# --------------------------------------------------------------------------- engine


def test_like_is_powershell_like() -> None:
    rx = like_to_regex("ServerInfo~*/*")
    assert rx.fullmatch("serverinfo~a]@ex:444/mapi/emsmdb/?#")
    assert not rx.fullmatch("ServerInfo~localhost")  # no slash: whole string must match
    assert like_to_regex("a?c").fullmatch("abc") and not like_to_regex("a?c").fullmatch("abbc")
    assert like_to_regex("[ab]x").fullmatch("Bx")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- {id: x, title: t, artifact: iis, severity: high}", "missing 'condition'"),
        ("- {id: x, title: t, artifact: iis, severity: high, stage: bad, condition: {field: a, equals: b}}", "stage"),
        ("- {id: x, title: t, artifact: iis, severity: huge, condition: {field: a, equals: b}}", "unknown severity"),
        ("- {id: x, title: t, artifact: iis, severity: high, condition: {field: a, regex: '('}}", "bad regex"),
        ("- {id: x, title: t, artifact: iis, severity: high, condition: {field: a}}", "needs an operator"),
    ],
)
def test_bad_rules_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RuleError, match=message):
        load_rules_from([path])


def test_every_packaged_rule_has_references_and_a_known_stage() -> None:
    assert len(RULES.rules) >= 30
    for rule in RULES.rules:
        assert rule.references, rule.id
        assert rule.stage in ("attempt", "exploit", "persistence", "post")


# --------------------------------------------------------------------------- ProxyLogon (HttpProxy)


def test_ssrf_anchor_success_and_failed_attempt() -> None:
    anchor = "ServerInfo~a]@ex01.contoso.local:444/mapi/emsmdb/?#"
    assert proxy(AnchorMailbox=anchor)["proxylogon-ssrf-anchor"] == ("exploit", Severity.CRITICAL)
    # A patched server refuses: reported as an attempt, capped at medium.
    assert proxy(AnchorMailbox=anchor, HttpStatus="500")["proxylogon-ssrf-anchor"] == ("attempt", Severity.MEDIUM)


def test_autodiscover_and_localhost_rows_are_attempts_not_dropped() -> None:
    auto = proxy(AnchorMailbox="ServerInfo~akak]@ex01:444/autodiscover/autodiscover.xml?#")
    assert auto == {"proxylogon-ssrf-autodiscover": ("attempt", Severity.MEDIUM)}
    local = proxy(AnchorMailbox="ServerInfo~localhost/ecp/default.flt?", HttpStatus="500", UrlStem="/owa/auth/x.js", Method="GET")
    assert local == {"proxylogon-ssrf-localhost-probe": ("attempt", Severity.LOW)}


def test_reset_vdir_needs_200_and_backend_cookie_variant() -> None:
    reset = "ServerInfo~a]@ex01:444/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary=x&schema=ResetOABVirtualDirectory#"
    assert proxy(AnchorMailbox=reset)["proxylogon-reset-vdir"][0] == "persistence"
    assert proxy(AnchorMailbox=reset, HttpStatus="500")["proxylogon-reset-vdir"][0] == "attempt"
    assert "proxylogon-backend-cookie" in proxy(BackEndCookie="Server~ex01.contoso.local/ecp/x~1942063431")


def test_benign_httpproxy_rows_stay_quiet() -> None:
    assert proxy(AnchorMailbox="ServerVersion~Version 15.0 (Build 0.0)", UserAgent="Mozilla/5.0 zgrab/0.x", Method="GET") == {}
    assert proxy(AnchorMailbox="Smtp~anna@contoso.local", BackEndCookie="Server~ex01.contoso.local~1942063431~2023-01-11T16:11:44") == {}


# --------------------------------------------------------------------------- ECP, OAB, UM


HELSECERT_LINE = (
    'S:CMD=Set-OabVirtualDirectory.ExternalUrl=\'\'http://f/<script language=""JScript"" runat=""server"">'
    'function Page_Load(){eval(Request[""klk123456""],""unsafe"");}</script>\'\'.Identity=\'\'0f2b\'\'\';'
    "S:URL=/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary=x&schema=OABVirtualDirectory"
)


def test_ecp_set_vdir_with_script() -> None:
    assert hits("ecp_server", EventData=HELSECERT_LINE, ServerName="EX01")["proxylogon-ecp-set-vdir-script"][0] == "persistence"
    benign = "S:CMD=Set-OabVirtualDirectory.ExternalUrl='https://mail.contoso.com/OAB';S:URL=/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory"
    assert hits("ecp_server", EventData=benign, ServerName="EX01") == {}


def test_oab_download_failed_outside_oab_folder_only() -> None:
    bad = "Download failed and temporary file 'C:\\inetpub\\wwwroot\\aspnet_client\\x.aspx' needs to be removed"
    good = "Download failed and temporary file 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess\\OAB\\Temp\\a.lzx' needs to be removed"  # noqa: E501 (a log line as written)
    assert "proxylogon-oab-download-failed" in hits("oabgen", Message=bad)
    assert hits("oabgen", Message=good) == {}


def test_um_invalid_cast() -> None:
    found = event(Provider="MSExchange Unified Messaging", Message="... System.InvalidCastException: Unable to cast ...", EventID="100")
    assert found["proxylogon-um-invalidcast"] == ("exploit", Severity.HIGH)


# --------------------------------------------------------------------------- IIS: chains


def test_iis_proxylogon_requests() -> None:
    assert iis(**{"cs-method": "POST", "cs-uri-stem": "/ecp/y.js"})["proxylogon-ecp-js-post"][0] == "exploit"
    assert iis(**{"cs-method": "GET", "cs-uri-stem": "/owa/auth/x.js", "sc-status": "500"}) == {
        "proxylogon-js-probe": ("attempt", Severity.LOW)
    }
    crawler = iis(
        **{
            "cs-method": "POST",
            "cs-uri-stem": "/owa/auth/Current/themes/resources/logon.css",
            "cs(User-Agent)": "DuckDuckBot/1.0;+(+http://duckduckgo.com/duckduckbot.html)",
        }
    )
    assert {"proxylogon-post-static", "proxylogon-crawler-agent"} <= set(crawler)
    # A browser fetching the same resource is normal.
    assert iis(**{"cs-uri-stem": "/owa/auth/15.1.2176/themes/resources/logon.css"}) == {}


def test_proxyshell_success_failure_and_legit_autodiscover_v2() -> None:
    query = "@evil.com/powershell/?X-Rps-CAT=VgEAVAdXaW5k&Email=autodiscover/autodiscover.json%3F@evil.com"
    ok = iis(**{"cs-method": "POST", "cs-uri-stem": "/autodiscover/autodiscover.json", "cs-uri-query": query})
    assert ok["proxyshell-autodiscover-ssrf"] == ("exploit", Severity.CRITICAL)
    failed = iis(**{"cs-method": "POST", "cs-uri-stem": "/autodiscover/autodiscover.json", "cs-uri-query": query, "sc-status": "401"})
    assert failed["proxyshell-autodiscover-ssrf"] == ("attempt", Severity.MEDIUM)
    legit = iis(
        **{"cs-uri-stem": "/autodiscover/autodiscover.json", "cs-uri-query": "Email=anna%40contoso.com&Protocol=ActiveSync&RedirectCount=1"}
    )
    assert legit == {}


@pytest.mark.parametrize("spelling", ["powershell", "PowerShell", "%50owershell", "%2570owershell"])
def test_proxynotshell_encodings(spelling: str) -> None:
    query = f"@evil.com/{spelling}/?&Email=autodiscover/autodiscover.json%3F@evil.com"
    found = iis(
        **{"cs-method": "POST", "cs-uri-stem": "/autodiscover/autodiscover.json", "cs-uri-query": query, "cs-username": "CONTOSO\\anna"}
    )
    assert found == {"proxynotshell-autodiscover-powershell": ("exploit", Severity.CRITICAL)}


def test_owassrf_and_admin_remote_powershell() -> None:
    stem = "/owa/mastermailbox%40outlook.com/powershell"
    assert "owassrf-owa-powershell" in iis(**{"cs-method": "POST", "cs-uri-stem": stem, "cs-username": "CONTOSO\\anna"})
    admin = iis(
        **{
            "cs-method": "POST",
            "cs-uri-stem": "/powershell",
            "cs-uri-query": "serializationLevel=Full",
            "cs(User-Agent)": "Microsoft+WinRM+Client",
        }
    )
    assert admin == {}
    assert "owassrf-rps-http-clientinfo" in hits(
        "rps_http", ClientInfo="python-requests/2.28.1", HttpStatus="200", ClientIpAddress="203.0.113.9"
    )
    for client in ("Microsoft WinRM Client", "Exchange BackEnd Probes", ""):
        assert hits("rps_http", ClientInfo=client, HttpStatus="200", ClientIpAddress="10.0.0.5") == {}


def test_cve_2020_0688_viewstate_only_in_query() -> None:
    found = iis(
        **{"cs-uri-stem": "/ecp/default.aspx", "cs-uri-query": "__VIEWSTATEGENERATOR=B97B4E27&__VIEWSTATE=%2FwEPDw", "sc-status": "500"}
    )
    assert "cve-2020-0688-viewstate" in found
    assert iis(**{"cs-uri-stem": "/ecp/default.aspx"}) == {}


def test_webshell_request_success_probe_and_allowlist() -> None:
    assert iis(**{"cs-method": "POST", "cs-uri-stem": "/owa/auth/errorEE.aspx"})["webshell-request"] == ("post", Severity.HIGH)
    assert iis(**{"cs-uri-stem": "/aspnet_client/shell.aspx", "sc-status": "404"})["webshell-request"] == ("attempt", Severity.LOW)
    assert iis(**{"cs-uri-stem": "/owa/auth/logon.aspx"}) == {}
    assert iis(**{"cs-uri-stem": "/owa/auth/errorFE.aspx"}) == {}


# --------------------------------------------------------------------------- events and cmdlets


def test_w3wp_shell_versus_compiler() -> None:
    shell = event(
        ParentImage="c:\\windows\\system32\\inetsrv\\w3wp.exe", Image="C:\\Windows\\System32\\cmd.exe", CommandLine="cmd /c whoami"
    )
    assert shell["exchange-process-spawns-shell"] == ("post", Severity.CRITICAL)
    csc = event(
        ParentImage="c:\\windows\\system32\\inetsrv\\w3wp.exe", Image="C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe"
    )
    assert csc == {}


def test_lsass_dump_versus_other_comsvcs_dump() -> None:
    lsass = event(
        Image="C:\\Windows\\System32\\rundll32.exe",
        CommandLine="rundll32 C:\\windows\\System32\\comsvcs.dll, MiniDump 624 C:\\Windows\\Temp\\lsass.dmp full",
    )
    assert lsass["lsass-dump-commandline"][1] is Severity.CRITICAL
    other = event(
        Image="C:\\Windows\\System32\\rundll32.exe", CommandLine="rundll32.exe comsvcs.dll, MiniDump 4242 C:\\temp\\notepad.dmp full"
    )
    assert set(other) == {"comsvcs-minidump-other"}


def test_cmdlets_export_to_web_versus_share() -> None:
    web = 'Cmdlet succeeded. Cmdlet New-MailboxExportRequest, parameters -Mailbox "a@b.c" -FilePath "\\\\localhost\\c$\\inetpub\\wwwroot\\aspnet_client\\x.aspx".'  # noqa: E501 (a log line as written)
    share = 'Cmdlet succeeded. Cmdlet New-MailboxExportRequest, parameters -Mailbox "anna" -FilePath "\\\\fs01\\pst$\\anna.pst".'
    assert "mailbox-export-to-web" in event(Message=web, EventID="1")
    assert event(Message=share, EventID="1") == {"mailbox-export-request": ("post", Severity.INFO)}
    assert "mailbox-export-to-web" in hits(
        "rps_cmdlet", Cmdlet="New-MailboxExportRequest", Parameters='-FilePath "C:\\inetpub\\wwwroot\\aspnet_client\\y.aspx"'
    )
    oab = 'Cmdlet Set-OabVirtualDirectory, parameters -ExternalUrl "http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["k"],"unsafe");}</script>"'  # noqa: E501 (a log line as written)
    assert "oab-vdir-script-cmdlet" in event(Message=oab)
    assert event(Message='Cmdlet Set-OabVirtualDirectory, parameters -ExternalUrl "https://mail.contoso.com/OAB"') == {}


def test_findings_group_by_address_and_keep_earliest_evidence() -> None:
    records = [
        Record(
            "iis",
            "C:\\u_ex210303.log",
            n,
            datetime(2021, 3, 3, 4, n, tzinfo=UTC),
            {"cs-method": "POST", "cs-uri-stem": "/ecp/y.js", "sc-status": "200", "c-ip": ip},
            f"POST /ecp/y.js {n}",
        )
        for n, ip in ((5, "198.51.100.1"), (3, "198.51.100.1"), (9, "198.51.100.2"))
    ]
    findings = findings_from_hits([h for r in records for h in RULES.match(r)], "EX01")
    by_ip = {f.indicators.ips[0]: f for f in findings if f.rule == "proxylogon-ecp-js-post"}
    first = by_ip["198.51.100.1"]
    assert (first.count, first.source.line if first.source else None, first.first_seen, first.last_seen) == (
        2,
        3,
        "2021-03-03T04:03:00Z",
        "2021-03-03T04:05:00Z",
    )
    assert by_ip["198.51.100.2"].count == 1 and first.id and first.id != by_ip["198.51.100.2"].id


@given(
    pattern=st.lists(st.sampled_from(["a", "b", "/", "~", "*"]), max_size=8).map("".join),
    value=st.text(alphabet="abAB/~", max_size=12),
)
def test_linear_like_agrees_with_powershell_semantics(pattern: str, value: str) -> None:
    assert like_matcher(pattern)(value) == bool(like_to_regex(pattern).fullmatch(value))


@pytest.mark.timeout(20)
def test_hostile_long_lines_do_not_backtrack() -> None:
    """Lines written by an attacker to stall a regex: every rule must still answer (in linear time)."""
    ecp = "S:CMD=Set-OabVirtualDirectory " + "Url <a>x " * 5000
    assert "proxylogon-ecp-set-vdir-script" not in hits("ecp_server", EventData=ecp)  # no closing tag pair
    anchor = "ServerInfo~" + "/Reset" * 5000 + "x"
    assert "proxylogon-reset-vdir" not in proxy(AnchorMailbox=anchor)
    stem = "/owa/auth/" + "a/" * 20000 + "x.aspx"
    assert iis(**{"cs-uri-stem": stem, "sc-status": "404"})["webshell-request"][0] == "attempt"
