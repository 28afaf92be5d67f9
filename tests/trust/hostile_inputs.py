"""Builders for hostile evidence: an Exchange host folder holding one real attack row, and damaged files.

The attack row is a CVE-2021-26855 (ProxyLogon) HttpProxy line, AnchorMailbox
``ServerInfo~a]@127.0.0.1:444/autodiscover/autodiscover.xml?#`` with an empty AuthenticatedUser
(reference/published-attack-examples.md §1): whatever else is broken beside it, hunt must find it.
"""

from __future__ import annotations

import json
import random
import struct
import zipfile
from pathlib import Path
from typing import Any

from exaudit.cli import main
from exaudit.evidence import Limits, open_evidence
from exaudit.model import ErrorEntry
from exaudit.parsers.exchange_csv import HTTPPROXY_FIELDS

ATTACK_RULE = "proxylogon-ssrf-autodiscover"
ATTACK_ANCHOR = "ServerInfo~a]@127.0.0.1:444/autodiscover/autodiscover.xml?#"
ATTACK_IP = "203.0.113.7"
HTTPPROXY_DIR = ("V15", "Logging", "HttpProxy", "Autodiscover")
EVTX_DIR = ("winevt", "Logs")


def httpproxy_row(anchor: str = ATTACK_ANCHOR, ip: str = ATTACK_IP, when: str = "2021-03-03T02:14:07.123Z") -> list[str]:
    row = dict.fromkeys(HTTPPROXY_FIELDS, "")
    row.update(
        DateTime=when,
        RequestId="5e58f5e5-1ddc-48d3-82c6-0199bc121640",
        MajorVersion="15",
        MinorVersion="1",
        BuildVersion="2176",
        RevisionVersion="2",
        Protocol="Autodiscover",
        UrlHost="mail.example.com",
        UrlStem="/autodiscover/autodiscover.xml",
        AuthenticatedUser="",
        AnchorMailbox=anchor,
        UserAgent="ExchangeServicesClient/0.0.0.0",
        ClientIpAddress=ip,
        HttpStatus="200",
        Method="POST",
    )
    return [row[name] for name in HTTPPROXY_FIELDS]


def httpproxy_text(rows: list[list[str]], fields: list[str] | None = None, newline: str = "\r\n") -> str:
    """An HttpProxy log with its directives; ``fields`` reorders the columns (rows follow the order)."""
    names = fields or HTTPPROXY_FIELDS
    head = [
        "#Software: Microsoft Exchange Server",
        "#Version: 15.01.2176.002",
        "#Log-type: HttpProxy Logs",
        "#Date: 2021-03-03T02:00:00.000Z",
        "#Fields: " + ",".join(names),
    ]
    return newline.join([*head, *(",".join(r) for r in rows)]) + newline


def benign_row(index: int) -> list[str]:
    return httpproxy_row(anchor=f"SMTP:user{index}@example.com", ip=f"198.51.100.{index % 250}")


def attack_text(ip: str = ATTACK_IP) -> str:
    return httpproxy_text([benign_row(1), httpproxy_row(ip=ip), benign_row(2)])


def make_host(root: Path, name: str = "EX01") -> Path:
    """A host folder with one clean HttpProxy log that holds the attack row."""
    host = root / name
    log = host.joinpath(*HTTPPROXY_DIR, "HttpProxy_2021030302-1.LOG")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(attack_text(), encoding="utf-8")
    return host


def place(host: Path, parts: tuple[str, ...], data: bytes) -> Path:
    path = host.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- EVTX damage


def truncated(data: bytes, keep: int) -> bytes:
    return data[:keep]


def bit_flips(data: bytes, count: int, seed: int, start: int = 4096) -> bytes:
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(count):
        position = rng.randrange(start, len(out))
        out[position] ^= 1 << rng.randrange(8)
    return bytes(out)


def bad_chunk_magic(data: bytes, chunk: int = 0) -> bytes:
    out = bytearray(data)
    offset = 4096 + chunk * 65536
    out[offset : offset + 8] = b"XXXXXXXX"
    return bytes(out)


def string_table_loop(data: bytes) -> bytes:
    """One byte in the first chunk's string-offset table: the evtx crate (0.14) then loops forever."""
    out = bytearray(data)
    out[4096 + 128] = 40
    return bytes(out)


# --------------------------------------------------------------------------- archives


def zip_bytes(path: Path, members: dict[str, bytes], level: int = 9) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def lying_zip(path: Path, name: str, real: bytes, declared: int) -> Path:
    """A member whose headers declare ``declared`` bytes but whose stream inflates to ``real``."""
    zip_bytes(path, {name: real})
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, declared)  # local header: uncompressed size
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)  # central directory: uncompressed size
    path.write_bytes(bytes(data))
    return path


# --------------------------------------------------------------------------- running hunt


def hunt_cli(paths: list[Path], out: Path) -> tuple[int, dict[str, Any]]:
    """``exaudit hunt PATH… --format json`` through the real CLI entry point (in this process, so patches apply)."""
    code = main(["hunt", *map(str, paths), "--format", "json", "--no-store", "--quiet", "--workers", "1", "-o", str(out)])
    return code, json.loads(out.read_text(encoding="utf-8"))


def attack_found(document: dict[str, Any], ip: str = ATTACK_IP) -> bool:
    """The ProxyLogon finding for this client address (one finding per address, whatever the file)."""
    return any(f["rule"] == ATTACK_RULE and ip in f["indicators"]["ips"] for f in document["findings"])


def walk_errors(path: Path, limits: Limits | None = None) -> list[ErrorEntry]:
    """What the evidence layer itself records while listing every file (before any parsing)."""
    errors: list[ErrorEntry] = []
    for view in open_evidence(path, limits):
        for _ in view.files():
            pass
        errors.extend(view.errors)
    return errors


def has_error(errors: list[ErrorEntry], kind: str, where_part: str = "") -> bool:
    return any(e.kind == kind and where_part in e.where for e in errors)


def errors_of(document: dict[str, Any], kind: str, where_part: str = "") -> list[dict[str, Any]]:
    return [e for e in document["errors"] if e["kind"] == kind and where_part in e["where"]]


def input_of(document: dict[str, Any], path_part: str) -> dict[str, Any]:
    matches = [i for i in document["inputs"] if path_part in i["path"] or path_part in (i.get("origin") or "")]
    assert matches, f"{path_part} not among inputs: {[i['path'] for i in document['inputs']]}"
    return matches[0]
