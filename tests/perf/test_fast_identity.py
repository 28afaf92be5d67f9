"""The bytes-first hunt gives the same document as the full parse (``reference=True``), whatever the logs hold.

Lab evidence (every scenario, several seeds), the shared corpus, and lab logs damaged on purpose (CRLF, BOM,
NUL bytes, lone CR, quoted CSV values, odd quotes, non-ASCII, torn and over-long lines, restarts with new
headers, shuffled lines) are hunted both ways and compared as whole JSON documents. Blocks are made tiny so
that lines straddle block ends.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import exaudit.hunt as hunt_module
import exaudit.hunt_fast as hunt_fast
from exaudit.hunt import hunt
from exaudit.lab.evidence import generate

SCENARIOS = ("proxylogon", "proxyshell", "proxynotshell", "owassrf", "cve-2020-0688", "attempt-only", "benign")


def _lab_host(tmp_path: Path, scenario: str, seed: int, days: int = 3, volume: int = 400) -> Path:
    truth = generate(tmp_path, scenario=scenario, seed=seed, days=days, volume=volume, layout="drive")
    [host] = truth["hosts"]
    return tmp_path / host["evidence"]


def _same(path: Path, **fast: Any) -> dict[str, Any]:
    reference = hunt([path], reference=True)
    document = hunt([path], **fast)
    for key in reference:
        assert document[key] == reference[key], key
    return document


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hunt_fast, "BLOCK", 4096)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("seed", (3, 29))
def test_lab_scenarios_identical(tmp_path: Path, scenario: str, seed: int) -> None:
    document = _same(_lab_host(tmp_path, scenario, seed), workers=1)
    assert document["inputs"] and all(i["sha256"] for i in document["inputs"] if i["artifact"] in ("iis", "httpproxy"))


def test_identical_with_small_blocks(tmp_path: Path, small_blocks: None) -> None:
    _same(_lab_host(tmp_path, "proxylogon", 7), workers=1)


def test_identical_over_two_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hunt_module, "POOL_MIN_BYTES", 0)  # force the pool on small evidence
    host = _lab_host(tmp_path, "proxylogon", 13, days=2, volume=300)
    _same(host, workers=2)


@pytest.mark.parametrize("folder", ("exchange-logs", "iis-logs", "evtx", "events-json", "lfs-pointers"))
def test_corpus_identical(corpus: Path, folder: str) -> None:
    _same(corpus / folder, workers=1)


# --------------------------------------------------------------------------- damaged and unusual logs


def _web_logs(host: Path) -> list[Path]:
    iis = sorted(host.glob("inetpub/logs/LogFiles/W3SVC*/*.log"))
    proxy = sorted(host.glob("Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/*/*.LOG"))
    assert iis and proxy
    return iis + proxy


def _rewrite(host: Path, change: Callable[[bytes, Path], bytes]) -> None:
    for path in _web_logs(host):
        data = path.read_bytes()
        if len(_data_lines(data)[1]) >= 4:  # a file with a few requests only is left as it is
            path.write_bytes(change(data, path))


def _data_lines(data: bytes) -> tuple[list[bytes], list[bytes]]:
    lines = data.split(b"\n")
    head = [line for line in lines if line.startswith(b"#")]
    body = [line for line in lines if line and not line.startswith(b"#")]
    return head, body


def _restart(data: bytes, _path: Path) -> bytes:
    head, body = _data_lines(data)
    half = len(body) // 2
    return b"\n".join(head + body[:half] + [b""] + head + body[half:]) + b"\n"


def _shuffle(data: bytes, _path: Path) -> bytes:
    head, body = _data_lines(data)
    random.Random(len(body)).shuffle(body)
    return b"\n".join(head + body) + b"\n"


def _quote_agents(data: bytes, path: Path) -> bytes:
    if not path.name.startswith("HttpProxy"):
        return data
    out = []
    for line in data.split(b"\n"):
        values = line.split(b",")
        if len(values) > 20 and not line.startswith(b"#"):
            values[16] = b'"' + values[16] + b', ""quoted"""'
        out.append(b",".join(values))
    return b"\n".join(out)


