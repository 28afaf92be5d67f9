"""Read-only trees of files: a local folder or a zip archive (possibly inside another zip).

Both expose ``listdir(parts)`` (cheap, for layout detection) and ``walk(parts, errors)`` (every
regular file under a folder, lazily). Nothing is ever written to evidence: local files are opened
``O_RDONLY`` (with ``O_NOATIME`` where the OS allows it, so reading does not even touch access
times); zip members are streamed through ``zipfile`` without extraction. A zip inside a zip is
spooled to an anonymous temporary file in a private folder that is removed at exit.

Safety: zip members with ``..``, absolute or drive paths are refused (recorded as ``unsafe_path``);
members whose declared size or compression ratio exceeds ``Limits`` are refused (``zip_bomb``), and an
archive whose end record declares more than ``Limits.max_members`` is refused before ``zipfile`` reads it;
``zipfile`` itself never yields more bytes than a member declares and checks its CRC. Folder walks
do not follow symlinks out of the evidence root, visit each directory once (loops end) and stop at
``Limits.max_depth``; FIFOs and devices are never opened.

Openers are ``functools.partial`` objects over module functions and plain strings, so an
``EvidenceFile`` can be sent to a worker process.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import stat
import struct
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from exaudit.model import ErrorEntry

OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)
NOATIME = getattr(os, "O_NOATIME", 0)


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile archives and trees from exhausting the machine."""

    max_member_bytes: int = 16 << 30  # one file inside an archive (declared size)
    max_archive_bytes: int = 256 << 30  # all members of one archive (declared)
    max_ratio: float = 200.0  # uncompressed / compressed, for members above ratio_floor
    ratio_floor: int = 1 << 20
    max_members: int = 2_000_000
    max_nested_bytes: int = 4 << 30  # a zip inside a zip is spooled to disk: keep it bounded
    max_nesting: int = 3
    max_depth: int = 256  # folder depth of a walk


@dataclass
class Entry:
    parts: tuple[str, ...]
    size: int
    mtime: float | None
    opener: Callable[[], BinaryIO]
    origin: str


def open_readonly(path: str) -> BinaryIO:
    """Open a local evidence file for reading only, without updating its access time if possible."""
    try:
        fd = os.open(path, OPEN_FLAGS | NOATIME)
    except PermissionError:  # O_NOATIME needs file ownership
        fd = os.open(path, OPEN_FLAGS)
    return os.fdopen(fd, "rb")


# --------------------------------------------------------------------------- local folders


