"""``exaudit demo``: the whole story on built-in data, with the real commands shown as they run.

1. the knowledge base explains a build; 2. a small lab of emulated Exchange servers on loopback is scanned;
3. lab evidence sets (a compromised, an attacked and a quiet server) are written and hunted; 4. the HTML
reports (English, French) and 5. the notification letters are written. Nothing leaves this machine.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import typer
from rich.console import Console

from exaudit.cli import ACT, FAILED, OK
from exaudit.cli.common import fail
from exaudit.render.terminal import safe

# A small estate with one of each story a scan tells (builds from the knowledge base).
DEMO_SERVERS = (
    {"build": "15.1.2176.2", "owa_version_header": True},  # 2016 CU19 before Mar21SU: exact build, ProxyLogon
    {"build": "15.2.792.10", "owa_version_header": False},  # 2019 CU8 Mar21SU: exact from the ECP manifest
    {"build": "15.2.1118.7", "owa_version_header": False, "exporttool": False, "eems": True},  # CU only, mitigated
    {"build": "15.0.1497.2", "owa_version_header": False, "exporttool": False, "eomt": True},  # 2013 CU23 + EOMT
    {"build": "15.2.2562.53"},  # Exchange SE, current
    {"build": "14.3.513.0"},  # Exchange 2010 SP3 RU32
    {"kind": "plain"},  # a web site that is not Exchange
    {"kind": "tarpit"},  # a host that accepts and never answers
)
SCENARIOS = ("proxylogon", "attempt-only", "benign")
AUDIENCES = ("partners", "clients", "regulator")
OUT_OPTION = typer.Option(Path("exaudit-demo"), "--out", help="Folder for the evidence, reports and letters.")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Path = OUT_OPTION,
    db: str = typer.Option(None, "--db", help="Run store (default: OUT/exaudit-demo.db, apart from your own runs)."),
    lang: str = typer.Option("en", "--lang", help="Language of the letters: en or fr."),
) -> None:
    """Run the whole job on built-in data: explain builds, scan a lab, hunt evidence, write reports and letters."""
    from exaudit.cli import main  # the real commands, run in-process
    from exaudit.lab import Lab, ServerSpec
    from exaudit.lab.evidence import EvidenceError, evidence_paths, generate

    console = Console(highlight=False)
    out.mkdir(parents=True, exist_ok=True)
    store = db or str(out / "exaudit-demo.db")

    def run(title: str, argv: list[str]) -> None:
        console.rule(f"[bold]{safe(title)}")
        console.print(f"[dim]$ exaudit {safe(shlex.join(argv))}[/]")
        code = main(argv)
        if code not in (OK, ACT):
            fail(f"demo step failed (exit {code}): exaudit {shlex.join(argv)}", FAILED)

    run("1/5  What is a build exposed to?", ["kb", "15.1.1847.12", "--cve", "CVE-2021-26855", "--cve", "CVE-2020-0688"])

    specs = [ServerSpec(**fields) for fields in DEMO_SERVERS]
    with Lab(specs, first_address="127.0.10.1", port=0) as lab:
        targets = [f"{ep.host}:{ep.port}" for ep in lab.endpoints]
        scan_argv = ["scan", *targets, "--probe", "all", "--timeout", "1", "--host-timeout", "3", "--db", store]
        run("2/5  Which servers are exposed? (a lab of emulated servers on loopback)", scan_argv)

    evidence_root = out / "evidence"
    shutil.rmtree(evidence_root, ignore_errors=True)  # ours: written by a previous demo
    paths: list[str] = []
    try:
        for seed, scenario in enumerate(SCENARIOS, start=1):
            truth = generate(evidence_root / scenario, scenario=scenario, seed=seed, days=14, volume=3000)
            paths += [str(p) for p in evidence_paths(evidence_root / scenario, truth)]
    except (EvidenceError, OSError) as exc:
        fail(f"cannot write the demo evidence: {exc}", FAILED)
    run("3/5  Were they compromised? (lab evidence: one compromised, one attacked, one quiet server)", ["hunt", *paths, "--db", store])

    reports = [out / "report.html", out / "rapport.html"]
    run("4/5  The report (English)", ["report", "--format", "html", "--lang", "en", "-o", str(reports[0]), "--db", store])
    run("4/5  Le rapport (français)", ["report", "--format", "html", "--lang", "fr", "-o", str(reports[1]), "--db", store])
    letters = [out / f"letter-{audience}-{lang}.md" for audience in AUDIENCES]
    for audience, letter in zip(AUDIENCES, letters, strict=True):
        run(f"5/5  Letter to {audience}", ["notify", "--audience", audience, "--lang", lang, "-o", str(letter), "--db", store])

    console.rule("[bold]Done")
    for path in [*reports, *letters, evidence_root]:
        console.print(f"  {safe(str(path.resolve()))}")
    console.print(f"  runs: exaudit runs --db {safe(store)}")
    raise typer.Exit(OK)
