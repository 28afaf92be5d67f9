"""Windows event logs (``C:\\Windows\\System32\\winevt\\Logs\\*.evtx``) through the ``evtx`` package.

``PyEvtxParser(...).records_json()`` gives one JSON document per record; ``flatten_event`` turns
it into flat fields: ``EventID``, ``Channel``, ``Provider``, ``Computer``, ``TimeCreated``,
``EventRecordID``, ``Level``, ``Task``, ``UserID`` from System, then every named
``EventData``/``UserData`` value under its own name. Unnamed ``<Data>`` values (classic providers
such as ``MSExchange CmdletLogs``) become ``Data[0]``, ``Data[1]`` … and ``Data`` (all joined by
newlines, so a rule can match anywhere in them). Damaged chunks are skipped by the parser
(``skip_errors``); each skip becomes one ``damaged`` error and the readable records are kept.

Before parsing, the file header and every chunk's CRC32s are checked and the size is compared with
the declared chunk count (a cut file gets a ``truncated`` error). An intact file is parsed in this
process; a damaged one in a child process (``evtx_worker``) with an address-space cap, killed when it
makes no progress for ``STALL_SECONDS``: the crate loops forever on some corrupt chunks (one byte in a
chunk's string table is enough; omerbenamram/evtx#263, #288, #290), and a Rust loop holds the GIL.

References:
    reference/style-and-ecosystem.md §7.6 (evtx 0.14 API, JSON shape, timestamp format); libyal libevtx
    "Windows XML Event Log (EVTX) format" (file header, chunk header, CRC32 ranges);
    corpus evtx/ and evtx/corrupt/ (omerbenamram/evtx damaged samples, MSExchange Management WEC).
"""

from __future__ import annotations

import itertools
import json
import os
import select
import struct
import subprocess
import sys
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from exaudit.model import ErrorEntry
from exaudit.parsers.base import ParseStats, Record
from exaudit.parsers.text import MAX_RAW, READ_ERRORS, parse_iso_utc

ARTIFACT = "evtx"
BATCH = 512  # records decoded while warnings are captured, then yielded
MAX_ERRORS = 50  # per file; a badly damaged file could otherwise flood the report
HEADER_BLOCK = 4096
CHUNK_SIZE = 65536
CHUNK_MAGIC = b"ElfChnk\x00"
ISOLATION = os.name == "posix"  # pass_fds and select on pipes; elsewhere damaged files are parsed in-process
WORKER = Path(__file__).with_name("evtx_worker.py")
WORKER_MEMORY = 2 << 30  # address-space cap of the child (bytes)
STALL_SECONDS = 20.0
_SYSTEM_FIELDS = ("EventID", "Channel", "Computer", "EventRecordID", "Level", "Task", "Keywords", "Opcode", "Version")


def text_of(value: Any) -> str:
    """An XML value rendered by evtx: plain, ``{"#text": …}``, a list, or None."""
    if value is None:
        return ""
    if isinstance(value, dict):
        if "#text" in value:
            return text_of(value["#text"])
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list):
        return "\n".join(text_of(v) for v in value)
    return str(value)


def _attr(node: Any, name: str) -> str:
    if isinstance(node, dict):
        attrs = node.get("#attributes")
        if isinstance(attrs, dict) and attrs.get(name) is not None:
            return str(attrs[name])
    return ""


def flatten_event(event: dict[str, Any]) -> dict[str, str]:
    """One rendered ``Event`` (System + EventData/UserData) as flat string fields."""
    system = event.get("System") or {}
    fields: dict[str, str] = {}
    for name in _SYSTEM_FIELDS:
        if name in system:
            fields[name] = text_of(system[name])
    fields["Provider"] = _attr(system.get("Provider"), "Name")
    fields["TimeCreated"] = _attr(system.get("TimeCreated"), "SystemTime")
    user = _attr(system.get("Security"), "UserID")
    if user:
        fields["UserID"] = user
    add_event_data(fields, event.get("EventData"))
    add_user_data(fields, event.get("UserData"))
    return fields


