"""``exaudit lab …``: the lab command group (``lab serve`` here).

Other lab commands (``lab evidence``) are added to the same group: ``from exaudit.cli.lab import lab_app`` and
``@lab_app.command("evidence")`` in their own module, imported from ``register()`` below.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from exaudit.cli import FAILED, OK
from exaudit.cli.common import fail
from exaudit.lab import HOSTILE_KINDS, Lab, LabError, ServerSpec, SpecError, farm_specs, loopback_addresses
from exaudit.lab.serve_spec import spec_from_mapping
from exaudit.render.terminal import safe

lab_app = typer.Typer(
    name="lab",
    help="The lab: emulated Exchange front ends and hostile servers on loopback addresses (tests, demos, benchmarks).",
    no_args_is_help=True,
)

# Modules that add commands to lab_app (``lab evidence`` goes here, e.g. "exaudit.cli.lab_evidence"): each does
# ``from exaudit.cli.lab import lab_app`` and decorates its commands with ``@lab_app.command(...)``.
_LAB_COMMAND_MODULES: tuple[str, ...] = ("exaudit.cli.lab_evidence",)


def register(app: typer.Typer) -> None:
    for name in _LAB_COMMAND_MODULES:
        importlib.import_module(name)
    app.add_typer(lab_app, name="lab")


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$", re.I)


def parse_seconds(text: str) -> float:
    """``200ms`` → 0.2, ``1.5s`` → 1.5, ``2m`` → 120, ``3`` → 3 (seconds)."""
    match = _DURATION_RE.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (examples: 200ms, 1.5s, 2m)")
    value, unit = float(match.group(1)), (match.group(2) or "s").lower()
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def _load_config(path: Path) -> dict[str, Any]:
    """A YAML file: ``servers:`` (list of ServerSpec fields), optional ``first``, ``port``, ``farm``, ``seed``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        fail(f"cannot read lab config {safe(str(path))}: {safe(str(exc))}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        fail(f"lab config {safe(str(path))} must be a mapping with a 'servers' list")
    unknown = sorted(set(data) - {"servers", "first", "port", "farm", "seed"})
    if unknown:
        fail(f"unknown key(s) in lab config: {safe(', '.join(map(str, unknown)))} (known: servers, first, port, farm, seed)")
    return data


def _config_specs(config: dict[str, Any]) -> list[ServerSpec]:
    servers = config.get("servers") or []
    if not isinstance(servers, list) or not all(isinstance(item, dict) for item in servers):
        fail("'servers' in the lab config must be a list of mappings (e.g. - build: 15.1.2176.2)")
    specs = []
    for number, item in enumerate(servers, 1):
        try:
            specs.append(spec_from_mapping(item))
        except SpecError as exc:
            fail(f"lab config server {number}: {safe(str(exc))}")
    return specs


def _apply_common(specs: list[ServerSpec], delay: float, no_tls: bool) -> list[ServerSpec]:
    changes: dict[str, object] = {}
    if delay:
        changes["delay"] = delay
    if no_tls:
        changes["tls"] = False
    return [spec.replace(**changes) for spec in specs] if changes else specs


def _print_table(lab: Lab) -> None:
    table = Table(title=f"exaudit lab: {len(lab.endpoints)} server(s)")
    for column in ("address", "port", "scheme", "product", "build", "options"):
        table.add_column(column)
    for endpoint in lab.endpoints:
        spec = endpoint.spec
        build = spec.build if spec.kind == "exchange" else ""
        scheme = endpoint.url.partition(":")[0]
        table.add_row(endpoint.host, str(endpoint.port), scheme, spec.product, build, safe(spec.options()))
    Console().print(table)


_BUILD_OPTION = typer.Option([], "--build", "-b", help="Serve an Exchange server at this 4-part build (repeatable).")
_CONFIG_OPTION = typer.Option(None, "--config", help="YAML file with a 'servers' list of server options.")
_TARGETS_OPTION = typer.Option(None, "--targets", help="Also write every server's base URL to this file, one per line.")
_HOSTILE_OPTION = typer.Option([], "--hostile", help=f"Add a hostile server: {', '.join(HOSTILE_KINDS)} (repeatable).")


def serve(
    build: list[str] = _BUILD_OPTION,
    farm: int = typer.Option(0, "--farm", help="Add a farm of N servers (a realistic, seeded mix)."),
    seed: int = typer.Option(1, "--seed", help="Seed of the farm mix."),
    config: Path = _CONFIG_OPTION,
    hostile: list[str] = _HOSTILE_OPTION,
    proxylogon: str = typer.Option(None, "--proxylogon", help="vulnerable or patched for the --build servers (default: from the build)."),
    eomt: bool = typer.Option(False, "--eomt", help="--build servers carry the EOMT URL Rewrite rules (CVE-2021-26855)."),
    eems: bool = typer.Option(False, "--eems", help="--build servers carry the EEMS ProxyNotShell rule (CVE-2022-41040)."),
    first: str = typer.Option(None, "--first", help="First loopback address [default: 127.0.10.1]."),
    port: int = typer.Option(None, "--port", help="Port of every server [default: 443]."),
    delay: str = typer.Option("0", "--delay", help="Added to every answer, e.g. 200ms."),
    no_tls: bool = typer.Option(False, "--no-tls", help="Plain HTTP instead of HTTPS."),
    duration: float = typer.Option(None, "--duration", help="Stop after this many seconds (default: until Ctrl-C)."),
    targets: Path = _TARGETS_OPTION,
) -> None:
    """Serve emulated Exchange front ends on loopback addresses and print where each listens."""
    cfg = _load_config(config) if config else {}
    try:
        added_delay = parse_seconds(delay)
        specs = [ServerSpec(build=value, proxylogon=proxylogon, eomt=eomt, eems=eems) for value in build]
        specs += [ServerSpec(kind=kind) for kind in hostile]
    except (ValueError, SpecError) as exc:
        fail(safe(str(exc)))
    specs += _config_specs(cfg)
    farm_size = farm or int(cfg.get("farm") or 0)
    specs += farm_specs(farm_size, seed=int(cfg.get("seed", seed))) if farm_size else []
    if not specs:
        fail("nothing to serve: give --build, --farm, --hostile or --config")
    specs = _apply_common(specs, added_delay, no_tls)
    first_address = first or str(cfg.get("first", "127.0.10.1"))
    try:
        loopback_addresses(first_address, len(specs))  # refuse anything outside 127.0.0.0/8 before binding
    except LabError as exc:
        fail(safe(str(exc)))
    try:
        lab = Lab(specs, first_address=first_address, port=port if port is not None else int(cfg.get("port", 443))).start()
    except (LabError, ValueError) as exc:
        fail(safe(str(exc)), FAILED)
    _print_table(lab)
    if targets is not None:
        try:
            targets.write_text("".join(f"{endpoint.url}\n" for endpoint in lab.endpoints), encoding="utf-8")
        except OSError as exc:
            lab.stop()
            fail(f"cannot write {safe(str(targets))}: {safe(str(exc))}", FAILED)
    until = f"for {duration:g} s" if duration else "until Ctrl-C"
    Console(stderr=True).print(f"serving {len(lab.endpoints)} server(s) {until}; every request is recorded in memory")
    lab.serve_forever(duration)
    Console(stderr=True).print(f"stopped: {lab.connections} connection(s), {len(lab.requests)} request(s)")
    raise typer.Exit(OK)


lab_app.command("serve")(serve)