class DirTree:
    def __init__(self, root: Path, limits: Limits) -> None:
        self.root = root
        self.limits = limits
        self.label = root.name or str(root)
        self.errors: list[ErrorEntry] = []

    def listdir(self, parts: tuple[str, ...]) -> dict[str, bool]:
        folder = self.root.joinpath(*parts)
        try:
            with os.scandir(folder) as entries:
                return {e.name: _is_dir(e) for e in entries}
        except OSError:
            return {}

    def read_small(self, parts: tuple[str, ...], limit: int = 1 << 20) -> bytes | None:
        try:
            with open_readonly(str(self.root.joinpath(*parts))) as handle:
                return handle.read(limit)
        except OSError:
            return None

    def local_path(self, parts: tuple[str, ...]) -> Path:
        return self.root.joinpath(*parts)

    def walk(self, parts: tuple[str, ...], errors: list[ErrorEntry]) -> Iterator[Entry]:
        root_real = os.path.realpath(self.root)
        seen: set[tuple[int, int]] = set()
        stack = [(self.root.joinpath(*parts), parts)]
        while stack:
            folder, prefix = stack.pop()
            if len(prefix) > self.limits.max_depth:
                errors.append(
                    ErrorEntry(where=str(folder), kind="too_deep", message=f"deeper than {self.limits.max_depth} folders: not read")
                )
                continue
            try:
                info = folder.stat()
                key = (info.st_dev, info.st_ino)
                if key in seen:
                    errors.append(ErrorEntry(where=str(folder), kind="symlink_loop", message="folder already visited (symlink loop)"))
                    continue
                seen.add(key)
                with os.scandir(folder) as scan:
                    entries = sorted(scan, key=lambda e: e.name)
            except OSError as exc:
                errors.append(ErrorEntry(where=str(folder), kind="unreadable", message=str(exc)[:300]))
                continue
            subfolders = []
            for entry in entries:
                item = self._entry(entry, prefix, root_real, errors)
                if isinstance(item, Entry):
                    yield item
                elif item is not None:
                    subfolders.append(item)
            stack.extend(reversed(subfolders))

    def _entry(
        self, entry: os.DirEntry[str], prefix: tuple[str, ...], root_real: str, errors: list[ErrorEntry]
    ) -> Entry | tuple[Path, tuple[str, ...]] | None:
        parts = (*prefix, entry.name)
        try:
            if entry.is_symlink() and not _inside(os.path.realpath(entry.path), root_real):
                errors.append(
                    ErrorEntry(where=entry.path, kind="symlink_outside", message="symlink leaves the evidence root: not followed")
                )
                return None
            info = entry.stat()  # follows an inside symlink
        except OSError as exc:
            errors.append(ErrorEntry(where=entry.path, kind="unreadable", message=str(exc)[:300]))
            return None
        if stat.S_ISDIR(info.st_mode):
            return Path(entry.path), parts
        if not stat.S_ISREG(info.st_mode):
            # FIFO, socket, device: opening could block forever; say so, a log may stand there
            errors.append(ErrorEntry(where=entry.path, kind="not_a_file", message="FIFO, socket or device: not opened"))
            return None
        if not os.access(entry.path, os.R_OK, effective_ids=os.access in os.supports_effective_ids):
            errors.append(ErrorEntry(where=entry.path, kind="unreadable", message="permission denied"))
            return None
        opener = functools.partial(open_readonly, entry.path)
        return Entry(parts, info.st_size, info.st_mtime, opener, entry.path)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


# --------------------------------------------------------------------------- zip archives


