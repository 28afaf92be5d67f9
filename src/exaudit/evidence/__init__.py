"""Evidence sources: whatever the user hands over becomes read-only views of hosts.

``open_evidence(path)`` accepts a mounted system drive, an Exchange install folder (or its
``Logging`` folder), loose log files, KAPE output (``<tdest>/C/…``, also ``C%3A``), a Velociraptor
offline collection (zip or extracted), a folder of several such collections, and a .zip of any of
these (read in place). It returns one ``HostView`` per host found. Problems (unreadable files,
refused zip members, symlink loops) are recorded in ``HostView.errors``; only a path that does not
exist (or a zip that cannot be opened at all) raises ``EvidenceError``.

References:
    reference/style-and-ecosystem.md §7.2 (collection layouts), ARCHITECTURE.md (read-only evidence).
"""

from __future__ import annotations

import functools
import os
import platform
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from exaudit.evidence import paths, velociraptor
from exaudit.evidence.base import EvidenceFile, HostView
from exaudit.evidence.hashing import HashingReader, sha256_file, sha256_stream
from exaudit.evidence.tree import DirTree, Entry, Limits, ZipBomb, ZipTree, is_zip, open_readonly
from exaudit.model import ErrorEntry

VELOCIRAPTOR = "velociraptor"
KAPE = "kape"
MOUNTED = "mounted"
LOOSE = "loose"
_VELO_META = ("client_info.json", "collection_context.json", "uploads.json", "log.json", "requests.json")
_COLLECTION_NAME = re.compile(r"^Collection-(.+?)-\d{4}-\d{2}-\d{2}", re.IGNORECASE)

Tree = DirTree | ZipTree


class EvidenceError(Exception):
    """The evidence path cannot be used at all (it does not exist, or is not a readable archive)."""


def open_evidence(path: str | os.PathLike[str], limits: Limits | None = None) -> list[HostView]:
    """One ``HostView`` per host found at ``path`` (see the module docstring for the layouts)."""
    limits = limits or Limits()
    root = Path(path)
    if not root.exists():
        raise EvidenceError(f"evidence path does not exist: {root}")
    if root.is_dir():
        return discover(DirTree(root, limits), str(root))
    if not root.is_file():
        raise EvidenceError(f"not a file or folder (FIFO, socket or device), not opened: {root}")
    if _is_zip_file(root):
        try:
            tree = ZipTree(str(root), (), limits, root.stem)
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise EvidenceError(f"cannot read zip archive {root}: {exc}") from exc
        return discover(tree, str(root))
    return [_single_file(root, limits)]


def _is_zip_file(path: Path) -> bool:
    try:
        with open_readonly(str(path)) as handle:
            return is_zip(handle.read(4))
    except OSError as exc:
        raise EvidenceError(f"cannot read {path}: {exc}") from exc


# --------------------------------------------------------------------------- host discovery


def discover(tree: Tree, root: str, depth: int = 0) -> list[HostView]:
    """Hosts in a tree: the tree itself, or collections one level down, else one loose host."""
    layout = root_layout(tree, ())
    if layout:
        return [make_host(tree, (), layout, root)]
    hosts: list[HostView] = []
    for name, is_dir in sorted(tree.listdir(()).items()):
        if is_dir:
            sub = root_layout(tree, (name,)) or _loose_host(tree, name)
            if sub:
                hosts.append(make_host(tree, (name,), sub, root))
        elif name.lower().endswith(".zip") and depth < 2:
            hosts.extend(_nested_collection(tree, name, root, depth))
    return hosts or [make_host(tree, (), LOOSE, root)]


def _nested_collection(tree: Tree, name: str, root: str, depth: int) -> list[HostView]:
    """A zip beside others in a folder of collections is a host if it holds a collection layout."""
    try:
        nested = (
            ZipTree(str(tree.local_path((name,))), (), tree.limits, PurePosixPath(name).stem)
            if isinstance(tree, DirTree)
            else tree.nested((name,))
        )
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, RuntimeError):
        return []
    if root_layout(nested, ()) is None:
        return []
    return discover(nested, f"{root}{os.sep if isinstance(tree, DirTree) else '!'}{name}", depth + 1)


def root_layout(tree: Tree, prefix: tuple[str, ...]) -> str | None:
    names = tree.listdir(prefix)
    lower = {n.lower(): n for n in names}
    if "uploads" in lower and names[lower["uploads"]]:
        inside = {n.lower() for n in tree.listdir((*prefix, lower["uploads"]))}
        if any(m in lower for m in _VELO_META) or inside & paths.VELOCIRAPTOR_ACCESSORS:
            return VELOCIRAPTOR
    for name, is_dir in names.items():
        if is_dir and paths.drive_letter(name) and _looks_like_drive(tree, (*prefix, name)):
            return KAPE
    if set(lower) & paths.MOUNTED_MARKERS:
        return MOUNTED
    return None


def _loose_host(tree: Tree, name: str) -> str | None:
    """A host folder holding Exchange or IIS folders (``EX01/V15``, ``EX01/W3SVC1``) in a folder of hosts."""
    if paths.is_anchor_name(name) or paths.drive_letter(name):
        return None
    inside = tree.listdir((name,))
    return LOOSE if any(is_dir and paths.is_host_content(child) for child, is_dir in inside.items()) else None


