"""The line tokens derived from the rules: every spelling a rule accepts is selected, and both scanners agree."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest

from exaudit.detect.engine import RuleSet, percent_decode
from exaudit.detect.prefilter import LineScanner, decoded, line_veto, literal, regex_dnf, regex_token, tokens_for
from exaudit.lab.evidence import generate
from exaudit.parsers import ParseStats, parser_for
from exaudit.parsers.base import Record

SPELLINGS = [
    "powershell",
    "%50owershell",
    "%2550owershell",
    "p%6Fwershell",
    "%%37%30owershell",
    "%25%37%30owershell",
    quote(quote("powershell", safe=""), safe=""),
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_decoded_token_finds_every_encoding_the_rule_decodes(spelling: str) -> None:
    assert "powershell" in percent_decode(spelling).lower()  # the rule itself reads them all
    token = decoded("powershell")
    assert token is not None
    assert re.search(token.source, f"/autodiscover.json?a={spelling}&b".encode(), re.IGNORECASE)


def test_decoded_token_covers_non_ascii_letters_that_lower_case_to_ascii() -> None:
    kelvin = quote("\u212a".encode(), safe="")  # KELVIN SIGN lower-cases to "k"
    value = f"x-rps-cat=1&{kelvin}ey"
    assert "key" in percent_decode(value).lower()
    token = decoded("key")
    assert token is not None and re.search(token.source, value.encode(), re.IGNORECASE)
    assert decoded("key") != literal("key")


def test_regex_tokens_keep_to_one_line_and_finite_regexes_become_literals() -> None:
    token = regex_token("^/(owa/auth|oab)/[^?]*\\.aspx$")
    assert token is not None and b"[^\\n?]" in token.source
    assert not re.search(token.source, b"/oab/x\n.aspx", re.IGNORECASE)
    assert regex_token("=\\s*whoami") is None  # Python's \s is not Hyperscan's
    assert regex_dnf("^(200|301)$") == frozenset({(literal("200"),), (literal("301"),)})


def test_every_web_rule_has_tokens() -> None:
    rules = RuleSet()
    for artifact in ("iis", "httpproxy"):
        conjunctions = tokens_for(rules, artifact)
        assert conjunctions, artifact
    assert tokens_for(rules, "rps_http") is None  # ClientInfo "not empty": only a full parse can tell


def test_python_scanner_agrees_with_hyperscan() -> None:
    pytest.importorskip("hyperscan")
    conjunctions = tokens_for(RuleSet(), "iis") or frozenset()
    scanner = LineScanner(conjunctions, special_lines=True)
    assert scanner.backend == "hyperscan"
    block = b"".join(
        [
            b"#Fields: date time cs-method cs-uri-stem cs-uri-query\r\n",
            b"2021-03-02 10:00:00 GET /owa/auth/x.js -\r\n",
            b"2021-03-02 10:00:01 GET /owa/auth/15.2/scripts/flogon.js -\r\n",
            b"2021-03-02 10:00:02 GET /autodiscover/autodiscover.json a=%2570owershell&b=%40\r\n",
            b"2021-03-02 10:00:03 POST /owa/auth/shell.aspx -\r\n",
            "2021-03-02 10:00:04 GET /owa/caf\u00e9 -\r\n".encode(),
            b"2021-03-02 10:00:05 GET /mapi/emsmdb -\r\n",
            b"#Date: 2021-03-02 10:00:05\r\n",
            b"\r\n",
            b"2021-03-02 10:00:06 GET /owa/ a\rb\r\n",
        ]
    )
    fast = scanner.line_starts(block)
    assert scanner._python_scan(block) == set(fast)
    assert block.index(b"#Date") in fast and block.index(b"\r\n\r\n") + 2 in fast  # directives, empty lines
    lines = {block[s : block.index(b"\n", s)].split(b" ")[3] for s in fast if block[s : s + 1].isdigit()}
    assert lines == {b"/owa/auth/x.js", b"/autodiscover/autodiscover.json", b"/owa/auth/shell.aspx", "/owa/caf\u00e9".encode(), b"/owa/"}


IIS_FIELDS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) "
    "sc-status sc-substatus sc-win32-status time-taken"
)


def _iis_record_fields(line: str) -> dict[str, str]:
    return dict(zip(IIS_FIELDS.split(), line.split(" "), strict=True))


@pytest.mark.parametrize(
    ("line", "dropped"),
    [
        ("2021-03-02 10:00:00 10.0.0.1 GET /owa/auth/logon.aspx url=%2fowa 443 - 10.1.1.1 Mozilla/5.0 - 200 0 0 5", True),
        ("2021-03-02 10:00:00 10.0.0.1 GET /owa/auth/LOGON.aspx - 443 - 10.1.1.1 Mozilla/5.0 - 200 0 0 5", True),
        ("2021-03-02 10:00:00 10.0.0.1 POST /powershell a=1 443 CONTOSO\\adm 10.1.1.1 Microsoft+WinRM+Client - 200 0 0 5", True),
        ("2021-03-02 10:00:00 10.0.0.1 GET /owa/auth/shell.aspx - 443 - 10.1.1.1 Mozilla/5.0 - 200 0 0 5", False),
        ("2021-03-02 10:00:00 10.0.0.1 GET /owa/auth/logon.aspx - 443 - 10.1.1.1 antSword/v2.1 - 200 0 0 5", False),
        ("2021-03-02 10:00:00 10.0.0.1 GET /owa/auth/logon.aspx - 443 - 192.81.208.169 Mozilla/5.0 - 200 0 0 5", False),
        ("2021-03-02 10:00:00 10.0.0.1 POST /owa/x@y.com/powershell - 443 u 10.1.1.1 python-requests - 200 0 0 5", False),
        ("2021-03-02 10:00:00 10.0.0.1 GET /ecp/y.aspx cmd=powershell 443 - 10.1.1.1 Mozilla/5.0 - 200 0 0 5", False),
    ],
)
def test_line_veto_drops_only_lines_no_rule_matches(line: str, dropped: bool) -> None:
    rules = RuleSet()
    veto = line_veto(rules, "iis")
    assert veto is not None
    fields = _iis_record_fields(line)
    record = Record("iis", "u_ex.log", 1, None, fields, line)
    assert veto.drops(fields, line.encode()) is dropped
    assert bool(rules.match(record)) is not dropped  # these lines: dropped exactly when no rule matches


def test_line_veto_never_drops_a_line_a_rule_matches(tmp_path: Path) -> None:
    """Every IIS and HttpProxy line of several lab scenarios: a dropped line is one the engine matches with no rule."""
    rules = RuleSet()
    checked = dropped = 0
    for scenario in ("proxylogon", "proxyshell", "owassrf", "proxynotshell"):
        truth = generate(tmp_path / scenario, scenario=scenario, seed=5, days=1, volume=300, layout="drive")
        host = tmp_path / scenario / truth["hosts"][0]["evidence"]
        for artifact, pattern in (("iis", "inetpub/**/*.log"), ("httpproxy", "Program Files/**/HttpProxy/**/*.LOG")):
            veto = line_veto(rules, artifact)
            assert veto is not None
            for path in host.glob(pattern):
                with path.open("rb") as stream:
                    for record in parser_for(artifact)(stream, str(path), ParseStats()):
                        raw = record.raw.encode()
                        if record.raw.isascii() and '"' not in record.raw:
                            checked += 1
                            if veto.drops(dict(record.fields), raw):
                                dropped += 1
                                assert not rules.match(record), record.raw
    assert checked > 1000 and 0 < dropped < checked
