"""``exaudit webshells PATH…``: web shells and attacker files in Exchange/IIS web folders.

Exit codes: 0 no finding above low, 1 a finding above low (suspicious or known web shell), 2 usage error
(missing path, unreadable ``--ioc``/``--yara``, bad ``--since``), 3 the run could not be completed (rules do not
compile, no file could be read, store unavailable).

``--format json`` prints the same document shape as ``exaudit hunt`` (``kind: "webshells"``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from exaudit.cli import ACT, FAILED, OK, USAGE
from exaudit.cli.common import DB_OPTION, NO_STORE_OPTION, OUTPUT_OPTION, dump_json, emit, fail, open_store, stderr
from exaudit.detect.webshell import DEFAULT_MAX_SIZE, WebshellScan, host_views, scan_files
from exaudit.detect.webshell_iocs import IocError, IocSet, load_iocs
from exaudit.detect.webshell_rules import RuleError, compile_rules
from exaudit.model import SCHEMA, HostVerdict, RunInfo, Severity, TimelineEvent, Verdict, to_jsonable
from exaudit.render.terminal import safe

PATHS_ARGUMENT = typer.Argument(..., help="Evidence: an Exchange install or web folder, a triage collection, a mounted drive.")
YARA_OPTION = typer.Option(None, "--yara", help="Folder (or file) of your own YARA rules, run beside the packaged ones.")
IOC_OPTION = typer.Option(None, "--ioc", help="IOC file: CSV, STIX 2.1 bundle or MISP event JSON (repeatable).")


def register(app: typer.Typer) -> None:
    app.command("webshells")(webshells)


def webshells(
    paths: list[Path] = PATHS_ARGUMENT,
    all_files: bool = typer.Option(False, "--all-files", help="Scan every file, not only web folders and server pages."),
    yara_dir: Path = YARA_OPTION,
    ioc_files: list[Path] = IOC_OPTION,
    since: str = typer.Option(None, "--since", help="Start of the attack window (ISO 8601, UTC if no zone), e.g. 2021-01-01."),
    until: str = typer.Option(None, "--until", help="End of the attack window (ISO 8601)."),
    max_size_mb: int = typer.Option(
        DEFAULT_MAX_SIZE // (1024 * 1024), "--max-size", help="MB; larger files are skipped unless they are pages or in web folders."
    ),
    host: str = typer.Option(None, "--host", help="Host name to report (default: from the evidence)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    output: Path = OUTPUT_OPTION,
    db: str = DB_OPTION,
    no_store: bool = NO_STORE_OPTION,
) -> None:
    """Find web shells: the project's YARA rules, Exchange checks, published hashes, attack window."""
    if fmt not in ("table", "json"):
        fail(f"unknown format {fmt!r} (table or json)")
    window = (_parse_time(since, "--since"), _parse_time(until, "--until"))
    iocs = _load_iocs(ioc_files or [])
    _check_rules(yara_dir)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail("no such file or folder: " + ", ".join(missing))
    store = None if no_store else open_store(db)
    run = store.begin_run("webshells", [str(p) for p in paths]) if store else None
    scans: list[tuple[str, WebshellScan]] = []
    for path in paths:
        for view in host_views(path, host):
            scan = scan_files(
                view.files(), view.hostname, all_files=all_files, extra_yara=yara_dir, iocs=iocs,
                since=window[0], until=window[1], max_size=max_size_mb * 1024 * 1024,
            )  # fmt: skip
            scan.errors[:0] = view.errors
            scans.append((view.hostname, scan))
    doc = document(scans, run)
    readable = sum(1 for _, s in scans for i in s.inputs if i.sha256)
    failed = readable == 0 and any(s.inputs or s.errors for _, s in scans)
    if store and run:
        store.finish_run(run, doc, _summary(doc), status="failed" if failed else "done")
    if fmt == "json":
        emit(dump_json(doc), output)
    else:
        _table(doc, output)
    if failed:
        stderr.print("error: no file could be read", markup=False)
        raise typer.Exit(FAILED)
    above_low = any(Severity(f["severity"]).rank > Severity.LOW.rank for f in doc["findings"])
    raise typer.Exit(ACT if above_low else OK)


