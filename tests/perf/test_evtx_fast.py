"""EVTX bytes first (``exaudit.hunt_evtx``) gives what the full parse gives, file by file and as a hunt document.

Every EVTX file of the shared corpus (the damaged ones under ``evtx/corrupt`` included, read in place) is hunted
both ways; the keyword gate is checked against the engine's own keyword test on records built to defeat it
(list joins, ``İ`` and the Kelvin sign, objects rendered with ``\\uXXXX`` escapes, control characters).
"""

from __future__ import annotations

import io
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import pytest

import exaudit.hunt_evtx as hunt_evtx
from exaudit.detect.engine import RecordView, RuleSet
from exaudit.evidence.base import EvidenceFile
from exaudit.hunt import hunt
from exaudit.hunt_fast import FileScan, FileTask
from exaudit.parsers import evtx
from exaudit.parsers.base import ParseStats


def _evtx_files(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "evtx").rglob("*.evtx") if p.is_file())


def _file(path: Path, opener: Any = None) -> EvidenceFile:
    return EvidenceFile(str(path), str(path), path.stat().st_size, None, opener or partial(open, str(path), "rb"))


def _summary(scan: FileScan) -> dict[str, Any]:
    stats = scan.stats
    kept = [(r.path, r.line, r.time, r.fields, r.raw) for r in scan.kept]
    return {
        "kept": kept,
        "records": stats.records,
        "yielded": scan.yielded,
        "bad": stats.bad_lines,
        "errors": [(e.where, e.kind, e.message) for e in stats.errors],
        "span": (stats.first, stats.last),
        "sha256": scan.sha256,
        "failure": scan.failure,
    }


def _both(file: EvidenceFile) -> tuple[FileScan, FileScan]:
    fast = hunt_evtx.hunt_file(FileTask(file, "evtx"))
    reference = hunt_evtx.hunt_file(FileTask(file, "evtx", reference=True))
    return fast, reference


def test_every_corpus_file_identical(corpus: Path) -> None:
    files = _evtx_files(corpus)
    assert any("corrupt" in p.parts for p in files)
    parsed = total = 0
    for path in files:
        fast, reference = _both(_file(path))
        assert not fast.fallback, (path, fast.fallback)
        assert _summary(fast) == _summary(reference), path
        parsed, total = parsed + fast.parsed_lines, total + fast.stats.records
    assert total > 1000 and parsed < total / 5  # most records were only counted


