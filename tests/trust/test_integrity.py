"""Evidence integrity: hunt opens evidence read-only, changes no byte or time, hashes what it read,
and extracts nothing outside a private temporary folder that is gone when the process ends.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_inputs import EVTX_DIR, attack_found, attack_text, bit_flips, hunt_cli, make_host, place, zip_bytes

from exaudit.hunt import hunt

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
DAY = 86400


@pytest.fixture
def evidence(tmp_path: Path, corpus: Path) -> Path:
    """A host with text logs, an intact and a damaged EVTX, an IIS log and a zip of logs."""
    host = make_host(tmp_path / "evidence")
    evtx = (corpus / "evtx" / "LM_5145_Remote_FileCopy.evtx").read_bytes()
    place(host, (*EVTX_DIR, "Security.evtx"), evtx)
    place(host, (*EVTX_DIR, "Damaged.evtx"), bit_flips(evtx, 50, seed=3))
    place(host, ("W3SVC1", "u_ex210303.log"), b"#Software: Microsoft Internet Information Services 10.0\r\n")
    zip_bytes(host / "archived.zip", {"V15/Logging/HttpProxy/Ews/HttpProxy_2021030301-1.LOG": attack_text(ip="203.0.113.60").encode()})
    return host


def _files(root: Path) -> Iterator[Path]:
    return (p for p in sorted(root.rglob("*")) if p.is_file())


def snapshot(root: Path) -> dict[str, tuple[str, int, int, int]]:
    """SHA-256, mtime, atime and mode of every file; read with O_NOATIME so the snapshot itself changes nothing."""
    out = {}
    for path in _files(root):
        info = path.stat()
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
        with os.fdopen(fd, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        out[str(path)] = (digest, info.st_mtime_ns, info.st_atime_ns, info.st_mode)
    return out


def _age(root: Path) -> None:
    """Old atimes (older than mtimes by a day): with relatime any ordinary read would refresh them."""
    now = time.time()
    for path in _files(root):
        os.utime(path, (now - 3 * DAY, now - 2 * DAY))


def _plain_read_touches_atime(folder: Path) -> bool:
    probe = folder / "atime-probe"
    probe.write_bytes(b"x")
    os.utime(probe, (time.time() - 3 * DAY, time.time() - 2 * DAY))
    before = probe.stat().st_atime_ns
    probe.read_bytes()
    touched = probe.stat().st_atime_ns != before
    probe.unlink()
    return touched


def test_contents_mtimes_and_atimes_unchanged(evidence: Path, tmp_path: Path) -> None:
    _age(evidence)
    before = snapshot(evidence)
    document = hunt([evidence])
    assert attack_found(document) and attack_found(document, "203.0.113.60")
    after = snapshot(evidence)
    assert {p: v[:2] + v[3:] for p, v in after.items()} == {p: v[:2] + v[3:] for p, v in before.items()}
    if not _plain_read_touches_atime(tmp_path):
        pytest.skip("this filesystem does not update access times on read (noatime): atimes not checked")
    changed = [p for p in before if after[p][2] != before[p][2]]
    assert not changed, f"access times changed by hunt: {changed}"


def test_hunt_on_a_read_only_tree(evidence: Path) -> None:
    expected = hunt([evidence])
    modes = {p: p.stat().st_mode for p in [evidence, *evidence.rglob("*")]}
    try:
        for path in modes:
            path.chmod(stat.S_IMODE(modes[path]) & ~0o222)
        document = hunt([evidence])
    finally:
        for path, mode in modes.items():
            path.chmod(stat.S_IMODE(mode))
    assert attack_found(document)
    assert [(i["path"], i["sha256"], i["records"]) for i in document["inputs"]] == [
        (i["path"], i["sha256"], i["records"]) for i in expected["inputs"]
    ]


class OpenRecorder:
    """Wraps the ways Python opens or changes files; remembers every call that names an evidence path."""

    MUTATORS = ("remove", "unlink", "rename", "replace", "truncate", "utime", "chmod", "chown", "rmdir", "mkdir", "link", "symlink")

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = os.path.realpath(root)
        self.opened: list[tuple[str, str]] = []
        self.violations: list[str] = []
        real_open, real_os_open = builtins.open, os.open

        def py_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            self._check_mode(file, mode)
            return real_open(file, mode, *args, **kwargs)

        def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            self._check_flags(path, flags)
            return real_os_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", py_open)
        monkeypatch.setattr(io, "open", py_open)
        monkeypatch.setattr(os, "open", os_open)
        for name in self.MUTATORS:
            if hasattr(os, name):
                monkeypatch.setattr(os, name, self._refuse(name, getattr(os, name)))

    def _inside(self, path: Any) -> bool:
        if isinstance(path, int):
            return False
        return os.path.realpath(os.fspath(path)).startswith(self.root)

    def _check_mode(self, file: Any, mode: str) -> None:
        if self._inside(file):
            self.opened.append((os.fspath(file), mode))
            if set(mode) & set("wax+"):
                self.violations.append(f"open({file}, {mode!r})")

    def _check_flags(self, path: Any, flags: int) -> None:
        if self._inside(path):
            self.opened.append((os.fspath(path), oct(flags)))
            if flags & WRITE_FLAGS:
                self.violations.append(f"os.open({path}, {oct(flags)})")

    def _refuse(self, name: str, real: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if args and self._inside(args[0]):
                self.violations.append(f"os.{name}{args}")
            return real(*args, **kwargs)

        return wrapper


def test_evidence_is_never_opened_for_writing(evidence: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = OpenRecorder(evidence, monkeypatch)
    code, document = hunt_cli([evidence], tmp_path / "doc.json")
    monkeypatch.undo()
    assert code == 1 and attack_found(document)
    assert not recorder.violations
    opened = {Path(p).name for p, _ in recorder.opened}
    assert {"Security.evtx", "Damaged.evtx", "archived.zip", "HttpProxy_2021030302-1.LOG"} <= opened  # the wrapper saw the reads


def _sha256_of_origin(origin: str) -> str:
    """Hash a local file, or a member of a zip named ``archive.zip!member``, independently of exaudit."""
    if "!" in origin:
        archive, member = origin.split("!", 1)
        with zipfile.ZipFile(archive) as opened:
            return hashlib.sha256(opened.read(member)).hexdigest()
    return hashlib.sha256(Path(origin).read_bytes()).hexdigest()


def test_every_input_is_hashed_correctly(evidence: Path) -> None:
    document = hunt([evidence])
    logs = {i["origin"]: i for i in document["inputs"]}
    expected = {str(p) for p in _files(evidence) if p.suffix.lower() in (".log", ".evtx")}
    expected.add(f"{evidence / 'archived.zip'}!V15/Logging/HttpProxy/Ews/HttpProxy_2021030301-1.LOG")
    assert expected <= set(logs), expected - set(logs)
    for origin, entry in logs.items():
        assert entry["sha256"] == _sha256_of_origin(origin), origin
        assert entry["size"] == (Path(origin).stat().st_size if "!" not in origin else entry["size"])


def test_zip_spool_is_private_and_removed(tmp_path: Path, corpus: Path) -> None:
    """A zip inside a zip and a damaged EVTX inside a zip are spooled: anonymous files in a 0700 folder."""
    spool_root = tmp_path / "tmpdir"
    spool_root.mkdir()
    inner = zip_bytes(tmp_path / "inner.zip", {"V15/Logging/HttpProxy/Owa/HttpProxy_2021030301-1.LOG": attack_text().encode()})
    damaged = bit_flips((corpus / "evtx" / "corrupt" / "Security_short_selected.evtx").read_bytes(), 3, seed=2)
    outer = zip_bytes(tmp_path / "EX03.zip", {"archives/inner.zip": inner.read_bytes(), "winevt/Logs/Damaged.evtx": damaged})
    before = snapshot(tmp_path)
    script = textwrap.dedent(
        f"""
        import json, os
        from exaudit.hunt import hunt
        document = hunt([{str(outer)!r}])
        seen = []
        for folder, dirs, files in os.walk({str(spool_root)!r}):
            for name in dirs:
                seen.append([name, oct(os.stat(os.path.join(folder, name)).st_mode & 0o777), "dir"])
            for name in files:
                seen.append([name, "", "file"])
        print(json.dumps({{"document": document, "seen": seen}}))
        """
    )
    env = {**os.environ, "TMPDIR": str(spool_root)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env, check=True)
    report = json.loads(result.stdout)
    assert attack_found(report["document"])  # the nested zip was read
    assert any("Damaged.evtx" in i["path"] and i["records"] > 0 for i in report["document"]["inputs"])
    assert report["seen"], "no private spool folder was made while running"
    assert all(kind == "dir" and name.startswith("exaudit-spool-") and mode == "0o700" for name, mode, kind in report["seen"])
    assert list(spool_root.iterdir()) == []  # removed at exit
    after = snapshot(tmp_path)
    assert {p: v for p, v in after.items() if "tmpdir" not in p} == before  # nothing extracted beside the evidence
