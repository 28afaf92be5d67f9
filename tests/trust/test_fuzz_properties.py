"""Property tests (hypothesis): every parser and the archive reader, fed arbitrary and mutated input,
never raise and keep their counts consistent.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from datetime import UTC
from pathlib import Path

import pytest
from hostile_inputs import attack_text, benign_row, httpproxy_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exaudit.evidence import EvidenceError, EvidenceFile, open_evidence
from exaudit.parsers import ARTIFACTS, HEAD_BYTES, PARSERS, ParseStats, classify
from exaudit.parsers import evtx as evtx_parser
from exaudit.parsers.text import MAX_RAW

TEXT_PARSERS = sorted(a for a in PARSERS if a != "evtx")
SAMPLES = {
    "iis": b"#Software: Microsoft Internet Information Services 10.0\r\n#Fields: date time s-ip cs-method cs-uri-stem "
    b"cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken\r\n"
    b"2021-03-03 02:14:07 10.0.0.5 POST /ecp/y.js - 443 - 203.0.113.7 python-requests/2.25 200 0 0 15\r\n",
    "httpproxy": httpproxy_text([benign_row(1)]).encode() + attack_text().encode(),
    "ecp_server": b"TimeStamp,ServerName,EventId,EventData\r\n2021-03-03T02:20:00.000Z,EX01,1,"
    b"S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://x/#<script>';S:BLD=15.1.2176.2\r\n",
    "event_json": b'{"EventID": 4104, "Channel": "Microsoft-Windows-PowerShell/Operational", "TimeCreated": "2021-03-03 02:00:00"}\n'
    b'{"winlog": {"event_id": 1, "event_data": {"CommandLine": "cmd /c whoami"}}, "@timestamp": "2021-03-03T02:00:01Z"}\n',
    "event_xml": b'<Events><Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><EventID>1</EventID>'
    b'<TimeCreated SystemTime="2021-03-03T02:00:00.000Z"/></System><EventData><Data Name="CommandLine">whoami</Data>'
    b"</EventData></Event></Events>",
}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def sample_for(artifact: str) -> bytes:
    if artifact in SAMPLES:
        return SAMPLES[artifact]
    return b"#Software: Microsoft Exchange Server\r\n#Fields: DateTime,Cmdlet,Parameters\r\n2021-03-03T02:00:00.000Z,Get-Mailbox,-Id x\r\n"


def check_parse(artifact: str, data: bytes) -> ParseStats:
    """Parse; assert the invariants every parser promises."""
    stats = ParseStats()
    records = list(PARSERS[artifact](io.BytesIO(data), "C:\\x\\fuzz.log", stats))
    assert stats.records == len(records)
    assert stats.bad_lines >= 0
    for record in records:
        assert record.artifact == artifact
        assert record.time is None or (record.time.tzinfo is not None and record.time.utcoffset() == UTC.utcoffset(None))
        assert len(record.raw) <= MAX_RAW + 1
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in record.fields.items())
    lines = [r.line for r in records]
    if artifact not in ("event_xml",):
        assert lines == sorted(lines) and all(n >= 1 for n in lines)
    if stats.first and stats.last:
        assert stats.first <= stats.last
    return stats


mutation = st.tuples(st.sampled_from(["replace", "insert", "delete", "cut"]), st.integers(0, 10_000), st.binary(min_size=1, max_size=8))


def mutate(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, position, blob in edits:
        at = position % (len(out) + 1)
        if kind == "replace":
            out[at : at + len(blob)] = blob
        elif kind == "insert":
            out[at:at] = blob
        elif kind == "delete":
            del out[at : at + len(blob)]
        else:
            del out[at:]
    return bytes(out)


@pytest.mark.parametrize("artifact", TEXT_PARSERS)
@FUZZ
@given(data=st.binary(max_size=4096))
def test_text_parsers_survive_arbitrary_bytes(artifact: str, data: bytes) -> None:
    check_parse(artifact, data)


@pytest.mark.parametrize("artifact", TEXT_PARSERS)
@FUZZ
@given(edits=st.lists(mutation, min_size=1, max_size=6), encoding=st.sampled_from(["utf-8", "utf-16"]))
def test_text_parsers_survive_mutated_valid_files(artifact: str, edits: list[tuple[str, int, bytes]], encoding: str) -> None:
    sample = sample_for(artifact)
    if encoding == "utf-16":
        sample = sample.decode("utf-8").encode("utf-16")
    check_parse(artifact, mutate(sample, edits))


@FUZZ
@given(head=st.binary(max_size=HEAD_BYTES), name=st.sampled_from(["u_ex210303.log", "x.evtx", "a.json", "page.aspx", "HttpProxy_1.LOG"]))
def test_classify_never_raises(head: bytes, name: str) -> None:
    file = EvidenceFile(path=f"C:\\inetpub\\logs\\LogFiles\\W3SVC1\\{name}", origin=name, size=len(head), mtime=None, opener=io.BytesIO)
    assert classify(file, head) in (*ARTIFACTS, "lfs_pointer", "empty", "wrong_format", None)


@pytest.fixture(scope="module")
def small_evtx(corpus: Path) -> bytes:
    return (corpus / "evtx" / "corrupt" / "Security_short_selected.evtx").read_bytes()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 69631), st.integers(0, 255)), min_size=1, max_size=40), cut=st.integers(0, 70000))
def test_evtx_survives_mutations(small_evtx: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(small_evtx)
    for position, value in edits:
        data[position] = value
    saved = evtx_parser.STALL_SECONDS
    evtx_parser.STALL_SECONDS = 3.0
    try:
        stats = check_parse("evtx", bytes(data[:cut]))
    finally:
        evtx_parser.STALL_SECONDS = saved
    assert stats.records <= 7 + len(edits)  # no records invented out of nothing


# --------------------------------------------------------------------------- the archive reader

segment = st.sampled_from(["V15", "Logging", "HttpProxy", "W3SVC1", "a", "..", ".", "", "C:", "__MACOSX", "ü", "x.log", "CON"])
member_name = st.lists(segment, min_size=1, max_size=6).map("/".join).filter(bool) | st.sampled_from(
    ["/etc/x.log", "C:\\x.log", "\\\\srv\\x"]
)
members = st.lists(st.tuples(member_name, st.binary(max_size=256)), min_size=1, max_size=8)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@FUZZ
@given(entries=members)
def test_open_evidence_on_generated_zips(entries: list[tuple[str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "EX09.zip"
        with zipfile.ZipFile(archive, "w") as out:
            for name, data in entries:
                out.writestr(name, data)
        try:
            views = open_evidence(archive)
        except EvidenceError:
            return
        for view in views:
            for file in view.files():
                parts = file.path.replace("\\", "/").split("/")
                assert ".." not in parts
                with file.open() as stream:
                    assert len(stream.read()) == file.size
        listed = sum(1 for view in views for _ in view.files())
        refused = sum(1 for view in views for e in view.errors if e.kind == "unsafe_path")
        assert listed + refused <= len(entries)
        assert not [p for p in Path(folder).rglob("*") if p.name != "EX09.zip"]  # nothing extracted


tree_step = st.tuples(
    st.sampled_from(["dir", "file", "link_up", "link_root", "link_out"]), st.integers(0, 20), st.text("abc", min_size=1, max_size=3)
)


@FUZZ
@given(steps=st.lists(tree_step, min_size=1, max_size=25))
def test_open_evidence_on_generated_trees(steps: list[tuple[str, int, str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        root = base / "EX10"
        outside = base / "outside"
        outside.mkdir()
        (outside / "secret.log").write_text("x")
        root.mkdir()
        folders = [root]
        for kind, pick, name in steps:
            parent = folders[pick % len(folders)]
            target = parent / name
            if target.exists() or target.is_symlink():
                continue
            if kind == "dir":
                target.mkdir()
                folders.append(target)
            elif kind == "file":
                target.write_bytes(b"2021-03-03 00:00:00 " + name.encode())
            else:
                link = {"link_up": parent, "link_root": root, "link_out": outside}[kind]
                os.symlink(link, target)
        for view in open_evidence(root):
            origins = [f.origin for f in view.files()]
            assert len(origins) == len(set(origins)), "a folder was walked twice"
            real_root = os.path.realpath(root)
            assert all(os.path.realpath(o).startswith(real_root) for o in origins), "a file outside the evidence was listed"
