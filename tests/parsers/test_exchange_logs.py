"""Exchange CSV logs: HttpProxy (all column sets), ECP, OABGenerator, CmdletInfra."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from exaudit.parsers import ParseStats, parser_for
from exaudit.parsers.base import Record
from exaudit.parsers.exchange_csv import HTTPPROXY_FIELDS

OWA = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Logging\\HttpProxy\\Owa\\HttpProxy_2021030300-1.LOG"
DIRECTIVES = (
    "#Software: Microsoft Exchange Server\r\n#Version: 15.01.2176.002\r\n#Log-type: HttpProxy Logs\r\n#Date: 2021-03-03T00:00:00.000Z\r\n"
)
# Exchange 2013 CU21 row from signature-base PR #125 (68 values, no header in the excerpt).
E2013_ROW = (
    "2021-03-07T15:04:04.546Z,1a51fb75-2f6f-4a40-8129-ff80098494a0,15,0,1395,0,,Owa,[REDACTED],/owa/auth/x.js,,FBA,false,,,"
    "ServerInfo~localhost/ecp/default.flt?,Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_6) AppleWebKit/537.36 (KHTML  like Gecko) "
    "Chrome/69.0.3497.81 Safari/537.36,[REDACTED],[REDACTED],500,500,,GET,Proxy,localhost,0.00.0003.000,CrossRegion,"
    "X-AnonResource-Backend-Cookie,,,,0,85,1,,1,7,,"
)


def parse(data: bytes, artifact: str, path: str = OWA) -> tuple[list[Record], ParseStats]:
    stats = ParseStats()
    return list(parser_for(artifact)(io.BytesIO(data), path, stats)), stats


def row(values: dict[str, str], fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([values.get(f, "") for f in fields])
    return out.getvalue()


def test_httpproxy_by_header_with_build_and_protocol() -> None:
    fields = HTTPPROXY_FIELDS
    values = {"DateTime": "2021-03-03T02:14:07.123Z", "AnchorMailbox": "ServerInfo~a]@ex01.corp:444/autodiscover/autodiscover.xml?#"}
    values |= {"UrlStem": "/ecp/y.js", "HttpStatus": "200", "UserAgent": "ExchangeServicesClient/0.0.0.0", "Protocol": "Ecp"}
    data = DIRECTIVES + f"#Fields: {','.join(fields)}\r\n" + row(values, fields) + "\r\n"
    (record,), stats = parse(data.encode(), "httpproxy")
    assert record.get("AnchorMailbox").startswith("ServerInfo~a]@")
    assert record.time == datetime(2021, 3, 3, 2, 14, 7, 123000, tzinfo=UTC)
    assert stats.meta["exchange_build"] == "15.1.2176.2"
    assert stats.meta["protocol"] == "Owa"  # the folder wins over the column


def test_httpproxy_2013_header_with_other_case_and_fewer_columns() -> None:
    fields = ["DateTime", "RequestId", "MajorVersion", "MinorVersion", "BuildVersion", "RevisionVersion", "ClientRequestId", "Protocol"]
    fields += ["UrlStem", "AuthenticatedUser", "AnchorMailbox", "ClientIPAddress", "BackendCookie", "HttpStatus"]
    data = (
        "#Fields: "
        + ",".join(fields)
        + "\n2021-03-03T01:00:00.000Z,r1,15,0,1395,0,,Ecp,/ecp/y.js,,ServerInfo~a]@x:444/ecp/proxyLogon.ecp?#,1.2.3.4,Server~x/y~1,241\n"
    )
    (record,), stats = parse(data.encode(), "httpproxy", "HttpProxy_2021030301-1.LOG")
    assert record.get("ClientIpAddress") == "1.2.3.4" and record.get("BackEndCookie") == "Server~x/y~1"
    assert stats.meta == {"exchange_build": "15.0.1395.0", "protocol": "Ecp"}


def test_httpproxy_header_less_excerpt_uses_default_columns() -> None:
    (record,), stats = parse((E2013_ROW + "\n").encode(), "httpproxy")
    assert record.get("AnchorMailbox") == "ServerInfo~localhost/ecp/default.flt?"
    assert record.get("RoutingHint") == "X-AnonResource-Backend-Cookie" and record.get("HttpStatus") == "500"
    assert record.get("RoutingStatus") == ""  # padded: older builds write fewer trailing columns
    assert stats.meta["exchange_build"] == "15.0.1395.0" and stats.bad_lines == 0


def test_import_csv_style_header_first_and_repeated() -> None:
    header = "DateTime,UrlStem,AnchorMailbox,HttpStatus"
    data = f"{header}\n#Software: Microsoft Exchange Server\n#Fields: {header}\n2021-03-03T01:00:00Z,/owa/,Sid~x,200\n"
    data += f"{header}\n2021-03-03T02:00:00Z,/ecp/,Sid~y,302\n"
    records, stats = parse(data.encode(), "httpproxy")
    assert [r.get("UrlStem") for r in records] == ["/owa/", "/ecp/"] and stats.bad_lines == 0


def test_quoted_values_with_commas_quotes_and_line_breaks() -> None:
    data = "#Fields: DateTime,UrlStem,UserAgent,HttpStatus\n"
    data += '2021-03-03T01:00:00Z,/owa/,"Mozilla/5.0 (KHTML, like ""Gecko"")\nsecond line",200\n2021-03-03T01:00:01Z,/x,ua,200\n'
    records, stats = parse(data.encode(), "httpproxy")
    assert records[0].get("UserAgent") == 'Mozilla/5.0 (KHTML, like "Gecko")\nsecond line'
    assert records[1].line == 4 and stats.bad_lines == 0


def test_misaligned_rows_and_unbalanced_quotes_are_bad_lines() -> None:
    data = '#Fields: DateTime,UrlStem\n2021-03-03T01:00:00Z,/a,EXTRA\n2021-03-03T01:00:00Z,"open\n'
    records, stats = parse(data.encode(), "httpproxy")
    assert records == [] and stats.bad_lines == 2


def test_ecp_server_items_and_build() -> None:
    data = (
        "#Software: Microsoft Exchange Server\n#Version: 15.0.0.0\n#Log-type: ECP Server Log\n"
        "#Fields: TimeStamp,ServerName,EventId,EventData\n"
        "2021-03-03T04:05:06.000Z,EX01,ECP.Request,\"S:TIME=1;S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/#<script>a;b</script>'.Identity='x';"
        'S:URL=/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory;S:Bld=15.1.2106.2"\n'
    )
    (record,), stats = parse(data.encode(), "ecp_server")
    assert record.get("S:CMD") == "Set-OabVirtualDirectory.ExternalUrl='http://f/#<script>a;b</script>'.Identity='x'"
    assert record.get("S:URL").endswith("schema=OABVirtualDirectory")
    assert stats.meta["exchange_build"] == "15.1.2106.2"  # from S:Bld, not the format version 15.0.0.0


def test_oabgen_download_failed_path_in_text_log() -> None:
    text = "Download failed and temporary file 'C:\\inetpub\\wwwroot\\aspnet_client\\x.aspx' needs to be removed"
    data = f"2021-03-03T05:00:00.000Z,{text}\nplain line\n".encode()
    records, stats = parse(data, "oabgen", "C:\\...\\Logging\\OABGeneratorLog\\OABGen_1.LOG")
    assert stats.records == 2 and stats.bad_lines == 0
    assert records[0].get("DownloadFailedPath") == "C:\\inetpub\\wwwroot\\aspnet_client\\x.aspx"
    assert records[0].time == datetime(2021, 3, 3, 5, tzinfo=UTC)
    assert records[1].time is None and records[1].get("Message") == "plain line"


def test_cmdlet_logs(corpus: Path) -> None:
    stats = ParseStats()
    with (corpus / "exchange-logs" / "Rps_Cmdlet_2023011116-1.LOG").open("rb") as stream:
        (record,) = parser_for("local_powershell")(stream, "x", stats)
    assert record.artifact == "local_powershell"
    assert record.get("Cmdlet") == "Get-Mailbox" and record.get("Parameters") == '-ResultSize "1"'
    assert stats.meta["exchange_build"] == "15.1.2375.7"


def test_corpus_exchange_logs_parse_cleanly(corpus: Path) -> None:
    expected = {"Ecp__HttpProxy_2023010611-1.LOG": ("httpproxy", 1), "Mapi__HttpProxy_2023010601-1.LOG": ("httpproxy", 3)}
    expected |= {"ECPServer20230111-1.LOG": ("ecp_server", 1), "ECPActivity_11500_20230111-1.LOG": ("ecp_activity", 2)}
    expected |= {"test-httpproxy.log": ("httpproxy", 1), "PowerShell__HttpProxy_2023011116-1.LOG": ("httpproxy", 2)}
    for name, (artifact, count) in expected.items():
        stats = ParseStats()
        with (corpus / "exchange-logs" / name).open("rb") as stream:
            records = list(parser_for(artifact)(stream, name, stats))
        assert (len(records), stats.bad_lines, stats.errors) == (count, 0, []), name
        assert all(r.time is not None and r.time.tzinfo is not None for r in records)
    stats = ParseStats()
    with (corpus / "exchange-logs" / "Ecp__HttpProxy_2023010611-1.LOG").open("rb") as stream:
        (record,) = parser_for("httpproxy")(stream, "x", stats)
    assert record.get("UserAgent") == "Mozilla/5.0 zgrab/0.x" and record.get("AnchorMailbox").startswith("ServerVersion~")


# --------------------------------------------------------------------------- properties

value = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_httpproxy_arbitrary_bytes_never_raise(data: bytes) -> None:
    records, stats = parse(data, "httpproxy")
    assert stats.records == len(records)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(HTTPPROXY_FIELDS[1:]), min_size=1, max_size=12, unique=True),
    st.lists(st.lists(value, min_size=12, max_size=12), min_size=1, max_size=4),
)
def test_httpproxy_valid_rows_round_trip(columns: list[str], rows: list[list[str]]) -> None:
    fields = ["DateTime", *columns]
    lines = [DIRECTIVES.rstrip(), "#Fields: " + ",".join(fields)]
    for values in rows:
        lines.append(row({"DateTime": "2021-03-03T02:14:07Z", **dict(zip(columns, values, strict=False))}, fields))
    records, stats = parse("\r\n".join(lines).encode(), "httpproxy")
    assert stats.bad_lines == 0 and len(records) == len(rows)
    for record, values in zip(records, rows, strict=True):
        for name, expected in zip(columns, values, strict=False):
            assert record.fields[name] == expected.replace("\r", "")
