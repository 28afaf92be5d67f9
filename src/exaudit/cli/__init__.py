"""The command line: thin, it parses arguments, calls the API, renders, sets the exit code.

Exit codes (every command):

* 0 — done, nothing to report (no vulnerable build, no finding)
* 1 — done, something to act on (a vulnerable or possibly vulnerable build, a finding)
* 2 — usage error (bad argument, unknown build notation, target outside the scope)
* 3 — the run could not be completed (store unavailable, all inputs unreadable)
"""

from __future__ import annotations

import importlib
import sys

import typer

OK, ACT, USAGE, FAILED = 0, 1, 2, 3

app = typer.Typer(
    name="exaudit",
    help="Audit Microsoft Exchange servers: exposure (scan), compromise (hunt), response (report, notify).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One module per command group; each defines ``register(app)``.
_COMMAND_MODULES = ("demo", "kb", "scan", "hunt", "webshells", "report", "notify", "runs", "lab")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"exaudit.cli.{_name}").register(app)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        from exaudit import __version__

        typer.echo(f"exaudit {__version__}")
        raise typer.Exit(OK)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of exiting (for tests and notebooks).

    Commands end with ``raise typer.Exit(code)``; usage errors are Click's (exit 2).
    """
    try:
        app(args=argv, prog_name="exaudit")
    except SystemExit as exc:
        if exc.code is None:
            return OK
        return exc.code if isinstance(exc.code, int) else FAILED
    return OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
