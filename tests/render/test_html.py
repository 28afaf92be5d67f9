"""The HTML report: self-contained, strict CSP, verdicts first, attacker text escaped, both languages."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from conftest import HOSTILE, SHELL_SHA, TEMPLATE
from exaudit.render import render


class _Collector(HTMLParser):
    """Tags, attributes and the text of the first ordered list, the way a browser tokenises them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.sections: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "section":
            self.sections.append(dict(attrs).get("id") or "")


@pytest.fixture(params=["en", "fr"])
def html(documents: list[dict[str, Any]], request: pytest.FixtureRequest) -> str:
    return render(documents, "html", request.param)


def _parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    return collector


def test_no_script_and_no_external_fetch(html: str) -> None:
    tags = _parse(html).tags
    names = [t for t, _ in tags]
    assert "script" not in names and "iframe" not in names and "object" not in names
    for _tag, attrs in tags:
        assert not [k for k in attrs if k.startswith("on")], attrs  # no event handler attribute anywhere
        for key in ("src", "href", "action", "data"):
            assert key not in attrs, attrs  # nothing to fetch, nothing to follow
    assert "<link" not in html and "@import" not in html and "url(" not in html


def test_strict_content_security_policy(html: str) -> None:
    meta = [a for t, a in _parse(html).tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(meta) == 1
    policy = meta[0]["content"] or ""
    assert "default-src 'none'" in policy and "style-src 'unsafe-inline'" in policy and "img-src data:" in policy
    assert "script-src" not in policy  # falls back to default-src 'none'
    assert html.index("Content-Security-Policy") < html.index("<style>")  # before anything it must govern


def test_opens_with_one_verdict_line_per_server(html: str) -> None:
    parsed = _parse(html)
    assert parsed.sections[0] == "verdicts"
    lines = [a for t, a in parsed.tags if t == "li" and "data-host" in a]
    assert [a["data-host"] for a in lines] == ["ex01.corp.example", "EX03", "ex02.corp.example"]  # worst first
    first = html[html.index('<li class="v-compromised"') :]
    first = first[: first.index("</li>")]
    assert "15.1.2176.14 (May21SU, KB5003435)" in first  # the build that fixes both CVEs
    assert "<strong>ex01.corp.example</strong> (EX01)" in first  # scan target and hunt host joined


def test_sections_in_reading_order(html: str) -> None:
    assert _parse(html).sections == ["verdicts", "findings", "timeline", "indicators", "coverage", "inputs", "plan"]


def test_attacker_text_is_escaped_not_dropped(html: str) -> None:
    for payload in HOSTILE:
        assert payload not in html
    assert "&lt;script&gt;window.__pwned = 1; alert(1)&lt;/script&gt;" in html
    assert TEMPLATE in html  # data is never evaluated as a template
    assert SHELL_SHA in html  # chain of custody


def test_timeline_chart_is_inline_svg(html: str) -> None:
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count("<circle") == 3
    assert "&lt;img src=x" in svg  # the hover label is text, escaped


def test_both_languages_say_the_same_facts(documents: list[dict[str, Any]]) -> None:
    en, fr = render(documents, "html", "en"), render(documents, "html", "fr")
    assert 'lang="en"' in en and 'lang="fr"' in fr
    assert "Verdict per server" in en and "Verdict par serveur" in fr
    assert "compromis" in fr and "Plan de remédiation par serveur" in fr
    numbers = re.compile(r"\b(?:CVE-\d{4}-\d+|\d+\.\d+\.\d+\.\d+|[0-9a-f]{64})\b")
    assert sorted(numbers.findall(en)) == sorted(numbers.findall(fr))


def test_remediation_plan_names_the_actions(documents: list[dict[str, Any]]) -> None:
    html = render(documents, "html", "en")
    plan = html[html.index('<section id="plan">') :]
    ex01 = plan[: plan.index("EX03")]
    assert "CVE-2021-26855: fixed in 15.1.2176.9 (Mar21SU, KB5000871)" in ex01
    assert "EOMT" in ex01 and "ProxyShell: Microsoft published no mitigation" in ex01
    assert r"C:\inetpub\wwwroot\aspnet_client\supp0rt.aspx" in ex01
    assert r"C:\ProgramData\lsass.dmp" in ex01 and "rundll32.exe" not in ex01  # never advise removing a system file
    assert "krbtgt" in ex01  # LSASS dump: credentials to reset
    assert "httpproxy logs cover only 6.0 days" in ex01
    assert "The build was not checked" in plan[plan.index("EX03") :]
    assert "a server patched late may have been compromised before" in plan[plan.index("ex02.corp.example") :]


def test_the_build_to_install_covers_cves_the_cu_never_got_a_fix_for() -> None:
    from exaudit.kb import load_kb, parse_build
    from exaudit.model import SCHEMA, ScanResult, to_jsonable
    from exaudit.render.view import build_view, plan_for

    # 2016 CU19 before any SU: its own SUs fix ProxyLogon, but ProxyNotShell needs CU23 + Nov22SU or later.
    cves = load_kb().assess(parse_build("15.1.2176.2"))
    result = ScanResult(target="ex01:443", reachable=True, exchange=True, product="2016", build="15.1.2176.2", cves=cves)
    view = build_view([{"schema": SCHEMA, "kind": "scan", "results": [to_jsonable(result)]}])
    plan = plan_for(view.hosts[0], {}, 0)
    assert plan.best_fix is not None
    assert "CU23" in plan.best_fix and "15.1.2507." in plan.best_fix
