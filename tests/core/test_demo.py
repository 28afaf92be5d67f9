"""``exaudit demo`` tells the whole story on built-in data (real lab sockets, real files, real store)."""

from __future__ import annotations

import json
import sqlite3

from exaudit.cli import main


def test_demo_runs_every_step_and_writes_reports_and_letters(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for step in ("1/5", "2/5", "3/5", "4/5", "5/5", "Done"):
        assert step in printed
    assert "COMPROMISED" in printed and "ATTEMPTED" in printed and "NO EVIDENCE" in printed

    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert (out / "rapport.html").read_text(encoding="utf-8").count('lang="fr"') >= 1
    for audience in ("partners", "clients", "regulator"):
        assert (out / f"letter-{audience}-en.md").stat().st_size > 500

    with sqlite3.connect(out / "exaudit-demo.db") as conn:
        rows = conn.execute("select command, status, document from runs").fetchall()
    commands = sorted(command for command, status, _ in rows if status == "done")
    assert commands == ["hunt", "scan"]
    scan = next(json.loads(doc) for command, _, doc in rows if command == "scan")
    by_build = {r["build"]: r for r in scan["results"] if r["exchange"]}
    assert by_build["15.1.2176.2"]["build_precision"] == "exact"
    assert any(c["cve"] == "CVE-2021-26855" and c["status"] == "vulnerable" for c in by_build["15.1.2176.2"]["cves"])
    assert any(r["error"] for r in scan["results"])  # the tarpit ends in a clear error, not a hang
