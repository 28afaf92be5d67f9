"""Indicator layer of the web shell scanner: published bad hashes (packaged data) and the user's own IOCs.

Formats read by ``load_iocs(path)``:

* CSV (any columns): every cell that is an MD5/SHA-1/SHA-256 becomes a hash indicator, a cell holding a
  Windows or POSIX path becomes a path indicator, a bare file name with a script extension a name
  indicator (this reads the MSTIC Sentinel feed ``Indicator,IndicatorType`` layout as well as plain lists);
* STIX 2.1 bundles, parsed with the ``stix2`` library: ``indicator`` patterns on ``file:hashes`` and
  ``file:name``, and ``file`` observables with hashes;
* MISP event JSON (``Event`` or ``response`` wrappers): attributes ``md5``/``sha1``/``sha256``/``filename``
  and the ``filename|<hash>`` pairs, including attributes inside MISP objects.

References: reference/peer-tools-and-iocs.md §6 (MSTIC, CISA, GTSC hash lists); STIX 2.1 patterning
(OASIS, section 9); MISP core format (attribute types).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exaudit.detect.webshell_exchange import SCRIPT_EXTENSIONS, extension, normalise

PACKAGED = Path(__file__).resolve().parent / "iocs" / "webshell_hashes.csv"
_HEX = {64: "sha256", 40: "sha1", 32: "md5"}
_HEX_RE = re.compile(r"^[0-9a-fA-F]+$")
_STIX_HASH = re.compile(r"file:hashes\.(?:'|\")?(SHA-?256|SHA-?1|MD5)(?:'|\")?\s*=\s*'([0-9a-fA-F]+)'", re.IGNORECASE)
_STIX_NAME = re.compile(r"file:name\s*=\s*'([^']+)'", re.IGNORECASE)


class IocError(Exception):
    """An IOC file cannot be read; the message says which and why."""


@dataclass(frozen=True)
class Ioc:
    value: str
    kind: str  # sha256 | sha1 | md5 | path | name
    label: str
    source: str


@dataclass
class IocSet:
    hashes: dict[str, Ioc] = field(default_factory=dict)
    paths: dict[str, Ioc] = field(default_factory=dict)
    names: dict[str, Ioc] = field(default_factory=dict)

    def add(self, value: str, label: str, source: str) -> None:
        value = value.strip().strip('"').strip("'")
        if not value:
            return
        kind = _HEX.get(len(value)) if _HEX_RE.match(value) else None
        if kind:
            self.hashes.setdefault(value.lower(), Ioc(value.lower(), kind, label, source))
        elif "://" in value:
            return  # URLs are not file indicators
        elif ("\\" in value or "/" in value) and extension(value):
            self.paths.setdefault(_path_key(value), Ioc(value, "path", label, source))
        elif extension(value) in SCRIPT_EXTENSIONS and " " not in value:
            self.names.setdefault(value.lower(), Ioc(value, "name", label, source))

    def update(self, other: IocSet) -> None:
        for mine, theirs in ((self.hashes, other.hashes), (self.paths, other.paths), (self.names, other.names)):
            for key, ioc in theirs.items():
                mine.setdefault(key, ioc)

    def needs(self, kind: str) -> bool:
        return any(i.kind == kind for i in self.hashes.values())

    def __len__(self) -> int:
        return len(self.hashes) + len(self.paths) + len(self.names)


def _path_key(path: str) -> str:
    """Compare paths without drive letters and separators (a triage copy rarely keeps ``C:``)."""
    norm = normalise(path)
    return re.sub(r"^[a-z]:", "", norm).lstrip("/")


def path_matches(iocs: IocSet, server_path: str) -> Ioc | None:
    key = _path_key(server_path)
    for ioc_key, ioc in iocs.paths.items():
        if key == ioc_key or key.endswith("/" + ioc_key) or ioc_key.endswith("/" + key):
            return ioc
    return None


def packaged_iocs() -> IocSet:
    return load_iocs(PACKAGED)


def load_iocs(path: Path) -> IocSet:
    """Read one IOC file (CSV, STIX 2.1 or MISP JSON); raise ``IocError`` with a clear message."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise IocError(f"cannot read IOC file {path}: {exc.strerror or exc}") from exc
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            document = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise IocError(f"{path} is not valid JSON: {exc}") from exc
        if _is_stix(document):
            return _from_stix(stripped, str(path))
        return _from_misp(document, str(path))
    return _from_csv(text, str(path))


def _from_csv(text: str, source: str) -> IocSet:
    iocs = IocSet()
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    label_col = next((i for i, h in enumerate(header) if h in ("name", "description", "label", "comment")), None)
    for row in rows:
        label = row[label_col] if label_col is not None and label_col < len(row) else "IOC"
        for cell in row:
            iocs.add(cell, label, source)
    return iocs


def _is_stix(document: Any) -> bool:
    return isinstance(document, dict) and (document.get("type") == "bundle" or str(document.get("spec_version", "")).startswith("2"))


def _from_stix(text: str, source: str) -> IocSet:
    import stix2

    try:
        parsed = stix2.parse(text, allow_custom=True)
    except Exception as exc:  # stix2 raises many types for bad input; all mean "not valid STIX"
        raise IocError(f"{source} is not a valid STIX 2.1 document: {exc}") from exc
    objects = getattr(parsed, "objects", None) or [parsed]
    iocs = IocSet()
    for obj in objects:
        kind = obj.get("type")
        label = str(obj.get("name") or obj.get("description") or "STIX indicator")
        if kind == "indicator":
            pattern = str(obj.get("pattern", ""))
            for _algo, value in _STIX_HASH.findall(pattern):
                iocs.add(value, label, source)
            for name in _STIX_NAME.findall(pattern):
                iocs.add(name, label, source)
        elif kind == "file":
            for value in (obj.get("hashes") or {}).values():
                iocs.add(str(value), str(obj.get("name") or "STIX file"), source)
    return iocs


def _misp_attributes(document: Any) -> list[dict[str, Any]]:
    """Every attribute of a MISP export, whatever the wrapper (Event, response list, bare list)."""
    found: list[dict[str, Any]] = []
    if isinstance(document, list):
        for item in document:
            found.extend(_misp_attributes(item))
    elif isinstance(document, dict):
        if "type" in document and "value" in document:
            found.append(document)
        for key in ("Event", "response", "Attribute", "Object"):
            if key in document:
                found.extend(_misp_attributes(document[key]))
    return found


def _from_misp(document: Any, source: str) -> IocSet:
    attributes = _misp_attributes(document)
    if not attributes:
        raise IocError(f"{source}: JSON is neither a STIX 2.1 bundle nor a MISP event with attributes")
    iocs = IocSet()
    for attr in attributes:
        kind, value = str(attr.get("type", "")), str(attr.get("value", ""))
        label = str(attr.get("comment") or f"MISP {kind}")
        if "|" in kind and "|" in value:
            for part in value.split("|"):
                iocs.add(part, label, source)
        elif kind in ("md5", "sha1", "sha256", "filename", "filepath"):
            iocs.add(value, label, source)
    return iocs
