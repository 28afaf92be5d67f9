"""``exaudit lab evidence``: write realistic evidence sets (benign traffic with attack chains) and truth.json."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from exaudit.cli import OK
from exaudit.cli.common import fail
from exaudit.cli.lab import lab_app
from exaudit.lab.evidence import LAYOUTS, SCENARIO_NAMES, EvidenceError, generate
from exaudit.render.terminal import safe

OUTDIR_ARGUMENT = typer.Argument(..., help="Folder to write into (one evidence folder or zip per host, truth.json beside them).")


@lab_app.command("evidence")
def evidence(
    outdir: Path = OUTDIR_ARGUMENT,
    scenario: str = typer.Option("proxylogon", "--scenario", "-s", help=f"One of: {', '.join(SCENARIO_NAMES)}."),
    seed: int = typer.Option(1, "--seed", help="Random seed: same seed, same evidence."),
    days: int = typer.Option(30, "--days", help="Days of logs per host."),
    volume: int = typer.Option(20000, "--volume", help="Benign web requests per host (spread over the days)."),
    layout: str = typer.Option("drive", "--layout", help=f"One of: {', '.join(LAYOUTS)}."),
) -> None:
    """Generate evidence of Exchange servers (attacks inside benign traffic) with ground truth in truth.json."""
    try:
        truth = generate(outdir, scenario=scenario, seed=seed, days=days, volume=volume, layout=layout)
    except EvidenceError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {outdir}: {exc}", 3)
    table = Table(title=f"evidence written to {safe(str(outdir))} (truth.json beside it; times UTC)")
    for col in ("host", "evidence", "scenario", "build", "expected verdict", "attack time"):
        table.add_column(col)
    for h in truth["hosts"]:
        table.add_row(h["host"], safe(h["evidence"]), h["scenario"], h["build"], h["verdict"], h["attack_time"] or "-")
    Console(stderr=True).print(table)
    raise typer.Exit(OK)
