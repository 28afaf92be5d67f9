"""IIS W3C parser: header mapping, hostile bytes, encodings, bounded memory, property tests."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from exaudit.parsers import ParseStats, parser_for
from exaudit.parsers.base import Record

HEADER = (
    "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-03 00:00:00\r\n"
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) "
    "sc-status sc-substatus sc-win32-status time-taken\r\n"
)
LINE = "2021-03-03 02:13:48 10.0.0.11 POST /owa/auth/x.js - 443 - 20.1.2.3 python-requests/2.25.1 - 200 0 0 64\r\n"


def parse(data: bytes, artifact: str = "iis") -> tuple[list[Record], ParseStats]:
    stats = ParseStats()
    records = list(parser_for(artifact)(io.BytesIO(data), "C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex210303.log", stats))
    return records, stats


def test_fields_by_header_name_and_utc_time() -> None:
    (record,), stats = parse((HEADER + LINE).encode())
    assert record.fields["cs-uri-stem"] == "/owa/auth/x.js"
    assert record.fields["cs(User-Agent)"] == "python-requests/2.25.1"
    assert record.fields["sc-status"] == "200"
    assert record.time == datetime(2021, 3, 3, 2, 13, 48, tzinfo=UTC)
    assert record.line == 5 and record.artifact == "iis"
    assert stats.meta["software"].startswith("Microsoft Internet Information Services")
    assert (stats.records, stats.bad_lines, stats.first, stats.last) == (1, 0, record.time, record.time)


def test_several_field_blocks_with_other_orders() -> None:
    second = "#Fields: time date cs-uri-stem sc-status c-ip cs-method\n14:00:00 2021-03-04 /ecp/y.js 241 1.1.1.1 GET\n"
    records, _ = parse((HEADER + LINE + second).encode())
    assert [r.fields["cs-uri-stem"] for r in records] == ["/owa/auth/x.js", "/ecp/y.js"]
    assert records[1].fields["sc-status"] == "241" and records[1].time == datetime(2021, 3, 4, 14, tzinfo=UTC)


def test_raw_space_in_user_agent_is_folded_back() -> None:
    line = "2023-12-25 11:54:21 10.10.130.5 GET /owa/auth/aKdMadOeT.aspx cmd=whoami 443 - 1.2.3.4 "
    line += "Mozilla/5.0 (Windows NT 10.0) - 200 0 0 142\n"
    (record,), stats = parse((HEADER + line).encode())
    assert record.fields["cs(User-Agent)"] == "Mozilla/5.0 (Windows NT 10.0)"
    assert record.fields["sc-status"] == "200" and record.fields["time-taken"] == "142"
    assert stats.bad_lines == 0


def test_torn_and_garbage_lines_are_counted_not_raised() -> None:
    data = HEADER + LINE + "2021-03-03 02:13:48 10.0.0.11 GET\n" + "\x00\x00garbage\n" + LINE
    records, stats = parse(data.encode())
    assert len(records) == 2 and stats.bad_lines == 2


def test_header_less_lines_are_guessed_around_the_method() -> None:
    line = "2023-08-28 07:37:00 exchange01 10.44.0.131 POST /EWS/Exchange.asmx &cafeReqId=1; 443 EXAMPLE\\user01 10.119.1.75 "
    line += "OC/16.0 - 200 0 0 52 10.10.10.7 59050\n"
    (record,), _ = parse(line.encode())
    assert record.fields["s-computername"] == "exchange01" and record.fields["s-ip"] == "10.44.0.131"
    assert record.fields["cs-username"] == "EXAMPLE\\user01" and record.fields["c-ip"] == "10.119.1.75"
    assert record.fields["sc-status"] == "200" and record.fields["time-taken"] == "52"
    assert record.fields["x-field1"] == "10.10.10.7"


def test_encodings_bom_utf16_nul_and_mixed_line_endings() -> None:
    text = HEADER + LINE.replace("\r\n", "\n") + LINE.replace("\r\n", "\r") + LINE
    for data in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16"), text.encode("utf-16-le"), text.encode() + b"\0" * 5000):
        records, stats = parse(data)
        assert len(records) == 3, data[:8]
        assert stats.bad_lines == 0
    invalid = (HEADER + LINE.replace("x.js", "x\udcff.js")).encode("utf-8", "surrogateescape")
    (record,), _ = parse(invalid)
    assert record.fields["cs-uri-stem"] == "/owa/auth/x\ufffd.js"


class Forward(io.RawIOBase):
    """A pipe-like stream: no seek, no peek (a socket, a decompressor)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._inner.read(min(len(buffer), 7))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def readline(self, size: int | None = -1) -> bytes:
        return self._inner.readline(-1 if size is None else size)


