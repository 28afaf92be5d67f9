"""``exaudit scan --resume``: a scan killed with SIGKILL leaves a consistent store and finishes where it stopped.

The scan runs as a real ``python -m exaudit scan`` process against a lab farm in this process (fast servers first,
slow ones after, so the kill lands mid-way); the lab's request log shows what the resumed scan sent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exaudit.cli import main
from exaudit.lab import HOSTILE_KINDS, Lab, farm_specs
from exaudit.model import scan_result_from_dict
from exaudit.scan import scan
from exaudit.scan.output import document
from exaudit.scan.resume import ScanSettings, remaining
from exaudit.scan.targets import parse_targets
from exaudit.store import Store

pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")

FIRST = "127.0.91.1"
FAST, SLOW = 20, 40
DELAY = 0.15  # seconds before every answer of a slow server: the scan (5 hosts at once) takes ~4 s in all
OPTIONS = ["--probe", "proxylogon", "--timeout", "3", "--concurrency", "5"]


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """60 servers on 127.0.91.1-60; the CIDR /26 around them also holds two silent addresses (.61, .62)."""
    mix = [s for s in farm_specs(120, seed=5) if s.kind not in HOSTILE_KINDS]
    fast = mix[:FAST]
    # slow servers always show their exact build in two answers, so the time bounds never decide a result
    slow = [s.replace(exporttool=True, tls=True, delay=DELAY) for s in mix[FAST:] if s.kind == "exchange"][:SLOW]
    with Lab(fast + slow, first_address=FIRST, port=free_port(FIRST), tls_dir=tmp_path_factory.mktemp("tls")) as running:
        yield running


def rows_stored(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM scan_results").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def start_and_kill(target: str, db: Path, at_least: int) -> None:
    """Run the scan in its own process and SIGKILL it once ``at_least`` results are in the store."""
    env = dict(os.environ, EXAUDIT_DB=str(db))
    command = [sys.executable, "-m", "exaudit", "scan", target, *OPTIONS, "--format", "json", "--db", str(db)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        while rows_stored(db) < at_least and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, f"the scan ended before it could be killed: {process.stderr.read()!r}"  # type: ignore[union-attr]
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        process.stderr.close()  # type: ignore[union-attr]


def comparable(results: list[dict[str, object]]) -> list[str]:
    return [json.dumps(r, sort_keys=True) for r in results]


def test_killed_scan_resumes_into_the_same_run(lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"127.0.91.0/26:{lab.port}"
    db = tmp_path / "runs.db"
    start_and_kill(target, db, at_least=FAST)

    # the store after SIGKILL: intact, the run still marked running, every stored row a valid result
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (run_id, status, args), *others = conn.execute("SELECT id, status, args FROM runs").fetchall()
        stored = [row[0] for row in conn.execute("SELECT document FROM scan_results WHERE run_id = ?", (run_id,))]
    assert not others and status == "running"
    assert {"--probe", "--timeout", "--concurrency"} <= set(json.loads(args))
    done = {scan_result_from_dict(json.loads(text)).target for text in stored}
    assert FAST <= len(done) < FAST + SLOW
    before_resume = len(lab.requests)

    code = main(["scan", "--resume", run_id[:8], "--db", str(db), "--format", "json"])
    resumed = json.loads(capsys.readouterr().out)

    # nothing already stored was asked again; everything else was
    after = lab.requests[before_resume:]
    asked_again = {f"{r.address}:{r.port}" for r in after}
    assert not asked_again & done
    assert asked_again == {f"{e.host}:{e.port}" for e in lab.endpoints} - done
    # one document, every server once, in address order, in the same run; equal to a clean scan's results
    names = [r["target"] for r in resumed["results"]]
    assert names == [f"{e.host}:{e.port}" for e in lab.endpoints]
    assert resumed["run"]["id"] == run_id and code == 1
    clean = sorted(scan([target], probes=["proxylogon"], timeout=3, concurrency=60), key=lambda r: names.index(r.target))
    assert comparable(resumed["results"]) == comparable(document(clean)["results"])
    store = Store(db)
    assert store.find_run(run_id)["status"] == "done" and len(store.scan_results_of(run_id)) == len(names)

    # a finished run cannot be resumed; an unknown one is a usage error
    assert main(["scan", "--resume", run_id, "--db", str(db)]) == 2
    assert "finished" in capsys.readouterr().err
    assert main(["scan", "--resume", "ffffffff", "--db", str(db)]) == 2
    assert "no scan run" in capsys.readouterr().err


def test_resume_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    assert main(["scan", "--resume", "abc", "127.0.0.1", "--db", str(db)]) == 2
    assert "give no targets" in capsys.readouterr().err
    assert main(["scan", "--resume", "abc", "--no-store"]) == 2
    assert main(["scan", "--db", str(db)]) == 2
    assert "no targets" in capsys.readouterr().err


def test_recorded_settings_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hosts.txt").write_text("127.0.0.1\n")
    scope = tmp_path / "scope.txt"
    settings = ScanSettings(["@hosts.txt", "10.0.0.0/30"], [443, 8443], ["all"], scope, 7, 2.5, 1.5, 9.0)
    monkeypatch.chdir(tmp_path)  # @file and --scope are recorded absolute: a resume may start elsewhere
    argv = settings.argv("json")
    back = ScanSettings.from_argv(argv)
    assert back.targets == [f"@{tmp_path / 'hosts.txt'}", "10.0.0.0/30"]
    assert (back.ports, back.probes, back.scope) == ([443, 8443], ["all"], scope.resolve())
    assert (back.concurrency, back.rate, back.timeout, back.host_timeout) == (7, 2.5, 1.5, 9.0)
    old_style = ScanSettings.from_argv(["mail.example.org", "--port", "443", "--format", "table"])  # runs recorded before
    assert (old_style.targets, old_style.ports, old_style.timeout) == (["mail.example.org"], [443], 5.0)


def test_remaining_skips_done_targets_and_members() -> None:
    specs = parse_targets(["10.0.0.0/29:443", "mail.example.org", "10.1.0.1:8443"])
    left = remaining(specs, ["10.0.0.2:443", "10.0.0.5:443", "mail.example.org"], (443,))
    expanded = [t.name_for(443) for spec in left for t in spec.expand((443,))]
    assert expanded == ["10.0.0.1:443", "10.0.0.3:443", "10.0.0.4:443", "10.0.0.6:443", "10.1.0.1:8443"]
    assert all(spec.given == "10.0.0.0/29:443" for spec in left[:4])  # members keep the range as their origin
    assert remaining(specs, [], (443,))[-2:] == specs[1:]
