"""Paths as the server saw them, from the layout of a collection.

* Velociraptor: ``uploads/<accessor>/<volume>/…`` with percent-encoded components
  (``C%3A`` = ``C:``, ``%5C%5C.%5CC%3A`` = ``\\\\.\\C:``, ``%25`` = ``%``, ``%2E`` = leading dot).
* KAPE: ``<tdest>/C/…`` (also ``C%3A`` and ``C:`` folder names).
* A mounted system drive: ``Program Files``, ``inetpub``, ``Windows`` at the top.
* Anything else (an Exchange install folder alone, its ``Logging`` folder, loose logs): anchored on
  names that only occur at one place on an Exchange server (``V15``, ``Logging\\HttpProxy``,
  ``W3SVC1``, ``winevt\\Logs`` …); the default install path is assumed, since a loose folder cannot
  tell it. Otherwise the path stays relative to the evidence root, with ``/`` separators.

References:
    reference/style-and-ecosystem.md §7.2 (Velociraptor and KAPE layouts, as dissect.target reads them);
    reference/microsoft-css-exchange.md §1.3, §1.15 (install path and log folders).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

EXCHANGE_ROOT = "C:\\Program Files\\Microsoft\\Exchange Server"
WINDOWS_TOP = frozenset({"program files", "program files (x86)", "programdata", "windows", "inetpub", "users", "$extend"})
MOUNTED_MARKERS = frozenset({"program files", "windows", "inetpub"})
VELOCIRAPTOR_ACCESSORS = frozenset({"auto", "file", "ntfs", "mft", "lazy_ntfs", "ntfs_vss", "raw_ntfs", "data", "fs"})
EXCHANGE_LOG_DIRS = frozenset(
    {"httpproxy", "ecp", "oabgeneratorlog", "cmdletinfra", "ews", "mapihttp", "rpchttp", "autodiscover", "owa", "monitoring"}
)
_DRIVE = re.compile(r"^(?:\\\\[.?]\\)?([A-Za-z])(?::|%3A)?$", re.IGNORECASE)
_W3SVC = re.compile(r"^W3SVC\d+$", re.IGNORECASE)


def drive_letter(name: str) -> str | None:
    """``C``, ``C:``, ``C%3A``, ``\\\\.\\C:`` (also percent-encoded) → ``C``."""
    match = _DRIVE.match(unquote(name))
    return match.group(1).upper() if match else None


def windows(prefix: str, parts: list[str] | tuple[str, ...]) -> str:
    return "\\".join([prefix.rstrip("\\"), *parts]) if parts else prefix


def velociraptor_path(parts: tuple[str, ...]) -> str | None:
    """``uploads/auto/C%3A/Windows/x.evtx`` → ``C:\\Windows\\x.evtx``; None outside ``uploads``."""
    if len(parts) < 3 or parts[0].lower() != "uploads":
        return None
    rest = [unquote(p) for p in parts[1:]]
    if rest[0].lower() in VELOCIRAPTOR_ACCESSORS and len(rest) >= 3:
        rest = rest[1:]
    volume, tail = rest[0], rest[1:]
    letter = drive_letter(volume)
    if letter:
        return windows(f"{letter}:", tail)
    return windows(volume, tail)  # a VSS or device volume: keep its own name


def drive_path(letter: str, parts: tuple[str, ...]) -> str:
    return windows(f"{letter}:", parts)


def anchored_path(chain: list[str]) -> str | None:
    """A server path from the folder names of a loose tree (root name first), or None."""
    lower = [p.lower() for p in chain]
    for index, name in enumerate(lower[:-1]):
        nxt = lower[index + 1]
        rest = chain[index + 1 :]
        if name in ("v15", "v14"):
            return windows(f"{EXCHANGE_ROOT}\\{chain[index]}", rest)
        if name == "logging" and nxt in EXCHANGE_LOG_DIRS:
            return windows(f"{EXCHANGE_ROOT}\\V15\\Logging", rest)
        if name in ("httpproxy", "oabgeneratorlog", "cmdletinfra") or (name == "ecp" and nxt in ("server", "activity")):
            parent = "FrontEnd" if index and lower[index - 1] == "frontend" else "Logging"
            return windows(f"{EXCHANGE_ROOT}\\V15\\{parent}", chain[index:])
        if name in ("clientaccess", "frontend"):
            return windows(f"{EXCHANGE_ROOT}\\V15", chain[index:])
        if name == "inetpub":
            return windows("C:", chain[index:])
        if _W3SVC.match(name):
            return windows("C:\\inetpub\\logs\\LogFiles", chain[index:])
        if name == "winevt" and nxt == "logs":
            return windows("C:\\Windows\\System32", chain[index:])
    return None


def is_host_content(name: str) -> bool:
    """Folders that, directly inside a folder, make it one server's evidence."""
    lower = name.lower()
    return lower in ("v15", "v14", "exchange server", "httpproxy", "oabgeneratorlog", "cmdletinfra", "inetpub") or bool(_W3SVC.match(lower))


ANCHOR_NAMES = frozenset({"v15", "v14", "logging", "httpproxy", "oabgeneratorlog", "cmdletinfra", "inetpub", "logfiles", "logs"})


def is_anchor_name(name: str) -> bool:
    """Folder names that say where in the server tree we are, not which host it is."""
    lower = name.lower()
    return lower in ANCHOR_NAMES or lower in EXCHANGE_LOG_DIRS or bool(_W3SVC.match(lower)) or lower == "exchange server"
