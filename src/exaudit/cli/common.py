"""Options and helpers shared by the commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from exaudit.cli import FAILED, USAGE
from exaudit.render.terminal import safe
from exaudit.store import Store, StoreError

DB_OPTION = typer.Option(
    None, "--db", help="SQLite file or SQLAlchemy URL of the run store (default: $EXAUDIT_DB or ~/.local/share/exaudit/exaudit.db)."
)
NO_STORE_OPTION = typer.Option(False, "--no-store", help="Do not record this run in the store.")
OUTPUT_OPTION = typer.Option(None, "-o", "--output", help="Write to this file instead of standard output.")

stderr = Console(stderr=True, highlight=False, soft_wrap=True)  # one-line errors, never wrapped


def fail(message: str, code: int = USAGE) -> NoReturn:
    """A clear one-line error and an exit code; never a traceback."""
    stderr.print(f"[bold red]error:[/] {safe(message)}", markup=True, highlight=False)
    raise typer.Exit(code)


def open_store(db: str | None) -> Store:
    try:
        return Store(db)
    except StoreError as exc:
        fail(str(exc), FAILED)


def emit(text: str, output: Path | None) -> None:
    """Write a rendered document to a file or stdout."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    else:
        output.write_text(text, encoding="utf-8")


def dump_json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)
