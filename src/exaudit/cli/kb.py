"""``exaudit kb``: what the knowledge base says about one build (product, CU, SU, support, every CVE)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from exaudit.cli import ACT, OK, USAGE
from exaudit.cli.common import OUTPUT_OPTION, dump_json, emit
from exaudit.kb import BuildError, BuildInfo, KbError, KnowledgeBase, load_kb, parse_build
from exaudit.model import SCHEMA, CveStatus, Status
from exaudit.render.terminal import safe

_STYLE = {
    Status.VULNERABLE: "bold red",
    Status.POSSIBLY_VULNERABLE: "yellow",
    Status.UNKNOWN: "magenta",
    Status.NOT_VULNERABLE: "green",
}


def register(app: typer.Typer) -> None:
    app.command("kb")(kb)


BUILD_ARGUMENT = typer.Argument(
    None, help="Build in any usual notation: 15.1.2176.9, 15.01.2176.009, 15.1.2176, 'Version 15.1 (Build 2176.9)'."
)
CVE_OPTION = typer.Option(None, "--cve", help="Only this CVE (repeatable).")
KB_DIR_OPTION = typer.Option(
    None, "--kb-dir", help="Folder with newer knowledge-base CSV files (default: $EXAUDIT_KB_DIR or the packaged data)."
)
INFO_OPTION = typer.Option(False, "--info", help="Show which knowledge-base data is in use, its date and the newest builds.")


def kb(
    build: str | None = BUILD_ARGUMENT,
    cve: list[str] | None = CVE_OPTION,
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    kb_dir: Path | None = KB_DIR_OPTION,
    info: bool = INFO_OPTION,
    output: Path | None = OUTPUT_OPTION,
) -> None:
    """Exposure of one Exchange build to every known CVE, with the reason and what to install.

    Exit 1 when any CVE is vulnerable or possibly vulnerable, 0 otherwise, 2 for a bad notation.
    """
    if fmt not in ("table", "json"):
        _usage(f"unknown format {fmt!r}: use table or json")
    try:
        base = load_kb(kb_dir)
    except KbError as exc:
        _usage(str(exc))
    if info:
        _show_info(base, fmt, output)
        raise typer.Exit(OK)
    if build is None:
        _usage("give a BUILD (e.g. 15.1.2176.9) or --info")
    try:
        parsed = parse_build(build)
    except BuildError as exc:
        _usage(str(exc))
    statuses = _select(base, parsed, cve or [])
    details = base.identify(parsed)
    if fmt == "json":
        emit(dump_json(_document(details, statuses)), output)
    else:
        _print_table(details, statuses, base, output)
    acting = any(s.status.actionable for s in statuses)
    raise typer.Exit(ACT if acting else OK)


def _usage(message: str) -> NoReturn:
    """A one-line error (never wrapped, input escaped) and exit 2."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {safe(message)}")
    raise typer.Exit(USAGE)


def _select(base: KnowledgeBase, build: Any, wanted: list[str]) -> list[CveStatus]:
    if not wanted:
        return base.assess(build)
    ids = [w.strip().upper() for w in wanted]
    missing = [i for i in ids if base.cve(i) is None]
    if missing:
        _usage(f"not in the knowledge base (data of {base.data_date}): {', '.join(missing)}; newer data: --kb-dir")
    return [base.assess_cve(build, i) for i in dict.fromkeys(ids)]


def _document(details: BuildInfo, statuses: list[CveStatus]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "build": str(details.build),
        "product": details.product,
        "cu": details.cu,
        "su": details.su,
        "released": details.released.isoformat() if details.released else None,
        "cves": [{"cve": s.cve, "status": s.status.value, "reason": s.reason, "fix": s.fix} for s in statuses],
    }


def _console(output: Path | None) -> Console:
    if output is None:
        return Console(highlight=False)
    return Console(file=output.open("w", encoding="utf-8"), width=200, highlight=False, color_system=None)


def _print_table(details: BuildInfo, statuses: list[CveStatus], base: KnowledgeBase, output: Path | None) -> None:
    console = _console(output)
    name = base.products[details.product].name
    known = "" if details.known else "  [magenta](not in the knowledge base: judged by its CU's thresholds where known)[/]"
    console.print(f"[bold]{safe(str(details.build))}[/]  {safe(name)}{known}")
    su = details.su or ("none/unknown" if details.build.precise else "not visible (3-part build)")
    released = details.released.isoformat() if details.released else "unknown"
    console.print(f"CU: {safe(details.cu or 'unknown')}   SU: {safe(su)}   released: {released}")
    console.print(f"support: {safe(details.support)}")
    table = Table(title=f"exposure by build (knowledge base of {safe(base.data_date)})", show_lines=False)
    for column in ("CVE", "name", "status"):
        table.add_column(column, no_wrap=True)
    for column in ("reason", "install"):
        table.add_column(column, overflow="fold", ratio=1)
    for status in statuses:
        meta = base.cve(status.cve)
        table.add_row(
            safe(status.cve),
            safe(meta.name if meta else ""),
            f"[{_STYLE[status.status]}]{status.status.value}[/]",
            safe(status.reason),
            safe(status.fix or ""),
        )
    console.print(table)
    if output is not None:
        console.file.close()


def _product_summary(base: KnowledgeBase, product: str) -> dict[str, str | None]:
    newest_cu = base.newest_cu(product)
    latest = base.latest_release(product)
    return {
        "product": product,
        "name": base.products[product].name,
        "support": base.support(product),
        "newest_cu": newest_cu.name if newest_cu else None,
        "latest_build": str(latest.build) if latest else None,
        "latest_release": f"{latest.cu} {latest.su or ''}".strip() if latest else None,
        "latest_released": latest.released.isoformat() if latest and latest.released else None,
    }


def _show_info(base: KnowledgeBase, fmt: str, output: Path | None) -> None:
    products = [_product_summary(base, product) for product in base.products]
    name = base.meta.get("name", "")
    if fmt == "json":
        document = {
            "schema": SCHEMA,
            "folder": str(base.source),
            "origin": base.origin,
            "date": base.data_date,
            "name": name,
            "builds": len(base.releases()),
            "cves": len(base.cves()),
            "products": products,
        }
        emit(dump_json(document), output)
        return
    console = _console(output)
    console.print(f"[bold]knowledge base[/]: {safe(name or '(unnamed)')}  date {safe(base.data_date)}")
    console.print(f"folder: {safe(str(base.source))} ({safe(base.origin)})")
    console.print(f"{len(base.releases())} builds, {len(base.cves())} CVEs")
    table = Table(title="products")
    for column in ("product", "support", "newest CU", "latest release"):
        table.add_column(column, overflow="fold")
    for p in products:
        latest = f"{p['latest_build']} ({p['latest_release']}, {p['latest_released']})" if p["latest_build"] else ""
        table.add_row(safe(p["name"] or ""), safe(p["support"] or ""), safe(p["newest_cu"] or ""), safe(latest))
    console.print(table)
    if output is not None:
        console.file.close()