def document(scans: list[tuple[str, WebshellScan]], run: RunInfo | None = None) -> dict[str, Any]:
    """The canonical JSON document (same shape as ``exaudit hunt``)."""
    findings = [f for _, s in scans for f in s.findings]
    findings.sort(key=lambda f: (-f.severity.rank, f.host, f.source.path if f.source else ""))
    hosts = [_verdict(name, s) for name, s in scans]
    timeline = [
        TimelineEvent(time=f.first_seen, host=f.host, rule=f.rule, message=f"file modified: {f.title}", source=f.source, finding=f.id)
        for f in findings
        if f.first_seen
    ]
    timeline.sort(key=lambda e: e.time)
    return {
        "schema": SCHEMA,
        "kind": "webshells",
        "run": to_jsonable(run) if run else None,
        "hosts": to_jsonable(hosts),
        "findings": to_jsonable(findings),
        "timeline": to_jsonable(timeline),
        "inputs": to_jsonable([i for _, s in scans for i in s.inputs]),
        "errors": to_jsonable([e for _, s in scans for e in s.errors]),
    }


def _verdict(name: str, scan: WebshellScan) -> HostVerdict:
    known = [f for f in scan.findings if f.severity.rank >= Severity.HIGH.rank]
    verdict = HostVerdict(host=name)
    if known:
        verdict.verdict = Verdict.COMPROMISED
        verdict.reasons = [f"web shell: {f.source.path if f.source else '?'} ({f.title})" for f in known[:20]]
    else:
        suspicious = sum(1 for f in scan.findings if f.severity.rank > Severity.LOW.rank)
        verdict.reasons = [f"{len(scan.inputs)} files scanned, {suspicious} suspicious, no known web shell"]
    return verdict


def _summary(doc: dict[str, Any]) -> dict[str, int]:
    counts = {"files": len(doc["inputs"]), "findings": len(doc["findings"]), "errors": len(doc["errors"])}
    for f in doc["findings"]:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    return counts


def _table(doc: dict[str, Any], output: Path | None) -> None:
    several_hosts = len(doc["hosts"]) > 1
    table = Table(title="exaudit webshells (times UTC)")
    columns = ["severity", *(["host"] if several_hosts else []), "path", "rule / reason", "modified"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for f in doc["findings"]:
        row = [f["severity"], *([safe(f["host"])] if several_hosts else [])]
        row += [safe(f["source"]["path"]), safe(f"{f['rule']}: {f['title']}"), safe(f.get("first_seen") or "")]
        table.add_row(*row)
    console = Console(file=output.open("w", encoding="utf-8") if output else None, width=200 if output else None)
    console.print(table)
    s = _summary(doc)
    console.print(f"{s['files']} files scanned, {s['findings']} findings, {s['errors']} errors", markup=False, highlight=False)
    for e in doc["errors"][:20]:
        console.print(safe(f"  {e['kind']}: {e['where']}: {e['message']}"), highlight=False)
    if output:
        console.file.close()


def _parse_time(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: {text!r} is not an ISO 8601 date or time", USAGE)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _load_iocs(files: list[Path]) -> IocSet | None:
    if not files:
        return None
    merged = IocSet()
    for path in files:
        try:
            merged.update(load_iocs(path))
        except IocError as exc:
            fail(str(exc), USAGE)
    return merged


def _check_rules(yara_dir: Path | None) -> None:
    try:
        compile_rules(None)
    except RuleError as exc:
        fail(str(exc), FAILED)
    if yara_dir is not None:
        if not yara_dir.exists():
            fail(f"--yara: no such file or folder: {yara_dir}")
        try:
            compile_rules(str(yara_dir))
        except RuleError as exc:
            fail(str(exc), USAGE)
