"""``exaudit lab evidence``: realistic evidence sets of Exchange servers, with the ground truth beside them.

Each host is one folder (or one .zip) under OUTDIR, laid out as a responder would receive it:

* ``drive`` - a mounted system drive (``Program Files``, ``inetpub``, ``ProgramData``, ``Windows``);
* ``install`` - the Exchange install folder (``V15``) with the IIS log folder and event exports beside;
* ``kape`` - a KAPE target destination (``<host>/C/...``);
* ``velociraptor`` - an expanded Velociraptor collection (``uploads/auto/C%3A/...`` + ``client_info.json``);
* ``zip`` - the drive layout in ``<host>.zip``.

``truth.json`` (beside the hosts, never inside evidence) lists per host the scenario, the expected
verdict, the attacker's values, the rules that must fire and the web shell path. Benign traffic is
generated day by day and written as it goes, so ``--volume`` in the millions stays in bounded memory.

References: reference/published-attack-examples.md (every attack line), reference/microsoft-css-exchange.md
§1.15 (log formats and places); ARCHITECTURE.md ("The lab is part of the product").
"""

from __future__ import annotations

import json
import os
import random
import shutil
import uuid
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from exaudit.lab.evidence_formats import (
    ECP_FIELDS,
    HTTPPROXY_FIELDS,
    IIS_FIELDS_DEFAULT,
    IIS_FIELDS_EXTENDED,
    OAB_FIELDS,
    RPS_CMDLET_FIELDS,
    RPS_HTTP_FIELDS,
    Request,
    Row,
    csv_line,
    exchange_header,
    httpproxy_values,
    iis_header,
    iis_line,
    json_event,
    padded_version,
    protocol_of,
    stamp,
)
from exaudit.lab.evidence_scenarios import FIRST_NAMES, INSTALL_PARTS, SCENARIOS, Site, benign_background, benign_day

LAYOUTS = ("drive", "install", "kape", "velociraptor", "zip")
SCENARIO_NAMES = (*SCENARIOS, "all")
LOGGING = (*INSTALL_PARTS, "Logging")


class EvidenceError(ValueError):
    """Bad generator arguments; the message says which."""


def _host_name(rng: random.Random, index: int) -> str:
    return rng.choice(("EXCH", "MAIL", "EX", "MBX", "CAS")) + f"{rng.randint(1, 9):02d}" + ("" if index == 0 else chr(65 + index))


