"""Rules generalise: shells written for these tests (renamed, split, other encodings) and benign look-alikes."""

from __future__ import annotations

import io

import pytest
from ws_samples import BENIGN, SHELLS

from exaudit.detect.webshell import scan_files
from exaudit.detect.webshell_rules import RuleError, compile_rules
from exaudit.evidence.base import EvidenceFile
from exaudit.model import Severity


def memory_file(path: str, data: bytes, mtime: float | None = None) -> EvidenceFile:
    return EvidenceFile(path=path, origin=f"memory:{path}", size=len(data), mtime=mtime, opener=lambda: io.BytesIO(data))


def severities(files: dict[str, bytes]) -> dict[str, Severity]:
    result = scan_files([memory_file(n, d) for n, d in files.items()], "h")
    return {f.source.path: f.severity for f in result.findings if f.source}


def test_written_shells_are_known_web_shells() -> None:
    found = severities(SHELLS)
    weak = {name: found.get(name) for name in SHELLS if name not in found or found[name].rank < Severity.HIGH.rank}
    assert weak == {}


def test_benign_look_alikes_stay_at_low_or_below() -> None:
    found = severities(BENIGN)
    assert {n: s.value for n, s in found.items() if s.rank > Severity.LOW.rank} == {}


def test_utf16_page_is_decoded_before_matching() -> None:
    page = '<%@ Page Language="Jscript"%><%eval(Request.Item["u16"],"unsafe");%>'
    for name, data in (("le.aspx", b"\xff\xfe" + page.encode("utf-16-le")), ("nobom.aspx", page.encode("utf-16-le"))):
        assert severities({name: data})[name] is Severity.CRITICAL


def test_finding_carries_reason_hash_excerpt_and_stage() -> None:
    data = SHELLS["chopper_spaced.aspx"]
    result = scan_files([memory_file("x/shell.aspx", data, mtime=1615000000.0)], "ex01")
    (finding,) = result.findings
    assert finding.stage == "persistence" and finding.attack == ["T1505.003"]
    assert finding.first_seen == "2021-03-06T03:06:40Z"
    assert "eval" in finding.evidence and "Request.Form" in finding.evidence
    assert finding.details["size"] == len(data) and len(finding.details["sha256"]) == 64
    assert any("china_chopper" in r for r in finding.details["reasons"])
    assert result.inputs[0].sha256 == finding.details["sha256"]


def test_user_rules_are_added_and_bad_rules_are_reported(tmp_path) -> None:
    rules = tmp_path / "mine"
    rules.mkdir()
    (rules / "mine.yar").write_text('rule my_marker { strings: $a = "ZQX-MARKER-42" condition: $a }')
    result = scan_files([memory_file("a.txt", b"hello ZQX-MARKER-42")], "h", all_files=True, extra_yara=rules)
    assert [f.rule for f in result.findings] == ["webshell.my_marker"]
    assert result.findings[0].severity is Severity.HIGH
    (rules / "bad.yar").write_text("rule broken { condition: nonsense }")
    with pytest.raises(RuleError, match=r"bad\.yar"):
        compile_rules(str(rules))


def test_packaged_rules_compile_with_the_yara_command_line_syntax() -> None:
    # The bench runs the same files through the yara CLI; meta and modifiers must stay plain YARA 4.
    rules = compile_rules(None)
    assert {r.identifier for r in rules} >= {"exaudit_china_chopper_jscript_eval", "exaudit_exchange_oab_vd_script"}


def test_compiled_rules_are_cached_on_disk_and_reloaded(tmp_path, monkeypatch) -> None:
    from exaudit.detect import webshell_rules

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    webshell_rules._compiled.cache_clear()
    first = compile_rules(None)
    (cached,) = (tmp_path / "exaudit").glob("yara-*.yarc")
    webshell_rules._compiled.cache_clear()
    again = compile_rules(None)  # loaded from the .yarc file this time
    assert {r.identifier for r in again} == {r.identifier for r in first}
    assert cached.stat().st_size > 0
