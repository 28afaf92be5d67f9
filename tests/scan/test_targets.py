"""Target notations, target files (lists, nmap XML, masscan) and the scope check."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exaudit.scan.targets import (
    DEFAULT_PORTS,
    TargetError,
    check_scope,
    expand,
    parse_target,
    parse_targets,
    read_scope,
)


@pytest.mark.parametrize(
    ("text", "host", "ports", "scheme"),
    [
        ("mail.example.org", "mail.example.org", (), None),
        ("127.0.0.5:8443", "127.0.0.5", (8443,), None),
        ("https://127.0.0.5:8443/owa/", "127.0.0.5", (8443,), "https"),
        ("http://127.0.0.5", "127.0.0.5", (80,), "http"),
        ("https://mail.example.org", "mail.example.org", (443,), "https"),
        ("[::1]:8443", "::1", (8443,), None),
        ("::1", "::1", (), None),
        ("https://[::1]:9443", "::1", (9443,), "https"),
    ],
)
def test_single_notations(text: str, host: str, ports: tuple[int, ...], scheme: str | None) -> None:
    spec = parse_target(text)
    assert (spec.given, spec.host, spec.ports, spec.scheme, spec.network) == (text, host, ports, scheme, None)


def test_default_ports_are_443_then_80() -> None:
    (target,) = list(expand([parse_target("127.0.0.9")]))
    assert target.ports == DEFAULT_PORTS == (443, 80)
    assert target.name_for(443) == "127.0.0.9"  # not a CIDR member: the name stays as given


def test_cidr_expands_lazily_with_ports_and_member_names() -> None:
    spec = parse_target("127.0.50.0/30", ports=[8443, 443])
    targets = list(expand([spec]))
    assert [t.host for t in targets] == ["127.0.50.1", "127.0.50.2"]  # network and broadcast left out
    assert all(t.member and t.ports == (8443, 443) for t in targets)
    assert targets[0].name_for(8443) == "127.0.50.1:8443"


def test_cidr_with_port_and_ipv6_cidr() -> None:
    assert parse_target("127.0.50.0/24:8443").ports == (8443,)
    assert parse_target("127.0.50.0/24").count() == 254
    spec = parse_target("[::1/128]:8443")
    assert spec.network == ipaddress.ip_network("::1/128") and spec.ports == (8443,)
    assert [t.name_for(8443) for t in expand([spec])] == ["[::1]:8443"]


@pytest.mark.parametrize(
    "text",
    ["", "ftp://host", "127.0.0.1:99999", "10.0.0.0/33", "bad host name", "https://:8443", "[zz::1]:443", "10.0.0.0/4"],
)
def test_bad_targets_raise_a_clear_error(text: str) -> None:
    with pytest.raises(TargetError):
        parse_target(text)


def test_at_file_with_comments_and_duplicates(tmp_path: Path) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text("# our servers\n127.0.0.5:8443  # front end\n\nhttps://127.0.0.6:443\n127.0.0.5:8443\n")
    specs = parse_targets([f"@{listing}", "127.0.0.7"])
    assert [s.given for s in specs] == ["127.0.0.5:8443", "https://127.0.0.6:443", "127.0.0.7"]


def test_at_file_names_the_bad_line(tmp_path: Path) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text("127.0.0.5\nnot a target\n")
    with pytest.raises(TargetError, match=r"targets.txt:2"):
        parse_targets([f"@{listing}"])
    with pytest.raises(TargetError, match="cannot read"):
        parse_targets([f"@{tmp_path / 'missing.txt'}"])


NMAP_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -p 443,8443 -oX out.xml 127.0.60.0/30" version="7.94">
<host><status state="up"/><address addr="127.0.60.1" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="443"><state state="open" reason="syn-ack"/></port>
<port protocol="tcp" portid="8443"><state state="closed" reason="reset"/></port></ports></host>
<host><status state="up"/><address addr="127.0.60.2" addrtype="ipv4"/><address addr="00:11:22:33:44:55" addrtype="mac"/>
<ports><port protocol="tcp" portid="8443"><state state="open" reason="syn-ack"/></port></ports></host>
</nmaprun>
"""


