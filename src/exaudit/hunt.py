"""``hunt()``: was this Exchange server compromised? Evidence in, one canonical document out.

evidence → hosts → files → classify → parse → single-record rules → findings → multi-record logic
(ProxyLogon chain, web shells on disk, dropped files, correlation) → verdict with coverage → document.

The document is ``{"schema", "kind": "hunt", "hosts", "findings", "timeline", "inputs", "errors"}``
(``exaudit.model``); every input file read is listed with its SHA-256, every unreadable one in
``errors``. The CLI (``exaudit hunt``), the demo and notebooks all call ``hunt``.

References: ARCHITECTURE.md (flow, principles); reference/microsoft-css-exchange.md §1 (what
Test-ProxyLogon checks, which this covers and extends).
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from exaudit.detect.correlate import (
    WEB_ARTIFACTS,
    AttackerIndicators,
    attacker_indicators,
    correlated_hits,
    file_may_relate,
    timeline,
)
from exaudit.detect.coverage import FileSpan, coverage_of
from exaudit.detect.dropped import dropped_file_findings
from exaudit.detect.engine import Hit, RuleSet, findings_from_hits, load_rules
from exaudit.detect.prefilter import LineScanner, tokens_for
from exaudit.detect.proxylogon import chain_findings
from exaudit.detect.verdict import exposure_reasons, host_verdict
from exaudit.engine.base import Executor, default_workers
from exaudit.evidence.base import EvidenceFile, HostView
from exaudit.hunt_evtx import hunt_file  # EVTX bytes first; other artifacts go on to hunt_fast.hunt_file
from exaudit.hunt_fast import FAST_ARTIFACTS, FileScan, FileTask, correlate_file, reference_scan, sha256_of
from exaudit.model import SCHEMA, CveStatus, ErrorEntry, Finding, HostVerdict, InputFile, Severity, Verdict, to_jsonable
from exaudit.parsers import ERROR_ARTIFACTS, HEAD_BYTES, ParseStats, classify, parser_for

CHUNK = 1 << 20
POOL_MIN_BYTES = 64 << 20  # below this, starting worker processes (about a second) costs more than it saves
__all__ = ["HostResult", "actionable", "build_document", "hunt", "hunt_views", "sha256_of", "summary"]
Progress = Callable[[str], None]


@dataclass
class _LogFile:
    file: EvidenceFile
    artifact: str


@dataclass
class HostResult:
    verdict: HostVerdict
    findings: list[Finding] = field(default_factory=list)
    inputs: list[InputFile] = field(default_factory=list)
    errors: list[ErrorEntry] = field(default_factory=list)


# --------------------------------------------------------------------------- files


def _chunks(file: EvidenceFile) -> Iterator[bytes]:
    with file.open() as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def _head(file: EvidenceFile) -> bytes:
    with file.open() as stream:
        return stream.read(HEAD_BYTES)


def _picklable(file: EvidenceFile) -> bool:
    try:
        pickle.dumps(file)
    except Exception:  # an opener over an open archive: this process reads it
        return False
    return True


def auto_workers() -> int:
    """Processes for one hunt: every core, but 1 inside a worker process (no pools within pools)."""
    if multiprocessing.parent_process() is not None:
        return 1
    return default_workers()


# --------------------------------------------------------------------------- one host


class _HostHunt:
    """The state of hunting one host: kept small, records are streamed and never held.

    ``reference`` parses every record of every file (the straightforward path the fast path must equal);
    otherwise IIS and HttpProxy files go through ``hunt_fast`` (bytes first), spread over ``pool``.
    """

    def __init__(
        self,
        view: HostView,
        rules: RuleSet,
        progress: Progress | None,
        reference: bool = False,
        pool: Executor | None = None,
    ) -> None:
        self.view = view
        self.host = view.hostname
        self.rules = rules
        self.progress = progress
        self.reference = reference
        self.pool = pool
        self.packaged_rules = len(rules.rules) == len(load_rules()) and all(a is b for a, b in zip(rules.rules, load_rules(), strict=True))
        self.hits: list[Hit] = []
        self.spans: list[FileSpan] = []
        self.inputs: list[InputFile] = []
        self.errors: list[ErrorEntry] = list(view.errors)
        self.builds: list[tuple[datetime | None, str]] = []
        self.fallbacks: dict[str, str] = {}  # file → why the fast path was not used
        self.scanners: dict[str, LineScanner | None] = {}  # for rules given by the caller

    def run(self) -> HostResult:
        logs, others = self._sort_files()
        for log, scan in zip(logs, self._map(hunt_file, self._tasks(logs)), strict=True):
            self._account(log, scan)
        findings = findings_from_hits(self.hits, self.host) + chain_findings(self.hits, self.host)
        findings += self._webshells(others)  # the scanner keeps to web folders and page files itself
        findings += self._correlate(logs, findings)
        findings += dropped_file_findings(others, self.host, findings)
        verdict = host_verdict(self.host, findings, coverage_of(self.spans))
        verdict.build, verdict.cves = self._exposure()
        verdict.reasons += exposure_reasons(verdict.build, verdict.cves, findings)
        return HostResult(verdict, findings, self.inputs, self.errors)

    def _sort_files(self) -> tuple[list[_LogFile], list[EvidenceFile]]:
        logs: list[_LogFile] = []
        others: list[EvidenceFile] = []
        known = len(self.view.errors)
        try:
            files = list(self.view.files())
        except Exception as exc:  # an evidence source that fails mid-listing still yields a report
            self.errors.append(ErrorEntry(self.view.root, "unreadable", f"cannot list evidence: {exc}"))
            files = []
        self.errors.extend(self.view.errors[known:])  # what the walk refused (zip members, loops, depth, FIFOs)
        for file in files:
            try:
                artifact = classify(file, _head(file))
            except Exception as exc:  # a file that cannot be opened or recognised is reported, not fatal
                self.errors.append(ErrorEntry(file.path, "unreadable", f"{type(exc).__name__}: {exc}"))
                continue
            if artifact:
                logs.append(_LogFile(file, artifact))
            else:
                others.append(file)
        return logs, others

    # ------------------------------------------------------------------ passes

    def _tasks(self, logs: list[_LogFile], indicators: Any = None) -> list[FileTask]:
        return [FileTask(log.file, log.artifact, self.reference, indicators) for log in logs]

    def _map(self, fn: Callable[[FileTask], FileScan], tasks: list[FileTask]) -> Iterator[FileScan]:
        """File tasks in order: over the process pool when it pays (big logs, packaged rules), else here."""
        big = sum(t.file.size or 0 for t in tasks if t.artifact in FAST_ARTIFACTS)
        if (
            self.pool is not None
            and not self.reference
            and self.packaged_rules
            and big >= POOL_MIN_BYTES
            and len(tasks) > 1
            and all(_picklable(t.file) for t in tasks)
        ):
            for task, scan in zip(tasks, self.pool.map(fn, tasks), strict=True):
                self._progress(task)
                yield scan
            return
        for task in tasks:
            self._progress(task)
            yield self._here(fn, task)

    def _here(self, fn: Callable[[FileTask], FileScan], task: FileTask) -> FileScan:
        if fn is hunt_file and not self.packaged_rules:
            scanner = self._custom_scanner(task.artifact)
            if scanner is None:
                return reference_scan(task.file, task.artifact, lambda r: bool(self.rules.match(r)))
            return hunt_file(task, rules=self.rules, scanner=scanner)
        return fn(task)

    def _custom_scanner(self, artifact: str) -> LineScanner | None:
        if artifact not in self.scanners:
            conjunctions = tokens_for(self.rules, artifact)
            self.scanners[artifact] = None if conjunctions is None else LineScanner(conjunctions, special_lines=True)
        return self.scanners[artifact]

    def _progress(self, task: FileTask) -> None:
        if self.progress:
            self.progress(f"{self.host}: {task.artifact} {task.file.path}")

    def _account(self, log: _LogFile, scan: FileScan) -> None:
        """Hits, input entry, errors, coverage span and build of one file, as the full parse reports them."""
        file, artifact, stats = log.file, log.artifact, scan.stats
        for record in scan.kept:
            self.hits.extend(self.rules.match(record))
        if scan.failure:
            self.errors.append(scan.failure)
        if scan.fallback:
            self.fallbacks[file.path] = scan.fallback
        self.errors.extend(stats.errors)
        records = max(scan.yielded, stats.records)
        self.inputs.append(
            InputFile(
                path=file.path,
                sha256=scan.sha256,
                artifact=artifact,
                records=records,
                errors=stats.bad_lines + len(stats.errors),
                size=file.size,
                host=self.host,
                origin=file.origin,
            )
        )
        if artifact not in ERROR_ARTIFACTS:
            self.spans.append(FileSpan(artifact, records, stats.first, stats.last))
        build = stats.meta.get("exchange_build")
        if build:
            self.builds.append((stats.last, build))

    def _webshells(self, files: list[EvidenceFile]) -> list[Finding]:
        if not files:
            return []
        try:
            from exaudit.detect.webshell import scan_files
        except ImportError:
            self.errors.append(ErrorEntry(self.host, "not_available", "web shell scanner not installed: web folders not scanned"))
            return []
        try:
            scan = scan_files(files, self.host)
        except Exception as exc:  # e.g. YARA rules that fail to compile: report, hunt on
            self.errors.append(ErrorEntry(self.host, "webshell_scan", f"web shell scan failed: {exc}"))
            return []
        self.inputs.extend(scan.inputs)
        self.errors.extend(scan.errors)
        return list(scan.findings)

    def _correlate(self, logs: list[_LogFile], findings: list[Finding]) -> list[Finding]:
        """Second look at the web logs for the attacker's addresses, tool agents and shell URLs."""
        indicators = attacker_indicators(findings)
        if not indicators:
            return []
        already = {(h.record.path, h.record.line) for h in self.hits}
        if self.reference:
            return findings_from_hits(self._correlate_reference(logs, indicators, already), self.host)
        web = [log for log in logs if log.artifact in WEB_ARTIFACTS]
        extra: list[Hit] = []
        for log, scan in zip(web, self._map(correlate_file, self._tasks(web, indicators)), strict=True):
            if scan.failure:
                self.errors.append(ErrorEntry(log.file.path, "damaged", f"correlation pass stopped: {scan.failure.message}"))
            extra.extend(correlated_hits(scan.kept, indicators, already))
        return findings_from_hits(extra, self.host)

    def _correlate_reference(self, logs: list[_LogFile], indicators: AttackerIndicators, already: set[tuple[str, int]]) -> list[Hit]:
        """The straightforward correlation: files holding a token are parsed again in full."""
        tokens = indicators.tokens()
        extra: list[Hit] = []
        for log in logs:
            if log.artifact not in WEB_ARTIFACTS or not self._may_relate(log, tokens):
                continue
            try:
                with log.file.open() as stream:
                    extra.extend(correlated_hits(parser_for(log.artifact)(stream, log.file.path, ParseStats()), indicators, already))
            except Exception as exc:
                self.errors.append(ErrorEntry(log.file.path, "damaged", f"correlation pass stopped: {exc}"))
        return extra

    @staticmethod
    def _may_relate(log: _LogFile, tokens: list[bytes]) -> bool:
        try:
            return file_may_relate(functools.partial(_chunks, log.file), tokens)
        except Exception:  # unreadable past some point (reported by the first pass): parse what can be read
            return True

    def _exposure(self) -> tuple[str | None, list[CveStatus]]:
        """The build the newest log reveals, judged by the knowledge base."""
        if not self.builds:
            return None, []
        build = max(self.builds, key=lambda b: (b[0] is not None, b[0] or datetime.min))[1]
        try:
            from exaudit.kb import load_kb, parse_build

            return build, load_kb().assess(parse_build(build))
        except Exception as exc:  # an unknown build notation is data, not a crash
            self.errors.append(ErrorEntry(self.host, "kb", f"cannot judge build {build}: {exc}"))
            return build, []


