"""``exaudit report``: render stored runs (or JSON documents) as HTML, Markdown, JSON, CSV, STIX, MISP or Timesketch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from exaudit.cli import ACT, FAILED, OK
from exaudit.cli.common import DB_OPTION, OUTPUT_OPTION, emit, fail, open_store, stderr
from exaudit.render import FORMATS, TLP_LEVELS, RenderError, render
from exaudit.render.view import build_view
from exaudit.store import StoreError

DEFAULT_KINDS = ("scan", "hunt")
RUNS_ARGUMENT = typer.Argument(None, help="Run ids or unique prefixes (default: the latest scan and the latest hunt).")
FROM_OPTION = typer.Option(None, "--from", help="Read this scan/hunt JSON document (repeatable) instead of stored runs.")
LANG_OPTION = typer.Option("en", "--lang", "-l", help="en or fr.")


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def load_documents(db: str | None, runs: list[str] | None, files: list[Path] | None) -> list[dict[str, Any]]:
    """The documents to render: the given run ids (prefixes) and JSON files, else the latest scan and hunt."""
    documents = [_read_file(p) for p in files or []]
    store = open_store(db) if runs or not documents else None
    if store is not None and runs:
        for run_id in runs:
            try:
                documents.append(store.load_run(run_id))
            except StoreError as exc:
                fail(str(exc))
    elif store is not None:
        for kind in DEFAULT_KINDS:
            try:
                documents.append(store.load_run(None, kind))
            except StoreError:
                continue  # no run of this kind yet: report on the other
        if not documents:
            fail(f"no finished scan or hunt run in {store.url}: run exaudit scan or exaudit hunt first", FAILED)
    return documents


def _read_file(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")
    if not isinstance(document, dict) or document.get("kind") not in ("scan", "hunt", "webshells"):
        fail(f"{path} is not an exaudit scan, hunt or webshells document")
    return document


def report(
    runs: list[str] = RUNS_ARGUMENT,
    fmt: str = typer.Option("html", "--format", "-f", help=f"One of: {', '.join(FORMATS)}."),
    lang: str = LANG_OPTION,
    tlp: str = typer.Option("amber", "--tlp", help=f"Sharing label (TLP 2.0): {', '.join(TLP_LEVELS)}."),
    files: list[Path] = FROM_OPTION,
    db: str = DB_OPTION,
    output: Path = OUTPUT_OPTION,
) -> None:
    """Write a report of stored runs: per-server verdicts, findings, timeline, indicators, remediation plan.

    Everything but --format json masks session tokens and passwords. Exit 1 when there is something to act on.
    """
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt.startswith("timesketch") and output and output.suffix not in (".jsonl", ".csv"):
        stderr.print(f"note: Timesketch imports only files named *.jsonl or *.csv, not {output.name}", markup=False, highlight=False)
    documents = load_documents(db, runs, files)
    try:
        text = render(documents, fmt, lang, tlp=tlp)
    except RenderError as exc:
        fail(str(exc))
    try:
        emit(text, output)
    except OSError as exc:
        fail(f"cannot write {output}: {exc}", FAILED)
    raise typer.Exit(ACT if build_view(documents).needs_action else OK)