def test_nmap_xml_gives_open_ports_only(tmp_path: Path) -> None:
    path = tmp_path / "scan.xml"
    path.write_text(NMAP_XML)
    assert [s.given for s in parse_targets([f"@{path}"])] == ["127.0.60.1:443", "127.0.60.2:8443"]


def test_broken_nmap_xml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scan.xml"
    path.write_text("<?xml version='1.0'?><nmaprun><host>")
    with pytest.raises(TargetError, match="not valid nmap XML"):
        parse_targets([f"@{path}"])


def test_masscan_list_and_json(tmp_path: Path) -> None:
    listing = tmp_path / "masscan.txt"
    listing.write_text("#masscan\nopen tcp 443 127.0.61.1 1700000000\nopen tcp 8443 127.0.61.2 1700000001\n# end\n")
    assert [s.given for s in parse_targets([f"@{listing}"])] == ["127.0.61.1:443", "127.0.61.2:8443"]
    # masscan -oJ as older versions write it: one object per line, trailing comma before "]"
    as_json = tmp_path / "masscan.json"
    as_json.write_text(
        '[\n{   "ip": "127.0.61.3",   "timestamp": "1700000000", "ports": [ {"port": 443, "proto": "tcp", "status": "open"} ] },\n'
        '{   "ip": "127.0.61.4",   "timestamp": "1700000000", "ports": [ {"port": 80, "proto": "tcp", "status": "open"} ] },\n]\n'
    )
    assert [s.given for s in parse_targets([f"@{as_json}"])] == ["127.0.61.3:443", "127.0.61.4:80"]


def test_scope_refuses_targets_outside(tmp_path: Path) -> None:
    scope_file = tmp_path / "scope.txt"
    scope_file.write_text("# lab only\n127.0.70.0/24\n::1\n")
    scope = read_scope(scope_file)
    check_scope(parse_targets(["127.0.70.5:8443", "127.0.70.128/25", "[::1]:443"]), scope)
    for outside in ("127.0.71.1", "127.0.70.0/23", "https://127.0.0.1:443", "localhost:8443"):
        with pytest.raises(TargetError, match="outside the scope"):
            check_scope(parse_targets([outside]), scope)


def test_bad_scope_file(tmp_path: Path) -> None:
    scope_file = tmp_path / "scope.txt"
    scope_file.write_text("127.0.70.0/24\nnot-a-range\n")
    with pytest.raises(TargetError, match=r"scope.txt:2"):
        read_scope(scope_file)
    scope_file.write_text("# nothing\n")
    with pytest.raises(TargetError, match="lists no ranges"):
        read_scope(scope_file)


def test_connect_time_resolution_stays_in_scope() -> None:
    import asyncio
    import ipaddress as ip

    from exaudit.scan.http import ScopedResolver

    async def resolve(scope: str) -> list[str]:
        resolver = ScopedResolver([ip.ip_network(scope)])
        try:
            return [r["host"] for r in await resolver.resolve("localhost", 443)]
        finally:
            await resolver.close()

    assert asyncio.run(resolve("127.0.0.0/8")) == ["127.0.0.1"]
    with pytest.raises(OSError, match="outside the scope"):
        asyncio.run(resolve("10.0.0.0/8"))


@given(st.text(max_size=60))
def test_any_text_parses_or_raises_target_error(text: str) -> None:
    try:
        spec = parse_target(text)
    except TargetError:
        return
    assert spec.given == text.strip() and (spec.host or spec.network is not None)


@given(st.binary(max_size=400))
def test_any_bytes_never_break_fingerprinting(body: bytes) -> None:
    from exaudit.scan.fingerprint import EXPORTTOOL_PATH, Observation, clues_from, merge

    fp = merge(clues_from(Observation(EXPORTTOOL_PATH, 200, {"x-owa-version": body.decode("latin-1")}, body)))
    assert fp.build is None or fp.build.split(".")[0] in ("8", "14", "15")