# --------------------------------------------------------------------------- API


def _open(path: str | os.PathLike[str]) -> tuple[list[HostView], list[ErrorEntry]]:
    from exaudit.evidence import open_evidence

    try:
        return list(open_evidence(path)), []
    except Exception as exc:  # a missing or unreadable path is reported, the other paths still run
        return [], [ErrorEntry(str(path), "unreadable", f"cannot open evidence: {exc}")]


def hunt_views(
    views: Iterable[HostView],
    rules: RuleSet | None = None,
    progress: Progress | None = None,
    *,
    reference: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """Hunt already opened host views (evidence sources built by the caller)."""
    rules = rules or RuleSet()
    with _file_pool(workers, reference) as pool:
        results = [_HostHunt(view, rules, progress, reference, pool).run() for view in views]
    return build_document(results, [])


def hunt(
    paths: Iterable[str | os.PathLike[str]],
    rules: RuleSet | None = None,
    progress: Progress | None = None,
    *,
    reference: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """Hunt every host found in the given evidence paths; the canonical hunt document (JSON-ready).

    ``reference=True`` parses every record of every log (the straightforward path, for comparison);
    by default IIS and HttpProxy logs are hunted bytes first (``exaudit.hunt_fast``) with the same
    result. ``workers``: processes for the files of a host (default: every core when the logs are
    large; 1 inside a worker process).
    """
    rules = rules or RuleSet()
    results: list[HostResult] = []
    errors: list[ErrorEntry] = []
    with _file_pool(workers, reference) as pool:
        for path in paths:
            views, open_errors = _open(Path(path))
            errors.extend(open_errors)
            results.extend(_HostHunt(view, rules, progress, reference, pool).run() for view in views)
    return build_document(results, errors)


@contextlib.contextmanager
def _file_pool(workers: int | None, reference: bool) -> Iterator[Executor | None]:
    """A process pool for the files of each host (started on first use), or None for one process."""
    count = auto_workers() if workers is None else workers
    if reference or count <= 1:
        yield None
        return
    from exaudit.engine.local import ProcessExecutor

    pool = ProcessExecutor(count)
    try:
        yield pool
    finally:
        pool.close()


def build_document(results: list[HostResult], errors: list[ErrorEntry]) -> dict[str, Any]:
    findings = [f for r in results for f in r.findings]
    findings.sort(key=lambda f: (-f.severity.rank, f.host, f.first_seen or "", f.rule))
    return {
        "schema": SCHEMA,
        "kind": "hunt",
        "hosts": to_jsonable([r.verdict for r in results]),
        "findings": to_jsonable(findings),
        "timeline": to_jsonable(timeline(findings)),
        "inputs": to_jsonable([i for r in results for i in r.inputs]),
        "errors": to_jsonable(errors + [e for r in results for e in r.errors]),
    }


def summary(document: dict[str, Any]) -> dict[str, Any]:
    """Counts for the run store and the terminal: hosts per verdict, findings per severity."""
    out: dict[str, Any] = {"hosts": len(document["hosts"]), "findings": len(document["findings"])}
    for verdict in Verdict:
        n = sum(1 for h in document["hosts"] if h["verdict"] == verdict.value)
        if n:
            out[verdict.value] = n
    for sev in Severity:
        n = sum(1 for f in document["findings"] if f["severity"] == sev.value)
        if n:
            out[sev.value] = n
    out["errors"] = len(document["errors"])
    return out


def actionable(document: dict[str, Any]) -> bool:
    """Exit code 1: a host verdict other than no_evidence, or a finding of medium severity or more.

    Low and informational findings alone (a scanner's probe, an administrator's export) are listed but
    are not something to act on, as for ``exaudit webshells``.
    """
    if any(h["verdict"] != Verdict.NO_EVIDENCE.value for h in document["hosts"]):
        return True
    return any(Severity(f["severity"]).rank >= Severity.MEDIUM.rank for f in document["findings"])
