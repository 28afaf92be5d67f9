"""``exaudit report`` and ``exaudit notify`` through ``main(argv)`` against a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import hunt_document, scan_document, store_documents
from exaudit.cli import ACT, FAILED, OK, USAGE, main
from exaudit.model import SCHEMA
from exaudit.store import Store


@pytest.fixture
def run_ids() -> list[str]:
    return store_documents(Store(), [scan_document(), hunt_document()])


def test_report_defaults_to_latest_scan_and_hunt(run_ids: list[str], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "-o", str(out)]) == ACT
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert f"scan {run_ids[0][:8]}" in html and f"hunt {run_ids[1][:8]}" in html


def test_report_of_one_run_by_prefix(run_ids: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", run_ids[0][:8], "--format", "json"]) == ACT  # a vulnerable build is something to act on
    document = json.loads(capsys.readouterr().out)
    assert document["kind"] == "scan" and document["run"]["id"] == run_ids[0]


def test_report_every_format_and_language(run_ids: list[str], tmp_path: Path) -> None:
    for fmt in ("html", "md", "json", "csv", "stix", "misp", "timesketch", "timesketch-csv"):
        for lang in ("en", "fr"):
            out = tmp_path / f"r.{lang}.{fmt}"
            assert main(["report", "--format", fmt, "--lang", lang, "-o", str(out)]) == ACT
            assert out.stat().st_size > 0


def test_timesketch_file_name_is_checked(run_ids: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "-f", "timesketch", "-o", str(tmp_path / "events.json")]) == ACT
    assert "*.jsonl" in capsys.readouterr().err
    assert main(["report", "-f", "timesketch", "-o", str(tmp_path / "events.jsonl")]) == ACT
    assert capsys.readouterr().err == ""


def test_report_from_json_file_needs_no_store(tmp_path: Path) -> None:
    clean = {"schema": SCHEMA, "kind": "scan", "results": [{"target": "ex9", "reachable": True, "exchange": True,
             "build": "15.2.1544.14", "cves": [{"cve": "CVE-2021-26855", "status": "not_vulnerable", "reason": "patched"}]}]}  # fmt: skip
    path = tmp_path / "scan.json"
    path.write_text(json.dumps(clean), encoding="utf-8")
    out = tmp_path / "r.md"
    assert main(["report", "--from", str(path), "--format", "md", "-o", str(out)]) == OK  # nothing to act on
    assert "ex9" in out.read_text(encoding="utf-8")


def test_report_errors_are_clear(run_ids: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--format", "pdf"]) == USAGE
    assert main(["report", "--lang", "de"]) == USAGE
    assert main(["report", "ffffffff"]) == USAGE
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["report", "--from", str(bad)]) == USAGE
    err = capsys.readouterr().err
    assert "unknown format" in err and "unknown language" in err and "no finished run" in err and "bad.json" in err
    assert "Traceback" not in err


def test_report_on_empty_store_fails_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report"]) == FAILED
    assert "run exaudit scan or exaudit hunt first" in capsys.readouterr().err


def test_notify_writes_a_draft_to_stdout(run_ids: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notify", "--audience", "regulator", "--lang", "fr"]) == ACT
    out = capsys.readouterr().out
    assert "article 33" in out and "[[À COMPLÉTER : " in out


def test_notify_to_file_and_bad_audience(run_ids: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "partners.md"
    assert main(["notify", run_ids[1][:8], "-a", "partners", "-o", str(out)]) == ACT
    assert "[[TO COMPLETE: " in out.read_text(encoding="utf-8")
    assert main(["notify", "-a", "press"]) == USAGE
    assert "unknown audience" in capsys.readouterr().err