def test_forward_only_streams_with_bom_and_short_first_line() -> None:
    for data in (b"\xef\xbb\xbf" + (HEADER + LINE).encode(), (HEADER + LINE).encode("utf-16"), b"#\n" + (HEADER + LINE).encode()):
        stats = ParseStats()
        (record,) = parser_for("iis")(Forward(data), "x", stats)  # type: ignore[arg-type]
        assert record.fields["cs-uri-stem"] == "/owa/auth/x.js" and stats.bad_lines == 0


def test_huge_line_is_skipped_in_bounded_chunks() -> None:
    data = (HEADER + LINE).encode() + b"A" * (30 << 20) + b"\n" + LINE.encode()
    records, stats = parse(data)
    assert len(records) == 2 and stats.bad_lines == 1
    assert records[1].line == 7  # the skipped line kept its number
    assert len(records[0].raw) < 3000


def test_huge_utf16_line_is_counted_once() -> None:
    text = HEADER + LINE + "A" * (3 << 20) + "\n" + LINE
    records, stats = parse(text.encode("utf-16"))
    assert [r.line for r in records] == [5, 7] and stats.bad_lines == 1


def test_header_only_file_is_reported_empty() -> None:
    records, stats = parse(HEADER.encode())
    assert records == [] and [e.kind for e in stats.errors] == ["empty"]


def test_truncated_stream_keeps_what_was_read() -> None:
    class Failing(io.BytesIO):
        def readline(self, size: int | None = -1) -> bytes:
            line = super().readline(size)
            if b"ZZ" in line:
                raise OSError("disk gone")
            return line

    records, stats = parse_stream(Failing((HEADER + LINE + "ZZ\n" + LINE).encode()))
    assert len(records) == 1 and [e.kind for e in stats.errors] == ["damaged"]


def parse_stream(stream: io.BytesIO) -> tuple[list[Record], ParseStats]:
    stats = ParseStats()
    return list(parser_for("iis")(stream, "x", stats)), stats


def test_corpus_real_iis_log(corpus: Path) -> None:
    stats = ParseStats()
    with (corpus / "iis-logs" / "Tunna_rdp_tunnel_IIS.log").open("rb") as stream:
        records = list(parser_for("iis")(stream, "u_ex190903.log", stats))
    assert len(records) > 4000 and stats.bad_lines == 0
    assert records[0].fields["cs-uri-stem"] == "/erp/conn.aspx"
    assert records[0].fields["cs-uri-query"] == "proxy&port=3389&ip=127.0.0.1"
    assert stats.first is not None and stats.first.year == 2019


# --------------------------------------------------------------------------- properties

FIELDS = ["date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "c-ip", "cs(User-Agent)", "sc-status"]
token = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="#"), min_size=1, max_size=20
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    records, stats = parse(data)
    assert stats.records == len(records)
    assert all(r.time is None or r.time.tzinfo is not None for r in records)


@settings(max_examples=150, deadline=None)
@given(st.permutations(FIELDS), st.lists(st.lists(token, min_size=len(FIELDS), max_size=len(FIELDS)), min_size=1, max_size=5))
def test_valid_lines_round_trip_their_fields(order: list[str], rows: list[list[str]]) -> None:
    lines = [f"#Fields: {' '.join(order)}"]
    for row in rows:
        values = dict(zip(FIELDS, row, strict=True))
        values["date"], values["time"] = "2022-10-06", "18:51:06"
        lines.append(" ".join(values[name] for name in order))
    records, stats = parse("\n".join(lines).encode())
    assert stats.bad_lines == 0 and len(records) == len(rows)
    for record, row in zip(records, rows, strict=True):
        assert record.fields["cs-uri-stem"] == row[FIELDS.index("cs-uri-stem")]
        assert record.fields["cs(User-Agent)"] == row[FIELDS.index("cs(User-Agent)")]
        assert record.time == datetime(2022, 10, 6, 18, 51, 6, tzinfo=UTC)