class _OneWay(io.RawIOBase):
    """A stream that cannot seek, like a member of an archive."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._file.readinto(buffer)

    def close(self) -> None:
        self._file.close()
        super().close()


def _one_way(path: Path) -> BinaryIO:
    return io.BufferedReader(_OneWay(path))  # type: ignore[return-value]


def test_one_way_streams_identical(corpus: Path) -> None:
    for name in ("LM_5145_Remote_FileCopy.evtx", "sysmon_10_1_memdump_comsvcs_minidump.evtx", "corrupt/sample_with_a_bad_chunk_magic.evtx"):
        path = corpus / "evtx" / name
        fast, reference = _both(_file(path, partial(_one_way, path)))
        assert not fast.fallback
        assert _summary(fast) == _summary(reference)


def test_hunt_document_identical(corpus: Path) -> None:
    reference = hunt([corpus / "evtx"], reference=True, workers=1)
    document = hunt([corpus / "evtx"], workers=1)
    assert document == reference
    assert reference["findings"] and any(i["artifact"] == "evtx" and i["records"] for i in reference["inputs"])


def test_identical_without_hyperscan(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hunt_evtx, "_hyperscan", lambda keywords, tails: None)
    for name in ("sysmon_10_1_memdump_comsvcs_minidump.evtx", "LM_typical_IIS_webshell_sysmon_1_10_traces.evtx"):
        fast, reference = _both(_file(corpus / "evtx" / name))
        assert _summary(fast) == _summary(reference)


def test_read_times_are_the_parsers(corpus: Path) -> None:
    read = 0
    for path in _evtx_files(corpus):
        with path.open("rb") as stream:
            stats = ParseStats()
            items = list(evtx.record_items(stream, str(path), stats, evtx.inspect_layout(stream, str(path), stats)))
        texts = [item["data"] for item in items]
        for item, time in zip(items, hunt_evtx.system_times(texts, set()), strict=True):
            record = evtx.record_from_item(item, str(path), "evtx", ParseStats())
            if time is not None:
                assert record is not None and record.fields["TimeCreated"] == time
                read += 1
    assert read > 1000


# --------------------------------------------------------------------------- the gate against the engine


def _event(data: dict[str, Any], system_extra: str = "") -> str:
    system = '{"Provider":{"#attributes":{"Name":"P"}},"EventID":1,' + system_extra
    system += '"TimeCreated":{"#attributes":{"SystemTime":"2021-03-02T10:11:12.123456Z"}},"Channel":"C"}'
    return '{"Event":{"System":' + system + ',"EventData":' + json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "}}"


HOSTILE = [
    {"Data": {"#text": ["a", "ew-mailboxexportrequest"]}},  # the join's "\n" makes "new-…" in Record.raw
    {"Data": {"#text": ["", "ew-mailboxexportrequest"]}},
    {"Nested": {"k": ["x", "ewthing"]}},
    {"CommandLine": "pro\u212aess lsa\u212as"},  # the Kelvin sign lower-cases to k
    {"CommandLine": "\u0130nstall-transportagent"},  # İ lower-cases to i + a combining dot
    {"Obj": {"Inner": "\u010comsvcs"}},  # json.dumps renders Č as \u010c: "comsvcs" appears
    {"Obj": {"Inner": "\u0160wworkerprocess.exe"}},
    {"CommandLine": "line\nlsass\tcomsvcs"},
    {"CommandLine": "C:\\Windows\\System32\\W3WP.EXE"},
    {"Value": 1.5e20, "Flag": True, "Nothing": None},
    {"CommandLine": "nothing to see"},
]


@pytest.mark.parametrize("keywords", [None, ("new-mailboxexportrequest", "ewthing", "comsvcs", "kess", "install-", "0cw", "e20")])
def test_gate_keeps_every_record_the_engine_would_test(keywords: tuple[str, ...] | None) -> None:
    if keywords is None:
        gate = hunt_evtx._packaged_gate("evtx")
    else:
        gate = hunt_evtx.KeywordGate(tuple(k for k in keywords if hunt_evtx.plain_keyword(k)))
    assert gate is not None
    texts = [_event(data) for data in HOSTILE]
    for batch in ([texts], [[t] for t in texts], [texts[:5], texts[5:]]):
        chosen = set()
        offset = 0
        for part in batch:
            chosen |= {offset + i for i in gate.candidates(part)}
            offset += len(part)
        for index, text in enumerate(texts):
            record = evtx.record_from_item({"data": text, "event_record_id": index}, "x", "evtx", ParseStats())
            assert record is not None
            low = RecordView(record).prefilter_text()
            if any(k in low for k in gate.keywords):
                assert index in chosen, (index, text)
    assert 10 not in hunt_evtx.KeywordGate(("lsass",)).candidates(texts)  # the filter does filter


def test_plain_keywords() -> None:
    assert hunt_evtx.plain_keyword("lsass") and hunt_evtx.plain_keyword("&echo")
    for unsafe in ("a b", 'x"y', "a\\b", "[x", "x:y", "1.5e", "eventid", "data", "é", ""):
        assert not hunt_evtx.plain_keyword(unsafe), unsafe
    rules = RuleSet()
    assert hunt_evtx.gate_for(rules, "evtx") is not None  # the packaged rules are all gated


def test_letters_that_lower_case_to_ascii() -> None:
    found = "".join(
        chr(c) for c in range(0x80, sys.maxunicode + 1) if not 0xD800 <= c < 0xE000 and any(ord(x) < 0x80 for x in chr(c).lower())
    )
    assert found == hunt_evtx.LOWERS_TO_ASCII


def test_odd_shapes_are_parsed() -> None:
    usual = _event({"CommandLine": "x"})
    twice = _event({"CommandLine": "x"}, '"TimeCreated":{"#attributes":{"SystemTime":"2020-01-01T00:00:00Z"}},')
    escaped = usual.replace("2021-03-02T10:11:12.123456Z", "2021-03-02T10:11:12\\u0000Z")
    times = hunt_evtx.system_times([usual, twice, escaped, "[]"], set())
    assert times == ["2021-03-02T10:11:12.123456Z", None, None, None]
    assert hunt_evtx.system_times([usual], {0}) == [None]
