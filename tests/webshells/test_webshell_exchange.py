"""Exchange checks: folder name lists, PST/DER-wrapped pages, scope, attack window, large files in chunks."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

from test_webshell_rules import memory_file

from exaudit.detect import webshell
from exaudit.detect.webshell import scan_files
from exaudit.model import Severity

OWA = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\"
PLAIN = b'<%@ Page Language="C#" %><html><body>Hello</body></html>'


def by_path(result) -> dict[str, object]:
    return {f.source.path: f for f in result.findings}


def test_unexpected_page_in_exchange_folder_is_suspicious_but_own_files_are_not() -> None:
    files = [
        memory_file(OWA + "logon.aspx", PLAIN),
        memory_file(OWA + "OutlookXY.aspx", PLAIN),
        memory_file(OWA + "Current\\themes\\resources\\logon.css", b"body{}"),
        memory_file("C:\\inetpub\\wwwroot\\aspnet_client\\system_web\\ab12cd34.aspx", PLAIN),
        memory_file("C:\\inetpub\\wwwroot\\default.aspx", PLAIN),
    ]
    found = by_path(scan_files(files, "ex01"))
    assert set(found) == {OWA + "OutlookXY.aspx", "C:\\inetpub\\wwwroot\\aspnet_client\\system_web\\ab12cd34.aspx"}
    assert {f.severity for f in found.values()} == {Severity.MEDIUM}
    assert all(f.stage == "attempt" for f in found.values())


def test_pst_and_der_wrapped_pages_are_critical() -> None:
    script = b'<script language="JScript" runat="server">function Page_Load(){eval(Request["x"],"unsafe");}</script>'
    pst = b"!BDN" + bytes(range(256)) * 8 + script + bytes(512)
    der = b"\x30\x82\x04\x10" + bytes(300) + b'<%@ Page Language="C#" %>' + bytes(100)
    found = by_path(scan_files([memory_file(OWA + "a.aspx", pst), memory_file(OWA + "b.aspx", der)], "ex01"))
    assert found[OWA + "a.aspx"].severity is Severity.CRITICAL
    assert found[OWA + "b.aspx"].severity is Severity.CRITICAL
    assert "CVE-2021-34473" in found[OWA + "b.aspx"].cves


def test_scope_default_versus_all_files() -> None:
    shell = b'<%@ Page Language="Jscript"%><%eval(Request.Item["a"],"unsafe");%>'
    files = [memory_file("notes/readme.txt", shell), memory_file("site/x.aspx", shell)]
    default = scan_files(files, "h")
    assert [f.source.path for f in default.findings] == ["site/x.aspx"] and default.skipped == 1
    assert len(scan_files(files, "h", all_files=True).findings) == 2


def test_attack_window_adds_a_reason() -> None:
    inside = datetime(2021, 3, 3, tzinfo=UTC).timestamp()
    outside = datetime(2020, 6, 1, tzinfo=UTC).timestamp()
    files = [memory_file(OWA + "logon.aspx", PLAIN, mtime=inside), memory_file(OWA + "logoff.aspx", PLAIN, mtime=outside)]
    result = scan_files(files, "h", since=datetime(2021, 1, 1, tzinfo=UTC), until=datetime(2021, 4, 1, tzinfo=UTC))
    (finding,) = result.findings
    assert finding.source.path == OWA + "logon.aspx" and finding.severity is Severity.LOW
    assert "attack window" in " ".join(finding.details["reasons"])


def test_large_file_streams_in_chunks_and_finds_a_match_across_a_border(monkeypatch) -> None:
    monkeypatch.setattr(webshell, "WHOLE_READ_LIMIT", 64 * 1024)
    monkeypatch.setattr(webshell, "CHUNK_SIZE", 48 * 1024)
    monkeypatch.setattr(webshell, "CHUNK_OVERLAP", 4 * 1024)
    script = b'<%@ Page Language="Jscript"%><%eval(Request.Item["big"],"unsafe");%>'
    data = b"!BDN" + b"\x00" * (48 * 1024 - 40) + script + b"\x01" * 200 * 1024
    reads: list[int] = []

    class Counting(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            reads.append(len(chunk))
            return chunk

    big = webshell.EvidenceFile(path=OWA + "big.aspx", origin="mem", size=len(data), mtime=None, opener=lambda: Counting(data))
    result = scan_files([big], "h")
    (finding,) = result.findings
    assert finding.severity is Severity.CRITICAL
    assert finding.details["sha256"] == hashlib.sha256(data).hexdigest()
    assert max(reads) <= 48 * 1024  # never read whole


def test_own_walker_records_broken_links_and_does_not_follow_folder_links(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.aspx").write_bytes(PLAIN)
    (tmp_path / "a" / "loop").symlink_to(tmp_path)
    (tmp_path / "a" / "gone.aspx").symlink_to(tmp_path / "missing")
    errors: list = []
    paths = [f.path for f in webshell.walk_folder(tmp_path, errors)]
    assert paths == ["a/x.aspx"]
    assert [(e.where, e.kind) for e in errors] == [("a/gone.aspx", "unreadable")]


def test_a_failing_evidence_file_is_recorded_and_the_run_goes_on() -> None:
    def broken() -> io.BytesIO:
        raise ValueError("bad zip member")

    bad = webshell.EvidenceFile(path="site/bad.aspx", origin="x.zip!bad.aspx", size=10, mtime=None, opener=broken)
    good = memory_file("site/ok.aspx", b'<%@ Page Language="Jscript"%><%eval(Request.Item["a"],"unsafe");%>')
    result = scan_files([bad, good], "h")
    assert [(e.where, e.kind) for e in result.errors] == [("site/bad.aspx", "damaged")]
    assert [f.source.path for f in result.findings] == ["site/ok.aspx"]