class ZipTree:
    """A zip archive's members as a tree; ``chain`` names the zip members that lead to it."""

    def __init__(self, archive: str, chain: tuple[str, ...], limits: Limits, label: str) -> None:
        self.archive = archive
        self.chain = chain
        self.limits = limits
        self.label = label
        self.errors: list[ErrorEntry] = []
        self.files: dict[tuple[str, ...], zipfile.ZipInfo] = {}
        self.dirs: set[tuple[str, ...]] = {()}
        self._index(open_archive(archive, chain, limits.max_members).infolist())

    @property
    def origin(self) -> str:
        return "!".join([self.archive, *self.chain])

    def _index(self, infos: list[zipfile.ZipInfo]) -> None:
        if len(infos) > self.limits.max_members:
            self.errors.append(
                ErrorEntry(
                    where=self.origin, kind="zip_bomb", message=f"{len(infos)} members: only the first {self.limits.max_members} read"
                )
            )
            infos = infos[: self.limits.max_members]
        declared = 0
        for info in infos:
            parts = safe_parts(info.filename)
            where = f"{self.origin}!{info.filename}"
            if parts is None:
                self.errors.append(ErrorEntry(where=where, kind="unsafe_path", message="absolute or '..' member name refused"))
                continue
            if info.is_dir() or not parts or parts[0] == "__MACOSX":
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                self.errors.append(ErrorEntry(where=where, kind="symlink", message="symlink member not followed"))
                continue
            problem = self._bomb(info, declared)
            if problem:
                self.errors.append(ErrorEntry(where=where, kind="zip_bomb", message=problem))
                continue
            declared += info.file_size
            self.files[parts] = info
            for depth in range(1, len(parts)):
                self.dirs.add(parts[:depth])

    def _bomb(self, info: zipfile.ZipInfo, declared: int) -> str | None:
        limits = self.limits
        if info.file_size > limits.max_member_bytes:
            return f"declared size {info.file_size} exceeds {limits.max_member_bytes}"
        if declared + info.file_size > limits.max_archive_bytes:
            return f"archive total would exceed {limits.max_archive_bytes} bytes"
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            return f"compression ratio {info.file_size / max(info.compress_size, 1):.0f} exceeds {limits.max_ratio:.0f}"
        return None

    def listdir(self, parts: tuple[str, ...]) -> dict[str, bool]:
        depth = len(parts)
        out: dict[str, bool] = {}
        for path in self.files:
            if len(path) > depth and path[:depth] == parts:
                out.setdefault(path[depth], len(path) > depth + 1)
        for path in self.dirs:
            if len(path) == depth + 1 and path[:depth] == parts:
                out[path[depth]] = True
        return out

    def read_small(self, parts: tuple[str, ...], limit: int = 1 << 20) -> bytes | None:
        info = self.files.get(parts)
        if info is None:
            return None
        try:
            with open_member(self.archive, self.chain, info.filename) as handle:
                return handle.read(limit)
        except (OSError, zipfile.BadZipFile, RuntimeError, EOFError):
            return None

    def local_path(self, parts: tuple[str, ...]) -> None:
        return None

    def walk(self, parts: tuple[str, ...], errors: list[ErrorEntry]) -> Iterator[Entry]:
        depth = len(parts)
        for path in sorted(self.files):
            if path[:depth] != parts:
                continue
            info = self.files[path]
            if len(path) - depth > self.limits.max_depth:
                errors.append(ErrorEntry(where=f"{self.origin}!{info.filename}", kind="too_deep", message="member nested too deep"))
                continue
            opener = functools.partial(open_member, self.archive, self.chain, info.filename)
            yield Entry(path, info.file_size, _zip_mtime(info), opener, f"{self.origin}!{info.filename}")

    def nested(self, parts: tuple[str, ...]) -> ZipTree:
        """The zip stored at ``parts`` inside this archive (spooled); raises on a bad archive."""
        info = self.files[parts]
        if len(self.chain) + 1 > self.limits.max_nesting:
            raise zipfile.BadZipFile(f"zip nesting deeper than {self.limits.max_nesting}")
        if info.file_size > self.limits.max_nested_bytes:
            raise zipfile.BadZipFile(f"nested zip of {info.file_size} bytes exceeds {self.limits.max_nested_bytes}")
        return ZipTree(self.archive, (*self.chain, info.filename), self.limits, PurePosixPath(info.filename).stem)


