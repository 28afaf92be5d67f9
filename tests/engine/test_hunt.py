"""distributed_hunt on generated evidence: byte-identical to ``exaudit.hunt.hunt`` on every executor."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exaudit.engine import Executor, InProcessExecutor, distributed_hunt
from exaudit.engine.hunting import hunt_task, plan
from exaudit.hunt import hunt
from exaudit.lab.evidence import evidence_paths, generate

pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A zip of one compromised host, a folder of one host per scenario (one with damaged logs), a missing path."""
    base = tmp_path_factory.mktemp("evidence")
    one = generate(base / "one", scenario="proxylogon", seed=5, days=4, volume=150, layout="zip")
    many = generate(base / "many", scenario="all", seed=2, days=4, volume=150, layout="kape")
    (single,) = evidence_paths(base / "one", one)
    iis = next((base / "many").rglob("W3SVC1"))  # damaged inputs: errors are data, and their order is pinned too
    (iis / "u_ex990101.log").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 12345\n")
    (iis / "u_ex990102.log").write_text("")
    return {
        "base": base,
        "paths": [str(single), str(base / "many"), str(base / "missing")],
        "hosts": [one["hosts"][0]["host"]] + [h["host"] for h in many["hosts"]],
    }


@pytest.fixture(scope="module")
def reference(evidence: dict[str, Any]) -> str:
    return json.dumps(hunt(evidence["paths"]), indent=2)


def test_same_document_as_the_hunt_byte_for_byte(executor: Executor, evidence: dict[str, Any], reference: str) -> None:
    document = distributed_hunt(evidence["paths"], executor)
    assert json.dumps(document, indent=2) == reference
    assert sorted(h["host"] for h in document["hosts"]) == sorted(evidence["hosts"])
    assert {h["verdict"] for h in document["hosts"]} >= {"compromised", "no_evidence"}
    assert {e["kind"] for e in document["errors"]} >= {"unreadable", "lfs_pointer", "empty"}
    assert document["findings"] and document["timeline"] and document["inputs"]


def test_a_folder_of_hosts_becomes_one_task_per_host(evidence: dict[str, Any]) -> None:
    single, many, missing = evidence["paths"]
    tasks = plan(evidence["paths"])
    assert tasks[0] == {"path": single}
    assert tasks[-1] == {"path": missing}  # the hunt itself words the error
    per_host = tasks[1:-1]
    assert [t["index"] for t in per_host] == list(range(len(per_host)))
    assert sorted(t["host"] for t in per_host) == sorted(evidence["hosts"][1:])
    assert all(t["path"] == many for t in per_host)


def test_progress_once_per_task(evidence: dict[str, Any]) -> None:
    messages: list[str] = []
    distributed_hunt(evidence["paths"][:2], InProcessExecutor(), progress=messages.append)
    assert len(messages) == len(evidence["hosts"])
    assert messages[-1].endswith(f"({len(messages)}/{len(messages)})")


def test_a_host_task_whose_evidence_is_not_on_the_worker_is_an_error_entry(evidence: dict[str, Any]) -> None:
    document = hunt_task({"path": evidence["paths"][2], "index": 0, "host": "EXCH01"})
    assert document["hosts"] == [] and document["findings"] == []
    (error,) = document["errors"]
    assert error["kind"] == "unreadable" and "cannot open evidence on this worker" in error["message"]


def test_relative_paths_are_made_absolute_for_a_remote_cluster(evidence: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(evidence["base"])
    assert plan(["missing"], absolute=True) == [{"path": str(evidence["base"] / "missing")}]
    assert plan(["missing"]) == [{"path": "missing"}]