def _odd_quote(data: bytes, path: Path) -> bytes:
    head, body = _data_lines(data)
    body[len(body) // 2] = body[len(body) // 2].replace(b"Mozilla", b'Mo"zilla', 1)
    return b"\n".join(head + body) + b"\n"


def _kelvin(data: bytes, _path: Path) -> bytes:
    return data.replace(b"Windows", "Windows \u212aelvin ünïcode".encode(), 3).replace(b"/owa/auth/", "/ow\u0430/auth/".encode(), 2)


def _torn(data: bytes, _path: Path) -> bytes:
    head, body = _data_lines(data)
    sep = b"," if b"," in body[0][:40] else b" "
    body[1] = body[1][: len(body[1]) // 2]
    body[2] = body[2] + sep + b"extra" + sep + b"values"
    body[3] = b"not a record at all"
    return b"\n".join(head + body) + b"\n"


def _long_line(data: bytes, _path: Path) -> bytes:
    head, body = _data_lines(data)
    return b"\n".join(head + body[:2] + [body[2] + b"A" * (hunt_fast.MAX_LINE + 10)] + body[3:]) + b"\n"


CHANGES: dict[str, Callable[[bytes, Path], bytes]] = {
    "crlf": lambda d, _p: d.replace(b"\n", b"\r\n"),
    "bom": lambda d, _p: b"\xef\xbb\xbf" + d,
    "nul": lambda d, _p: d + b"\x00" * 64 + b"\n",
    "lone-cr": lambda d, _p: d.replace(b" 443 ", b" 443\r", 1).replace(b",Owa,", b",Owa\r,", 1),
    "no-final-newline": lambda d, _p: d.rstrip(b"\n"),
    "empty-lines": lambda d, _p: d.replace(b"\n", b"\n\n", 5),
    "restart": _restart,
    "shuffled": _shuffle,
    "quoted": _quote_agents,
    "odd-quote": _odd_quote,
    "non-ascii": _kelvin,
    "torn": _torn,
    "long-line": _long_line,
    "utf16": lambda d, _p: b"\xff\xfe" + d.decode("utf-8", "replace").encode("utf-16-le"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_unusual_logs_identical(tmp_path: Path, small_blocks: None, change: str) -> None:
    host = _lab_host(tmp_path, "proxylogon", 17, days=2, volume=250)
    _rewrite(host, CHANGES[change])
    document = _same(host, workers=1)
    assert document["findings"]  # the attack is still in there


def test_long_line_inside_a_block_identical(tmp_path: Path) -> None:
    host = _lab_host(tmp_path, "proxylogon", 19, days=2, volume=250)
    _rewrite(host, _long_line)  # default 8 MiB blocks: the over-long line sits inside one block
    _same(host, workers=1)


def test_fast_path_parses_few_lines_and_falls_back_when_it_must(tmp_path: Path) -> None:
    host = _lab_host(tmp_path, "benign", 5, days=2, volume=2000)
    scans = [hunt_fast.hunt_file(hunt_fast.FileTask(_file(p), _artifact(p))) for p in _web_logs(host)]
    records = sum(s.stats.records for s in scans)
    parsed = sum(s.parsed_lines for s in scans)
    # about 2 % without the second look (logon pages, Remote PowerShell); with it, the first records that carry
    # the build and the directives are nearly all that is parsed
    assert records > 2000 and parsed < records / 30 and not any(s.fallback for s in scans)
    nul = _web_logs(host)[0]
    nul.write_bytes(nul.read_bytes() + b"\x00\x00\n")
    scan = hunt_fast.hunt_file(hunt_fast.FileTask(_file(nul), "iis"))
    assert scan.fallback == "NUL bytes" and scan.parsed_lines == scan.stats.records


def _file(path: Path) -> Any:
    from functools import partial

    from exaudit.evidence.base import EvidenceFile

    return EvidenceFile(str(path), str(path), path.stat().st_size, None, partial(open, str(path), "rb"))


def _artifact(path: Path) -> str:
    return "iis" if path.suffix == ".log" else "httpproxy"


def test_identical_without_hyperscan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_blocks: None) -> None:
    import exaudit.detect.correlate as correlate
    import exaudit.detect.prefilter as prefilter

    monkeypatch.setattr(prefilter, "_hyperscan", lambda *_args: None)
    monkeypatch.setattr(hunt_fast, "PYTHON_SCANNER", True)
    hunt_fast.rule_scanner.cache_clear()
    correlate._scanner_for.cache_clear()
    try:
        assert hunt_fast.rule_scanner("iis").backend == "python"  # type: ignore[union-attr]
        host = _lab_host(tmp_path, "proxylogon", 41, days=2, volume=250)
        _rewrite(host, CHANGES["restart"])
        _same(host, workers=1)
    finally:
        hunt_fast.rule_scanner.cache_clear()
        correlate._scanner_for.cache_clear()


def test_read_error_mid_file_identical(tmp_path: Path) -> None:
    """A stream that fails after the first block (a truncated zip member) is reported as the full parse does."""
    import zipfile

    host = _lab_host(tmp_path, "proxylogon", 23, days=2, volume=250)
    archive = tmp_path / "evidence.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(p for p in host.rglob("*") if p.is_file()):
            out.write(path, f"{host.name}/{path.relative_to(host)}")
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zipped:
        biggest = max(zipped.infolist(), key=lambda i: i.compress_size)
    middle = biggest.header_offset + 100 + biggest.compress_size // 2
    data[middle : middle + 64] = bytes(64)  # damage the deflate stream of the largest member
    archive.write_bytes(bytes(data))
    document = _same(archive, workers=1)
    assert any(e["kind"] == "damaged" for e in document["errors"])


# --------------------------------------------------------------------------- the CLI flags


def _cli_document(host: Path, out: Path, *flags: str) -> dict[str, Any]:
    from exaudit.cli import main

    assert main(["hunt", str(host), "--format", "json", "--no-store", "-o", str(out), *flags]) == 1  # proxylogon: act
    return json.loads(out.read_text())


def test_cli_reference_and_workers_give_the_same_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--reference`` reads every line (the fast path never runs); ``--workers 2`` spreads one host's files over
    two processes; ``--workers 1`` keeps them here. All three print the same document."""
    from exaudit.engine.local import ProcessExecutor

    host = _lab_host(tmp_path, "proxylogon", 17, days=2, volume=300)
    monkeypatch.setattr(hunt_module, "POOL_MIN_BYTES", 0)  # small lab logs: spread them anyway
    fast_runs: list[str] = []
    pools: list[int] = []
    real_run, real_init = hunt_fast.FastScan.run, ProcessExecutor.__init__

    def counted_run(self: hunt_fast.FastScan) -> hunt_fast.FileScan:
        fast_runs.append(self.file.path)
        return real_run(self)

    def counted_init(self: ProcessExecutor, workers: int) -> None:
        pools.append(workers)
        real_init(self, workers)

    monkeypatch.setattr(hunt_fast.FastScan, "run", counted_run)
    monkeypatch.setattr(ProcessExecutor, "__init__", counted_init)

    reference = _cli_document(host, tmp_path / "reference.json", "--reference")
    assert not fast_runs and not pools
    one = _cli_document(host, tmp_path / "one.json", "--workers", "1")
    assert fast_runs and not pools  # the fast path, in this process
    two = _cli_document(host, tmp_path / "two.json", "--workers", "2")
    assert pools == [2]
    assert reference["findings"] and one == reference and two == reference


def test_cli_rejects_bad_workers_and_reference_on_a_cluster(tmp_path: Path) -> None:
    from exaudit.cli import main

    host = _lab_host(tmp_path, "benign", 2, days=1, volume=50)
    assert main(["hunt", str(host), "--no-store", "--workers", "0"]) == 2
    assert main(["hunt", str(host), "--no-store", "--reference", "--cluster", "local:2"]) == 2
    assert main(["hunt", str(host), "--no-store", "--reference", "-o", str(tmp_path / "t.txt")]) == 0
