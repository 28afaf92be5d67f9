"""``exaudit scan``: which of our Exchange servers are exposed (docs/scan.md).

Exit codes: 0 nothing vulnerable, 1 a vulnerable or possibly vulnerable CVE somewhere, 2 usage error (bad
target, bad option, target outside ``--scope``, unknown or finished ``--resume`` run), 3 the store could not be
opened, the scan was interrupted, or a worker or the cluster was lost (the run can then be resumed).
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from exaudit.cli import ACT, FAILED, OK
from exaudit.cli.common import DB_OPTION, NO_STORE_OPTION, OUTPUT_OPTION, dump_json, emit, fail, open_store, stderr
from exaudit.engine.base import EngineError
from exaudit.model import RunInfo, ScanResult, scan_result_from_dict
from exaudit.scan import ProbeError, TargetError, TargetSpec, scan_iter
from exaudit.scan.output import actionable, csv_text, document, jsonl_line, table
from exaudit.scan.probes import PROBES, probe_names
from exaudit.scan.resume import ScanSettings, remaining
from exaudit.scan.targets import DEFAULT_PORTS
from exaudit.store import Store, StoreError

if TYPE_CHECKING:
    from exaudit.engine import Executor

FORMATS = ("table", "json", "jsonl", "csv")


def register(app: typer.Typer) -> None:
    app.command("scan")(scan_command)


TARGETS_ARGUMENT = typer.Argument(
    None, help="host, host:port, URL, IPv6 (\\[::1]:8443), CIDR, CIDR:port, or @FILE (list, nmap -oX, masscan -oL/-oJ)."
)
PORT_OPTION = typer.Option([], "--port", "-p", help="Port to try, in order (repeatable). Default: 443 then 80.")
PROBE_OPTION = typer.Option([], "--probe", help=f"Safe probe to run (repeatable): {', '.join(PROBES)} or all. Off by default.")
SCOPE_OPTION = typer.Option(None, "--scope", help="File of allowed address ranges; any target outside is refused.")
RESUME_OPTION = typer.Option(
    None, "--resume", help="Finish an interrupted scan run (id or unique prefix): its targets and options, only what is not done."
)
WORKERS_OPTION = typer.Option(None, "--workers", "-w", min=1, help="Spread the targets over N local processes (docs/cluster.md).")
CLUSTER_OPTION = typer.Option(None, "--cluster", help="Dask scheduler address (tcp://HOST:8786) or local[:N]; see docs/cluster.md.")


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
    resume: str = RESUME_OPTION,
    workers: int = WORKERS_OPTION,
    cluster: str = CLUSTER_OPTION,
) -> None:
    """Find Exchange servers, fingerprint their build, and say which CVEs they are exposed to."""
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if output is not None and not output.parent.is_dir():
        fail(f"cannot write {output}: folder {output.parent} does not exist")
    if resume is not None:
        resumed = _resume_store(targets, no_store, db)
        settings, done = _resume_plan(resumed, resume)
        store: Store | None = resumed
    else:
        if not targets:
            fail("no targets given (or --resume RUN_ID)")
        settings = ScanSettings(list(targets), list(port), list(probe), scope, concurrency, rate, timeout, host_timeout)
        store, done = (None if no_store else open_store(db)), []
    specs = _prepare(settings.targets, settings.ports, settings.scope)
    todo = remaining(specs, [r.target for r in done], tuple(settings.ports) or DEFAULT_PORTS) if done else specs
    _check_probes_and_kb(settings.probes)
    executor = _executor(cluster, workers)  # a cluster that cannot be reached fails before the run is recorded
    run = _run_record(store, resume, settings, fmt)
    sink = _Sink(fmt, output, store, run, total=sum(s.count() for s in todo))
    sink.replay(done)
    try:
        results = done + _scan(settings, todo, sink, executor)
    finally:
        sink.close()
    results.sort(key=_order(specs))
    if store and run:
        store.finish_run(run, document(results), _summary(results))
    try:
        _render(fmt, results, output, run)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", FAILED)
    raise typer.Exit(ACT if actionable(results) else OK)


def _scan(settings: ScanSettings, specs: list[TargetSpec], sink: _Sink, executor: Executor | None) -> list[ScanResult]:
    """Scan ``specs`` here (asyncio) or on ``executor``; an interrupt or a lost worker marks the run failed (resumable)."""
    options: dict[str, Any] = {
        "ports": settings.ports,
        "probes": settings.probes,
        "concurrency": settings.concurrency,
        "rate": settings.rate,
        "scope": settings.scope,
        "timeout": settings.timeout,
        "host_timeout": settings.host_timeout,
    }
    if not specs:
        if executor is not None:
            executor.close()
        return []  # a resumed run that had everything but its final document
    try:
        if executor is None:
            return asyncio.run(sink.consume(specs, options))
        with executor:
            return sink.consume_distributed(specs, options, executor)
    except KeyboardInterrupt:
        _give_up(sink, "interrupted")
    except EngineError as exc:
        _give_up(sink, str(exc))


def _give_up(sink: _Sink, why: str) -> NoReturn:
    sink.flush()
    if sink.store and sink.run:
        sink.store.finish_run(sink.run, document(sink.results), _summary(sink.results), status="failed")
        why += f" after {len(sink.results)} results (kept in the store; exaudit scan --resume {sink.run.id[:8]})"
    fail(why, FAILED)


def _executor(cluster: str | None, workers: int | None) -> Executor | None:
    """None (this process, asyncio) unless ``--cluster`` or ``--workers`` asks for the engine."""
    if cluster is None and workers is None:
        return None
    from exaudit.engine import get_executor

    try:
        return get_executor(cluster, workers)
    except EngineError as exc:
        fail(str(exc), FAILED)


def _check_probes_and_kb(probes: list[str]) -> None:
    try:
        probe_names(probes)
    except ProbeError as exc:
        fail(str(exc))
    _check_kb()


def _run_record(store: Store | None, resume: str | None, settings: ScanSettings, fmt: str) -> RunInfo | None:
    """The run the results go to: the resumed one (marked running again) or a new one with the settings recorded."""
    if store is None:
        return None
    if resume is not None:
        return store.reopen_run(resume)
    return store.begin_run("scan", settings.argv(fmt))


def _resume_store(targets: list[str] | None, no_store: bool, db: str | None) -> Store:
    if targets:
        fail("--resume takes the targets and options recorded with the run; give no targets")
    if no_store:
        fail("--resume needs the store (--no-store cannot be used with it)")
    return open_store(db)


def _resume_plan(store: Store, run_id: str) -> tuple[ScanSettings, list[ScanResult]]:
    """The interrupted run's settings and the results it already stored."""
    try:
        found = store.find_run(run_id, command="scan")
    except StoreError as exc:
        fail(str(exc))
    if found["status"] == "done":
        fail(f"scan run {found['id']} is finished; only a running or interrupted run can be resumed")
    try:
        settings = ScanSettings.from_argv(found["args"])
    except TargetError as exc:
        fail(str(exc))
    done = [scan_result_from_dict(item) for item in store.scan_results_of(found["id"])]
    return settings, done


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


