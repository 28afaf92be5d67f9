"""Hostile and damaged evidence: no traceback, a named error (or the input's error count), and the
attack row beside the broken files is still found.

Every test builds one Exchange host folder (``hostile_inputs.make_host``: an HttpProxy log with a
CVE-2021-26855 row), adds damage next to it, runs ``exaudit.hunt.hunt`` (or the real CLI) and checks
three things: the attack is still found, the damage is named, nothing raised.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hostile_inputs import (
    ATTACK_IP,
    EVTX_DIR,
    HTTPPROXY_DIR,
    attack_found,
    attack_text,
    bad_chunk_magic,
    benign_row,
    bit_flips,
    errors_of,
    has_error,
    httpproxy_row,
    httpproxy_text,
    hunt_cli,
    input_of,
    lying_zip,
    make_host,
    place,
    string_table_loop,
    truncated,
    walk_errors,
    zip_bytes,
)

from exaudit.cli import main
from exaudit.evidence import EvidenceError, HashingReader, Limits, open_evidence
from exaudit.hunt import hunt
from exaudit.parsers import ParseStats
from exaudit.parsers import evtx as evtx_parser
from exaudit.parsers.exchange_csv import HTTPPROXY_FIELDS

MB = 1 << 20
EVTX_MULTI_CHUNK = "LM_5145_Remote_FileCopy.evtx"  # 10 chunks, 869 records
EVTX_SMALL = "corrupt/Security_short_selected.evtx"


@pytest.fixture
def host(tmp_path: Path) -> Path:
    return make_host(tmp_path)


def run(*paths: Path) -> dict[str, Any]:
    document = hunt(list(paths))
    assert attack_found(document), "the attack row beside the damaged files was not found"
    return document


# --------------------------------------------------------------------------- EVTX


def test_truncated_evtx_keeps_records_and_says_truncated(host: Path, corpus: Path) -> None:
    data = (corpus / "evtx" / EVTX_MULTI_CHUNK).read_bytes()
    place(host, (*EVTX_DIR, "Security.evtx"), truncated(data, 4096 + 3 * 65536 + 1000))
    document = run(host)
    assert errors_of(document, "truncated", "Security.evtx")
    assert 0 < input_of(document, "Security.evtx")["records"] < 869


def test_evtx_header_only_is_truncated_not_clean(host: Path, corpus: Path) -> None:
    place(host, (*EVTX_DIR, "System.evtx"), (corpus / "evtx" / EVTX_MULTI_CHUNK).read_bytes()[:4096])
    document = run(host)
    assert errors_of(document, "truncated", "System.evtx")
    assert input_of(document, "System.evtx")["records"] == 0


def test_bit_flipped_evtx_is_damaged_and_partly_read(host: Path, corpus: Path) -> None:
    data = (corpus / "evtx" / EVTX_MULTI_CHUNK).read_bytes()
    place(host, (*EVTX_DIR, "Flipped.evtx"), bit_flips(data, 200, seed=1))
    document = run(host)
    assert errors_of(document, "damaged", "Flipped.evtx")
    assert 0 < input_of(document, "Flipped.evtx")["records"] < 869


def test_bad_chunk_magic_skips_one_chunk(host: Path, corpus: Path) -> None:
    data = (corpus / "evtx" / EVTX_MULTI_CHUNK).read_bytes()
    place(host, (*EVTX_DIR, "BadMagic.evtx"), bad_chunk_magic(data, chunk=0))
    document = run(host)
    assert errors_of(document, "damaged", "BadMagic.evtx")
    assert 700 < input_of(document, "BadMagic.evtx")["records"] < 869  # chunks 1-9 still read


def test_evtx_that_hangs_the_parser_is_stopped(host: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One byte in a chunk's string table sends evtx 0.14 into an endless loop (omerbenamram/evtx#263)."""
    monkeypatch.setattr(evtx_parser, "STALL_SECONDS", 2.0)
    place(host, (*EVTX_DIR, "Loop.evtx"), string_table_loop((corpus / "evtx" / EVTX_SMALL).read_bytes()))
    document = run(host)
    stalled = [e for e in errors_of(document, "damaged", "Loop.evtx") if "no progress" in e["message"]]
    assert len(stalled) == 1
    assert input_of(document, "Loop.evtx")["errors"] >= 1


