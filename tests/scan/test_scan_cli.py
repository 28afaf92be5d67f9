"""``exaudit scan`` through ``exaudit.cli.main``: formats, exit codes, scope, store, escaping."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from exaudit.cli import main
from exaudit.lab import Lab, ServerSpec
from exaudit.model import SCHEMA
from exaudit.store import Store


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    specs = [
        ServerSpec(build="15.1.2176.2", exporttool=False, owa_version_header=False),  # possibly vulnerable (CU only)
        ServerSpec(build="15.2.2562.53", owa_version_header=True),  # SE Sep26SUv2
        ServerSpec(kind="plain", tls=False),
    ]
    with Lab(specs, first_address="127.0.80.1", port=0) as running:
        yield running


def targets(lab: Lab, *indexes: int) -> list[str]:
    """``host:port``, or an ``http://`` URL for the plain-HTTP server (no TLS attempt to time out)."""
    endpoints = [lab.endpoints[i] for i in indexes]
    return [f"{e.host}:{e.port}" if e.spec.tls else f"http://{e.host}:{e.port}" for e in endpoints]


def test_json_document_and_exit_code_1(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    given = targets(lab, 0, 2)
    code = main(["scan", *given, "--format", "json", "--timeout", "3"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["schema"] == SCHEMA and document["kind"] == "scan"
    assert [r["target"] for r in document["results"]] == given  # input order, exactly as given
    first = document["results"][0]
    for key in ("target", "url", "reachable", "exchange", "product", "build", "build_precision", "cves", "mitigations", "probes", "error"):
        assert key in first
    assert (first["product"], first["build"], first["build_precision"]) == ("2016", "15.1.2176", "cu")
    assert {c["status"] for c in first["cves"]} >= {"possibly_vulnerable"}
    assert set(first["cves"][0]) == {"cve", "status", "reason", "fix"}
    assert document["results"][1]["exchange"] is False


def test_store_records_the_run_and_each_result(lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    assert main(["scan", *targets(lab, 0, 1), "--format", "json", "--db", str(db), "--timeout", "3"]) == 1
    run_id = json.loads(capsys.readouterr().out)["run"]["id"]
    store = Store(db)
    assert {d["target"] for d in store.scan_results_of(run_id)} == set(targets(lab, 0, 1))
    assert store.load_run(run_id)["kind"] == "scan"
    assert main(["scan", *targets(lab, 2), "--format", "json", "--db", str(db), "--no-store"]) == 0
    assert len(store.list_runs(command="scan")) == 1


def test_jsonl_streams_one_line_per_target(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    # configuration-dependent CVEs stay possibly_vulnerable on any build (docs/kb.md), hence exit code 1
    assert main(["scan", *targets(lab, 1, 2), "--format", "jsonl", "--no-store", "--timeout", "3"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(line["target"] for line in lines) == sorted(targets(lab, 1, 2))
    se = next(line for line in lines if line["exchange"])
    assert (se["product"], se["build_precision"], se["worst"]) == ("SE", "exact", "possibly_vulnerable")
    assert not [c for c in se["cves"] if c["status"] == "vulnerable"]
    assert main(["scan", *targets(lab, 2), "--format", "jsonl", "--no-store", "--timeout", "3"]) == 0


def test_csv_and_table(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", *targets(lab, 0), "--format", "csv", "--no-store", "--timeout", "3"]) == 1
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["target"] == targets(lab, 0)[0] and "CVE-2021-26855" in rows[0]["possibly_vulnerable"]
    assert main(["scan", *targets(lab, 0, 2), "--no-store", "--timeout", "3"]) == 1
    out = capsys.readouterr().out
    assert "15.1.2176" in out and "not Exchange" in out


def test_scope_refusal_and_usage_errors(lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scope = tmp_path / "scope.txt"
    scope.write_text("127.0.80.0/30\n")
    assert main(["scan", *targets(lab, 0), "--scope", str(scope), "--format", "json", "--no-store", "--timeout", "3"]) == 1
    capsys.readouterr()
    assert main(["scan", "127.0.81.1:443", "--scope", str(scope), "--no-store"]) == 2
    assert "outside the scope" in capsys.readouterr().err
    assert main(["scan", "not a host", "--no-store"]) == 2
    assert main(["scan", "127.0.81.1", "--probe", "exploit", "--no-store"]) == 2
    assert "unknown probe" in capsys.readouterr().err
    assert main(["scan", "127.0.81.1", "--format", "xml", "--no-store"]) == 2


def test_output_file(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "scan.json"
    assert main(["scan", *targets(lab, 1), "--format", "json", "-o", str(out), "--no-store", "--timeout", "3"]) == 1
    assert json.loads(out.read_text())["results"][0]["product"] == "SE"


def test_nmap_xml_targets_with_rate_and_concurrency(lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hosts = "".join(
        f'<host><address addr="{e.host}" addrtype="ipv4"/><ports><port protocol="tcp" portid="{e.port}">'
        f'<state state="open"/></port></ports></host>'
        for e in lab.endpoints[:2]
    )
    nmap = tmp_path / "nmap.xml"
    nmap.write_text(f'<?xml version="1.0"?><nmaprun scanner="nmap">{hosts}</nmaprun>')
    code = main(["scan", f"@{nmap}", "--format", "json", "--no-store", "--rate", "50", "--concurrency", "1", "--timeout", "3"])
    results = json.loads(capsys.readouterr().out)["results"]
    assert code == 1
    assert [(r["target"], r["product"]) for r in results] == [(targets(lab, 0)[0], "2016"), (targets(lab, 1)[0], "SE")]
