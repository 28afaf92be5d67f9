"""The result model's JSON form and the run store (real SQLite file)."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest

from exaudit.cli import main
from exaudit.model import (
    SCHEMA,
    CveStatus,
    Finding,
    Indicators,
    Precision,
    ScanResult,
    Severity,
    SourceRef,
    Status,
    finding_from_dict,
    iso,
    parse_iso,
    scan_result_from_dict,
    to_jsonable,
)
from exaudit.store import Store, StoreError, db_url


def test_iso_is_utc_with_z_and_converts_offsets() -> None:
    paris = timezone(timedelta(hours=1))
    assert iso(datetime(2021, 3, 3, 5, 0, 0, tzinfo=paris)) == "2021-03-03T04:00:00Z"
    assert iso(datetime(2021, 3, 3, 4, 0, 0)) == "2021-03-03T04:00:00Z"  # naive = UTC (IIS)
    assert iso(datetime(2021, 3, 3, 4, 0, 0, 250000, tzinfo=UTC)) == "2021-03-03T04:00:00.250Z"
    assert parse_iso("2021-03-03T04:00:00Z") == datetime(2021, 3, 3, 4, 0, tzinfo=UTC)


def test_finding_round_trips_through_json() -> None:
    f = Finding(
        rule="proxylogon.ssrf",
        title="SSRF",
        host="EX01",
        severity=Severity.CRITICAL,
        cves=["CVE-2021-26855"],
        source=SourceRef(path="C:\\x.log", line=7),
        evidence="<script>",
        indicators=Indicators(ips=["203.0.113.9"]),
    ).finalize()
    doc = json.loads(json.dumps(to_jsonable(f)))
    assert doc["severity"] == "critical" and doc["source"] == {"path": "C:\\x.log", "line": 7}
    back = finding_from_dict(doc)
    assert back == f
    assert len(f.id) == 16


def test_finding_id_depends_on_location() -> None:
    a = Finding(rule="r", title="t", host="h", severity=Severity.LOW, source=SourceRef("p", 1)).finalize()
    b = Finding(rule="r", title="t", host="h", severity=Severity.LOW, source=SourceRef("p", 2)).finalize()
    assert a.id != b.id


def test_scan_result_worst_status_and_round_trip() -> None:
    r = ScanResult(
        target="127.0.0.5:8443",
        build="15.1.2176",
        build_precision=Precision.CU,
        cves=[
            CveStatus("CVE-A", Status.NOT_VULNERABLE, "fixed"),
            CveStatus("CVE-B", Status.POSSIBLY_VULNERABLE, "SU unknown", "15.1.2176.9"),
            CveStatus("CVE-C", Status.UNKNOWN, "?"),
        ],
    )
    assert r.worst == Status.POSSIBLY_VULNERABLE
    assert scan_result_from_dict(json.loads(json.dumps(to_jsonable(r)))) == r
    assert ScanResult(target="x").worst is None


def test_store_records_runs_findings_and_scan_results(tmp_path) -> None:
    db = tmp_path / "runs.db"
    store = Store(db)
    run = store.begin_run("scan", ["127.0.0.1"])
    store.add_scan_result(run, ScanResult(target="127.0.0.1:443", cves=[CveStatus("CVE-A", Status.VULNERABLE, "old")]))
    assert [d["target"] for d in store.scan_results_of(run.id)] == ["127.0.0.1:443"]
    # An unfinished run is listed as running and not loadable as a result.
    assert store.list_runs()[0]["status"] == "running"
    with pytest.raises(StoreError):
        store.load_run(run.id)
    store.finish_run(run, {"schema": SCHEMA, "kind": "scan", "results": []}, {"targets": 1})
    hunt = store.begin_run("hunt")
    finding = to_jsonable(Finding(rule="r", title="t", host="h", severity=Severity.HIGH).finalize())
    store.finish_run(hunt, {"schema": SCHEMA, "kind": "hunt", "findings": [finding]}, {"findings": 1})

    again = Store(str(db))  # a second connection sees everything
    assert [r["command"] for r in again.list_runs()] == ["hunt", "scan"]
    assert again.load_run(command="scan")["run"]["id"] == run.id
    assert again.load_run(run.id[:8])["kind"] == "scan"
    assert again.load_run()["kind"] == "hunt"
    with sqlite3.connect(db) as conn:
        assert conn.execute("select rule, severity from findings").fetchall() == [("r", "high")]


def test_batch_of_scan_results_and_resumable_runs(tmp_path) -> None:
    store = Store(tmp_path / "runs.db")
    run = store.begin_run("scan", ["10.0.0.0/30"])
    assert store.add_scan_results(run, [ScanResult(target=f"10.0.0.{n}:443") for n in (1, 2)]) == 2
    # a batch with one target already stored: the others are kept, the duplicate skipped
    assert store.add_scan_results(run, [ScanResult(target=f"10.0.0.{n}:443") for n in (2, 3)]) == 1
    assert store.add_scan_results(run, []) == 0
    assert sorted(d["target"] for d in store.scan_results_of(run.id)) == ["10.0.0.1:443", "10.0.0.2:443", "10.0.0.3:443"]
    assert [r["id"] for r in store.runs_unfinished("scan")] == [run.id]
    store.finish_run(run, {"schema": SCHEMA, "kind": "scan", "results": []}, status="failed")  # interrupted
    reopened = store.reopen_run(run.id[:6])
    assert (reopened.id, reopened.args, store.find_run(run.id)["status"]) == (run.id, ["10.0.0.0/30"], "running")
    store.finish_run(reopened, {"schema": SCHEMA, "kind": "scan", "results": []})
    assert store.runs_unfinished() == []
    with pytest.raises(StoreError, match="finished"):
        store.reopen_run(run.id)
    with pytest.raises(StoreError, match="no scan run"):
        store.find_run("0000", command="scan")


def test_store_url_forms(tmp_path) -> None:
    assert db_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert db_url(tmp_path / "a" / "b.db").startswith("sqlite:///")
    assert (tmp_path / "a").is_dir()


def test_bad_store_url_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot open store"):
        Store("nosuchdialect://x/y")


def _write_runs(db: str, n: int) -> None:
    store = Store(db)
    for i in range(n):
        run = store.begin_run("scan", [str(i)])
        store.finish_run(run, {"schema": SCHEMA, "kind": "scan", "results": []})


def test_two_processes_writing_at_once_lose_nothing(tmp_path) -> None:
    db = str(tmp_path / "shared.db")
    Store(db)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_runs, args=(db, 25)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(Store(db).list_runs(limit=100)) == 50


def test_runs_command_lists_json(tmp_path, capsys) -> None:
    db = str(tmp_path / "cli.db")
    _write_runs(db, 2)
    assert main(["runs", "--db", db, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and rows[0]["command"] == "scan"


def test_unknown_command_is_usage_error() -> None:
    assert main(["no-such-command"]) == 2