def test_evtx_inside_a_zip_that_hangs_is_stopped(host: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An archive member has no file descriptor: it is spooled privately and parsed in the child too."""
    monkeypatch.setattr(evtx_parser, "STALL_SECONDS", 2.0)
    loop = string_table_loop((corpus / "evtx" / EVTX_SMALL).read_bytes())
    zip_bytes(host / "events.zip", {"winevt/Logs/Loop.evtx": loop})
    document = run(host)
    assert [e for e in errors_of(document, "damaged", "Loop.evtx") if "no progress" in e["message"]]


def test_evtx_child_that_dies_is_reported(host: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The isolated parser's memory cap (here far too small) ends it: a named error, and the hunt goes on."""
    monkeypatch.setattr(evtx_parser, "WORKER_MEMORY", 16 << 20)
    place(host, (*EVTX_DIR, "Capped.evtx"), bad_chunk_magic((corpus / "evtx" / EVTX_MULTI_CHUNK).read_bytes(), chunk=1))
    document = run(host)
    assert [e for e in errors_of(document, "damaged", "Capped.evtx") if "ended with status" in e["message"]]


def test_evtx_from_a_one_way_stream_is_read_and_hashed(corpus: Path) -> None:
    """A stream that cannot seek (a hashing wrapper) is spooled privately; every byte is still hashed once."""
    data = (corpus / "evtx" / EVTX_MULTI_CHUNK).read_bytes()
    for payload, records in ((data, 869), (bad_chunk_magic(data, chunk=2), None)):
        reader = HashingReader(io.BytesIO(payload))
        stats = ParseStats()
        read = list(evtx_parser.parse(reader, "C:\\x.evtx", stats))
        assert reader.hexdigest() == hashlib.sha256(payload).hexdigest()
        assert len(read) == stats.records and (records is None or len(read) == records)
        assert bool(stats.errors) == (records is None)


def test_corpus_corrupt_evtx_read_in_place(host: Path, corpus: Path) -> None:
    corrupt = corpus / "evtx" / "corrupt"
    document = run(host, corrupt)
    expected = {p.name for p in corrupt.glob("*.evtx")}
    read = {Path(i["origin"]).name: i for i in document["inputs"] if i["artifact"] == "evtx"}
    assert expected <= set(read)
    for name in expected:
        entry = read[name]
        assert entry["records"] > 0 or entry["errors"] > 0, name
    assert read["sample_with_a_bad_chunk_magic.evtx"]["errors"] >= 1
    assert read["sample_with_a_bad_chunk_magic.evtx"]["records"] == 270
    assert read["sample-with-zero-data-size-event.evtx"]["errors"] >= 1


# --------------------------------------------------------------------------- text logs


def test_binary_junk_named_like_logs(host: Path) -> None:
    junk = bytes(range(256)) * 64 + os.urandom(4096)
    place(host, (*HTTPPROXY_DIR[:-1], "Owa", "HttpProxy_2021030301-1.LOG"), junk)
    place(host, ("W3SVC1", "u_ex210303.log"), junk[::-1])
    place(host, (*EVTX_DIR, "junk.evtx"), b"ElfFile\x00" + junk)
    document = run(host)
    assert errors_of(document, "wrong_format", "HttpProxy_2021030301-1.LOG")
    assert errors_of(document, "wrong_format", "u_ex210303.log")
    assert input_of(document, "junk.evtx")["errors"] >= 1


def test_thirty_mb_single_line_is_skipped_and_counted(host: Path) -> None:
    header = "#Software: Microsoft Internet Information Services 10.0\r\n#Fields: date time s-ip cs-method cs-uri-stem\r\n"
    line = "2021-03-03 02:14:07 10.0.0.1 GET /" + "A" * (30 * MB) + "\r\n"
    after = "2021-03-03 02:14:08 10.0.0.1 GET /owa/auth/x.js\r\n"
    place(host, ("W3SVC1", "u_ex210303.log"), (header + line + after).encode())
    document = run(host)
    entry = input_of(document, "u_ex210303.log")
    assert entry["errors"] == 1 and entry["records"] == 1  # the long line is counted, the next one read


def test_invalid_utf8_does_not_hide_the_attack(host: Path) -> None:
    text = attack_text(ip="203.0.113.30").encode()
    broken = text.replace(b"SMTP:user1@", b"SMTP:\xff\xfe\xc3(user1@")
    place(host, (*HTTPPROXY_DIR[:-1], "Ews", "HttpProxy_2021030303-1.LOG"), broken)
    document = run(host)
    assert attack_found(document, "203.0.113.30")
    assert input_of(document, "HttpProxy_2021030303-1.LOG")["records"] == 3


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-8-sig"])
def test_attack_in_a_log_with_bom(host: Path, codec: str) -> None:
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-8-sig": b""}[codec]
    place(host, (*HTTPPROXY_DIR[:-1], "Mapi", "HttpProxy_2021030304-1.LOG"), bom + attack_text(ip="203.0.113.31").encode(codec))
    document = run(host)
    assert attack_found(document, "203.0.113.31")


def test_mixed_line_endings_and_nul_bytes(host: Path) -> None:
    rows = [",".join(benign_row(i)) for i in range(5)] + [",".join(httpproxy_row(ip="203.0.113.32"))]
    head = httpproxy_text([], newline="\n")
    body = "\r\n".join(rows[:2]) + "\r" + rows[2] + "\n\x00\x00" + "\n".join(rows[3:]) + "\r\n"
    data = (head + body).encode() + b"\x00" * 65536  # IIS pre-allocates zeros after a crash
    place(host, (*HTTPPROXY_DIR[:-1], "Oab", "HttpProxy_2021030305-1.LOG"), data)
    document = run(host)
    assert attack_found(document, "203.0.113.32")
    assert input_of(document, "HttpProxy_2021030305-1.LOG")["records"] == 6


def test_empty_and_header_only_logs_are_reported_empty(host: Path) -> None:
    place(host, (*HTTPPROXY_DIR[:-1], "Eas", "HttpProxy_2021030306-1.LOG"), b"")
    place(host, (*HTTPPROXY_DIR[:-1], "Eas", "HttpProxy_2021030307-1.LOG"), httpproxy_text([]).encode())
    place(host, ("W3SVC1", "u_ex210304.log"), b"\x00" * 4096)
    document = run(host)
    assert errors_of(document, "empty", "HttpProxy_2021030306-1.LOG")
    assert errors_of(document, "empty", "HttpProxy_2021030307-1.LOG")
    assert errors_of(document, "empty", "u_ex210304.log")


def test_missing_fields_header_uses_the_default_columns(host: Path) -> None:
    rows = [",".join(benign_row(3)), ",".join(httpproxy_row(ip="203.0.113.33"))]
    place(host, (*HTTPPROXY_DIR[:-1], "Rest", "HttpProxy_2021030308-1.LOG"), ("\r\n".join(rows) + "\r\n").encode())
    document = run(host)
    assert attack_found(document, "203.0.113.33")


def test_repeated_fields_header_remaps_columns(host: Path) -> None:
    """A second ``#Fields`` block with another column order: the attack row is mapped by it, not by position."""
    reordered = list(reversed(HTTPPROXY_FIELDS))
    first = httpproxy_text([benign_row(4)])
    second = httpproxy_text([list(reversed(httpproxy_row(ip="203.0.113.34")))], fields=reordered)
    place(host, (*HTTPPROXY_DIR[:-1], "Ecp", "HttpProxy_2021030309-1.LOG"), (first + second).encode())
    document = run(host)
    assert attack_found(document, "203.0.113.34")


def test_rows_with_too_many_or_too_few_fields_are_counted(host: Path) -> None:
    too_many = ",".join([*benign_row(5), "x", "y"])
    too_few = "2021-03-03T02:14:09.000Z"
    text = httpproxy_text([]) + too_many + "\r\n" + too_few + "\r\n" + ",".join(httpproxy_row(ip="203.0.113.35")) + "\r\n"
    place(host, (*HTTPPROXY_DIR[:-1], "Eas", "HttpProxy_2021030310-1.LOG"), text.encode())
    document = run(host)
    entry = input_of(document, "HttpProxy_2021030310-1.LOG")
    assert entry["errors"] == 2 and entry["records"] == 1
    assert attack_found(document, "203.0.113.35")


def test_git_lfs_pointers_are_not_clean(host: Path, corpus: Path) -> None:
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 16678315\n"
    place(host, ("W3SVC1", "u_ex210305.log"), pointer)
    document = run(host, corpus / "lfs-pointers")
    assert errors_of(document, "lfs_pointer", "u_ex210305.log")
    assert errors_of(document, "lfs_pointer", "exchange_2016_iis.log")
    assert errors_of(document, "lfs_pointer", "exchange_events.json")


# --------------------------------------------------------------------------- archives and folders
# Problems met while listing files (zip members refused, loops, depth, FIFOs) are checked at the evidence
# layer here; that they also reach the hunt document is test_walk_errors_reach_the_hunt_document.


def test_zip_bomb_by_ratio_is_refused(host: Path) -> None:
    zip_bytes(host / "logs.zip", {"W3SVC1/u_ex210306.log": b"\x00" * (40 * MB), "W3SVC1/ok.txt": b"fine"})
    errors = walk_errors(host)
    [bomb] = [e for e in errors if e.kind == "zip_bomb" and "u_ex210306.log" in e.where]
    assert "ratio" in bomb.message
    document = run(host)
    assert not [i for i in document["inputs"] if "u_ex210306.log" in i["path"]]


def test_zip_member_lying_about_its_size_is_not_read_past_its_size(host: Path) -> None:
    real = httpproxy_text([benign_row(i) for i in range(3)]).encode() + b"A" * (8 * MB)
    lying_zip(host / "lying.zip", "V15/Logging/HttpProxy/Owa/HttpProxy_2021030311-1.LOG", real, declared=4096)
    document = run(host)
    named = [e for e in document["errors"] if "HttpProxy_2021030311-1.LOG" in e["where"]]
    assert named and all(e["kind"] in ("damaged", "unreadable") and "CRC" in e["message"] for e in named)


def test_zip_member_declaring_a_huge_size_is_refused(host: Path) -> None:
    lying_zip(host / "huge.zip", "W3SVC1/u_ex210307.log", b"2021-03-03 00:00:00 x GET / - 443 - 1.2.3.4 ua 200 0 0 1\n", 0xFFFFFFF0)
    assert has_error(walk_errors(host), "zip_bomb", "u_ex210307.log")
    run(host)


def test_zip_given_as_evidence_reports_its_refusals_in_hunt(tmp_path: Path) -> None:
    """A zip handed over directly: refusals are known when it is opened, so they reach the document today."""
    archive = zip_bytes(
        tmp_path / "EX02.zip",
        {
            "V15/Logging/HttpProxy/Ecp/HttpProxy_2021030301-1.LOG": attack_text().encode(),
            "../../escape.log": b"x",
            "W3SVC1/u_ex210306.log": b"\x00" * (4 * MB),
        },
    )
    document = run(archive)
    assert errors_of(document, "unsafe_path", "escape.log")
    assert errors_of(document, "zip_bomb", "u_ex210306.log")


def _many_members(path: Path, count: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for index in range(count):
            archive.writestr(f"d/{index}.txt", b"")
    return path


def test_member_count_bomb_is_refused_before_zipfile_reads_it(host: Path, tmp_path: Path) -> None:
    """Each member costs zipfile about 0.8 KB: an archive declaring too many is refused from its end record."""
    limits = Limits(max_members=1000)
    _many_members(host / "many.zip", 5000)
    assert has_error(walk_errors(host, limits), "zip_bomb", "many.zip")
    with pytest.raises(EvidenceError, match="5000 members declared"):
        open_evidence(_many_members(tmp_path / "top.zip", 5000), limits)
    with pytest.raises(EvidenceError, match="66000 members declared"):  # a ZIP64 end record (over 65,535)
        open_evidence(_many_members(tmp_path / "zip64.zip", 66000), Limits(max_members=65000))
    assert len(list(open_evidence(tmp_path / "top.zip")[0].files())) == 5000  # within the default limit: read


@pytest.mark.parametrize("name", ["../../escape.log", "/etc/evil.log", "C:/Windows/evil.log", "..\\..\\evil.log"])
def test_zip_path_traversal_members_are_refused(host: Path, tmp_path: Path, name: str) -> None:
    zip_bytes(host / "traversal.zip", {name: attack_text(ip="203.0.113.36").encode(), "W3SVC1/u_ex210308.log": b""})
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    assert has_error(walk_errors(host), "unsafe_path", "traversal.zip")
    document = run(host)
    assert not attack_found(document, "203.0.113.36")
    assert not [i for i in document["inputs"] if "evil" in i["path"] or "escape" in i["path"]]
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before
    assert not Path("/etc/evil.log").exists()


def test_symlink_loops_and_links_outside_end(host: Path, tmp_path: Path) -> None:
    (host / "V15" / "Logging" / "loop").symlink_to(host / "V15")
    (host / "W3SVC1").mkdir()
    (host / "W3SVC1" / "self").symlink_to(host / "W3SVC1")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "u_ex210309.log").write_text("secret")
    (host / "W3SVC1" / "out").symlink_to(outside)
    errors = walk_errors(host)
    assert has_error(errors, "symlink_loop", "loop") and has_error(errors, "symlink_loop", "self")
    assert has_error(errors, "symlink_outside", "out")
    document = run(host)
    assert not [i for i in document["inputs"] if "u_ex210309" in i["path"]]


def test_folders_nested_200_deep_are_read_and_300_deep_stopped(host: Path) -> None:
    deep = host.joinpath("deep", *(["d"] * 200))
    (deep / "V15" / "Logging" / "HttpProxy" / "Owa").mkdir(parents=True)
    (deep / "V15" / "Logging" / "HttpProxy" / "Owa" / "HttpProxy_2021030313-1.LOG").write_text(attack_text(ip="203.0.113.37"))
    host.joinpath("deeper", *(["d"] * 300)).mkdir(parents=True)
    assert has_error(walk_errors(host), "too_deep", "deeper")
    document = run(host)
    assert attack_found(document, "203.0.113.37")  # 200 folders down, still read


def test_fifo_named_like_a_log_is_not_opened(host: Path) -> None:
    fifo = host / "W3SVC1" / "u_ex210310.log"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    (host / "W3SVC1" / "u_ex210311.log").mkdir()  # a folder named like a log
    assert has_error(walk_errors(host), "not_a_file", "u_ex210310.log")
    run(host)  # opening the FIFO would block forever


def test_fifo_given_as_the_evidence_path_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "u_ex210312.log"
    os.mkfifo(fifo)
    document = hunt([fifo])
    assert errors_of(document, "unreadable", "u_ex210312.log")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to drop privileges in a child")
def test_unreadable_files_with_dropped_privileges() -> None:
    """chmod 000 means nothing to root: the listing runs in a child that switched to user 'nobody'."""
    base = Path(tempfile.mkdtemp(prefix="exaudit-trust-"))  # outside pytest's 0700 folder: nobody must reach it
    try:
        base.chmod(0o755)
        host = make_host(base)
        secret = place(host, ("W3SVC1", "u_ex210313.log"), b"#Software: Microsoft Internet Information Services 10.0\n")
        secret.chmod(0)
        locked = host / "V15" / "Logging" / "ECP"
        locked.mkdir()
        locked.chmod(0)
        script = textwrap.dedent(
            f"""
            import json, os
            from exaudit.evidence import open_evidence
            os.setegid(65534); os.seteuid(65534)
            [view] = open_evidence({str(host)!r})
            paths = [f.path for f in view.files()]
            print(json.dumps({{"paths": paths, "errors": [[e.kind, e.where] for e in view.errors]}}))
            """
        )
        result = subprocess.run([sys.executable, "-c", script], check=True, timeout=60, capture_output=True, text=True)
    finally:
        for path in base.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(base)
    listing = json.loads(result.stdout)
    kinds = {(kind, Path(where).name) for kind, where in listing["errors"]}
    assert ("unreadable", "u_ex210313.log") in kinds and ("unreadable", "ECP") in kinds
    assert any(p.endswith("HttpProxy_2021030302-1.LOG") for p in listing["paths"])  # the rest is still listed


WALK_CASES = {
    "zip_bomb": lambda host: zip_bytes(host / "bomb.zip", {"W3SVC1/u_ex210314.log": b"\x00" * (4 * MB)}),
    "unsafe_path": lambda host: zip_bytes(host / "traversal.zip", {"../../x.log": b"x"}),
    "symlink_loop": lambda host: (host / "V15" / "loop").symlink_to(host / "V15"),
    "too_deep": lambda host: host.joinpath("deeper", *(["d"] * 300)).mkdir(parents=True),
    "not_a_file": lambda host: os.mkfifo(host / "u_ex210315.log"),
}


@pytest.mark.parametrize("kind", sorted(WALK_CASES))
def test_walk_errors_reach_the_hunt_document(host: Path, kind: str) -> None:
    WALK_CASES[kind](host)
    document = run(host)
    assert errors_of(document, kind)


CHOPPER = b'<%@ Page Language="Jscript"%><%eval(Request.Item["k9"],"unsafe");%>'  # China Chopper one-liner


def test_hostile_web_files_do_not_stop_the_web_shell_scan(host: Path) -> None:
    """Huge, binary, NUL, empty and UTF-16 pages, a FIFO page and a loop beside a real web shell pattern."""
    web = ("inetpub", "wwwroot", "aspnet_client", "system_web")
    place(host, (*web, "shell.aspx"), CHOPPER)
    place(host, (*web, "big.aspx"), b"<%@ Page %>" + b"A" * (30 * MB))
    place(host, (*web, "binary.aspx"), bytes(range(256)) * 256)
    place(host, (*web, "nul.aspx"), b"\x00" * 65536)
    place(host, (*web, "empty.aspx"), b"")
    place(host, (*web, "utf16.aspx"), codecs.BOM_UTF16_LE + "<%@ Page %>\ufffd\ud7ff".encode("utf-16-le"))
    os.mkfifo(host.joinpath(*web, "pipe.aspx"))
    host.joinpath(*web, "loop").symlink_to(host.joinpath(*web))
    document = run(host)
    assert not errors_of(document, "webshell_scan"), "the web shell scan stopped"
    shells = [f for f in document["findings"] if "shell.aspx" in json.dumps(f.get("source") or {}) + json.dumps(f["indicators"])]
    assert shells, [f["rule"] for f in document["findings"]]
    assert document["hosts"][0]["verdict"] == "compromised"


# --------------------------------------------------------------------------- everything at once, through the CLI


def test_everything_at_once_through_the_cli(host: Path, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evtx_parser, "STALL_SECONDS", 2.0)
    small = (corpus / "evtx" / EVTX_SMALL).read_bytes()
    place(host, (*EVTX_DIR, "Loop.evtx"), string_table_loop(small))
    place(host, (*EVTX_DIR, "Cut.evtx"), small[:5000])
    place(host, ("W3SVC1", "u_ex210303.log"), os.urandom(2048))
    place(host, (*HTTPPROXY_DIR[:-1], "Owa", "HttpProxy_2021030312-1.LOG"), b"")
    zip_bytes(host / "bomb.zip", {"W3SVC1/u_ex210314.log": b"\x00" * (4 * MB)})
    zip_bytes(host / "traversal.zip", {"../../x.log": b"x"})
    (host / "V15" / "loop").symlink_to(host)
    os.mkfifo(host / "W3SVC1" / "u_ex210315.log")
    code, document = hunt_cli([host, corpus / "evtx" / "corrupt", corpus / "lfs-pointers"], tmp_path / "doc.json")
    assert code == 1  # findings to act on; not 3 (failed)
    assert attack_found(document)
    kinds = {e["kind"] for e in document["errors"]}
    assert {"damaged", "truncated", "wrong_format", "empty", "lfs_pointer"} <= kinds
    assert ATTACK_IP in json.dumps(document["findings"])


def _hostile_table(host: Path, tmp_path: Path) -> str:
    """The hunt table for a host whose log row and file name carry Rich markup and terminal escapes."""
    row = httpproxy_row(ip="203.0.113.38")
    row[HTTPPROXY_FIELDS.index("UserAgent")] = "Mozilla\x1b]8;;http://evil.example\x1b\\[link=http://evil.example]x[/link]\x07"
    place(host, (*HTTPPROXY_DIR[:-1], "Owa", "HttpProxy_2021030314-1.LOG"), httpproxy_text([row]).encode())
    place(host, ("W3SVC1", "[bold red]u_ex210317\x1b]0;owned\x07.log"), bytes(range(1, 256)) * 8)
    out = tmp_path / "table.txt"
    assert main(["hunt", str(host), "--no-store", "--quiet", "--workers", "1", "-o", str(out)]) == 1
    return out.read_text(encoding="utf-8")


def test_rich_markup_in_names_is_printed_literally(host: Path, tmp_path: Path) -> None:
    text = _hostile_table(host, tmp_path)
    assert "203.0.113.38" in text
    assert "[bold red]u_ex210317" in text  # the name, literally, not turned red


def test_terminal_escapes_in_names_never_reach_the_table(host: Path, tmp_path: Path) -> None:
    text = _hostile_table(host, tmp_path)
    assert "\x1b" not in text and "\x07" not in text


# --------------------------------------------------------------------------- memory


def _peak_rss_growth(tmp_path: Path, evidence: Path) -> tuple[float, float]:
    """MB of peak RSS (Linux VmHWM) a hunt adds in a fresh process over a warm-up hunt, and what holding 64 MB adds to RSS.

    The second number is the control: it shows /proc sees an allocation the size of a slurped file.
    """
    small = make_host(tmp_path / "warm")
    script = textwrap.dedent(
        f"""
        import re
        from exaudit.hunt import hunt
        def status(key):  # VmHWM (peak) and VmRSS in MB; ru_maxrss survives execve and would start at pytest's peak
            return int(re.search(key + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
        hunt([{str(small)!r}])
        before = status("VmHWM")
        document = hunt([{str(evidence)!r}])
        after = status("VmHWM")
        resident = status("VmRSS")
        blob = b"x" * (64 << 20)  # written, so resident
        print(after - before, status("VmRSS") - resident)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240, check=True)
    growth, control = result.stdout.split()
    return float(growth), float(control)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak RSS read from /proc (Linux)")
def test_memory_bounded_on_a_30_mb_line(tmp_path: Path) -> None:
    host = make_host(tmp_path / "ev")
    header = "#Software: Microsoft Internet Information Services 10.0\n#Fields: date time s-ip cs-method cs-uri-stem\n"
    place(host, ("W3SVC1", "u_ex210316.log"), (header + "2021-03-03 02:14:07 10.0.0.1 GET /" + "B" * (30 * MB) + "\n").encode())
    growth, control = _peak_rss_growth(tmp_path, host)
    print(f"peak RSS growth, 30 MB line: {growth:.1f} MB (control, 64 MB held: {control:.1f} MB)")
    assert growth < 200 and control > 50


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak RSS read from /proc (Linux)")
def test_memory_bounded_on_zip_bombs(tmp_path: Path) -> None:
    host = make_host(tmp_path / "ev")
    zip_bytes(host / "bomb.zip", {f"W3SVC1/u_ex2103{d:02d}.log": b"\x00" * (64 * MB) for d in range(1, 4)})
    lying_zip(host / "lying.zip", "W3SVC1/u_ex210320.log", b"2021-03-03 " + b"C" * (64 * MB), declared=1 << 20)
    growth, control = _peak_rss_growth(tmp_path, host)
    print(f"peak RSS growth, zip bombs: {growth:.1f} MB (control, 64 MB held: {control:.1f} MB)")
    assert growth < 200 and control > 50