class _Sink:
    """Receives results as they complete: store rows (in small batches), streamed jsonl lines, progress bar."""

    FLUSH_ROWS, FLUSH_SECONDS = 200, 0.5  # one SQLite commit per row costs ~4 ms; a killed scan loses < 0.5 s

    def __init__(self, fmt: str, output: Path | None, store: Store | None, run: RunInfo | None, total: int) -> None:
        self.fmt, self.output, self.store, self.run, self.total = fmt, output, store, run, total
        self.results: list[ScanResult] = []
        self.pending: list[ScanResult] = []
        self.flushed = time.monotonic()
        self.stream_file: TextIO | None = None

    async def consume(self, specs: list[TargetSpec], options: dict[str, Any]) -> list[ScanResult]:
        """The local scan (asyncio); store writes run in a thread so they never stall the probes."""
        with _progress(self.total) as (progress, task):
            advance = (lambda: progress.advance(task)) if progress is not None else None
            async for result in scan_iter(specs, on_done=advance, **options):
                if self.take(result):
                    await asyncio.to_thread(self.flush)
            await asyncio.to_thread(self.flush)
        return self.results

    def consume_distributed(self, specs: list[TargetSpec], options: dict[str, Any], executor: Executor) -> list[ScanResult]:
        """The same scan on the engine's executor (``--workers`` / ``--cluster``): results arrive shard by shard."""
        from exaudit.engine import iter_distributed_scan

        try:
            stream = iter_distributed_scan(specs, executor, **options)
        except (TargetError, ProbeError, ValueError) as exc:
            fail(str(exc))
        with _progress(self.total) as (progress, task):
            for result in stream:
                if progress is not None:
                    progress.advance(task)
                if self.take(result):
                    self.flush()
            self.flush()
        return self.results

    def take(self, result: ScanResult) -> bool:
        """Keep one result (and stream its jsonl line); True when the pending store rows are due to be written."""
        self.results.append(result)
        if self.fmt == "jsonl":
            self._write_line(result)
        if not (self.store and self.run):
            return False
        self.pending.append(result)
        return len(self.pending) >= self.FLUSH_ROWS or time.monotonic() - self.flushed > self.FLUSH_SECONDS

    def flush(self) -> None:
        """Write pending rows in one transaction (``Store.add_scan_results``; duplicates are skipped)."""
        batch, self.pending, self.flushed = self.pending, [], time.monotonic()
        if not (batch and self.store and self.run):
            return
        try:
            self.store.add_scan_results(self.run, batch)
        except Exception as exc:  # a store gone bad must not cost the scan: the results are still rendered
            stderr.print(f"warning: {len(batch)} results not stored: {type(exc).__name__}: {exc}", markup=False)

    def replay(self, done: list[ScanResult]) -> None:
        """A resumed run streams the results it already had first, so jsonl output is complete."""
        if self.fmt == "jsonl":
            for result in done:
                self._write_line(result)

    def _write_line(self, result: ScanResult) -> None:
        if self.stream_file is None and self.output is not None:
            self.stream_file = self.output.open("w", encoding="utf-8")
        out = self.stream_file or sys.stdout
        out.write(jsonl_line(result, self.run) + "\n")
        out.flush()

    def close(self) -> None:
        if self.stream_file is not None:
            self.stream_file.close()
            self.stream_file = None


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
