"""``exaudit scan``: which of our Exchange servers are exposed (docs/scan.md).

Exit codes: 0 nothing vulnerable, 1 a vulnerable or possibly vulnerable CVE somewhere, 2 usage error (bad
target, bad option, target outside ``--scope``), 3 the store could not be opened.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from exaudit.cli import ACT, FAILED, OK
from exaudit.cli.common import DB_OPTION, NO_STORE_OPTION, OUTPUT_OPTION, dump_json, emit, fail, open_store, stderr
from exaudit.model import RunInfo, ScanResult, to_jsonable
from exaudit.scan import ProbeError, TargetError, TargetSpec, scan_iter
from exaudit.scan.output import actionable, csv_text, document, jsonl_line, table
from exaudit.scan.probes import PROBES, probe_names
from exaudit.store import Store, scan_results

FORMATS = ("table", "json", "jsonl", "csv")


def register(app: typer.Typer) -> None:
    app.command("scan")(scan_command)


TARGETS_ARGUMENT = typer.Argument(
    ..., help="host, host:port, URL, IPv6 (\\[::1]:8443), CIDR, CIDR:port, or @FILE (list, nmap -oX, masscan -oL/-oJ)."
)
PORT_OPTION = typer.Option([], "--port", "-p", help="Port to try, in order (repeatable). Default: 443 then 80.")
PROBE_OPTION = typer.Option([], "--probe", help=f"Safe probe to run (repeatable): {', '.join(PROBES)} or all. Off by default.")
SCOPE_OPTION = typer.Option(None, "--scope", help="File of allowed address ranges; any target outside is refused.")


def scan_command(
    targets: list[str] = TARGETS_ARGUMENT,
    port: list[int] = PORT_OPTION,
    probe: list[str] = PROBE_OPTION,
    scope: Path = SCOPE_OPTION,
    concurrency: int = typer.Option(200, "--concurrency", "-c", min=1, max=10000, help="Hosts scanned at once."),
    rate: float = typer.Option(0.0, "--rate", min=0.0, help="Maximum requests per second overall (0 = no limit)."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.05, help="Seconds per request."),
    host_timeout: float = typer.Option(None, "--host-timeout", min=0.1, help="Seconds for one whole host (default 4 x --timeout)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, jsonl (streamed) or csv."),
    output: Path = OUTPUT_OPTION,
    db: str = DB_OPTION,
    no_store: bool = NO_STORE_OPTION,
) -> None:
    """Find Exchange servers, fingerprint their build, and say which CVEs they are exposed to."""
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if output is not None and not output.parent.is_dir():
        fail(f"cannot write {output}: folder {output.parent} does not exist")
    specs = _prepare(targets, port, scope)
    try:
        probe_names(probe)
    except ProbeError as exc:
        fail(str(exc))
    _check_kb()
    store = None if no_store else open_store(db)
    run = store.begin_run("scan", _argv(targets, port, probe, fmt)) if store else None
    sink = _Sink(fmt, output, store, run, total=sum(s.count() for s in specs))
    options = {"ports": port, "probes": probe, "concurrency": concurrency, "rate": rate, "scope": scope}
    try:
        results = asyncio.run(sink.consume(specs, dict(options, timeout=timeout, host_timeout=host_timeout)))
    except KeyboardInterrupt:
        results = sink.results
        if store and run:
            store.finish_run(run, document(results), _summary(results), status="failed")
        fail(f"interrupted after {len(results)} results (kept in the store)", FAILED)
    results.sort(key=_order(specs))
    if store and run:
        store.finish_run(run, document(results), _summary(results))
    try:
        _render(fmt, results, output, run)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", FAILED)
    raise typer.Exit(ACT if actionable(results) else OK)


def _prepare(targets: list[str], ports: list[int], scope: Path | None) -> list[TargetSpec]:
    from exaudit.scan import prepare

    try:
        return prepare(targets, ports, scope)
    except TargetError as exc:
        fail(str(exc))


def _check_kb() -> None:
    """A broken knowledge-base override (``$EXAUDIT_KB_DIR``) stops the run before any packet is sent."""
    from exaudit.kb import KbError, load_kb

    try:
        load_kb()
    except KbError as exc:
        fail(f"knowledge base unavailable: {exc}", FAILED)


def _argv(targets: list[str], ports: list[int], probes: list[str], fmt: str) -> list[str]:
    args = list(targets)
    for number in ports:
        args += ["--port", str(number)]
    for name in probes:
        args += ["--probe", name]
    return [*args, "--format", fmt]


class _Sink:
    """Receives results as they complete: store rows (in small batches), streamed jsonl lines, progress bar."""

    FLUSH_ROWS, FLUSH_SECONDS = 200, 0.5  # one SQLite commit per row costs ~4 ms; a killed scan loses < 0.5 s

    def __init__(self, fmt: str, output: Path | None, store: Store | None, run: RunInfo | None, total: int) -> None:
        self.fmt, self.output, self.store, self.run, self.total = fmt, output, store, run, total
        self.results: list[ScanResult] = []
        self.pending: list[ScanResult] = []
        self.flushed = time.monotonic()

    async def consume(self, specs: list[TargetSpec], options: dict[str, Any]) -> list[ScanResult]:
        stream_file = self.output.open("w", encoding="utf-8") if self.fmt == "jsonl" and self.output else None
        with _progress(self.total) as (progress, task):
            advance = (lambda: progress.advance(task)) if progress is not None else None
            async for result in scan_iter(specs, on_done=advance, **options):
                self.results.append(result)
                await self._store_soon(result)
                if self.fmt == "jsonl":
                    line = jsonl_line(result, self.run) + "\n"
                    (stream_file or sys.stdout).write(line)
                    (stream_file or sys.stdout).flush()
        await asyncio.to_thread(self.flush)
        if stream_file:
            stream_file.close()
        return self.results

    async def _store_soon(self, result: ScanResult) -> None:
        if not (self.store and self.run):
            return
        self.pending.append(result)
        if len(self.pending) >= self.FLUSH_ROWS or time.monotonic() - self.flushed > self.FLUSH_SECONDS:
            await asyncio.to_thread(self.flush)

    def flush(self) -> None:
        """Write pending rows in one transaction (the store's ``scan_results`` table, as ``add_scan_result`` does)."""
        batch, self.pending, self.flushed = self.pending, [], time.monotonic()
        if not (batch and self.store and self.run):
            return
        rows = [
            {"run_id": self.run.id, "target": r.target, "worst": r.worst.value if r.worst else None, "document": json.dumps(to_jsonable(r))}
            for r in batch
        ]
        try:
            with self.store.engine.begin() as conn:
                conn.execute(scan_results.insert(), rows)
        except Exception:  # e.g. the same address:port from overlapping targets: store row by row, skip duplicates
            for result in batch:
                self._store_one(result)

    def _store_one(self, result: ScanResult) -> None:
        assert self.store and self.run
        try:
            self.store.add_scan_result(self.run, result)
        except Exception as exc:
            stderr.print(f"warning: result for {result.target!r} not stored: {type(exc).__name__}", markup=False)


class _progress:
    """A Rich progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar: Progress | None = None

    def __enter__(self) -> tuple[Progress | None, Any]:
        if not sys.stderr.isatty():
            return None, None
        self.bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=stderr, transient=True)
        self.bar.__enter__()
        return self.bar, self.bar.add_task("scan", total=self.total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _summary(results: list[ScanResult]) -> dict[str, int]:
    return {
        "targets": len(results),
        "exchange": sum(r.exchange for r in results),
        "vulnerable": sum(1 for r in results if r.worst and r.worst.value == "vulnerable"),
        "possibly_vulnerable": sum(1 for r in results if r.worst and r.worst.value == "possibly_vulnerable"),
        "errors": sum(1 for r in results if r.error),
    }


def _order(specs: list[TargetSpec]) -> Any:
    """Input order, then numeric address order inside a CIDR range."""
    position = {s.given: i for i, s in enumerate(specs)}

    def key(result: ScanResult) -> tuple[int, int, str]:
        if result.target in position:
            return position[result.target], 0, result.target
        host, _, port = result.target.rpartition(":")
        try:
            address = int(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            address = 0
        for spec in specs:
            if spec.network is not None and address and ipaddress.ip_address(host.strip("[]")) in spec.network:
                return position[spec.given], address * 65536 + int(port or 0), result.target
        return len(specs), address, result.target

    return key


def _render(fmt: str, results: list[ScanResult], output: Path | None, run: RunInfo | None) -> None:
    if fmt == "jsonl":
        return  # already streamed
    if fmt == "json":
        emit(dump_json(document(results, run)), output)
    elif fmt == "csv":
        emit(csv_text(results), output)
    elif output is not None:
        console = Console(file=output.open("w", encoding="utf-8"), width=160)
        console.print(table(results))
        console.file.close()
    else:
        Console(width=None if sys.stdout.isatty() else 200).print(table(results))
