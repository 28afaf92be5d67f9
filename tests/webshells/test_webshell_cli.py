"""``exaudit webshells``: document shape, exit codes, store record, escaping, damaged input."""

from __future__ import annotations

import json
import os

import pytest
from ws_samples import SHELLS

from exaudit.cli import main
from exaudit.store import Store

WEB = "Exchange/V15/FrontEnd/HttpProxy/owa/auth"


def tree(tmp_path, files: dict[str, bytes]):
    root = tmp_path / "evidence"
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def run_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(["webshells", *args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_json_document_and_exit_code_one(tmp_path, capsys) -> None:
    root = tree(tmp_path, {f"{WEB}/errorEW.aspx": SHELLS["chopper_spaced.aspx"], f"{WEB}/logon.aspx": b'<%@ Page Language="C#" %>hi'})
    code, doc = run_json(capsys, str(root))
    assert code == 1
    assert set(doc) == {"schema", "kind", "run", "hosts", "findings", "timeline", "inputs", "errors"}
    assert doc["kind"] == "webshells" and doc["hosts"][0]["verdict"] == "compromised"
    (finding,) = doc["findings"]
    assert finding["severity"] == "critical" and finding["source"]["path"].endswith("errorEW.aspx")
    assert len(doc["inputs"]) == 2 and all(len(i["sha256"]) == 64 for i in doc["inputs"])
    assert doc["timeline"][0]["finding"] == finding["id"]
    runs = Store(os.environ["EXAUDIT_DB"]).list_runs(command="webshells")
    assert runs and runs[0]["status"] == "done" and runs[0]["summary"]["critical"] == 1


def test_clean_tree_exits_zero(tmp_path, capsys) -> None:
    root = tree(tmp_path, {"site/ok.aspx": b'<%@ Page Language="C#" %>hi', "site/bin.dat": bytes(range(256)) * 4})
    code, doc = run_json(capsys, str(root), "--all-files", "--no-store")
    assert code == 0 and doc["findings"] == [] and len(doc["inputs"]) == 2


def test_usage_errors_exit_two(tmp_path) -> None:
    assert main(["webshells", str(tmp_path / "missing")]) == 2
    assert main(["webshells", str(tmp_path), "--since", "yesterday"]) == 2
    bad = tmp_path / "bad.yar"
    bad.write_text("rule x { condition: nope }")
    assert main(["webshells", str(tmp_path), "--yara", str(bad)]) == 2


def test_table_escapes_attacker_text(tmp_path, capsys) -> None:
    name = "[bold red]x[/bold red].aspx"
    root = tree(tmp_path, {f"{WEB}/{name}": b'<%@ Page Language="Jscript"%><%eval(Request.Item["[link=evil]"],"unsafe");%>'})
    report = tmp_path / "report.txt"
    assert main(["webshells", str(root), "--no-store", "-o", str(report)]) == 1
    text = report.read_text()
    assert "[bold" in text and "red]x[" in text  # printed literally, not interpreted as markup


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_symlink_loop_and_dangling_link_are_not_fatal(tmp_path, capsys) -> None:
    root = tree(tmp_path, {f"{WEB}/shell.aspx": SHELLS["classic.asp"]})
    (root / "loop").symlink_to(root)  # a folder loop: must not be followed forever
    (root / "dangling.aspx").symlink_to(root / "nowhere.aspx")
    code, doc = run_json(capsys, str(root), "--no-store")
    assert code == 1
    assert [f["source"]["path"].replace("\\", "/").rsplit("/", 1)[-1] for f in doc["findings"]] == ["shell.aspx"]


def test_bad_ioc_file_and_window_options(tmp_path, capsys) -> None:
    root = tree(tmp_path, {f"{WEB}/logon.aspx": b'<%@ Page Language="C#" %>hi'})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["webshells", str(root), "--ioc", str(bad)]) == 2
    code, doc = run_json(capsys, str(root), "--since", "2000-01-01", "--no-store")
    assert code == 0  # inside the window but nothing else: a low finding only
    assert [f["severity"] for f in doc["findings"]] == ["low"]
