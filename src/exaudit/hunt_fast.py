"""One log file at the speed of the disk: raw blocks, one multi-pattern scan, parse only the lines that matter.

A file is read once in 8 MiB blocks cut at line ends (memory stays flat whatever its size); each block
updates the SHA-256, is searched for the rule tokens (``detect.prefilter``) and split into lines. The file's
own parser (``exaudit.parsers``, unchanged) then reads a *feed*: the directives, the candidate lines and
every line that is not a plain record, through a small stream object, so fields, build, protocol, bad lines
and records are decided by the same code as in the full parse. A plain line (starts with a digit, the
field count of the current ``#Fields`` header, no quote, ASCII, no NUL) is a record by construction: it is
counted, not parsed. Coverage stays exact: the first and last timestamps of a file are the smallest and
largest plain lines of each block in byte order (IIS ``date time`` and HttpProxy ``DateTime`` are the
first columns, fixed-width ISO 8601, so byte order is time order), checked for that shape and read;
records parsed from the feed report their own. A plain candidate line gets a second, exact look first
(``detect.prefilter.LineVeto``): when the engine's own necessary tests rule out every rule, it is only counted.

Anything unusual makes the file fall back to the full parse (``Fallback``): UTF-16, NUL bytes (crashed
IIS files), lone carriage returns, over-long lines, a quoted CSV value spanning lines, an Import-Csv style
header, timestamps not at the start of the line or not in the fixed shape. The result is identical either
way; ``tests/perf`` checks it against the full parse (``hunt(..., reference=True)``).

References: ARCHITECTURE.md ("Bytes first, parse late", "streams that never load a whole log");
docs/performance.md (measurements); parsers/text.py (line semantics reproduced here).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import operator
import re
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

from exaudit.detect.prefilter import LineScanner, LineVeto
from exaudit.evidence.base import EvidenceFile
from exaudit.model import ErrorEntry
from exaudit.parsers import ParseStats, parser_for
from exaudit.parsers.base import Record
from exaudit.parsers.exchange_csv import HTTPPROXY_FIELDS, canonical, time_field_of
from exaudit.parsers.text import MAX_LINE, parse_iso_utc

BLOCK = 8 << 20
FAST_ARTIFACTS = frozenset({"iis", "httpproxy"})
CSV_ARTIFACTS = frozenset({"httpproxy"})
PYTHON_SCANNER = False  # use the pure-Python scanner when Hyperscan is missing (tests; ~5 MB/s, slower than parsing)
_DIGITS = b"0123456789"
_IIS_TS = 19  # "2021-03-02 10:11:12"
_CSV_TS = 24  # "2021-03-02T10:11:12.123Z"

Keep = Callable[[Record], bool]


class Fallback(Exception):
    """This file needs the full parse; the message says why (for the benchmark's statistics)."""


@dataclass
class FileScan:
    """What hunting one file gives: the records kept, its statistics, hash, and how it was read."""

    kept: list[Record] = field(default_factory=list)
    yielded: int = 0  # records the parser yielded (full parse) or records in total (fast path)
    stats: ParseStats = field(default_factory=ParseStats)
    sha256: str | None = None
    failure: ErrorEntry | None = None  # the parser raised (a bug): reported as in the full parse
    parsed_lines: int = 0  # lines that went through the parser (the rest were only counted)
    fallback: str = ""  # why the fast path was not used


# --------------------------------------------------------------------------- the full parse (reference)


def reference_scan(file: EvidenceFile, artifact: str, keep: Keep, hash_file: bool = True) -> FileScan:
    """Parse every record, keep those ``keep`` accepts, hash in a second pass: the straightforward path."""
    scan = FileScan()
    try:
        with file.open() as stream:
            for record in parser_for(artifact)(stream, file.path, scan.stats):
                scan.yielded += 1
                if keep(record):
                    scan.kept.append(record)
        if hash_file:
            scan.sha256 = sha256_of(file)
    except Exception as exc:  # parsers should not raise; a bug in one must not stop the hunt
        scan.failure = ErrorEntry(file.path, "damaged", f"{artifact} parser stopped: {type(exc).__name__}: {exc}")
        scan.sha256 = None
    scan.parsed_lines = scan.yielded
    return scan


def sha256_of(file: EvidenceFile) -> str:
    digest = hashlib.sha256()
    with file.open() as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- the fast path


class _Feed:
    """The minimal binary stream a parser reads: the fed lines, one after the other."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self._lines = lines
        self._buffer = b""

    def _fill(self) -> bool:
        while not self._buffer:
            line = next(self._lines, None)
            if line is None:
                return False
            self._buffer = line
        return True

    def read(self, size: int = -1) -> bytes:
        if not self._fill():
            return b""
        size = len(self._buffer) if size is None or size < 0 else size
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def readline(self, size: int = -1) -> bytes:
        if not self._fill():
            return b""
        out, self._buffer = self._buffer, b""  # the buffer holds the rest of one line
        return out

    def seekable(self) -> bool:
        return False


@dataclass
class _Layout:
    """The current ``#Fields`` header as far as plain lines need it."""

    fields: int | None  # values per record; None: no header yet (every line goes to the parser)
    timestamp_first: bool  # the timestamp is the first column(s)
    names: tuple[str, ...] = ()  # the field names, as the parser maps them


class FastScan:
    """Hunting one IIS or HttpProxy file over raw blocks (see the module docstring)."""

    def __init__(
        self, file: EvidenceFile, artifact: str, scanner: LineScanner, keep: Keep, count: bool = True, veto: LineVeto | None = None
    ) -> None:
        self.file = file
        self.veto = veto  # drops candidate lines that no rule can match after all (first pass only)
        self.artifact = artifact
        self.scanner = scanner
        self.keep = keep
        self.count = count  # False for the correlation pass: no hash, no statistics
        self.csv = artifact in CSV_ARTIFACTS
        self.sep = b"," if self.csv else b" "
        self.scan = FileScan()
        self.stats = self.scan.stats
        self.numbers: deque[tuple[int, int]] = deque()  # (line number in the feed, line number in the file)
        self.fed = 0
        self.digest = hashlib.sha256()
        self.layout = _Layout(len(HTTPPROXY_FIELDS), True, tuple(HTTPPROXY_FIELDS)) if self.csv else _Layout(None, False)
        self.quotes = False  # the current block holds a double quote

    def run(self) -> FileScan:
        parser = parser_for(self.artifact)
        for record in parser(_Feed(self._fed_lines()), self.file.path, self.stats):  # type: ignore[arg-type]
            while self.numbers and self.numbers[0][0] < record.line:
                self.numbers.popleft()
            record.line = self.numbers[0][1]
            if self.keep(record):
                self.scan.kept.append(record)
        self.scan.yielded = self.stats.records
        self.scan.parsed_lines = self.fed
        self.scan.sha256 = self.digest.hexdigest() if self.count else None
        return self.scan

    # ------------------------------------------------------------------ blocks

    def _fed_lines(self) -> Iterator[bytes]:
        base = 0
        carry = b""
        first = True
        with self._opened() as stream:
            while True:
                chunk = self._read(stream)
                if self.count and chunk:
                    self.digest.update(chunk)
                data = carry + chunk if carry else chunk
                if chunk:
                    cut = data.rfind(b"\n") + 1
                    if cut == 0:
                        if len(data) >= MAX_LINE:
                            raise Fallback("over-long line")
                        carry = data
                        continue
                    block, carry = data[:cut], data[cut:]
                else:
                    block, carry = data, b""
                if first:
                    block = self._check_start(block)
                    first = False
                if block:
                    base = yield from self._block(block, base)
                if not chunk:
                    return

    def _opened(self) -> Any:
        try:
            return self.file.open()
        except Exception as exc:  # the full parse reports it in its own words
            raise Fallback(f"cannot open: {exc}") from exc

    @staticmethod
    def _read(stream: Any) -> bytes:
        """A block; a read error becomes a Fallback (the parser would take it for the end of the file)."""
        try:
            return bytes(stream.read(BLOCK))
        except Exception as exc:
            raise Fallback(f"read error: {type(exc).__name__}: {exc}") from exc

    def _check_start(self, block: bytes) -> bytes:
        if block.startswith(b"\xef\xbb\xbf"):
            return block[3:]  # the parser skips a UTF-8 BOM too
        if block[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(block) >= 8 and block[:512].count(0) > len(block[:512]) // 8):
            raise Fallback("UTF-16")
        return block

    def _block(self, block: bytes, base: int) -> Generator[bytes, None, int]:
        """Feed a block's lines that need the parser; count the others. Returns the line count after it."""
        if b"\x00" in block:
            raise Fallback("NUL bytes")
        self.quotes = b'"' in block
        if not self.count and not (self.csv and self.quotes):
            return (yield from self._selected_lines(block, base))
        crs = block.count(b"\r")
        lines = block.split(b"\r\n") if crs else block.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        if crs and (len(lines) - (not block.endswith(b"\r\n")) != crs or crs != block.count(b"\n")):
            raise Fallback("lone carriage return or mixed line ends")
        if _may_hold_long_line(block) and max(map(len, lines), default=0) + 1 >= MAX_LINE:
            raise Fallback("over-long line")
        wanted, special = self._classified(block, lines, 2 if crs else 1)
        start = 0
        for stop in [*special, len(lines)]:
            while start < stop and self._needs_meta():  # the first records carry the build and protocol
                yield self._fed(lines[start], base + start + 1)
                start += 1
            if start < stop:
                yield from self._run(lines, start, stop, wanted, base)
            if stop < len(lines):
                yield from self._special(lines[stop], base + stop + 1)
            start = stop + 1
        return base + len(lines)

    def _selected_lines(self, block: bytes, base: int) -> Generator[bytes, None, int]:
        """Correlation pass: only candidates and directives matter, so the block is never split into lines."""
        if not self.scanner.special_lines and block.count(b"\r") != block.count(b"\r\n"):
            raise Fallback("lone carriage return")
        if block.endswith(b"\r"):
            raise Fallback("lone carriage return")
        starts = self._line_starts(block)
        indexes = self._indexes(block, starts)
        for start, index in zip(starts, indexes, strict=True):
            end = block.find(b"\n", start)
            line = block[start : len(block) if end < 0 else end].removesuffix(b"\r")
            if len(line) + 1 >= MAX_LINE:
                raise Fallback("over-long line")
            if b"\r" in line:  # the scanner reports every line with a lone CR
                raise Fallback("lone carriage return")
            if line[:1] in _DIGIT_SET:
                yield self._fed(line, base + index + 1)
            else:
                yield from self._special(line, base + index + 1)
        tail = block.count(b"\n", starts[-1]) + indexes[-1] if starts else block.count(b"\n")
        return base + tail + (0 if block.endswith(b"\n") else 1)

    def _line_starts(self, block: bytes) -> list[int]:
        """Offsets of candidate and special lines, ascending (the scanner reports both)."""
        starts = self.scanner.line_starts(block)
        if not self.scanner.special_lines:
            starts = sorted(set(starts) | {m.start() + 1 for m in _NOT_DIGIT_START.finditer(block)})
        if block[:1] not in _DIGIT_SET and (not starts or starts[0] != 0):
            starts.insert(0, 0)
        return starts

    def _classified(self, block: bytes, lines: list[bytes], eol: int) -> tuple[list[int], list[int]]:
        """Indexes of candidate lines (start with a digit) and special lines (do not), ascending."""
        # line i starts at line_starts[i]; map/accumulate keep the 4 million additions of 1 GB in C
        line_starts = [0, *itertools.accumulate(map(operator.add, map(len, lines), repeat(eol)))]
        wanted: list[int] = []
        special: list[int] = []
        for start in self._line_starts(block):
            index = bisect.bisect_right(line_starts, start) - 1
            (wanted if lines[index][:1] in _DIGIT_SET else special).append(index)
        return wanted, special

    @staticmethod
    def _indexes(block: bytes, starts: Iterable[int]) -> list[int]:
        indexes: list[int] = []
        last_offset, last_index = 0, 0
        for start in starts:
            last_index += block.count(b"\n", last_offset, start)
            last_offset = start
            indexes.append(last_index)
        return indexes

    def _run(self, lines: list[bytes], start: int, stop: int, wanted: list[int], base: int) -> Iterator[bytes]:
        """Lines ``start:stop`` all start with a digit: plain records unless their separators or quotes say otherwise."""
        run = lines[start:stop]
        odd = self._irregular(run)
        chosen = {i for i in wanted if start <= i < stop and (i - start in odd or not self._dropped(lines[i]))}
        fed = sorted(chosen | {start + k for k in odd})
        for index in fed:
            yield self._fed(lines[index], base + index + 1)
        if not self.count or len(fed) == len(run):
            return
        self.stats.records += len(run) - len(fed)
        plain = [line for k, line in enumerate(run) if k not in odd] if odd else run
        self._saw(min(plain), max(plain))

    def _dropped(self, line: bytes) -> bool:
        """A plain candidate line that no rule can match (``LineVeto``): counted like the other plain lines."""
        names = self.layout.names
        if self.veto is None or not self.count or not line.isascii() or line.count(self.sep) != len(names) - 1:
            return False
        return self.veto.drops(dict(zip(names, line.decode("ascii").split(self.sep.decode()), strict=True)), line)

    def _irregular(self, run: list[bytes]) -> set[int]:
        """Positions in ``run`` the parser must see: wrong separator count, quotes, no layout yet."""
        n = self.layout.fields
        if n is None or not self.layout.timestamp_first:
            return set(range(len(run)))
        counts = list(map(bytes.count, run, repeat(self.sep)))
        if self.csv:
            odd = {k for k, c in enumerate(counts) if not 1 <= c <= n - 1} if min(counts) < 1 or max(counts) > n - 1 else set()
            quoted = [k for k, line in enumerate(run) if b'"' in line] if self.quotes else []
            for k in quoted:
                if run[k].count(b'"') % 2:
                    raise Fallback("quoted value spanning lines")
            return odd | set(quoted)
        if min(counts) == max(counts) == n - 1:
            return set()
        return {k for k, c in enumerate(counts) if c != n - 1}

    def _special(self, line: bytes, number: int) -> Iterator[bytes]:
        if not line:
            return  # the parsers skip empty lines; the number is consumed
        if line[:1] == b"#":
            self._directive(line)
        elif self.csv:
            raise Fallback("CSV line that is neither a record nor a directive")  # Import-Csv header rules
        yield self._fed(line, number)

    def _fed(self, line: bytes, number: int) -> bytes:
        self.fed += 1
        self.numbers.append((self.fed, number))
        return line + b"\n"

    def _directive(self, line: bytes) -> None:
        if not line.isascii():
            raise Fallback("non-ASCII directive")
        text = line.decode("ascii")
        if self.csv:
            name, _, value = text[1:].partition(":")
            if name.strip().lower() == "fields":
                names = canonical(value.strip().split(","))
                self.layout = _Layout(len(names), time_field_of(names) == names[0], tuple(names))
        elif text.startswith("#Fields:"):
            names = text[8:].split()
            self.layout = _Layout(len(names), names[:2] == ["date", "time"], tuple(names))

    def _needs_meta(self) -> bool:
        """The CSV parser reads the build (and HttpProxy the protocol) from the first records: feed them."""
        if not self.csv or not self.count:
            return False
        return "exchange_build" not in self.stats.meta or "protocol" not in self.stats.meta

    # ------------------------------------------------------------------ coverage

    def _saw(self, low: bytes, high: bytes) -> None:
        for line in (low, high):
            self.stats.saw(self._timestamp(line))

    def _timestamp(self, line: bytes) -> datetime:
        """The time of a plain line, read as its parser reads it; the fixed shape is required."""
        if self.csv:
            text = line.split(b",", 1)[0].decode("ascii")
            if len(text) != _CSV_TS or not _shaped(text, "dddd-dd-ddTdd:dd:dd.dddZ"):
                raise Fallback(f"timestamp not in the fixed shape: {text[:40]!r}")
            ts = parse_iso_utc(text)
        else:
            text = line[:_IIS_TS].decode("ascii")
            if not _shaped(text, "dddd-dd-dd dd:dd:dd") or line[_IIS_TS : _IIS_TS + 1] not in (b" ", b""):
                raise Fallback(f"timestamp not in the fixed shape: {text!r}")
            try:
                ts = datetime.fromisoformat(f"{text[:10]}T{text[11:]}").replace(tzinfo=UTC)
            except ValueError:
                ts = None
        if ts is None:
            raise Fallback(f"timestamp not readable: {text!r}")
        return ts


_DIGIT_SET = frozenset(bytes([d]) for d in _DIGITS)
_NOT_DIGIT_START = re.compile(rb"\n[^0-9]")


def _may_hold_long_line(block: bytes) -> bool:
    """A line of MAX_LINE bytes covers a whole aligned window of half that size: windows with a line break
    rule it out without looking at every line."""
    window = MAX_LINE // 2
    return any(block.find(b"\n", start, start + window) < 0 for start in range(0, len(block), window))


def _shaped(text: str, shape: str) -> bool:
    if len(text) != len(shape):
        return False
    return all(c.isdigit() and c.isascii() if s == "d" else c == s for c, s in zip(text, shape, strict=True))


def fast_scan(
    file: EvidenceFile, artifact: str, scanner: LineScanner, keep: Keep, count: bool = True, veto: LineVeto | None = None
) -> FileScan:
    """The fast path, or the full parse when the file needs it (same result)."""
    try:
        return FastScan(file, artifact, scanner, keep, count, veto).run()
    except Exception as exc:  # Fallback, a read error, anything unusual: the reference decides
        scan = reference_scan(file, artifact, keep, hash_file=count)
        scan.fallback = str(exc)[:200] or type(exc).__name__
        return scan


# --------------------------------------------------------------------------- tasks for worker processes


@dataclass(frozen=True)
class FileTask:
    """One file to hunt in a worker: picklable (the opener is a partial over plain strings)."""

    file: EvidenceFile
    artifact: str
    reference: bool = False
    correlate: Any = None  # AttackerIndicators for the correlation pass


@functools.cache
def _rules() -> Any:
    from exaudit.detect.engine import RuleSet

    return RuleSet()


@functools.cache
def rule_scanner(artifact: str) -> LineScanner | None:
    """The packaged rules' scanner for an artifact (None: some rule needs every line)."""
    from exaudit.detect.prefilter import tokens_for, without_method_tokens

    conjunctions = tokens_for(_rules(), artifact)
    if conjunctions is None:
        return None
    if rule_veto(artifact) is not None:  # the extra candidate lines are ruled out before parsing
        conjunctions = without_method_tokens(conjunctions)
    return LineScanner(conjunctions, special_lines=True)


@functools.cache
def rule_veto(artifact: str) -> LineVeto | None:
    """The packaged rules' second look at candidate lines (see ``detect.prefilter.LineVeto``)."""
    from exaudit.detect.prefilter import line_veto

    return line_veto(_rules(), artifact)


def hunt_file(task: FileTask, rules: Any = None, scanner: LineScanner | None = None) -> FileScan:
    """First pass over one file: the records some rule matches, the file's statistics and hash."""
    rules = rules or _rules()

    def keep(record: Record) -> bool:
        return bool(rules.match(record))

    if task.reference or task.artifact not in FAST_ARTIFACTS:
        return reference_scan(task.file, task.artifact, keep)
    veto = rule_veto(task.artifact) if scanner is None and rules is _rules() else None  # packaged rules only
    scanner = scanner or rule_scanner(task.artifact)
    if scanner is None or (scanner.backend != "hyperscan" and not PYTHON_SCANNER):
        return reference_scan(task.file, task.artifact, keep)  # the pure-Python scanner is slower than parsing
    return fast_scan(task.file, task.artifact, scanner, keep, veto=veto)


def correlate_file(task: FileTask) -> FileScan:
    """Correlation pass over one web log: the records an attacker indicator relates (see ``detect.correlate``)."""
    from exaudit.detect.correlate import related_records_scanner, relates

    indicators = task.correlate

    def keep(record: Record) -> bool:
        return relates(record, indicators)

    if task.artifact not in FAST_ARTIFACTS or task.reference:
        return reference_scan(task.file, task.artifact, keep, hash_file=False)
    return fast_scan(task.file, task.artifact, related_records_scanner(indicators), keep, count=False)
