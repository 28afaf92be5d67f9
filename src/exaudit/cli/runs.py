"""``exaudit runs``: the runs recorded in the store."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from exaudit.cli import OK
from exaudit.cli.common import DB_OPTION, dump_json, emit, open_store
from exaudit.render.terminal import safe


def register(app: typer.Typer) -> None:
    app.command("runs")(runs)


def runs(
    db: str = DB_OPTION,
    limit: int = typer.Option(20, "--limit", "-n", help="How many runs, newest first."),
    command: str = typer.Option(None, "--command", help="Only runs of this command (scan, hunt, …)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """List past runs (newest first) with their summaries."""
    rows = open_store(db).list_runs(limit=limit, command=command)
    if fmt == "json":
        emit(dump_json(rows), None)
        raise typer.Exit(OK)
    table = Table(title="exaudit runs (times UTC)")
    for col in ("id", "command", "started", "status", "summary"):
        table.add_column(col)
    for r in rows:
        summary = ", ".join(f"{k}={v}" for k, v in r["summary"].items())
        table.add_row(r["id"][:8], r["command"], r["started"], r["status"], safe(summary))
    Console().print(table)
    raise typer.Exit(OK)
