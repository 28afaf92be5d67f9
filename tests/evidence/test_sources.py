"""Evidence sources: layouts, server paths, hostnames, and hostile input recorded rather than fatal."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from exaudit.evidence import EvidenceError, HashingReader, Limits, open_evidence, sha256_file
from exaudit.evidence.base import HostView
from exaudit.parsers import ParseStats, parser_for

HTTPPROXY_LINE = (
    b"#Software: Microsoft Exchange Server\r\n#Log-type: HttpProxy Logs\r\n#Fields: DateTime,UrlStem\r\n2021-03-03T01:02:03.000Z,/owa/\r\n"
)
EXCHANGE = "C:\\Program Files\\Microsoft\\Exchange Server\\V15"


def write(root: Path, relative: str, data: bytes = HTTPPROXY_LINE) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def paths_of(view: HostView) -> set[str]:
    return {f.path for f in view.files()}


def only(views: list[HostView]) -> HostView:
    assert len(views) == 1, [v.hostname for v in views]
    return views[0]


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="does not exist"):
        open_evidence(tmp_path / "nope")


def test_mounted_system_drive(tmp_path: Path) -> None:
    drive = tmp_path / "EX01_C"
    write(drive, "Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Owa/HttpProxy_2021030300-1.LOG")
    write(drive, "inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", b"x")
    write(drive, "Windows/System32/winevt/Logs/Application.evtx", b"x")
    view = only(open_evidence(drive))
    assert view.hostname == "EX01_C"
    assert view.kind == "mounted"
    assert paths_of(view) == {
        f"{EXCHANGE}\\Logging\\HttpProxy\\Owa\\HttpProxy_2021030300-1.LOG",
        "C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex210303.log",
        "C:\\Windows\\System32\\winevt\\Logs\\Application.evtx",
    }


@pytest.mark.parametrize("root", ["V15", "Logging", "HttpProxy"])
def test_exchange_folder_alone_maps_to_the_default_install_path(tmp_path: Path, root: str) -> None:
    full = "V15/Logging/HttpProxy/Ecp/HttpProxy_2021030302-1.LOG"
    start = full.index(root)
    write(tmp_path / "EX02", full[start:])
    view = only(open_evidence(tmp_path / "EX02" / root))
    assert paths_of(view) == {f"{EXCHANGE}\\Logging\\HttpProxy\\Ecp\\HttpProxy_2021030302-1.LOG"}
    assert view.hostname == "EX02"  # the folder above the Exchange folder names the host


def test_loose_files_keep_relative_paths(tmp_path: Path) -> None:
    write(tmp_path / "case7", "from-admin/some.log", b"hello\n")
    view = only(open_evidence(tmp_path / "case7"))
    assert paths_of(view) == {"from-admin/some.log"}
    assert view.hostname == "case7" and view.kind == "loose"


def test_single_file(tmp_path: Path) -> None:
    path = write(tmp_path / "EX03" / "W3SVC1", "u_ex210303.log", b"x")
    view = only(open_evidence(path))
    assert paths_of(view) == {"C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex210303.log"}
    assert view.hostname == "EX03"


@pytest.mark.parametrize("drive", ["C", "C%3A"])
def test_kape_target_folder(tmp_path: Path, drive: str) -> None:
    tdest = tmp_path / "kape_out"
    write(tdest, f"{drive}/Windows/System32/winevt/Logs/MSExchange Management.evtx", b"x")
    write(tdest, "2021-03-05T101010_ConsoleLog.txt", b"kape's own log")
    view = only(open_evidence(tdest))
    assert view.kind == "kape"
    assert paths_of(view) == {"C:\\Windows\\System32\\winevt\\Logs\\MSExchange Management.evtx"}


def test_folder_of_kape_hosts_gives_one_view_per_host(tmp_path: Path) -> None:
    for host in ("EX01", "EX02"):
        write(tmp_path / "tdest", f"{host}/D/Program Files/Microsoft/Exchange Server/V15/Logging/OABGeneratorLog/a.LOG", b"x")
    views = open_evidence(tmp_path / "tdest")
    assert sorted(v.hostname for v in views) == ["EX01", "EX02"]
    assert paths_of(views[0]) == {"D:\\Program Files\\Microsoft\\Exchange Server\\V15\\Logging\\OABGeneratorLog\\a.LOG"}


VELO_MEMBERS = {
    "uploads/auto/C%3A/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Owa/HttpProxy_2021030300-1.LOG": HTTPPROXY_LINE,
    "uploads/ntfs/%5C%5C.%5CC%3A/Windows/System32/winevt/Logs/Microsoft-Windows-Windows Defender%254Operational.evtx": b"x",
    "uploads/auto/C%3A/inetpub/wwwroot/aspnet_client/%2Ehidden.aspx": b"<%@ Page %>",
    "uploads/auto/C%3A/Windows/x.evtx.idx": b"[]",
    "uploads.json": b"{}\n",
    "log.json": b"{}\n",
    "client_info.json": json.dumps({"Hostname": "EXCH-07", "Fqdn": "exch-07.corp.example"}).encode(),
}
VELO_PATHS = {
    f"{EXCHANGE}\\Logging\\HttpProxy\\Owa\\HttpProxy_2021030300-1.LOG",
    "C:\\Windows\\System32\\winevt\\Logs\\Microsoft-Windows-Windows Defender%4Operational.evtx",
    "C:\\inetpub\\wwwroot\\aspnet_client\\.hidden.aspx",
}


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_velociraptor_zip_read_in_place(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "Collection-EXCH-07-2021-03-05T10_00_00Z.zip", VELO_MEMBERS)
    view = only(open_evidence(archive))
    assert view.kind == "velociraptor"
    assert view.hostname == "EXCH-07"
    files = {f.path: f for f in view.files()}
    assert set(files) == VELO_PATHS
    with files[f"{EXCHANGE}\\Logging\\HttpProxy\\Owa\\HttpProxy_2021030300-1.LOG"].open() as stream:
        assert stream.read() == HTTPPROXY_LINE
    assert "!" in files["C:\\inetpub\\wwwroot\\aspnet_client\\.hidden.aspx"].origin
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name]  # nothing extracted


def test_velociraptor_extracted_folder_and_name_fallback(tmp_path: Path) -> None:
    folder = tmp_path / "Collection-EX09-2021-03-05T10_00_00Z"
    for name, data in VELO_MEMBERS.items():
        if name != "client_info.json":
            write(folder, name, data)
    view = only(open_evidence(folder))
    assert view.kind == "velociraptor" and view.hostname == "EX09"
    assert paths_of(view) == VELO_PATHS


def test_zip_of_kape_output_and_nested_collection_zip(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        for name, data in VELO_MEMBERS.items():
            archive.writestr(name, data)
    outer = make_zip(tmp_path / "sweep.zip", {"collections/README.txt": b"x", "Collection-EXCH-07-2021-03-05.zip": inner.getvalue()})
    view = only(open_evidence(outer))
    assert view.hostname == "EXCH-07" and paths_of(view) == VELO_PATHS
    kape = make_zip(tmp_path / "EX05.zip", {"EX05/C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log": b"x"})
    view = only(open_evidence(kape))
    assert view.hostname == "EX05" and paths_of(view) == {"C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex210303.log"}


def test_zip_inside_a_host_tree_is_expanded(tmp_path: Path) -> None:
    drive = tmp_path / "EX06"
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("events.json", b'{"EventID": 1}\n')
    write(drive, "inetpub/wwwroot/backup.zip", inner.getvalue())
    files = {f.path: f for f in only(open_evidence(drive)).files()}
    assert set(files) == {"C:\\inetpub\\wwwroot\\backup.zip", "C:\\inetpub\\wwwroot\\backup.zip!events.json"}
    with files["C:\\inetpub\\wwwroot\\backup.zip!events.json"].open() as stream:
        assert stream.read() == b'{"EventID": 1}\n'


def test_traversal_and_absolute_members_are_refused_and_recorded(tmp_path: Path) -> None:
    members = {"../../etc/evil.log": b"x", "/abs/evil.log": b"x", "C:/win/evil.log": b"x", "ok/V15/Logging/HttpProxy/Owa/a.LOG": b"x"}
    view = only(open_evidence(make_zip(tmp_path / "EX.zip", members)))
    assert paths_of(view) == paths_of(view) == {f"{EXCHANGE}\\Logging\\HttpProxy\\Owa\\a.LOG"}
    assert sorted(e.kind for e in view.errors) == ["unsafe_path"] * 3  # listed twice, reported once


def test_zip_bomb_members_are_refused_by_ratio_and_size(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("logs/zeros.log", b"\0" * (8 << 20))  # ratio ~1000
        out.writestr("logs/fine.log", os.urandom(4096))
    view = only(open_evidence(archive))
    assert paths_of(view) == {"logs/fine.log"}
    assert [e.kind for e in view.errors] == ["zip_bomb"]
    small = only(open_evidence(archive, Limits(max_member_bytes=1000)))
    assert not paths_of(small) and {e.kind for e in small.errors} == {"zip_bomb"}


def test_not_a_zip_named_zip_raises_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(EvidenceError, match="cannot read zip"):
        open_evidence(bad)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_symlink_loop_and_escape_do_not_hang(tmp_path: Path) -> None:
    drive = tmp_path / "EX08"
    write(drive, "inetpub/logs/LogFiles/W3SVC1/u_ex1.log", b"x")
    (drive / "inetpub" / "loop").symlink_to(drive / "inetpub")
    (drive / "inetpub" / "outside").symlink_to(tmp_path)
    (drive / "inetpub" / "secret.log").symlink_to("/etc/hostname")
    view = only(open_evidence(drive))
    assert paths_of(view) == paths_of(view) == {"C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex1.log"}
    kinds = sorted(e.kind for e in view.errors)
    assert kinds == ["symlink_loop", "symlink_outside", "symlink_outside"]


def test_deep_tree_is_walked_and_depth_limited(tmp_path: Path) -> None:
    deep = tmp_path / "EX10" / "inetpub" / "/".join(["d"] * 200)
    write(deep, "deep.log", b"x")
    view = only(open_evidence(tmp_path / "EX10"))
    assert [p.endswith("\\deep.log") for p in paths_of(view)] == [True]
    limited = only(open_evidence(tmp_path / "EX10", Limits(max_depth=50)))
    assert not paths_of(limited) and [e.kind for e in limited.errors] == ["too_deep"]


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file_recorded(tmp_path: Path) -> None:
    path = write(tmp_path / "EX11", "inetpub/logs/LogFiles/W3SVC1/u_ex1.log", b"x")
    path.chmod(0)
    view = only(open_evidence(tmp_path / "EX11"))
    assert not paths_of(view) and [e.kind for e in view.errors] == ["unreadable"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_never_opened(tmp_path: Path) -> None:
    write(tmp_path / "EX12", "inetpub/a.log", b"x")
    os.mkfifo(tmp_path / "EX12" / "inetpub" / "pipe.log")
    assert paths_of(only(open_evidence(tmp_path / "EX12"))) == {"C:\\inetpub\\a.log"}


def test_files_are_read_only_and_hashes_match(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    path = write(tmp_path / "EX13", "inetpub/logs/LogFiles/W3SVC1/u_ex1.log", data)
    before = path.stat()
    (file,) = only(open_evidence(tmp_path / "EX13")).files()
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(file) == expected
    with file.open() as stream:
        with pytest.raises(io.UnsupportedOperation):
            stream.write(b"x")  # type: ignore[call-arg]
        reader = HashingReader(stream)
        reader.readline(100)
        reader.read(1000)
        assert reader.hexdigest() == expected  # hashes the rest the parser did not read
    after = path.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


def test_corpus_opened_as_a_loose_host(corpus: Path) -> None:
    view = only(open_evidence(corpus / "events-json"))
    names = sorted(f.path for f in view.files() if f.path.startswith("psh_"))
    assert names == [
        "psh_lsass_memory_dump_comsvcs.zip",
        "psh_lsass_memory_dump_comsvcs.zip!psh_lsass_memory_dump_comsvcs_2020-10-18T19500924.json",
    ]


def test_velociraptor_truncated_uploads_and_collector_errors_are_recorded(tmp_path: Path) -> None:
    uploads = [
        {
            "_Components": ["uploads", "auto", "C:", "inetpub", "logs", "LogFiles", "W3SVC1", "u_ex1.log"],
            "file_size": 900,
            "uploaded_size": 100,
        },
        {"_Components": ["uploads", "ntfs", "\\\\.\\C:", "Windows", "x.evtx"], "file_size": 10, "uploaded_size": 10},
        {"_Components": ["uploads", "ntfs", "\\\\.\\C:", "$Extend", "$UsnJrnl:$J"], "file_size": 4096, "uploaded_size": 2, "Type": "idx"},
    ]
    log = [
        {"level": "ERROR", "message": "upload: C:\\Windows\\System32\\config\\SAM: Access is denied.\n"},
        {"level": "INFO", "message": "ok"},
    ]
    members = {
        "uploads.json": "\n".join(json.dumps(r) for r in uploads).encode(),
        "log.json": "\n".join(json.dumps(r) for r in log).encode(),
    }
    members["uploads/auto/C%3A/inetpub/logs/LogFiles/W3SVC1/u_ex1.log"] = b"x" * 100
    view = only(open_evidence(make_zip(tmp_path / "Collection-EX14-2021-03-05.zip", members)))
    assert view.hostname == "EX14"
    assert [(e.kind, e.where) for e in view.errors] == [
        ("truncated", "C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex1.log"),
        ("collection_error", str(tmp_path / "Collection-EX14-2021-03-05.zip")),
    ]
    assert "Access is denied" in view.errors[1].message


def test_member_lying_about_its_size_never_yields_more_than_declared(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "liar.zip", {"inetpub/logs/LogFiles/W3SVC1/u_ex1.log": b"2021-03-03 00:00:00 GET /\n" * 4000})
    data = bytearray(archive.read_bytes())
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    data[local + 22 : local + 26] = (100).to_bytes(4, "little")  # declared uncompressed size
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    (file,) = only(open_evidence(archive)).files()
    assert file.size == 100
    stats = ParseStats()
    with file.open() as stream:
        records = list(parser_for("iis")(stream, file.path, stats))
    assert len(records) <= 4 and [e.kind for e in stats.errors] == ["damaged"]  # CRC mismatch, not 100 KB
