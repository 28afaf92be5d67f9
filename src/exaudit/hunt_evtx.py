"""EVTX files bytes first: every record's raw JSON is searched for the rule keywords, only candidates are parsed.

``evtx``'s ``records_json`` renders a record in about 4 µs; ``json.loads``, the flattening (``parsers.evtx``)
and the rules cost about 30 µs more, and attacks are rare. The rule engine only evaluates an event rule
when one of its ``keywords`` occurs in the lower-cased text of the record's fields (``RecordView.prefilter_text``),
and that text is made of the record's JSON strings, keys and numbers. So a record whose raw JSON holds no keyword
cannot match any rule: it is counted, and its ``TimeCreated`` (for coverage) is read from the raw JSON by an
anchored pattern that parses the ``System`` element up to it exactly; a record in any other shape is parsed.

Why the raw JSON suffices (for a *plain* keyword: ASCII, no quote, backslash, bracket, brace, colon, comma or
space, not only float characters, not part of the parser's own field names): every occurrence of such a keyword
in the flattened text lies inside one JSON string, key or number of the record, unchanged, except in two cases,
each of which makes the record a candidate:

* list values are joined with newlines, and the compact rendering (``Record.raw``) writes them as ``\\n``: a
  keyword starting with ``n`` could begin at that escape, so a record holding a list (``:[``) and the rest of
  such a keyword is a candidate (control characters are escaped alike by serde_json and Python's ``json``;
  objects without text are rendered with ``ensure_ascii=False``, so they add no other escape);
* a few non-ASCII letters lower-case to ASCII (the Kelvin sign to ``k``, ``İ`` to ``i`` + a dot): records
  holding one are candidates.

Everything else (layout checks, damaged files parsed in a child process, warnings, errors, record numbers,
the empty-file error) is the parser's own code (``parsers.evtx``), and the file's SHA-256 is taken during the
layout check (one read). ``tests/perf/test_evtx_fast.py`` checks that ``hunt`` gives the same document as the
full parse (``reference=True``) on every EVTX file of the shared corpus, damaged ones included.

Measured (``bench/bench_evtx.py``, one process, same run): 91,500 records/s on the corpus files (the full parse
26,700; ``evtx`` + ``json.loads`` alone 95,000), 151,000 records/s on its files of 100 records or more.

References: ARCHITECTURE.md ("Bytes first, parse late"); docs/performance.md; parsers/evtx.py (the flattening
reproduced in this reasoning); detect/engine.py (``RuleSet.candidates``, the keyword gate).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, BinaryIO

from exaudit.detect.engine import RuleSet
from exaudit.evidence.base import EvidenceFile
from exaudit.hunt_fast import FileScan, FileTask, Keep, reference_scan
from exaudit.hunt_fast import hunt_file as hunt_fast_file
from exaudit.parsers import evtx
from exaudit.parsers.text import READ_ERRORS, parse_iso_utc

EVTX_ARTIFACTS = frozenset({"evtx"})
_UNSAFE = set('"\\[]{}:, ') | {chr(c) for c in range(32)}
_FLOAT_CHARS = set("0123456789.e+-")
_PARSER_NAMES = ("eventid", "channel", "computer", "eventrecordid", "level", "task", "keywords", "opcode", "version")
_PARSER_NAMES_MORE = ("provider", "timecreated", "userid", "data")  # fields the parser names itself

# The Event up to System/TimeCreated: keys with flat values or attribute objects, strings without escapes.
_VALUE = r'(?:"[^"\\]*"|-?[0-9]+|null|true|false)'
_ATTRS = r'\{"#attributes":\{(?:"[^"\\]*":' + _VALUE + r',?)*\}(?:,"#text":' + _VALUE + r")?\}"
_SYSTEM_HEAD = re.compile(
    r'\{"Event":\{(?:"#attributes":\{(?:"[^"\\]*":' + _VALUE + r',?)*\},)?"System":\{'
    r'(?:"[^"\\]*":(?:' + _VALUE + "|" + _ATTRS + r"),)*"
)
_TIME_KEY = '"TimeCreated":{"#attributes":{"SystemTime":"'
_HEADS_KEPT = 4096  # distinct System heads remembered as checked (providers x event IDs)


# Non-ASCII characters whose lower case holds an ASCII letter (İ, the Kelvin sign); the tests recompute it.
LOWERS_TO_ASCII = "\u0130\u212a"


def _special_letter(text: str) -> bool:
    return any(letter in text for letter in LOWERS_TO_ASCII)  # str.find: far faster than a regex class


def plain_keyword(keyword: str) -> bool:
    """True when the keyword can only occur in the flattened text where it occurs in the raw JSON (see above)."""
    return (
        bool(keyword)
        and keyword.isascii()
        and not _UNSAFE & set(keyword)
        and not set(keyword) <= _FLOAT_CHARS
        and not any(keyword in name for name in _PARSER_NAMES + _PARSER_NAMES_MORE)
    )


class KeywordGate:
    """Which records of a batch may match a rule: a keyword in their lower-cased raw JSON, or an odd shape."""

    def __init__(self, keywords: tuple[str, ...]) -> None:
        self.keywords = keywords
        # After a list join's "\n" escape only the rest of an n-keyword is record text (see the module doc).
        self.after_join = tuple(k[1:] for k in keywords if k.startswith("n"))
        self.lists_always = any(not tail or set(tail) <= _FLOAT_CHARS for tail in self.after_join)

    def candidates(self, texts: list[str]) -> set[int]:
        joined = "\n".join(texts)  # serde's compact JSON holds no newline: records stay apart
        ascii_only = joined.isascii()
        if not ascii_only and _special_letter(joined):
            return {i for i, text in enumerate(texts) if _special_letter(text) or self.candidates([text])}
        found, tails = self._search(joined, texts, ascii_only)
        found.update(i for i in tails if ":[" in texts[i])
        if self.lists_always:
            found.update(i for i, text in enumerate(texts) if ":[" in text)
        return found

    def _search(self, joined: str, texts: list[str], ascii_only: bool) -> tuple[set[int], set[int]]:
        """Records holding a keyword, and records holding the tail of an n-keyword (either case)."""
        scanner = _hyperscan(self.keywords, self.after_join)
        if scanner is None:
            low = joined.lower()  # no İ here: one character for one, offsets stay
            starts = list(itertools.accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
            return _hits(low, starts, self.keywords), _hits(low, starts, self.after_join)
        if ascii_only:
            data = joined.encode("ascii")
            starts = list(itertools.accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
        else:  # UTF-8: a multi-byte character holds no ASCII byte, so ASCII keywords match as in the text
            encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
            data = b"\n".join(encoded)
            starts = list(itertools.accumulate((len(t) + 1 for t in encoded[:-1]), initial=0))
        return scanner(data, starts)


def _hits(low: str, starts: list[int], keywords: tuple[str, ...]) -> set[int]:
    """Indexes of the records (starting at ``starts`` in ``low``) that hold one of the keywords."""
    found: set[int] = set()
    for keyword in keywords:
        at = low.find(keyword)
        while at >= 0:
            index = bisect.bisect_right(starts, at) - 1
            found.add(index)
            at = low.find(keyword, starts[index + 1]) if index + 1 < len(starts) else -1
    return found


Search = Callable[[bytes, list[int]], tuple[set[int], set[int]]]


@functools.cache
def _hyperscan(keywords: tuple[str, ...], tails: tuple[str, ...]) -> Search | None:
    """One Hyperscan pass (ASCII case-insensitive literals) for keywords and tails; None without Hyperscan."""
    try:
        import hyperscan
    except ImportError:
        return None
    literals = [*keywords, *tails]
    if not literals:
        return lambda data, starts: (set(), set())
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[re.escape(k).encode("ascii") for k in literals],
        ids=list(range(len(literals))),
        elements=len(literals),
        flags=[hyperscan.HS_FLAG_CASELESS] * len(literals),
    )
    split = len(keywords)

    def search(data: bytes, starts: list[int]) -> tuple[set[int], set[int]]:
        found: tuple[set[int], set[int]] = (set(), set())

        def on_match(pattern: int, start: int, end: int, flags: int, context: Any) -> None:
            found[pattern >= split].add(bisect.bisect_right(starts, end - 1) - 1)

        database.scan(data, match_event_handler=on_match)
        return found

    return search


def gate_for(rules: RuleSet, artifact: str) -> KeywordGate | None:
    """The gate for the rules of an artifact, or None when some rule needs every record (no plain keyword)."""
    index = rules.by_artifact.get(artifact)
    if index is None:
        return KeywordGate(())
    keywords = tuple(index.by_keyword)
    if index.always or not all(plain_keyword(k) for k in keywords):
        return None
    return KeywordGate(keywords)


class Fallback(Exception):
    """This file needs the full parse (a read error during the layout check, say)."""


def scan_evtx(file: EvidenceFile, artifact: str, keep: Keep, gate: KeywordGate, hash_file: bool = True) -> FileScan:
    """The fast path, or the full parse when something is unusual (same result either way)."""
    try:
        return _scan(file, artifact, keep, gate, hash_file)
    except Exception as exc:
        scan = reference_scan(file, artifact, keep, hash_file=hash_file)
        scan.fallback = str(exc)[:200] or type(exc).__name__
        return scan


def _scan(file: EvidenceFile, artifact: str, keep: Keep, gate: KeywordGate, hash_file: bool) -> FileScan:
    scan = FileScan()
    digest = hashlib.sha256() if hash_file else None
    with file.open() as opened:
        stream, spooled = _seekable(opened)
        try:
            layout = evtx.inspect_layout(stream, file.path, scan.stats, digest)
            if not layout.complete:
                raise Fallback("layout not readable")
            for batch in evtx.record_batches(stream, file.path, scan.stats, layout):
                texts = [item["data"] if isinstance(item.get("data"), str) else "" for item in batch]
                candidates = gate.candidates(texts)
                _take(batch, system_times(texts, candidates), file.path, artifact, keep, scan)
        finally:
            if spooled:
                stream.close()
    evtx.note_if_empty(file.path, scan.stats)
    scan.yielded = scan.stats.records
    scan.sha256 = digest.hexdigest() if digest is not None else None
    return scan


def _seekable(stream: BinaryIO) -> tuple[BinaryIO, bool]:
    if evtx._seekable(stream):
        return stream, False
    try:
        return evtx._spool(stream), True
    except READ_ERRORS as exc:
        raise Fallback(f"not spooled: {exc}") from exc


def _take(batch: list[dict[str, Any]], times: list[str | None], path: str, artifact: str, keep: Keep, scan: FileScan) -> None:
    """Count the batch as the parser would; parse the candidates and the records of an unusual shape."""
    stats = scan.stats
    seen = []
    for item, time in zip(batch, times, strict=True):
        if time is not None:
            seen.append(_utc(time) or parse_iso_utc(str(item.get("timestamp", ""))))
            continue
        scan.parsed_lines += 1
        record = evtx.record_from_item(item, path, artifact, stats)
        if record is None:
            stats.bad_lines += 1
            continue
        seen.append(record.time)
        if keep(record):
            scan.kept.append(record)
    stats.records += len(seen)
    known = [ts for ts in seen if ts is not None]
    if known:  # only the first and last times matter for coverage
        stats.saw(min(known))
        stats.saw(max(known))


def _utc(text: str) -> datetime | None:
    """``parse_iso_utc`` with its common case first: ``…Z`` read by ``fromisoformat`` (UTC already)."""
    try:
        return datetime.fromisoformat(text) if text.endswith("Z") and text[:1].isdigit() else parse_iso_utc(text)
    except ValueError:
        return parse_iso_utc(text)


def system_times(texts: list[str], candidates: set[int]) -> list[str | None]:
    """``System/TimeCreated/@SystemTime`` of each record read from its raw JSON; None for the candidates and
    for records of an unusual shape (they are parsed).

    The text before the time (the same for every record of one provider and event ID) must parse as the start
    of ``System``: heads already checked are remembered, so most records cost a few ``str.find``. ``json.loads``
    keeps the last of duplicate keys, so ``TimeCreated`` and ``System`` must occur once.
    """
    times: list[str | None] = []
    for index, data in enumerate(texts):
        at = -1 if index in candidates else data.find(_TIME_KEY)
        if at < 0 or not _checked_head(data[:at]):
            times.append(None)
            continue
        start = at + len(_TIME_KEY)
        end = data.find('"', start)
        value = data[start:end]
        times.append(value if end >= 0 and data.startswith('"}}', end) and "\\" not in value else None)
    read = [text for text, time in zip(texts, times, strict=True) if time is not None]
    joined = "\n".join(read)  # each holds both keys at least once: equal totals mean once each
    if not joined.count('"TimeCreated"') == joined.count('"System":') == len(read):
        times = [time if time is None or _keys_once(text) else None for text, time in zip(texts, times, strict=True)]
    return times


def _keys_once(text: str) -> bool:
    return text.count('"TimeCreated"') == 1 and text.count('"System":') == 1


_HEADS: set[str] = set()


def _checked_head(head: str) -> bool:
    if head in _HEADS:
        return True
    if not _SYSTEM_HEAD.fullmatch(head):
        return False
    if len(_HEADS) >= _HEADS_KEPT:
        _HEADS.clear()
    _HEADS.add(head)
    return True


# --------------------------------------------------------------------------- hook for hunt.py


@functools.cache
def _packaged_gate(artifact: str) -> KeywordGate | None:
    return gate_for(_packaged_rules(), artifact)


@functools.cache
def _packaged_rules() -> RuleSet:
    return RuleSet()


def hunt_file(task: FileTask, rules: Any = None, scanner: Any = None) -> FileScan:
    """``hunt_fast.hunt_file`` with EVTX files hunted bytes first (same signature, same result)."""
    if task.reference or task.artifact not in EVTX_ARTIFACTS:
        return hunt_fast_file(task, rules=rules, scanner=scanner)
    rules = rules or _packaged_rules()
    gate = _packaged_gate(task.artifact) if rules is _packaged_rules() else gate_for(rules, task.artifact)

    def keep(record: Any) -> bool:
        return bool(rules.match(record))

    if gate is None:
        return reference_scan(task.file, task.artifact, keep)
    return scan_evtx(task.file, task.artifact, keep, gate)
