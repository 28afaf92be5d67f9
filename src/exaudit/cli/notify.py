"""``exaudit notify``: draft letters to partners, clients or the data protection authority."""

from __future__ import annotations

from pathlib import Path

import typer

from exaudit.cli import ACT, FAILED, OK
from exaudit.cli.common import DB_OPTION, OUTPUT_OPTION, emit, fail, stderr
from exaudit.cli.report import FROM_OPTION, LANG_OPTION, RUNS_ARGUMENT, load_documents
from exaudit.render.letters import AUDIENCES, render_letter
from exaudit.render.view import build_view


def register(app: typer.Typer) -> None:
    app.command("notify")(notify)


def notify(
    runs: list[str] = RUNS_ARGUMENT,
    audience: str = typer.Option(..., "--audience", "-a", help=f"Who the letter is for: {', '.join(AUDIENCES)}."),
    lang: str = LANG_OPTION,
    files: list[Path] = FROM_OPTION,
    db: str = DB_OPTION,
    output: Path = OUTPUT_OPTION,
) -> None:
    """Draft a notification letter (Markdown) from the findings, with [[TO COMPLETE: …]] placeholders.

    The regulator draft follows GDPR Art. 33(3) (a)-(d). Exit 1 when the runs hold findings.
    """
    if audience not in AUDIENCES:
        fail(f"unknown audience {audience!r}: choose one of {', '.join(AUDIENCES)}")
    if lang not in ("en", "fr"):
        fail(f"unknown language {lang!r}: choose en or fr")
    documents = load_documents(db, runs, files)
    view = build_view(documents)
    if not view.findings:
        stderr.print("note: these runs hold no finding; check that a notification is needed at all.", markup=False, highlight=False)
    try:
        emit(render_letter(documents, audience, lang), output)
    except OSError as exc:
        fail(f"cannot write {output}: {exc}", FAILED)
    raise typer.Exit(ACT if view.findings else OK)
