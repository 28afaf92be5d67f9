"""``exaudit kb`` through ``exaudit.cli.main``: table, JSON, --cve, --info, --kb-dir, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from exaudit.cli import main
from exaudit.kb.knowledge import PACKAGED_DIR
from exaudit.model import SCHEMA


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # Rich wraps table cells to the terminal width


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["kb", *args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_reference_example_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _json(capsys, "15.1.1847.12")
    assert code == 1
    assert list(doc) == ["schema", "build", "product", "cu", "su", "released", "cves"]
    assert (doc["schema"], doc["build"], doc["product"], doc["cu"], doc["su"], doc["released"]) == (
        SCHEMA,
        "15.1.1847.12",
        "2016",
        "CU14",
        "Mar21SU",
        "2021-03-02",
    )
    by_id = {c["cve"]: c for c in doc["cves"]}
    assert all(list(c) == ["cve", "status", "reason", "fix"] for c in doc["cves"])
    assert by_id["CVE-2021-26855"]["status"] == "not_vulnerable"
    assert "Mar21SU" in by_id["CVE-2021-26855"]["reason"]
    assert by_id["CVE-2020-0688"]["status"] == "vulnerable"
    assert "Feb20SU" in by_id["CVE-2020-0688"]["reason"]
    assert "KB4536987" in by_id["CVE-2020-0688"]["fix"]


def test_reference_example_in_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["kb", "15.1.1847.12", "--cve", "CVE-2021-26855", "--cve", "cve-2020-0688"])
    out = capsys.readouterr().out
    assert code == 1
    assert "Exchange Server 2016" in out and "CU14" in out and "Mar21SU" in out and "2021-03-02" in out
    assert "out of support since 2025-10-14" in out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3 and "CVE-" in line}
    assert "not_vulnerable" in lines["CVE-2021-26855"]
    assert " vulnerable " in lines["CVE-2020-0688"] and "Feb20SU" in lines["CVE-2020-0688"]


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["15.2.2562.43", "--cve", "CVE-2026-42897"], 0),
        (["15.2.2562.41", "--cve", "CVE-2026-42897"], 1),
        (["15.1.2176", "--cve", "CVE-2021-26855"], 1),  # possibly_vulnerable acts
        (["15.1.2600.1", "--cve", "CVE-2022-41040"], 0),  # unknown alone does not
        (["14.3.513.0", "--cve", "CVE-2021-26855", "--cve", "CVE-2021-26857"], 0),
        (["Version 15.1 (Build 2242.4)", "--cve", "CVE-2021-26855"], 0),
        (["15.01.2176.009", "--cve", "CVE-2021-34473"], 1),
    ],
)
def test_exit_codes(argv: list[str], code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", *argv, "--format", "json"]) == code
    doc = json.loads(capsys.readouterr().out)
    assert [c["cve"] for c in doc["cves"]] == [a.upper() for a in argv[2::2]]


@pytest.mark.parametrize("bad", ["15.x", "", "8.3.517.0", "15.1.2176.9.9", "[bold]15.1[/bold]"])
def test_bad_notation_exits_2_with_one_line(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", bad]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "Traceback" not in captured.err


def test_markup_in_input_is_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    main(["kb", "[red]15.1[/red]"])
    assert "[red]15.1[/red]" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["--cve", "CVE-2099-0001", "15.1.2176.9"], ["--format", "xml", "15.1.2176.9"], [], ["--kb-dir", "/nonexistent/kb", "15.1.2176.9"]],
)
def test_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", *argv]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_info(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _json(capsys, "--info")
    assert code == 0
    assert doc["origin"] == "packaged" and doc["date"] == "2026-11-28" and doc["cves"] >= 25
    products = {p["product"]: p for p in doc["products"]}
    assert products["2013"]["latest_build"] == "15.0.1497.48"
    assert products["SE"]["newest_cu"] == "RTM"
    assert main(["kb", "--info"]) == 0
    out = capsys.readouterr().out
    assert "packaged" in out and "2026-11-28" in out and "Subscription Edition" in out


def test_kb_dir_loads_newer_data(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "newer"
    shutil.copytree(PACKAGED_DIR, folder)
    (folder / "meta.csv").write_text("key,value\nname,test data\ndate,2031-02-03\n", encoding="utf-8")
    code, doc = _json(capsys, "--info", "--kb-dir", str(folder))
    assert (code, doc["date"], doc["origin"], doc["name"]) == (0, "2031-02-03", "argument", "test data")
    monkeypatch.setenv("EXAUDIT_KB_DIR", str(folder))
    code, doc = _json(capsys, "--info")
    assert doc["date"] == "2031-02-03"


def test_malformed_kb_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(PACKAGED_DIR, folder)
    (folder / "fixes.csv").write_text("cve,product\nCVE-2021-26855,2016\n", encoding="utf-8")
    assert main(["kb", "15.1.2176.9", "--kb-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "fixes.csv" in err and "missing column" in err


def test_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "kb.json"
    assert main(["kb", "15.2.1748.10", "--format", "json", "-o", str(target), "--cve", "CVE-2021-26855"]) == 0
    assert json.loads(target.read_text(encoding="utf-8"))["cu"] == "CU15"
    table = tmp_path / "kb.txt"
    assert main(["kb", "15.2.1748.10", "-o", str(table)]) in (0, 1)
    assert "CVE-2021-26855" in table.read_text(encoding="utf-8")
    assert capsys.readouterr().out == ""
