"""Event parsers: EVTX (incl. damaged files), JSON lines (Mordor, Winlogbeat, rendered EVTX), XML exports."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exaudit.evidence import open_evidence
from exaudit.parsers import ParseStats, parser_for
from exaudit.parsers.base import Record


def parse_file(path: Path, artifact: str) -> tuple[list[Record], ParseStats]:
    stats = ParseStats()
    with path.open("rb") as stream:
        return list(parser_for(artifact)(stream, str(path), stats)), stats


def parse_bytes(data: bytes, artifact: str) -> tuple[list[Record], ParseStats]:
    stats = ParseStats()
    return list(parser_for(artifact)(io.BytesIO(data), "x", stats)), stats


def test_evtx_exchange_management_event_is_flattened(corpus: Path) -> None:
    (record,), stats = parse_file(corpus / "evtx" / "corrupt" / "MSExchange_Management_wec.evtx", "evtx")
    assert record.fields["Channel"] == "MSExchange Management"
    assert record.fields["Provider"] == "MSExchange CmdletLogs"
    assert record.fields["EventID"] == "1" and record.fields["Computer"] == "WEC.ave.local"
    assert record.fields["Data[0]"] == "Set-Mailbox"
    assert "ForwardingSmtpAddress" in record.fields["Data[1]"] and "ForwardingSmtpAddress" in record.fields["Data"]
    assert record.time == datetime(2021, 11, 19, 16, 52, 33, 833733, tzinfo=UTC)
    assert record.line == 1 and stats.errors == []


def test_evtx_named_event_data(corpus: Path) -> None:
    records, stats = parse_file(corpus / "evtx" / "privexchange_dirkjan.evtx", "evtx")
    assert len(records) == 8 and stats.bad_lines == 0
    logon = next(r for r in records if r.fields["EventID"] == "4624")
    assert logon.fields["Channel"] == "Security" and logon.fields["TargetUserName"]
    assert all(r.time is not None and r.time.tzinfo is not None for r in records)


@pytest.mark.parametrize(
    ("name", "at_least"),
    [("sample_with_a_bad_chunk_magic.evtx", 200), ("sample-with-zero-data-size-event.evtx", 300)],
)
def test_damaged_evtx_gives_records_and_errors(corpus: Path, name: str, at_least: int) -> None:
    records, stats = parse_file(corpus / "evtx" / "corrupt" / name, "evtx")
    assert len(records) >= at_least
    assert stats.errors and {e.kind for e in stats.errors} == {"damaged"}


def test_evtx_garbage_is_an_error_not_a_crash() -> None:
    for data in (b"ElfFile\x00" + b"\xff" * 5000, b"", b"not evtx at all"):
        records, stats = parse_bytes(data, "evtx")
        assert records == [] and stats.errors


def test_event_json_in_zip_read_through_evidence(corpus: Path) -> None:
    (view,) = open_evidence(corpus / "events-json" / "psh_lsass_memory_dump_comsvcs.zip")
    (file,) = [f for f in view.files() if f.path.endswith(".json")]
    stats = ParseStats()
    with file.open() as stream:
        records = list(parser_for("event_json")(stream, file.path, stats))
    assert len(records) == 184 and stats.bad_lines == 0
    first = records[0]
    assert first.fields["EventID"] == "4689" and first.fields["Computer"] == "WORKSTATION5"
    assert first.time == datetime(2020, 10, 18, 7, 50, 6, 220000, tzinfo=UTC)
    assert any("comsvcs" in r.raw.lower() for r in records)


def test_event_json_winlogbeat_and_rendered_evtx_shapes() -> None:
    winlogbeat = {
        "@timestamp": "2021-03-03T03:00:00.000Z",
        "winlog": {"event_id": 4688, "channel": "Security", "computer_name": "EX01", "event_data": {"NewProcessName": "C:\\w3wp.exe"}},
    }
    rendered = {
        "Event": {"System": {"EventID": 7045, "Channel": "System", "TimeCreated": {"#attributes": {"SystemTime": "2021-03-03T04:00:00Z"}}}}
    }
    data = "\n".join([json.dumps(winlogbeat), "[1,2]", "{broken", json.dumps(rendered)]).encode()
    records, stats = parse_bytes(data, "event_json")
    assert [r.fields["EventID"] for r in records] == ["4688", "7045"]
    assert records[0].fields["NewProcessName"] == "C:\\w3wp.exe" and records[0].fields["Computer"] == "EX01"
    assert [r.time for r in records] == [datetime(2021, 3, 3, 3, tzinfo=UTC), datetime(2021, 3, 3, 4, tzinfo=UTC)]
    assert stats.bad_lines == 2


XML_EVENT = (
    '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="MSExchange CmdletLogs"/>'
    '<EventID Qualifiers="16384">1</EventID><TimeCreated SystemTime="2021-03-03T10:00:00.1234567Z"/><EventRecordID>{n}</EventRecordID>'
    "<Channel>MSExchange Management</Channel><Computer>EX01</Computer></System><EventData><Data>Set-OabVirtualDirectory</Data>"
    "<Data>-ExternalUrl 'http://f/#&lt;script&gt;'</Data></EventData></Event>"
)


def test_event_xml_export_stream() -> None:
    body = "<Events>" + XML_EVENT.format(n=1) + "\r\n" + XML_EVENT.format(n=2) + "<Event><broken" + "</Events>"
    for data in (body.encode(), body.encode("utf-16")):
        records, stats = parse_bytes(data, "event_xml")
        assert stats.bad_lines == 1  # the torn last event
        assert [r.fields["EventRecordID"] for r in records] == ["1", "2"]
        assert records[0].fields["Data[1]"] == "-ExternalUrl 'http://f/#<script>'"
        assert records[0].fields["Provider"] == "MSExchange CmdletLogs"
        assert records[0].time == datetime(2021, 3, 3, 10, 0, 0, 123456, tzinfo=UTC)


def test_event_xml_refuses_entities() -> None:
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaa">]><Event xmlns="x"><System><EventID>&a;</EventID></System></Event>'
    records, stats = parse_bytes(bomb.encode(), "event_xml")
    assert records == [] and stats.bad_lines == 1