def _looks_like_drive(tree: Tree, parts: tuple[str, ...]) -> bool:
    inside = {n.lower() for n in tree.listdir(parts)}
    return bool(inside & paths.WINDOWS_TOP) or any("exchange" in n for n in inside)


# --------------------------------------------------------------------------- host views


class UniqueErrors(list[ErrorEntry]):
    """``HostView.errors``: listing the files twice must not report each problem twice."""

    def append(self, entry: ErrorEntry) -> None:
        if entry not in self:
            super().append(entry)

    def extend(self, entries: Iterable[ErrorEntry]) -> None:
        for entry in entries:
            self.append(entry)


def make_host(tree: Tree, prefix: tuple[str, ...], layout: str, root: str) -> HostView:
    view = HostView(hostname=_hostname(tree, prefix, layout), root=root, kind=layout)
    view.errors = UniqueErrors(tree.errors)
    if layout == VELOCIRAPTOR:
        view.errors.extend(velociraptor.collection_errors(tree, prefix, root))
    view._lister = lambda: _files(tree, prefix, layout, view)
    return view


def _files(tree: Tree, prefix: tuple[str, ...], layout: str, view: HostView) -> Iterator[EvidenceFile]:
    label = tree.label
    drive = _live_drive(tree) if layout == MOUNTED else "C"
    for entry in tree.walk(prefix, view.errors):
        relative = entry.parts[len(prefix) :]
        server = server_path(layout, relative, label if not prefix else prefix[-1], drive)
        if server is None:
            continue  # collection metadata, collector logs: not host files
        yield _evidence_file(server, entry)
        if entry.parts[-1].lower().endswith(".zip"):
            yield from _zip_members(tree, entry, server, view)


def server_path(layout: str, relative: tuple[str, ...], root_name: str, drive: str = "C") -> str | None:
    if layout == VELOCIRAPTOR:
        if relative and relative[-1].endswith(".idx"):
            return None  # Velociraptor's sparse-file index, not a host file
        return paths.velociraptor_path(relative)
    if layout == KAPE:
        letter = paths.drive_letter(relative[0]) if len(relative) > 1 else None
        return paths.drive_path(letter, relative[1:]) if letter else None
    if layout == MOUNTED:
        return paths.drive_path(drive, relative)
    return paths.anchored_path([root_name, *relative]) or "/".join(relative)


def _zip_members(tree: Tree, entry: Entry, server: str, view: HostView) -> Iterator[EvidenceFile]:
    """Files inside a zip found in the host tree (an archived log folder, an OTRF dataset)."""
    try:
        if isinstance(tree, DirTree):
            nested = ZipTree(entry.origin, (), tree.limits, PurePosixPath(entry.parts[-1]).stem)
        else:
            nested = tree.nested(entry.parts)
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, RuntimeError) as exc:
        kind = "zip_bomb" if isinstance(exc, ZipBomb) else "damaged"
        view.errors.append(ErrorEntry(where=entry.origin, kind=kind, message=f"zip not readable: {exc}"[:300]))
        return
    view.errors.extend(nested.errors)
    for member in nested.walk((), view.errors):
        inner = "\\".join(member.parts)
        yield _evidence_file(f"{server}!{inner}", member)


def _evidence_file(server: str, entry: Entry) -> EvidenceFile:
    return EvidenceFile(path=server, origin=entry.origin, size=entry.size, mtime=entry.mtime, opener=entry.opener)


def _single_file(path: Path, limits: Limits) -> HostView:
    parent = path.parent.name or "localhost"
    server = paths.anchored_path([parent, path.name]) or path.name
    entry = Entry((path.name,), path.stat().st_size, path.stat().st_mtime, functools.partial(open_readonly, str(path)), str(path))
    view = HostView(hostname=_folder_hostname(path.parent), root=str(path), kind=LOOSE)
    view._lister = lambda: iter([_evidence_file(server, entry)])
    return view


# --------------------------------------------------------------------------- hostnames


def _hostname(tree: Tree, prefix: tuple[str, ...], layout: str) -> str:
    if layout == VELOCIRAPTOR:
        name = velociraptor.hostname(tree, prefix)
        if name:
            return name
    label = prefix[-1] if prefix else tree.label
    if layout == VELOCIRAPTOR:
        match = _COLLECTION_NAME.match(label)
        if match:
            return match.group(1)
    if isinstance(tree, DirTree) and not prefix:
        if _is_local_drive_root(tree.root):
            return platform.node() or label
        return _folder_hostname(tree.root)
    return label


def _folder_hostname(folder: Path) -> str:
    """The first folder name, walking up, that is not an Exchange/IIS folder name."""
    for candidate in [folder, *folder.resolve().parents]:
        if candidate.name and not paths.is_anchor_name(candidate.name) and candidate.name.lower() != "microsoft":
            return candidate.name
    return "unknown"


def _is_local_drive_root(root: Path) -> bool:
    """Running on the server itself against ``C:\\``: the host is this machine."""
    return os.name == "nt" and root.resolve() == Path(root.resolve().anchor)


def _live_drive(tree: Tree) -> str:
    if isinstance(tree, DirTree) and os.name == "nt":
        drive = tree.root.resolve().drive
        if drive and drive[0].isalpha():
            return drive[0].upper()
    return "C"


__all__ = [
    "EvidenceError",
    "EvidenceFile",
    "HashingReader",
    "HostView",
    "Limits",
    "open_evidence",
    "sha256_file",
    "sha256_stream",
]
