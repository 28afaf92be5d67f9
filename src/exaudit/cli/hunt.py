"""``exaudit hunt PATH…``: was the server compromised? Verdict per host, findings, coverage.

Exit codes: 0 nothing to act on (verdict no_evidence everywhere, no finding above low), 1 findings,
2 usage error (missing path, unknown
format), 3 the run could not be completed (no evidence could be opened or no file could be read,
store unavailable). ``--format json`` prints the canonical hunt document; ``jsonl`` one finding a line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from exaudit.cli import ACT, FAILED, OK
from exaudit.cli.common import DB_OPTION, NO_STORE_OPTION, OUTPUT_OPTION, dump_json, emit, fail, open_store, stderr
from exaudit.hunt import actionable, summary
from exaudit.hunt import hunt as run_hunt
from exaudit.render.terminal import safe

FORMATS = ("table", "json", "jsonl")
PATHS_ARGUMENT = typer.Argument(
    ..., help="Evidence: mounted drive, Exchange install folder, KAPE/Velociraptor collection, zip, loose logs."
)
_VERDICT_STYLE = {"compromised": "bold red", "exploited": "red", "attempted": "yellow", "no_evidence": "green"}
_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def register(app: typer.Typer) -> None:
    app.command("hunt")(hunt)


def hunt(
    paths: list[Path] = PATHS_ARGUMENT,
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or jsonl (one finding a line)."),
    output: Path = OUTPUT_OPTION,
    db: str = DB_OPTION,
    no_store: bool = NO_STORE_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on standard error."),
    workers: int = typer.Option(
        None,
        "--workers",
        "-w",
        help="Processes: the hosts of several paths are spread over them, the log files of one host too (default: one per core).",
    ),
    reference: bool = typer.Option(
        False, "--reference", help="Parse every line of every log in one process (slow; the same result as the default, to verify it)."
    ),
    cluster: str = typer.Option(None, "--cluster", help="Dask scheduler address (tcp://HOST:8786) or local[:N]; see docs/cluster.md."),
) -> None:
    """Hunt Exchange evidence for ProxyLogon, ProxyShell, ProxyNotShell, OWASSRF, CVE-2020-0688 and what followed."""
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r} ({', '.join(FORMATS)})")
    if workers is not None and workers < 1:
        fail(f"--workers must be at least 1, not {workers}")
    if reference and cluster:
        fail("--reference runs in this process: it cannot be combined with --cluster")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such evidence: {', '.join(missing)}")
    store = None if no_store else open_store(db)
    run = store.begin_run("hunt", [str(p) for p in paths]) if store else None
    progress = None if quiet or not sys.stderr.isatty() else (lambda text: stderr.print(safe(text[:150]), end="\r", highlight=False))
    document = _run(paths, workers, cluster, progress, reference)
    counts = summary(document)
    if store and run:
        store.finish_run(run, document, counts)
        document["run"] = {"id": run.id, "command": run.command, "started": run.started, "finished": run.finished}
    if fmt == "json":
        emit(dump_json(document), output)
    elif fmt == "jsonl":
        emit("\n".join(json.dumps(f, ensure_ascii=False) for f in document["findings"]), output)
    else:
        _render(document, counts, output)
    raise typer.Exit(_exit_code(document))


def _run(paths: list[Path], workers: int | None, cluster: str | None, progress: Any, reference: bool) -> dict[str, Any]:
    """One path (or ``--reference``, or one worker): hunted here, its log files spread over ``workers`` processes.
    Several paths: hosts spread over processes or a cluster (inside a worker, files are not spread again).
    The document is the same either way."""
    if reference or (not cluster and (workers == 1 or len(paths) == 1)):
        return run_hunt(paths, progress=progress, reference=reference, workers=workers)
    from exaudit.engine import EngineError, distributed_hunt, get_executor

    try:
        with get_executor(cluster, workers) as executor:
            return distributed_hunt(paths, executor, progress=progress)
    except EngineError as exc:
        fail(str(exc), FAILED)


def _exit_code(document: dict[str, Any]) -> int:
    read_something = any(i.get("records") for i in document["inputs"])
    nothing_read = not document["inputs"] or (not read_something and document["errors"])
    if not document["hosts"] or (nothing_read and not document["findings"]):
        return FAILED  # an empty folder or only unreadable files: nothing can be concluded
    return ACT if actionable(document) else OK


# --------------------------------------------------------------------------- terminal


def _render(document: dict[str, Any], counts: dict[str, Any], output: Path | None) -> None:
    handle = output.open("w", encoding="utf-8") if output else None
    console = Console(file=handle, highlight=False, width=160 if handle else None)
    try:
        console.print(
            f"[bold]exaudit hunt[/] - {counts['hosts']} host(s), {counts['findings']} finding(s), {counts['errors']} error(s); times UTC"
        )
        for host in document["hosts"]:
            _render_host(console, host, document["findings"])
        if document["errors"]:
            console.print(f"\n[bold]Errors[/] ({len(document['errors'])}): files that could not be read are not evidence of absence")
            for err in document["errors"][:15]:
                console.print(f"  {safe(err['kind'])}: {safe(err['where'])} - {safe(err['message'])}")
            if len(document["errors"]) > 15:
                console.print(f"  ... {len(document['errors']) - 15} more (see --format json)")
    finally:
        if handle:
            handle.close()


def _render_host(console: Console, host: dict[str, Any], findings: list[dict[str, Any]]) -> None:
    verdict = host["verdict"]
    style = _VERDICT_STYLE.get(verdict, "bold")
    console.print(f"\n[bold]{safe(host['host'])}[/]: [{style}]{verdict.upper().replace('_', ' ')}[/]")
    if host.get("build"):
        vulnerable = [c["cve"] for c in host.get("cves", []) if c["status"] == "vulnerable"]
        note = (
            f", vulnerable to {len(vulnerable)} known CVE(s): {', '.join(vulnerable[:6])}{' ...' if len(vulnerable) > 6 else ''}"
            if vulnerable
            else ""
        )
        console.print(f"  Exchange build seen in the logs: {safe(host['build'])}{note}")
    for reason in host["reasons"]:
        console.print(f"  - {safe(reason)}")
    mine = [f for f in findings if f["host"] == host["host"]]
    if mine:
        wide = console.width >= 140  # on a narrow terminal the rule id stands for the title
        table = Table(title=f"findings on {safe(host['host'])} (strongest first)")
        table.add_column("severity", no_wrap=True)
        table.add_column("rule", no_wrap=wide, overflow="fold")
        if wide:
            table.add_column("title", ratio=3)
        table.add_column("first seen", no_wrap=wide)
        table.add_column("count", justify="right")
        table.add_column("indicators", ratio=2, overflow="fold")
        for f in mine[:40]:
            sev = f["severity"]
            ind = f["indicators"]
            shown = ", ".join(ind["ips"][:2] + ind["files"][:1] + ind["urls"][:1])
            cells = [f"[{_SEVERITY_STYLE.get(sev, '')}]{sev}[/]", safe(f["rule"])]
            cells += [safe(f["title"])] if wide else []
            cells += [f["first_seen"] or "-", str(f["count"]), safe(_short(shown, 90 if wide else 50))]
            table.add_row(*cells)
        console.print(table)
        if len(mine) > 40:
            console.print(f"  ... {len(mine) - 40} more finding(s) (see --format json)")
    _render_coverage(console, host)


def _render_coverage(console: Console, host: dict[str, Any]) -> None:
    table = Table(title=f"log coverage on {safe(host['host'])}")
    for col in ("log type", "files", "records", "first", "last", "days", "gaps"):
        table.add_column(col)
    for cov in host["coverage"]:
        gaps = ", ".join(f"{g['from']}..{g['to']}" for g in cov["gaps"][:3]) + (" ..." if len(cov["gaps"]) > 3 else "")
        table.add_row(
            cov["artifact"], str(cov["files"]), str(cov["records"]), cov["first"] or "-", cov["last"] or "-", str(cov["days"]), gaps or "-"
        )
    if host["coverage"]:
        console.print(table)
    else:
        console.print("  [yellow]no log could be read on this host: nothing can be concluded[/]")


def _short(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
