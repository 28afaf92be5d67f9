"""Web shells and attacker files in Exchange and IIS web folders (``exaudit webshells`` and the hunt).

``scan_files(files, host)`` reads an iterable of ``EvidenceFile`` (the hunt passes a host view's files) and
returns a ``WebshellScan`` with one ``Finding`` per suspicious file, the chain of custody (``InputFile``
with SHA-256) and the errors met. Layers, each reported with its reason:

1. the project's YARA rules (families, behaviours, Exchange carriers: ``exaudit/detect/yara``) and the
   user's own (``extra_yara``);
2. Exchange structure checks (PST/DER-wrapped pages, pages that are not Exchange's own in Exchange-only
   folders: ``webshell_exchange``);
3. published bad hashes (packaged data) and the user's IOCs (``webshell_iocs``);
4. modification time inside the attack window (``since``/``until``).

Scope: the Exchange web folders first (whole), then server pages anywhere; ``all_files`` takes everything.
Pages and files in web folders are always read whole (never skipped for size); other files above
``max_size`` are recorded as skipped. Files above ``WHOLE_READ_LIMIT`` are streamed in overlapping chunks,
so a 2 GB PST-wrapped page is never loaded whole. YARA releases the GIL, so files are spread over threads.

References: reference/peer-tools-and-iocs.md (Loki's 5 MB cap, CHIRP whole-disk runs, CompareExchangeHashes
"no match" flood), CISA AA21-062A, ATT&CK T1505.003.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import yara

from exaudit.detect import webshell_exchange as exchange
from exaudit.detect.webshell_iocs import Ioc, IocSet, packaged_iocs, path_matches
from exaudit.detect.webshell_rules import Assessment, RuleHit, combine, compile_rules, hits_of, merge_hits
from exaudit.evidence.base import EvidenceFile, HostView
from exaudit.model import ErrorEntry, Finding, Indicators, InputFile, Severity, SourceRef, iso

WHOLE_READ_LIMIT = 32 * 1024 * 1024  # larger files are streamed in chunks
CHUNK_SIZE = 16 * 1024 * 1024
CHUNK_OVERLAP = 64 * 1024  # longer than any rule string, so a match across a chunk border is still seen
DEFAULT_MAX_SIZE = 256 * 1024 * 1024  # only for files that are neither pages nor in web folders
ATTACK = ["T1505.003"]
ARTIFACT = "webfile"


@dataclass
class WebshellScan:
    findings: list[Finding] = field(default_factory=list)
    inputs: list[InputFile] = field(default_factory=list)
    errors: list[ErrorEntry] = field(default_factory=list)
    skipped: int = 0  # files out of scope (not in web folders, not pages, no --all-files)


@dataclass
class _Context:
    host: str
    rules: yara.Rules
    user_rules: yara.Rules | None
    iocs: IocSet
    since: datetime | None
    until: datetime | None
    max_size: int


@dataclass
class _Read:
    """What reading one file gave: hashes, YARA hits, the first bytes."""

    sha256: str
    md5: str | None
    sha1: str | None
    head: bytes
    hits: list[RuleHit]
    size: int


# --------------------------------------------------------------------------- public API


def scan_files(
    files: Iterable[EvidenceFile],
    host: str,
    *,
    all_files: bool = False,
    extra_yara: str | os.PathLike[str] | None = None,
    iocs: IocSet | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
    workers: int | None = None,
) -> WebshellScan:
    """Scan evidence files of one host for web shells; see the module docstring for the layers.

    Raises ``RuleError`` when the packaged or the user's YARA rules cannot be compiled.
    """
    all_iocs = packaged_iocs()
    if iocs is not None:
        all_iocs.update(iocs)
    ctx = _Context(
        host=host,
        rules=compile_rules(None),
        user_rules=compile_rules(str(extra_yara)) if extra_yara else None,
        iocs=all_iocs,
        since=since,
        until=until,
        max_size=max_size,
    )
    result = WebshellScan()
    selected = []
    for ef in files:
        if all_files or in_default_scope(ef.path):
            selected.append(ef)
        else:
            result.skipped += 1
    selected.sort(key=lambda ef: exchange.web_folder(ef.path) is None)  # Exchange web folders first
    pool_size = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        for finding, record, errors in pool.map(lambda ef: _scan_one(ef, ctx), selected):
            if finding is not None:
                result.findings.append(finding)
            if record is not None:
                result.inputs.append(record)
            result.errors.extend(errors)
    return result


def in_default_scope(path: str) -> bool:
    """Exchange/IIS web folders (any file) and server pages anywhere."""
    return exchange.web_folder(path) is not None or exchange.is_script(path)


def host_views(path: Path, hostname: str | None = None) -> list[HostView]:
    """The evidence at ``path`` as host views: ``exaudit.evidence.open_evidence`` when it exists, else a plain walk."""
    opener = getattr(importlib.import_module("exaudit.evidence"), "open_evidence", None)
    if opener is not None:
        views: list[HostView] = opener(path)
        if hostname:
            for view in views:
                view.hostname = hostname
        return views
    view = HostView(hostname=hostname or path.resolve().name or "localhost", root=str(path))
    view._lister = lambda: walk_folder(path, view.errors)
    return [view]


def walk_folder(root: Path, errors: list[ErrorEntry]) -> Iterator[EvidenceFile]:
    """Every regular file under ``root`` (or ``root`` itself), opened read-only, paths relative to ``root``.

    Symbolic links to folders are not followed (no loops); a broken or looping file link is recorded.
    """
    if root.is_file():
        single = _evidence_file(root, root.name, errors)
        if single is not None:
            yield single
        return
    for folder, dirnames, filenames in os.walk(root, followlinks=False, onerror=lambda e: _walk_error(e, errors)):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(folder) / name
            rel = full.relative_to(root).as_posix()
            ef = _evidence_file(full, rel, errors)
            if ef is not None:
                yield ef


# --------------------------------------------------------------------------- one file


def _scan_one(ef: EvidenceFile, ctx: _Context) -> tuple[Finding | None, InputFile | None, list[ErrorEntry]]:
    record = InputFile(path=ef.path, artifact=ARTIFACT, size=ef.size, host=ctx.host, origin=ef.origin)
    always_whole = exchange.web_folder(ef.path) is not None or exchange.is_script(ef.path)
    if not always_whole and ef.size > ctx.max_size:
        record.errors = 1
        return None, record, [ErrorEntry(ef.path, "skipped_large", f"{ef.size} bytes is above --max-size; not a page, not in a web folder")]
    try:
        with ef.open() as stream:
            read = _read(stream, ef.size, ctx)
    except OSError as exc:
        record.errors = 1
        return None, record, [ErrorEntry(ef.path, "unreadable", f"cannot read: {exc.strerror or exc}")]
    except yara.TimeoutError:
        record.errors = 1
        return None, record, [ErrorEntry(ef.path, "timeout", "YARA scan timed out")]
    except yara.Error as exc:
        record.errors = 1
        return None, record, [ErrorEntry(ef.path, "unreadable", f"YARA could not scan: {exc}")]
    except Exception as exc:  # a damaged archive member or an evidence-source bug must not stop the run
        record.errors = 1
        return None, record, [ErrorEntry(ef.path, "damaged", f"cannot read: {type(exc).__name__}: {exc}")]
    record.sha256, record.size, record.records = read.sha256, read.size, 1
    return _finding(ef, read, ctx), record, []


def _read(stream: BinaryIO, size: int, ctx: _Context) -> _Read:
    """Hash the file and run YARA: whole for ordinary sizes, in overlapping chunks for large files."""
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False) if ctx.iocs.needs("md5") else None
    sha1 = hashlib.sha1(usedforsecurity=False) if ctx.iocs.needs("sha1") else None
    hits: list[RuleHit] = []
    head = b""
    total = 0
    if size <= WHOLE_READ_LIMIT:
        data = stream.read()
        blocks: Iterator[tuple[int, bytes, bytes]] = iter([(0, data, data)])
    else:
        blocks = _chunks(stream)
    for offset, block, fresh in blocks:
        for h in (sha256, md5, sha1):
            if h is not None:
                h.update(fresh)
        total += len(fresh)
        if offset == 0:
            head = block[:4096]
        hits.extend(_match(block, offset, ctx, whole=size <= WHOLE_READ_LIMIT))
    return _Read(
        sha256=sha256.hexdigest(),
        md5=md5.hexdigest() if md5 else None,
        sha1=sha1.hexdigest() if sha1 else None,
        head=head,
        hits=merge_hits(hits),
        size=total,
    )


def _chunks(stream: BinaryIO) -> Iterator[tuple[int, bytes, bytes]]:
    """``(offset, block, fresh)``: blocks overlap by ``CHUNK_OVERLAP``; ``fresh`` is the part not seen before."""
    offset, tail = 0, b""
    while True:
        fresh = stream.read(CHUNK_SIZE)
        if not fresh:
            return
        block = tail + fresh
        yield offset - len(tail), block, fresh
        offset += len(fresh)
        tail = block[-CHUNK_OVERLAP:]


def _match(data: bytes, offset: int, ctx: _Context, whole: bool) -> list[RuleHit]:
    hits = hits_of(ctx.rules.match(data=data, timeout=60), data, offset)
    if ctx.user_rules is not None:
        hits += hits_of(ctx.user_rules.match(data=data, timeout=60), data, offset, user=True)
    codec = exchange.looks_utf16(data[:4096]) if whole and offset == 0 else None
    if codec:
        # A page saved as UTF-16 is still a page to IIS: match the rules on its decoded text as well.
        text = data.decode(codec, errors="replace").encode("utf-8")
        hits += hits_of(ctx.rules.match(data=text, timeout=60), text, 0)
        if ctx.user_rules is not None:
            hits += hits_of(ctx.user_rules.match(data=text, timeout=60), text, 0, user=True)
    return hits


# --------------------------------------------------------------------------- verdict of one file


def _finding(ef: EvidenceFile, read: _Read, ctx: _Context) -> Finding | None:
    assessment = combine(read.hits)
    extra: list[tuple[Severity, str, str, str]] = []  # (severity, rule, title, reason)
    cves: set[str] = set(assessment.cves) if assessment else set()
    has_script = any(h.rule == "exaudit_marker_server_script" for h in read.hits) or bool(assessment)
    for check in (exchange.wrapped_page(ef.path, read.head, has_script), exchange.unexpected_in_exchange_folder(ef.path)):
        if check is not None:
            extra.append((check.severity, check.rule, check.title, check.reason))
            cves.update(check.cves)
    ioc = _ioc_hit(ef.path, read, ctx.iocs)
    if ioc is not None:
        extra.append(ioc)
    window = _in_window(ef.mtime, ctx)
    if window and (assessment or extra or in_default_scope(ef.path)):
        extra.append((Severity.LOW, "exaudit_attack_window", "Changed inside the attack window", window))
    if assessment is None and not extra:
        return None
    return _build(ef, read, ctx, assessment, extra, sorted(cves))


def _ioc_hit(path: str, read: _Read, iocs: IocSet) -> tuple[Severity, str, str, str] | None:
    for digest in (read.sha256, read.md5, read.sha1):
        if digest and digest in iocs.hashes:
            ioc = iocs.hashes[digest]
            return Severity.CRITICAL, "exaudit_ioc_hash", f"Published web shell hash: {ioc.label}", _ioc_reason(ioc)
    by_path = path_matches(iocs, path)
    if by_path is not None:
        return Severity.HIGH, "exaudit_ioc_path", f"Published web shell path: {by_path.label}", _ioc_reason(by_path)
    name = exchange.normalise(path).rsplit("/", 1)[-1]
    if name in iocs.names:
        ioc = iocs.names[name]
        return Severity.MEDIUM, "exaudit_ioc_name", f"Published web shell file name: {ioc.label}", _ioc_reason(ioc)
    return None


def _ioc_reason(ioc: Ioc) -> str:
    return f"{ioc.kind} {ioc.value} listed in {ioc.source}"


def _in_window(mtime: float | None, ctx: _Context) -> str:
    if mtime is None or (ctx.since is None and ctx.until is None):
        return ""
    when = datetime.fromtimestamp(mtime, UTC)
    if ctx.since is not None and when < ctx.since:
        return ""
    if ctx.until is not None and when > ctx.until:
        return ""
    return f"modified {iso(when)}, inside the attack window"


def _build(
    ef: EvidenceFile,
    read: _Read,
    ctx: _Context,
    assessment: Assessment | None,
    extra: list[tuple[Severity, str, str, str]],
    cves: list[str],
) -> Finding:
    candidates = [(s, r, t) for s, r, t, _ in extra]
    if assessment is not None:
        candidates.append((assessment.severity, assessment.rule, assessment.title))
    severity, rule, title = max(candidates, key=lambda c: c[0].rank)
    reasons = (assessment.reasons if assessment else []) + [f"{r}: {reason}" for _, r, _, reason in extra]
    known = severity.rank >= Severity.HIGH.rank
    mtime = iso(datetime.fromtimestamp(ef.mtime, UTC)) if ef.mtime is not None else None
    return Finding(
        rule="webshell." + rule.removeprefix("exaudit_"),
        title=title,
        host=ctx.host,
        severity=severity,
        confidence={4: "high", 3: "high", 2: "medium"}.get(severity.rank, "low"),
        cves=cves,
        attack=list(ATTACK),
        first_seen=mtime,
        last_seen=mtime,
        source=SourceRef(path=ef.path),
        evidence=(assessment.excerpt if assessment else "") or _head_text(read.head),
        indicators=Indicators(files=[ef.path]),
        references=assessment.references if assessment else [],
        # Known web shells are attacker persistence; a merely suspicious file must not make a host "compromised".
        stage="persistence" if known else "attempt",
        details={
            "sha256": read.sha256,
            "size": read.size,
            "mtime": mtime,
            "origin": ef.origin,
            "family": assessment.family if assessment else "",
            "reasons": reasons,
            "verdict": "known web shell" if known else "suspicious",
        },
    ).finalize()


def _head_text(head: bytes) -> str:
    from exaudit.detect.webshell_rules import excerpt

    return excerpt(head, 0, 0, 160)


# --------------------------------------------------------------------------- walking a plain folder


def _evidence_file(full: Path, rel: str, errors: list[ErrorEntry]) -> EvidenceFile | None:
    try:
        st = full.stat()  # follows a file symlink; ELOOP or ENOENT for a looping or broken link
    except OSError as exc:
        errors.append(ErrorEntry(rel, "unreadable", f"cannot stat: {exc.strerror or exc}"))
        return None
    if not full.is_file():
        return None
    return EvidenceFile(path=rel, origin=str(full), size=st.st_size, mtime=st.st_mtime, opener=lambda: full.open("rb"))


def _walk_error(exc: OSError, errors: list[ErrorEntry]) -> None:
    errors.append(ErrorEntry(str(exc.filename or ""), "unreadable", f"cannot list folder: {exc.strerror or exc}"))