def add_event_data(fields: dict[str, str], data: Any) -> None:
    if not isinstance(data, dict):
        if data:
            fields.setdefault("Data", text_of(data))
        return
    for key, value in data.items():
        if key == "#attributes":
            continue
        if key == "Data":
            add_unnamed(fields, value)
        else:
            fields.setdefault(key, text_of(value))


def add_unnamed(fields: dict[str, str], value: Any) -> None:
    values = value.get("#text") if isinstance(value, dict) else value
    items = values if isinstance(values, list) else [values]
    texts = [text_of(v) for v in items]
    for index, text in enumerate(texts):
        fields.setdefault(f"Data[{index}]", text)
    fields.setdefault("Data", "\n".join(texts))


def add_user_data(fields: dict[str, str], data: Any, depth: int = 0) -> None:
    """UserData is provider-specific XML: keep every leaf under its own name."""
    if not isinstance(data, dict) or depth > 8:
        return
    for key, value in data.items():
        if key == "#attributes":
            continue
        if isinstance(value, dict) and "#text" not in value:
            add_user_data(fields, value, depth + 1)
        else:
            fields.setdefault(key, text_of(value))


def compact(fields: dict[str, str]) -> str:
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= MAX_RAW else text[:MAX_RAW] + "…"


def parse(stream: BinaryIO, path: str, stats: ParseStats, artifact: str = ARTIFACT) -> Iterator[Record]:
    if _seekable(stream):
        yield from _parse_seekable(stream, path, stats, artifact)
        return
    try:  # the checks and the crate read the file twice: a one-way stream is spooled privately first
        spooled = _spool(stream)
    except READ_ERRORS as exc:
        stats.errors.append(ErrorEntry(where=path, kind="damaged", message=f"EVTX not readable: {exc}"[:300]))
        return
    with spooled:
        yield from _parse_seekable(spooled, path, stats, artifact)


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _parse_seekable(stream: BinaryIO, path: str, stats: ParseStats, artifact: str) -> Iterator[Record]:
    layout = inspect_layout(stream, path, stats)
    for item in record_items(stream, path, stats, layout):
        record = record_from_item(item, path, artifact, stats)
        if record is None:
            stats.bad_lines += 1
            continue
        stats.records += 1
        stats.saw(record.time)
        yield record
    note_if_empty(path, stats)


def record_items(stream: BinaryIO, path: str, stats: ParseStats, layout: Layout) -> Iterator[dict[str, Any]]:
    """What ``records_json`` yields for the file: in a child process when the layout shows damage."""
    for batch in record_batches(stream, path, stats, layout):
        yield from batch


def record_batches(stream: BinaryIO, path: str, stats: ParseStats, layout: Layout) -> Iterator[list[dict[str, Any]]]:
    """``record_items`` in lists of up to ``BATCH`` (the bytes-first hunt looks at a batch at once)."""
    if layout.damaged and ISOLATION:
        items = _isolated_items(stream, path, stats)
        return iter(lambda: list(itertools.islice(items, BATCH)), [])
    return _inprocess_batches(stream, path, stats)


def note_if_empty(path: str, stats: ParseStats) -> None:
    if stats.records == 0 and not stats.errors:
        from exaudit.parsers.recognize import empty_error

        stats.errors.append(empty_error(path))


# --------------------------------------------------------------------------- layout and checksums


@dataclass
class Layout:
    size: int = 0
    declared_chunks: int = 0
    damaged: bool = False  # a checksum or magic mismatch: parse in a child process
    complete: bool = False  # every byte was read (the digest, when given, covers the whole file)
    bad_chunks: list[int] = field(default_factory=list)  # chunks whose magic or CRC32 does not match


