"""The shared corpus (real formats, damaged EVTX, LFS pointers) is hunted in place without a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from exaudit.hunt import hunt
from exaudit.model import Severity

BENIGN = ("exchange-logs", "iis-config", "benign-aspnet")


@pytest.mark.parametrize("folder", BENIGN)
def test_benign_corpus_raises_nothing_above_low(corpus: Path, folder: str) -> None:
    doc = hunt([corpus / folder])
    assert doc["hosts"][0]["verdict"] == "no_evidence"
    assert all(Severity(f["severity"]).rank <= Severity.LOW.rank for f in doc["findings"]), [
        (f["rule"], f["source"]) for f in doc["findings"]
    ]


def test_real_exchange_logs_are_read_with_coverage_and_build(corpus: Path) -> None:
    doc = hunt([corpus / "exchange-logs"])
    [host] = doc["hosts"]
    artifacts = {c["artifact"] for c in host["coverage"] if c["records"]}
    assert {"httpproxy", "ecp_server", "rps_cmdlet"} <= artifacts
    assert host["build"] and host["build"].startswith("15.1.")  # Exchange 2016: the newest log names the build
    assert any("cover only" in r for r in host["reasons"])  # one-line samples: coverage says how little this is


def test_benign_iis_lines_stay_quiet(corpus: Path) -> None:
    doc = hunt([corpus / "iis-logs"])
    assert all(Severity(f["severity"]).rank <= Severity.LOW.rank for f in doc["findings"])
    assert any(e["kind"] == "wrong_format" for e in doc["errors"])  # the Apache log is named, not parsed as IIS


def test_attack_evtx_and_mordor_json_raise_findings_and_damage_is_reported(corpus: Path) -> None:
    evtx = hunt([corpus / "evtx"])
    rules = {f["rule"] for f in evtx["findings"]}
    assert {"exchange-process-spawns-shell", "lsass-dump-file-created"} <= rules
    assert any(e["kind"] == "damaged" for e in evtx["errors"])
    # The comsvcs dump of notepad is not called an lsass dump.
    notepad = [f for f in evtx["findings"] if "comsvcs_minidump" in (f["source"] or {}).get("path", "")]
    assert notepad and {f["rule"] for f in notepad} == {"comsvcs-minidump-other"}
    mordor = hunt([corpus / "events-json"])
    assert "lsass-dump-commandline" in {f["rule"] for f in mordor["findings"]}


def test_lfs_pointers_are_errors_not_clean(corpus: Path) -> None:
    doc = hunt([corpus / "lfs-pointers"])
    assert doc["errors"] and {e["kind"] for e in doc["errors"]} == {"lfs_pointer"}
    host = doc["hosts"][0]
    assert host["verdict"] == "no_evidence" and not any(c["records"] for c in host["coverage"])
    assert any("not proof of a clean server" in r for r in host["reasons"])
