"""Streaming text lines for every log parser: bounded memory, any encoding, never a traceback.

Logs are gigabytes and partly attacker-written, so a line is read with a length cap (a 30 MB
line is skipped in bounded chunks and counted as bad), decoded with replacement, and stripped of
NUL bytes (IIS pre-allocates files with zeros after a crash). UTF-8 (with or without BOM) and
UTF-16 (with BOM, or recognised by its zero bytes) are handled; CRLF, LF and lone CR all end a line.
A stream that fails mid-way (truncated zip member, I/O error) ends the file with one ``damaged``
error; what was read before is kept.
"""

from __future__ import annotations

import codecs
import re
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from exaudit.model import ErrorEntry
from exaudit.parsers.base import ParseStats

MAX_LINE = 1 << 20  # bytes; longer lines are counted as bad and skipped in chunks
MAX_RAW = 2000  # characters of a line kept in Record.raw for evidence excerpts
_FRACTION = re.compile(r"\.(\d+)")
_EOL = re.compile(r"\r\n|\r|\n")
READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, zipfile.BadZipFile, RuntimeError)


def excerpt(line: str) -> str:
    return line if len(line) <= MAX_RAW else line[:MAX_RAW] + "…"


def sniff_encoding(head: bytes) -> tuple[str, int]:
    """(codec, BOM length) from the first bytes of a file."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    sample = head[:512]
    if len(sample) >= 8:
        # ASCII text in UTF-16 without BOM: every other byte is zero.
        if sample[1::2].count(0) > len(sample) // 3 and sample[0::2].count(0) < len(sample) // 8:
            return "utf-16-le", 0
        if sample[0::2].count(0) > len(sample) // 3 and sample[1::2].count(0) < len(sample) // 8:
            return "utf-16-be", 0
    return "utf-8", 0


def decode_head(head: bytes) -> str:
    """The first bytes of a file as text (for recognition), whatever the encoding."""
    codec, bom = sniff_encoding(head)
    data = head[bom:]
    if codec.startswith("utf-16") and len(data) % 2:
        data = data[:-1]
    return data.decode(codec, "replace").replace("\x00", "")


def damaged(stats: ParseStats, path: str, exc: BaseException) -> None:
    stats.errors.append(ErrorEntry(where=path, kind="damaged", message=f"read stopped: {type(exc).__name__}: {exc}"[:300]))


def iter_lines(stream: BinaryIO, path: str, stats: ParseStats, max_line: int = MAX_LINE) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` for every physical line, end-of-line removed.

    Over-long lines are counted in ``stats.bad_lines`` and not yielded; their number is consumed.
    """
    try:
        head, pending = _sniff(stream)
        codec, bom = sniff_encoding(head)
        if bom:
            pending = pending[bom:] if pending else _consume(stream, bom)
    except READ_ERRORS as exc:
        damaged(stats, path, exc)
        return
    if codec.startswith("utf-16"):
        yield from _iter_utf16(stream, pending, codec, path, stats, max_line)
    else:
        yield from _iter_utf8(stream, pending, path, stats, max_line)


def _sniff(stream: BinaryIO) -> tuple[bytes, bytes]:
    """The first bytes without consuming them when the stream allows; else (head, consumed bytes)."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        head = bytes(peek(512))[:512]
        if len(head) >= 4:
            return head, b""
    seekable = getattr(stream, "seekable", None)
    if seekable is not None and seekable():
        position = stream.tell()
        head = stream.read(512)
        stream.seek(position)
        return head, b""
    head = stream.read(4)
    return head, head


def _consume(stream: BinaryIO, count: int) -> bytes:
    stream.read(count)
    return b""


def _iter_utf8(stream: BinaryIO, pending: bytes, path: str, stats: ParseStats, max_line: int) -> Iterator[tuple[int, str]]:
    number = 0
    readline = stream.readline
    while True:
        try:
            chunk = readline(max_line)
            if pending:  # bytes consumed while sniffing: finish their line
                chunk, pending = pending + chunk, b""
                if chunk and not chunk.endswith(b"\n") and len(chunk) < max_line:
                    chunk += readline(max_line)
        except READ_ERRORS as exc:
            damaged(stats, path, exc)
            return
        if not chunk:
            return
        if chunk[-1:] != b"\n" and len(chunk) >= max_line:
            number += 1
            stats.bad_lines += 1
            if not _skip_rest(stream, path, stats, max_line):
                return
            continue
        text = chunk.decode("utf-8", "replace")
        if "\r" in text[:-2] or "\x00" in text or "\n" in text[:-1]:
            for part in split_lines(text):
                number += 1
                yield number, part
        else:
            number += 1
            yield number, text.rstrip("\r\n")


def _skip_rest(stream: BinaryIO, path: str, stats: ParseStats, max_line: int) -> bool:
    """Discard the remainder of an over-long line in bounded chunks; False at end of stream."""
    while True:
        try:
            chunk = stream.readline(max_line)
        except READ_ERRORS as exc:
            damaged(stats, path, exc)
            return False
        if not chunk:
            return False
        if chunk.endswith(b"\n"):
            return True


def _iter_utf16(stream: BinaryIO, first: bytes, codec: str, path: str, stats: ParseStats, max_line: int) -> Iterator[tuple[int, str]]:
    decoder = codecs.getincrementaldecoder(codec)("replace")
    pending = decoder.decode(first)
    number = 0
    skipping = False  # inside an over-long line, already counted
    while True:
        try:
            block = stream.read(1 << 16)
        except READ_ERRORS as exc:
            damaged(stats, path, exc)
            return
        lines = (pending + decoder.decode(block, final=not block)).split("\n")
        pending = lines.pop() if block else ""
        if not block and lines and not lines[-1]:
            lines.pop()  # the file ended with a line break
        for line in lines:
            if skipping:
                skipping = False
                continue
            if len(line) > max_line:
                number += 1
                stats.bad_lines += 1
                continue
            for part in split_lines(line):
                number += 1
                yield number, part
        if len(pending) > max_line:
            if not skipping:
                number += 1
                stats.bad_lines += 1
            skipping, pending = True, ""
        if not block:
            return


def split_lines(text: str) -> list[str]:
    """CRLF, LF and lone CR all end a line; NUL bytes are dropped."""
    text = text.rstrip("\r\n").replace("\x00", "")
    if "\r" in text or "\n" in text:
        return _EOL.split(text)
    return [text]


def parse_iso_utc(text: str) -> datetime | None:
    """``2021-03-03T02:14:07.123Z`` (or with an offset, or naive = UTC) to an aware UTC datetime."""
    if not text:
        return None
    try:
        ts = datetime.fromisoformat(text.strip())
    except ValueError:
        return _parse_loose(text)
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def _parse_loose(text: str) -> datetime | None:
    """Timestamps with 7 fractional digits (EVTX, .NET) or a trailing ``UTC`` word."""
    text = text.strip().removesuffix(" UTC").removesuffix("Z")
    match = _FRACTION.search(text)
    if match:  # Python reads at most 6 fractional digits
        text = text[: match.start()] + "." + match.group(1)[:6] + text[match.end() :]
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