def inspect_layout(stream: BinaryIO, path: str, stats: ParseStats, digest: Any = None) -> Layout:
    """Check the file header, the chunk count against the size, and every chunk's CRC32s.

    The format (libyal/libevtx documentation): a 4,096-byte file header (chunk count at offset 42,
    CRC32 of its first 120 bytes at 124), then 65,536-byte chunks (``ElfChnk\\0``; header CRC32 over
    bytes 0-120 and 128-512 at 124, records CRC32 over 512..free-space offset at 52). Chunks beyond
    the declared count are pre-allocated slack and only checked when they carry the chunk magic.
    ``digest`` (a hashlib object), when given, is updated with every byte read: the file is read once.
    """
    layout = Layout()
    try:
        start = stream.tell()
        header = stream.read(HEADER_BLOCK)
        _update(digest, header)
        layout.size = len(header)
        layout.declared_chunks = struct.unpack_from("<H", header, 42)[0] if len(header) >= 128 else 0
        layout.damaged = len(header) < 128 or zlib.crc32(header[:120]) != struct.unpack_from("<I", header, 124)[0]
        index = 0
        while chunk := stream.read(CHUNK_SIZE):
            _update(digest, chunk)
            layout.size += len(chunk)
            if not _chunk_ok(chunk, index < layout.declared_chunks):
                layout.damaged = True
                layout.bad_chunks.append(index)
            index += 1
        stream.seek(start)
        layout.complete = True
    except (*READ_ERRORS, AttributeError) as exc:
        stats.errors.append(ErrorEntry(where=path, kind="damaged", message=f"EVTX layout not readable: {exc}"[:300]))
        layout.damaged = True
        return layout
    _report_truncation(layout, path, stats)
    _report_checksums(layout, path, stats)
    return layout


def _update(digest: Any, data: bytes) -> None:
    if digest is not None:
        digest.update(data)


def _chunk_ok(chunk: bytes, declared: bool) -> bool:
    if not chunk.startswith(CHUNK_MAGIC):
        return not declared and chunk == bytes(len(chunk))  # unused slack is zeros (a memcmp)
    if len(chunk) < CHUNK_SIZE:
        return False
    free = struct.unpack_from("<I", chunk, 48)[0]
    header_ok = zlib.crc32(chunk[:120] + chunk[128:512]) == struct.unpack_from("<I", chunk, 124)[0]
    return header_ok and 512 <= free <= CHUNK_SIZE and zlib.crc32(chunk[512:free]) == struct.unpack_from("<I", chunk, 52)[0]


def _report_checksums(layout: Layout, path: str, stats: ParseStats) -> None:
    """Records of a chunk that fails its CRC32 are still read (the crate does not check), but may be altered."""
    if not layout.bad_chunks:
        return
    shown = ", ".join(str(i) for i in layout.bad_chunks[:10]) + (" …" if len(layout.bad_chunks) > 10 else "")
    message = (
        f"checksum or magic mismatch in chunk(s) {shown}: damaged, or copied while Windows was writing it; "
        "records read from these chunks may be incomplete or altered"
    )
    stats.errors.append(ErrorEntry(where=path, kind="damaged", message=message))


def _report_truncation(layout: Layout, path: str, stats: ParseStats) -> None:
    expected = HEADER_BLOCK + layout.declared_chunks * CHUNK_SIZE
    if layout.size < expected or (layout.size - HEADER_BLOCK) % CHUNK_SIZE:
        layout.damaged = True
        stats.errors.append(
            ErrorEntry(
                where=path,
                kind="truncated",
                message=f"EVTX file of {layout.size} bytes, header declares {layout.declared_chunks} chunks "
                f"({expected} bytes): the end of the log is missing",
            )
        )


# --------------------------------------------------------------------------- reading records


def _inprocess_batches(stream: BinaryIO, path: str, stats: ParseStats) -> Iterator[list[dict[str, Any]]]:
    from evtx import PyEvtxParser

    try:
        records = PyEvtxParser(stream, skip_errors=True).records_json()
    except (*READ_ERRORS, TypeError) as exc:
        stats.errors.append(ErrorEntry(where=path, kind="damaged", message=f"not a readable EVTX file: {exc}"[:300]))
        return
    while True:
        batch, done = _next_batch(records, path, stats)
        if batch:
            yield batch
        if done:
            return