def make_site(rng: random.Random, scenario: str, days: int, index: int) -> tuple[Site, datetime | None]:
    func, anchor, builds = SCENARIOS[scenario]
    attack_day = anchor + timedelta(days=rng.randint(0, 6))
    end = attack_day + timedelta(days=rng.randint(1, max(1, min(10, days - 1))))
    end = end.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    if attack_day < start:  # a short window still holds the attack
        attack_day = start + timedelta(days=days // 2)
    users = rng.sample(FIRST_NAMES, k=8)
    site = Site(
        rng=rng,
        host=_host_name(rng, index),
        domain=rng.choice(("contoso.local", "corp.example", "fabrikam.lan", "bank.internal", "acme.test")),
        build=rng.choice(builds),
        start=start,
        end=end,
        server_ip=f"10.0.{rng.randint(0, 9)}.{rng.randint(10, 60)}",
        users=users,
        admin="adm-" + users[0],
    )
    return site, (attack_day + timedelta(hours=rng.randint(0, 23), minutes=rng.randint(0, 59)) if func else None)


# --------------------------------------------------------------------------- writing


class _Writer:
    """Writes one host's files under its drive root and keeps their mtimes for the end."""

    def __init__(self, root: Path, layout: str) -> None:
        self.root = root
        self.layout = layout
        self.mtimes: dict[Path, datetime] = {}

    def path(self, parts: tuple[str, ...]) -> Path:
        if self.layout == "install":
            parts = _install_parts(parts)
        return self.root.joinpath(*parts)

    def open(self, parts: tuple[str, ...], header: str) -> TextIO:
        path = self.path(parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w", encoding="utf-8", newline="")
        handle.write(header)
        return handle

    def touch(self, parts: tuple[str, ...], ts: datetime) -> None:
        path = self.path(parts)
        self.mtimes[path] = max(ts, self.mtimes.get(path, ts))

    def write_bytes(self, parts: tuple[str, ...], data: bytes, ts: datetime) -> None:
        path = self.path(parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.touch(parts, ts)

    def finish(self) -> None:
        for path, ts in self.mtimes.items():
            stamp_s = ts.replace(tzinfo=UTC).timestamp()
            os.utime(path, (stamp_s, stamp_s))


def _install_parts(parts: tuple[str, ...]) -> tuple[str, ...]:
    """Install layout: the V15 folder at the top, IIS logs and exports beside it, nothing else."""
    if parts[: len(INSTALL_PARTS)] == INSTALL_PARTS:
        return ("V15", *parts[len(INSTALL_PARTS) :])
    if parts[:3] == ("inetpub", "logs", "LogFiles"):
        return parts[3:]
    return ("other", *parts)


def _write_requests(w: _Writer, site: Site, day: datetime, requests: list[Request], iis_fields: list[str], proxy_fields: list[str]) -> None:
    if not requests:
        return
    iis_parts = ("inetpub", "logs", "LogFiles", "W3SVC1", f"u_ex{day:%y%m%d}.log")
    proxies: dict[str, tuple[tuple[str, ...], TextIO]] = {}
    version = padded_version(site.build)
    with w.open(iis_parts, iis_header(requests[0].time, iis_fields)) as iis:
        for req in requests:
            iis.write(iis_line(req, iis_fields, site.server_ip, site.host, site.fqdn))
            if not req.proxied:
                continue
            proto = protocol_of(req.stem)
            if proto not in proxies:
                parts = (*LOGGING, "HttpProxy", proto, f"HttpProxy_{req.time:%Y%m%d%H}-1.LOG")
                proxies[proto] = (parts, w.open(parts, exchange_header(req.time, version, "HttpProxy Logs", proxy_fields)))
            request_id = str(uuid.UUID(int=site.rng.getrandbits(128), version=4))
            proxies[proto][1].write(csv_line(httpproxy_values(req, site.build, site.host, site.fqdn, request_id, proxy_fields)))
    w.touch(iis_parts, requests[-1].time)
    for proxy_parts, handle in proxies.values():
        handle.close()
        w.touch(proxy_parts, requests[-1].time)


def _write_rows(
    w: _Writer, site: Site, rows: list[Row], folder: tuple[str, ...], name: str, log_type: str, fields: list[str], version: str
) -> None:
    by_day: dict[str, list[Row]] = {}
    for row in sorted(rows, key=lambda r: r.time):
        by_day.setdefault(row.time.strftime(name), []).append(row)
    for filename, day_rows in by_day.items():
        parts = (*folder, filename)
        with w.open(parts, exchange_header(day_rows[0].time, version, log_type, fields)) as handle:
            for row in day_rows:
                values = {"DateTime": stamp(row.time), "TimeStamp": stamp(row.time), **row.fields}
                handle.write(csv_line([values.get(f, "") for f in fields]))
        w.touch(parts, day_rows[-1].time)


def _write_events(w: _Writer, site: Site) -> None:
    by_channel: dict[str, list[Any]] = {}
    for ev in sorted(site.events, key=lambda e: e.time):
        by_channel.setdefault(ev.channel, []).append(ev)
    for channel, events in by_channel.items():
        parts = ("EventExports", channel.replace("/", "%4") + ".json")
        with w.open(parts, "") as handle:
            for ev in events:
                handle.write(json_event(ev, site.fqdn))
        w.touch(parts, events[-1].time)


def _cover_attack(site: Site, requests: list[Request]) -> None:
    """Widen the log window to whole days around every attack trace, so the truth never names a line not written."""
    times = (
        [r.time for r in requests]
        + [e.time for e in site.events]
        + [r.time for rows in (site.ecp, site.oab, site.rps_http, site.rps_cmdlet) for r in rows]
    )
    if not times:
        return
    first = min(times).replace(hour=0, minute=0, second=0, microsecond=0)
    last = max(times).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    site.start, site.end = min(site.start, first), max(site.end, last)


def write_site(site: Site, root: Path, layout: str, attack_requests: list[Request], volume: int) -> None:
    rng = site.rng
    w = _Writer(root, layout)
    iis_fields = list(rng.choice((IIS_FIELDS_DEFAULT, IIS_FIELDS_EXTENDED)))
    proxy_fields = HTTPPROXY_FIELDS[:68] if site.build.startswith("15.0.") else list(HTTPPROXY_FIELDS)
    days = max(1, (site.end - site.start).days)
    per_day = max(1, volume // days)
    attacks = sorted(attack_requests, key=lambda r: r.time)
    for d in range(days):
        day = site.start + timedelta(days=d)
        todays = [r for r in attacks if day <= r.time < day + timedelta(days=1)]
        requests = sorted(benign_day(site, day, per_day) + todays, key=lambda r: r.time)
        _write_requests(w, site, day, requests, iis_fields, proxy_fields)
    version = padded_version(site.build)
    _write_rows(w, site, site.ecp, (*LOGGING, "ECP", "Server"), "ECPServer%Y%m%d-1.LOG", "ECP Server Log", ECP_FIELDS, "15.0.0.0")
    _write_rows(w, site, site.oab, (*LOGGING, "OABGeneratorLog"), "OABGenerator_%Y%m%d-1.LOG", "OAB Generator Log", OAB_FIELDS, version)
    rps = (*LOGGING, "CmdletInfra", "Powershell-Proxy")
    _write_rows(w, site, site.rps_http, (*rps, "Http"), "Rps_Http_%Y%m%d00-1.LOG", "Rps Http Logs", RPS_HTTP_FIELDS, version)
    _write_rows(w, site, site.rps_cmdlet, (*rps, "Cmdlet"), "Rps_Cmdlet_%Y%m%d00-1.LOG", "Rps Cmdlet Logs", RPS_CMDLET_FIELDS, version)
    _write_events(w, site)
    for f in site.files:
        if layout == "install" and f.path[: len(INSTALL_PARTS)] != INSTALL_PARTS:
            continue  # an install folder holds no ProgramData or Windows\Temp
        w.write_bytes(f.path, f.content, f.time)
    w.finish()


# --------------------------------------------------------------------------- layouts


def _drive_root(host_dir: Path, layout: str, host: str, fqdn: str) -> Path:
    if layout == "kape":
        return host_dir / "C"
    if layout == "velociraptor":
        host_dir.mkdir(parents=True, exist_ok=True)
        info = {"ClientId": "C." + uuid.uuid4().hex[:16], "Hostname": host, "Fqdn": fqdn, "OS": "windows"}
        (host_dir / "client_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        return host_dir / "uploads" / "auto" / "C%3A"
    return host_dir


def _zip_tree(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=mtime.timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    shutil.rmtree(folder)


def _scenarios(scenario: str) -> list[str]:
    if scenario == "all":
        return list(SCENARIOS)
    if scenario not in SCENARIOS:
        raise EvidenceError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIO_NAMES)}")
    return [scenario]


def generate(
    outdir: str | os.PathLike[str], scenario: str = "proxylogon", seed: int = 1, days: int = 30, volume: int = 20000, layout: str = "drive"
) -> dict[str, Any]:
    """Write evidence for one scenario (or ``all``, one host each) and ``truth.json``; return the truth."""
    if layout not in LAYOUTS:
        raise EvidenceError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    if days < 1 or volume < 0:
        raise EvidenceError("--days must be at least 1 and --volume not negative")
    out = Path(outdir)
    if (out / "truth.json").exists():
        raise EvidenceError(f"{out} already holds generated evidence (truth.json): choose an empty OUTDIR")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    truth: dict[str, Any] = {
        "generator": "exaudit lab evidence",
        "seed": seed,
        "days": days,
        "volume": volume,
        "layout": layout,
        "hosts": [],
    }
    for index, name in enumerate(_scenarios(scenario)):
        site, attack_at = make_site(rng, name, days, index)
        benign_background(site)
        expected: dict[str, Any] = {"verdict": "no_evidence", "cves": [], "ips": [], "user_agents": [], "rules": [], "max_severity": "info"}
        if attack_at is not None:
            func = SCENARIOS[name][0]
            assert func is not None
            expected = func(site, attack_at)
        attack_requests, site.requests = site.requests, []
        _cover_attack(site, attack_requests)
        host_dir = out / site.host
        if host_dir.exists() or (out / f"{site.host}.zip").exists():
            raise EvidenceError(f"{host_dir} already exists: choose an empty OUTDIR")
        write_site(
            site, _drive_root(host_dir, "drive" if layout == "zip" else layout, site.host, site.fqdn), layout, attack_requests, volume
        )
        evidence = host_dir.name
        if layout == "zip":
            _zip_tree(host_dir, out / f"{site.host}.zip")
            evidence = f"{site.host}.zip"
        truth["hosts"].append(
            {
                "host": site.host,
                "fqdn": site.fqdn,
                "evidence": evidence,
                "scenario": name,
                "build": site.build,
                "window": {"start": stamp(site.start), "end": stamp(site.end)},
                "attack_time": stamp(attack_at) if attack_at else None,
                **expected,
            }
        )
    (out / "truth.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return truth


def evidence_paths(outdir: str | os.PathLike[str], truth: dict[str, Any]) -> Iterable[Path]:
    """The evidence path of every generated host (what ``exaudit hunt`` takes)."""
    return [Path(outdir) / h["evidence"] for h in truth["hosts"]]
