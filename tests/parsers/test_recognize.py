"""Artifact recognition by content (supported by path), and the whole corpus through classify → parse."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest

from exaudit.evidence import open_evidence
from exaudit.evidence.base import EvidenceFile
from exaudit.parsers import ARTIFACTS, ERROR_ARTIFACTS, HEAD_BYTES, ParseStats, classify, parser_for, recognise


def fake(path: str, data: bytes) -> EvidenceFile:
    return EvidenceFile(path=path, origin=path, size=len(data), mtime=None, opener=lambda: io.BytesIO(data))


LOGGING = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Logging"
RPS = "#Software: Microsoft Exchange Server\n#Log-type: Rps Cmdlet Logs\n#Fields: DateTime,Cmdlet,Parameters\n"


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        (
            f"{LOGGING}\\HttpProxy\\Owa\\HttpProxy_1.LOG",
            b"#Software: Microsoft Exchange Server\n#Log-type: HttpProxy Logs\n#Fields: DateTime\n",
            "httpproxy",
        ),
        # the path says HttpProxy, the content says IIS: content decides
        (
            f"{LOGGING}\\HttpProxy\\Owa\\HttpProxy_1.LOG",
            b"#Software: Microsoft Internet Information Services 10.0\n#Fields: date time\n",
            "iis",
        ),
        (f"{LOGGING}\\CmdletInfra\\LocalPowerShell\\Cmdlet\\LocalPowerShell_Cmdlet_1.LOG", RPS.encode(), "local_powershell"),
        (f"{LOGGING}\\CmdletInfra\\Powershell-Proxy\\Cmdlet\\Rps_Cmdlet_1.LOG", RPS.encode(), "rps_cmdlet"),
        (
            f"{LOGGING}\\CmdletInfra\\Powershell-Proxy\\Http\\Rps_Http_1.LOG",
            b"#Software: Microsoft Exchange Server\n#Log-type: Rps Http Logs\n",
            "rps_http",
        ),
        (f"{LOGGING}\\OABGeneratorLog\\OABGen_1.LOG", b"2021-03-03T01:00:00.000Z,Info,Started\n", "oabgen"),
        ("C:\\elsewhere\\notes.LOG", b"2021-03-03T01:00:00.000Z,Info,Started\n", "wrong_format"),  # same text, path does not support it
        ("C:\\x\\Security.evtx", b"ElfFile\x00rest", "evtx"),
        ("C:\\x\\renamed.dat", b"ElfFile\x00rest", "evtx"),
        ("export.xml", b'<Events><Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">', "event_xml"),
        ("data.json", b'{"EventID": 4624, "Channel": "Security"}\n', "event_json"),
        ("u_ex1.log", "#Fields: date time cs-method\n".encode("utf-16"), "iis"),
        ("u_ex1.log", b"", "empty"),
        ("u_ex1.log", b"\x00" * 4096, "empty"),
        ("page.aspx", b"", None),
        ("page.aspx", b"<%@ Page Language=Jscript%>", None),
        ("x.log", b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n", "lfs_pointer"),
        ("x.zip", b"PK\x03\x04", None),
    ],
)
def test_classify(path: str, data: bytes, expected: str | None) -> None:
    assert classify(fake(path, data), data[:HEAD_BYTES]) == expected


def test_error_artifacts_parse_to_one_error() -> None:
    for artifact in ERROR_ARTIFACTS:
        stats = ParseStats()
        assert list(parser_for(artifact)(io.BytesIO(b""), "p", stats)) == []
        assert [e.kind for e in stats.errors] == [artifact]
    with pytest.raises(KeyError):
        parser_for("nonsense")


CORPUS_EXPECTED = {
    "iis-logs/not-iis-apache-access.log": "wrong_format",
    "iis-logs/Tunna_rdp_tunnel_IIS.log": "iis",
    "iis-logs/test-iis10-access.log": "iis",
    "exchange-logs/Ews_2023010616-1.LOG": None,  # an EWS log: Exchange, but not one we read
    "exchange-logs/MSGTRKMS2022091915-1.LOG": None,
    "exchange-logs/test-httpproxy.log": "httpproxy",
    "exchange-logs/ECPServer20230111-1.LOG": "ecp_server",
    "exchange-logs/ECPActivity_11500_20230111-1.LOG": "ecp_activity",
    "exchange-logs/Rps_Cmdlet_2023011116-1.LOG": "rps_cmdlet",
    "evtx/corrupt/sample_with_a_bad_chunk_magic.evtx": "evtx",
    "lfs-pointers/attack_techniques/T1190/proxyshell/proxyshell.log": "lfs_pointer",
    "lfs-pointers/attack_techniques/T1190/exchange_events.json": "lfs_pointer",
}


def test_whole_corpus_recognised_and_parsed_without_crash(corpus: Path) -> None:
    seen: dict[str, str | None] = {}
    counts: Counter[str] = Counter()
    for view in open_evidence(corpus):
        for file in view.files():
            if file.path.startswith(("webshells/", "benign-aspnet/")):
                continue
            with file.open() as stream:
                head = stream.read(HEAD_BYTES)
            recognition = recognise(file, head)
            seen[file.path] = recognition.artifact
            if recognition.artifact is None:
                continue
            stats = ParseStats()
            with file.open() as stream:
                records = sum(1 for _ in parser_for(recognition.artifact)(stream, file.path, stats))
            assert records == stats.records
            counts[recognition.artifact] += records
            if recognition.artifact in ERROR_ARTIFACTS:
                assert [e.kind for e in stats.errors] == [recognition.artifact]
            elif recognition.artifact != "evtx":
                assert stats.bad_lines == 0 and stats.errors == [], file.path
    for path, artifact in CORPUS_EXPECTED.items():
        assert seen[path] == artifact, path
    logs = [
        p
        for p in seen
        if p.startswith(("iis-logs/", "exchange-logs/", "evtx/", "lfs-pointers/")) and not p.endswith(("LICENSE", ".md", ".yml"))
    ]
    logs = [p for p in logs if "LICENSE" not in p and not p.endswith(".dat")]
    unrecognised = [p for p in logs if seen[p] is None]
    assert set(unrecognised) <= {
        f"exchange-logs/{n}"
        for n in (
            "AgentLog20220913-1.LOG",
            "Ews_2023010616-1.LOG",
            "MSGTRKMS2022091915-1.LOG",
            "RECV2023011116-1.LOG",
            "audit20230111-1.LOG",
        )
    }
    assert sum(1 for p in logs if seen[p] == "evtx") == sum(1 for _ in (corpus / "evtx").rglob("*.evtx"))
    assert sum(1 for p in logs if seen[p] == "lfs_pointer") == 12
    assert counts["iis"] > 4000 and counts["httpproxy"] == 12 and counts["evtx"] > 7000 and counts["event_json"] == 184
    assert set(counts) <= ARTIFACTS | ERROR_ARTIFACTS