def safe_parts(name: str) -> tuple[str, ...] | None:
    """Member name → path components; None for absolute, drive, UNC or ``..`` names."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        return None
    parts = tuple(p for p in unified.split("/") if p not in ("", "."))
    if any(p == ".." for p in parts):
        return None
    return parts


def _zip_mtime(info: zipfile.ZipInfo) -> float | None:
    import datetime as _dt

    try:
        return _dt.datetime(*info.date_time, tzinfo=_dt.UTC).timestamp()
    except (ValueError, OverflowError):
        return None


EOCD_SEARCH = 22 + 65535 + 20  # end record, its longest comment, and the ZIP64 locator before it

# Per-process caches: one ZipFile per archive (central directory read once), one spool per nested zip.
_LOCK = threading.RLock()
_SPOOL_DIR: list[str] = []
_ARCHIVES: dict[tuple[str, tuple[str, ...], int, int], zipfile.ZipFile] = {}
MAX_OPEN_ARCHIVES = 32


class ZipBomb(zipfile.BadZipFile):
    """An archive refused before ``zipfile`` reads it: its central directory declares too many members."""


def open_archive(archive: str, chain: tuple[str, ...] = (), max_members: int = Limits.max_members) -> zipfile.ZipFile:
    info = os.stat(archive)
    key = (archive, chain, info.st_mtime_ns, info.st_size)  # a replaced archive is not served stale
    with _LOCK:
        cached = _ARCHIVES.get(key)
        if cached is not None:
            return cached
        if len(_ARCHIVES) >= MAX_OPEN_ARCHIVES:
            # Forget the oldest; open members keep their own reference to its file handle.
            _ARCHIVES.pop(next(iter(_ARCHIVES)))
        opened = _open_uncached(archive, chain, max_members)
        _ARCHIVES[key] = opened
        return opened


def _open_uncached(archive: str, chain: tuple[str, ...], max_members: int) -> zipfile.ZipFile:
    if not chain:
        handle = open_readonly(archive)  # O_NOATIME: reading the archive leaves its access time alone
        try:
            check_member_count(handle, max_members)
            opened = zipfile.ZipFile(handle)
        except BaseException:
            handle.close()
            raise
        opened._exaudit_spool = handle  # type: ignore[attr-defined]  # a passed handle is ours to close
        return opened
    outer = open_archive(archive, chain[:-1])
    spool = tempfile.TemporaryFile(dir=_spool_dir())  # anonymous: gone when closed, even after a crash
    try:
        with outer.open(chain[-1]) as member:
            shutil.copyfileobj(member, spool, 1 << 20)
        spool.seek(0)
        check_member_count(spool, max_members)
        nested = zipfile.ZipFile(spool)
    except BaseException:
        spool.close()
        raise
    nested._exaudit_spool = spool  # type: ignore[attr-defined]  # closed with the archive
    return nested


def check_member_count(handle: BinaryIO, max_members: int) -> None:
    """Refuse an archive whose end record declares more than ``max_members`` members, before ``zipfile``
    builds one ``ZipInfo`` (about 0.8 KB) per member. Reads the end-of-central-directory record (and the
    ZIP64 one when the count overflows 16 bits); APPNOTE.TXT 4.3.14-4.3.16. A missing record is left to
    ``zipfile`` to reject."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - EOCD_SEARCH))
    tail = handle.read()
    handle.seek(0)
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or len(tail) < end + 22:
        return
    count = struct.unpack_from("<H", tail, end + 10)[0]
    locator = end - 20
    if count == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        handle.seek(struct.unpack_from("<Q", tail, locator + 8)[0])
        record = handle.read(56)
        handle.seek(0)
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            count = struct.unpack_from("<Q", record, 32)[0]
    if count > max_members:
        raise ZipBomb(f"{count} members declared, more than {max_members}: archive not read")


def close_archives() -> None:
    """Close every cached archive and spool file (later opens reopen them)."""
    with _LOCK:
        archives = list(_ARCHIVES.values())
        _ARCHIVES.clear()
    for archive in archives:
        archive.close()
        spool = getattr(archive, "_exaudit_spool", None)
        if spool is not None:
            spool.close()


atexit.register(close_archives)


def open_member(archive: str, chain: tuple[str, ...], member: str) -> BinaryIO:
    return open_archive(archive, chain).open(member)  # type: ignore[return-value]  # a ZipExtFile


def spool_file(stream: BinaryIO, limit: int = Limits.max_nested_bytes) -> BinaryIO:
    """Copy a stream (an archive member) to an anonymous file in the private spool folder, at most ``limit`` bytes."""
    spool = tempfile.TemporaryFile(dir=_spool_dir())  # anonymous: gone when closed, even after a crash
    try:
        remaining = limit
        while remaining > 0 and (block := stream.read(min(1 << 20, remaining))):
            spool.write(block)
            remaining -= len(block)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool  # a BufferedRandom over a real descriptor


def _spool_dir() -> str:
    with _LOCK:
        if not _SPOOL_DIR:
            _SPOOL_DIR.append(tempfile.mkdtemp(prefix="exaudit-spool-"))
            atexit.register(shutil.rmtree, _SPOOL_DIR[0], True)
        return _SPOOL_DIR[0]


def is_zip(head: bytes) -> bool:
    return head.startswith((b"PK\x03\x04", b"PK\x05\x06"))
