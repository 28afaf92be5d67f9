"""``exaudit hunt`` and ``exaudit lab evidence`` through the real CLI: formats, exit codes, store, escaping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exaudit.cli import main
from exaudit.lab.evidence import generate
from exaudit.store import Store


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lab")
    assert main(["lab", "evidence", str(out), "--scenario", "all", "--seed", "4", "--days", "3", "--volume", "150"]) == 0
    return out


def _host(lab: Path, scenario: str) -> Path:
    truth = json.loads((lab / "truth.json").read_text())
    return lab / next(h["evidence"] for h in truth["hosts"] if h["scenario"] == scenario)


def test_lab_evidence_writes_every_scenario(lab: Path) -> None:
    truth = json.loads((lab / "truth.json").read_text())
    assert [h["scenario"] for h in truth["hosts"]] == [
        "proxylogon",
        "proxyshell",
        "proxynotshell",
        "owassrf",
        "cve-2020-0688",
        "attempt-only",
        "benign",
    ]
    assert all((lab / h["evidence"]).is_dir() for h in truth["hosts"])


def test_json_output_and_exit_codes(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", str(_host(lab, "proxylogon")), "--format", "json", "--no-store"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "exaudit/1" and doc["kind"] == "hunt"
    assert set(doc) >= {"hosts", "findings", "timeline", "inputs", "errors"}
    finding = doc["findings"][0]
    assert set(finding) >= {
        "id",
        "rule",
        "title",
        "host",
        "cves",
        "attack",
        "severity",
        "confidence",
        "first_seen",
        "last_seen",
        "count",
        "source",
        "evidence",
        "indicators",
    }
    assert set(doc["inputs"][0]) >= {"path", "sha256", "artifact", "records", "errors"}
    assert main(["hunt", str(_host(lab, "benign")), "--format", "json", "--no-store"]) == 0
    assert json.loads(capsys.readouterr().out)["hosts"][0]["verdict"] == "no_evidence"


def test_jsonl_is_one_finding_a_line(lab: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.jsonl"
    assert main(["hunt", str(_host(lab, "proxyshell")), "--format", "jsonl", "-o", str(out), "--no-store"]) == 1
    lines = out.read_text().splitlines()
    assert lines and all(json.loads(line)["host"] for line in lines)


def test_run_is_stored(lab: Path, tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    assert main(["hunt", str(_host(lab, "owassrf")), "--db", str(db), "-o", str(tmp_path / "t.txt")]) == 1
    [run] = Store(db).list_runs(command="hunt")
    assert run["status"] == "done" and run["summary"]["compromised"] == 1
    stored = Store(db).load_run(run["id"])
    assert stored["findings"] and stored["run"]["id"] == run["id"]


def test_usage_and_failure_codes(tmp_path: Path) -> None:
    assert main(["hunt", str(tmp_path / "missing"), "--no-store"]) == 2
    assert main(["hunt", str(tmp_path), "--format", "xml", "--no-store"]) == 2
    pointer = tmp_path / "Logging" / "HttpProxy" / "Ecp" / "HttpProxy_2021030301-1.LOG"
    pointer.parent.mkdir(parents=True)
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 12345\n")
    assert main(["hunt", str(tmp_path), "--no-store", "-o", str(tmp_path / "out.txt")]) == 3
    assert "lfs_pointer" in (tmp_path / "out.txt").read_text()
    assert main(["lab", "evidence", str(tmp_path / "x"), "--scenario", "nope"]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["hunt", str(tmp_path / "empty"), "--no-store", "-o", str(tmp_path / "e.txt")]) == 3


def test_attacker_text_is_escaped_in_the_table(tmp_path: Path) -> None:
    logs = tmp_path / "inetpub" / "logs" / "LogFiles" / "W3SVC1"
    logs.mkdir(parents=True)
    (logs / "u_ex210303.log").write_text(
        "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-03 00:00:00\r\n"
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n"  # noqa: E501 (a log line as written)
        "2021-03-03 04:05:06 10.0.0.5 POST /owa/auth/[bold]x[/bold].aspx - 443 - 203.0.113.9 antSword/v2.1 - 200 0 0 15\r\n"
    )
    out = tmp_path / "table.txt"
    assert main(["hunt", str(tmp_path), "--no-store", "-o", str(out)]) == 1
    text = out.read_text()
    assert "[bold]x[/bold].aspx" in text  # printed literally, not interpreted as markup
    assert "COMPROMISED" in text and "log coverage" in text


def test_generate_zip_layout_is_hunted_from_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = generate(tmp_path, "cve-2020-0688", seed=8, days=2, volume=80, layout="zip")
    archive = tmp_path / truth["hosts"][0]["evidence"]
    assert archive.suffix == ".zip"
    assert main(["hunt", str(archive), "--format", "json", "--no-store"]) == 1
    assert json.loads(capsys.readouterr().out)["hosts"][0]["verdict"] == "exploited"


def test_processes_give_the_same_document(lab: Path, tmp_path: Path) -> None:
    paths = [str(_host(lab, "proxyshell")), str(_host(lab, "benign"))]
    serial, parallel = tmp_path / "serial.json", tmp_path / "parallel.json"
    assert main(["hunt", *paths, "--format", "json", "--no-store", "--workers", "1", "-o", str(serial)]) == 1
    assert main(["hunt", *paths, "--format", "json", "--no-store", "--workers", "2", "-o", str(parallel)]) == 1
    assert serial.read_text() == parallel.read_text()
    assert [h["verdict"] for h in json.loads(serial.read_text())["hosts"]] == ["compromised", "no_evidence"]
