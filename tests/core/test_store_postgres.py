"""The same store on a real PostgreSQL server (started by .ci/run via scripts/pg-test-server).

Set EXAUDIT_TEST_PG to the server's SQLAlchemy URL; without it these tests skip, unless
EXAUDIT_REQUIRE_PG=1 (CI) makes a missing server a failure.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from exaudit.cli import main
from exaudit.model import SCHEMA, CveStatus, ScanResult, Status
from exaudit.store import Store


@pytest.fixture()
def pg_url() -> Iterator[str]:
    base = os.environ.get("EXAUDIT_TEST_PG")
    if not base:
        if os.environ.get("EXAUDIT_REQUIRE_PG") == "1":
            pytest.fail("EXAUDIT_REQUIRE_PG=1 but EXAUDIT_TEST_PG is not set")
        pytest.skip("no PostgreSQL server (set EXAUDIT_TEST_PG, see scripts/pg-test-server)")
    name = f"exaudit_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = base.rsplit("/", 1)[0] + "/" + name
    yield url
    sa.create_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def _write_runs(url: str, worker: int, n: int) -> None:
    store = Store(url)
    for i in range(n):
        run = store.begin_run("scan", [f"{worker}-{i}"])
        store.add_scan_result(run, ScanResult(target=f"127.0.{worker}.{i}:443", cves=[CveStatus("CVE-X", Status.VULNERABLE, "r")]))
        store.finish_run(run, {"schema": SCHEMA, "kind": "scan", "results": []}, {"targets": 1})


def test_postgres_store_same_tables_same_commands(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _write_runs(pg_url, 0, 3)
    store = Store(pg_url)
    runs = store.list_runs()
    assert len(runs) == 3 and {r["status"] for r in runs} == {"done"}
    assert store.load_run(runs[0]["id"][:8])["kind"] == "scan"
    assert len(store.scan_results_of(runs[0]["id"])) == 1
    assert main(["runs", "--db", pg_url, "--format", "json"]) == 0
    assert capsys.readouterr().out.count('"command": "scan"') == 3


def test_postgres_two_writers_at_once_lose_nothing(pg_url: str) -> None:
    Store(pg_url)  # create the tables once, before the race
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_runs, args=(pg_url, w, 20)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = Store(pg_url)
    runs = store.list_runs(limit=100)
    assert len(runs) == 40
    assert sum(len(store.scan_results_of(r["id"])) for r in runs) == 40


def test_postgres_batch_writes_skip_duplicates_and_runs_reopen(pg_url: str) -> None:
    store = Store(pg_url)
    run = store.begin_run("scan", ["10.0.0.0/30"])
    assert store.add_scan_results(run, [ScanResult(target=f"10.0.0.{n}:443") for n in (1, 2)]) == 2
    assert store.add_scan_results(run, [ScanResult(target=f"10.0.0.{n}:443") for n in (2, 3)]) == 1  # one duplicate
    assert len(store.scan_results_of(run.id)) == 3
    assert store.reopen_run(run.id[:8]).id == run.id
    store.finish_run(run, {"schema": SCHEMA, "kind": "scan", "results": []})
    assert store.find_run(run.id)["status"] == "done" and store.runs_unfinished() == []