def _next_batch(records: Iterator[Any], path: str, stats: ParseStats) -> tuple[list[dict[str, Any]], bool]:
    """Decode up to BATCH records with warnings captured (never across a ``yield``)."""
    batch: list[dict[str, Any]] = []
    done = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for item in records:
                if item is None:
                    continue
                batch.append(item)
                if len(batch) >= BATCH:
                    break
            else:
                done = True
        except BaseException as exc:  # a Rust panic (pyo3 PanicException) is a BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            _damaged(stats, path, f"EVTX read stopped: {type(exc).__name__}: {exc}")
            done = True
    for warning in caught:
        if issubclass(warning.category, RuntimeWarning):
            _damaged(stats, path, str(warning.message))
    return batch, done


def _damaged(stats: ParseStats, path: str, message: str) -> None:
    if len(stats.errors) < MAX_ERRORS:
        stats.errors.append(ErrorEntry(where=path, kind="damaged", message=message[:300]))


def _isolated_items(stream: BinaryIO, path: str, stats: ParseStats) -> Iterator[dict[str, Any]]:
    """Records of a damaged file, parsed by ``evtx_worker`` in a child killed when it stalls."""
    spool = None
    try:
        try:
            fd = stream.fileno()
        except (OSError, AttributeError, ValueError):
            spool = _spool(stream)
            fd = spool.fileno()
        command = [sys.executable, "-P", str(WORKER), str(fd), str(WORKER_MEMORY)]
        child = subprocess.Popen(command, pass_fds=(fd,), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except READ_ERRORS as exc:  # no spool space, no process: report rather than risk a hang in this process
        stats.errors.append(ErrorEntry(where=path, kind="damaged", message=f"damaged EVTX not parsed: {exc}"[:300]))
        if spool is not None:
            spool.close()
        return
    try:
        for message in _messages(child, path, stats):
            if "record" in message and isinstance(message["record"], dict):
                yield message["record"]
            elif "warning" in message:
                _damaged(stats, path, str(message["warning"]))
            elif "error" in message:
                _damaged(stats, path, f"EVTX read stopped: {message['error']}")
    finally:
        child.kill()
        child.wait()
        if child.stdout:
            child.stdout.close()
        if spool is not None:
            spool.close()


def _spool(stream: BinaryIO) -> BinaryIO:
    """A member of an archive has no descriptor: copy it to an anonymous file in the private spool folder."""
    from exaudit.evidence.tree import spool_file

    return spool_file(stream)


def _messages(child: subprocess.Popen[bytes], path: str, stats: ParseStats) -> Iterator[dict[str, Any]]:
    """JSON lines from the child; stop (and report) when nothing arrives for ``STALL_SECONDS``."""
    assert child.stdout is not None
    fd = child.stdout.fileno()
    pending = b""
    while True:
        ready, _, _ = select.select([fd], [], [], STALL_SECONDS)
        if not ready:  # always reported, even past MAX_ERRORS: the rest of the file was not read
            message = f"EVTX parser made no progress for {STALL_SECONDS:.0f} s (corrupt chunk): stopped"
            stats.errors.append(ErrorEntry(where=path, kind="damaged", message=message))
            return
        block = os.read(fd, 1 << 16)
        if not block:
            if child.wait() not in (0, None):
                message = f"EVTX parser ended with status {child.returncode} (memory limit or crash)"
                stats.errors.append(ErrorEntry(where=path, kind="damaged", message=message))
            return
        *lines, pending = (pending + block).split(b"\n")
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                yield message


def record_from_item(item: dict[str, Any], path: str, artifact: str, stats: ParseStats) -> Record | None:
    """One ``records_json`` item as a Record (None: not a JSON event, counted as a bad record)."""
    try:
        event = json.loads(item["data"]).get("Event") or {}
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
    if not isinstance(event, dict):
        return None
    fields = flatten_event(event)
    ts = parse_iso_utc(fields.get("TimeCreated", "")) or parse_iso_utc(str(item.get("timestamp", "")))
    number = item.get("event_record_id")
    return Record(artifact, path, int(number) if isinstance(number, int) else 0, ts, fields, compact(fields))
