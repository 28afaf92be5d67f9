"""What a Velociraptor offline collection says about itself: hostname and collection problems.

* ``client_info.json``: ``Hostname`` / ``Fqdn`` of the collected machine.
* ``uploads.json`` (JSON lines): one row per upload with ``_Components``, ``file_size`` and
  ``uploaded_size``; a file stored short of its size (upload limit reached, locked file) becomes a
  ``truncated`` error, because a cut log hides the time it did not store.
* ``log.json`` (JSON lines): the collector's own log; ``ERROR`` rows (``Access is denied`` …) become
  ``collection_error`` entries, so coverage shows what was never collected.

References:
    reference/style-and-ecosystem.md §7.2; Velociraptor collector fixtures (field names
    ``_Components``, ``file_size``, ``uploaded_size``, ``Type``; log ``level``/``message``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol

from exaudit.evidence.paths import drive_letter, windows
from exaudit.model import ErrorEntry

MAX_METADATA_BYTES = 64 << 20
MAX_REPORTED = 200  # per collection: a huge failed collection must not flood the report


class MetadataTree(Protocol):
    def read_small(self, parts: tuple[str, ...], limit: int = ...) -> bytes | None: ...


def hostname(tree: MetadataTree, prefix: tuple[str, ...]) -> str | None:
    info = _json(tree.read_small((*prefix, "client_info.json")))
    if not isinstance(info, dict):
        return None
    for key in ("Hostname", "hostname", "Fqdn", "fqdn"):
        value = info.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def collection_errors(tree: MetadataTree, prefix: tuple[str, ...], where: str) -> list[ErrorEntry]:
    errors: list[ErrorEntry] = []
    for row in _rows(tree.read_small((*prefix, "uploads.json"), MAX_METADATA_BYTES)):
        problem = _truncated(row)
        if problem:
            errors.append(problem)
    for row in _rows(tree.read_small((*prefix, "log.json"), MAX_METADATA_BYTES)):
        if str(row.get("level", "")).upper() == "ERROR" and row.get("message"):
            errors.append(ErrorEntry(where=where, kind="collection_error", message=str(row["message"]).strip()[:300]))
    return errors[:MAX_REPORTED]


def _truncated(row: dict[str, Any]) -> ErrorEntry | None:
    size, stored = row.get("file_size"), row.get("uploaded_size")
    if row.get("Type") or not isinstance(size, int) or not isinstance(stored, int) or stored >= size:
        return None
    components = [str(c) for c in row.get("_Components") or [] if isinstance(c, str)]
    return ErrorEntry(where=_server_path(components), kind="truncated", message=f"collected {stored} of {size} bytes")


def _server_path(components: list[str]) -> str:
    if len(components) >= 3 and components[0] == "uploads":
        letter = drive_letter(components[2])
        if letter:
            return windows(f"{letter}:", components[3:])
    return "/".join(components)


def _json(data: bytes | None) -> Any:
    if not data:
        return None
    try:
        return json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return None


def _rows(data: bytes | None) -> Iterator[dict[str, Any]]:
    if not data:
        return
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            yield row
