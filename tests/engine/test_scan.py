"""distributed_scan against a lab farm on loopback: the same results as ``exaudit.scan.scan`` on every executor."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from exaudit.cli import main
from exaudit.engine import DaskExecutor, EngineError, Executor, InProcessExecutor, distributed_scan, iter_distributed_scan
from exaudit.engine.scanning import scan_shard, shard_tasks, single_spec, split
from exaudit.lab import HOSTILE_KINDS, Lab, farm_specs
from exaudit.model import ScanResult, to_jsonable
from exaudit.scan import ProbeError, TargetError, scan
from exaudit.scan.targets import expand, parse_targets
from exaudit.store import Store

pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")

FIRST = "127.0.70.1"
TIMEOUT = 3.0  # generous: the machine is shared; no server here is slow on purpose


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Ten emulated servers of a realistic mix (no deliberately hostile ones) on one port of 127.0.70.1-10."""
    specs = [s for s in farm_specs(16, seed=3) if s.kind not in HOSTILE_KINDS][:10]
    with Lab(specs, first_address=FIRST, port=free_port(FIRST), tls_dir=tmp_path_factory.mktemp("tls")) as lab:
        yield lab


@pytest.fixture(scope="module")
def targets(farm: Lab) -> list[str]:
    """A /28 around the farm (addresses .11-.14 have no server) and one server named again on its own."""
    return [f"127.0.70.0/28:{farm.port}", f"127.0.70.3:{farm.port}"]


def as_json(results: list[ScanResult]) -> list[str]:
    return [json.dumps(to_jsonable(r), sort_keys=True) for r in results]


@pytest.fixture(scope="module")
def reference(targets: list[str]) -> list[str]:
    """The scanner's own results (completion order), made comparable."""
    return sorted(as_json(scan(targets, probes=["all"], timeout=TIMEOUT)))


def test_same_results_as_the_scanner_in_input_order(executor: Executor, farm: Lab, targets: list[str], reference: list[str]) -> None:
    results = distributed_scan(targets, executor, shards=3, probes=["all"], timeout=TIMEOUT)
    assert sorted(as_json(results)) == reference
    expected_order = [f"127.0.70.{n}:{farm.port}" for n in range(1, 11)] + [targets[1]]
    assert [r.target for r in results] == expected_order  # silent CIDR members are left out, as by the scanner
    assert sum(r.exchange for r in results) >= 8 and any(r.cves for r in results)


@pytest.mark.parametrize("shards", [1, 2, 5, 40])
def test_shard_count_does_not_change_results(shards: int, targets: list[str], reference: list[str]) -> None:
    results = distributed_scan(targets, InProcessExecutor(), shards=shards, probes=["all"], timeout=TIMEOUT)
    assert sorted(as_json(results)) == reference


def test_shards_cover_every_target_once_in_order() -> None:
    specs = parse_targets(["10.1.0.0/24", "mail.example.org", "10.2.0.0/30:8443", "[2001:db8::1]:443"], [443])
    expanded = list(expand(specs, (443,)))
    for shards in (1, 3, 7, len(expanded)):
        pieces = split(specs, shards)
        assert len(pieces) == shards
        rebuilt = [t for shard in pieces for spec, start, stop in shard for t in list(spec.expand((443,)))[start:stop]]
        assert rebuilt == expanded


def test_single_spec_expands_to_exactly_its_target() -> None:
    specs = parse_targets(["192.0.2.0/29:8443", "https://mail.example.org:444/", "[2001:db8::7]"], [443, 80])
    for target in expand(specs, (443, 80)):
        assert list(single_spec(target).expand((443, 80))) == [target]


def test_scope_and_probe_errors_come_before_any_task(tmp_path: Path) -> None:
    scope = tmp_path / "scope.txt"
    scope.write_text("127.0.70.0/24\n")
    with pytest.raises(TargetError, match="outside the scope"):
        distributed_scan(["127.0.71.1:443"], InProcessExecutor(), scope=scope)
    with pytest.raises(ProbeError):
        distributed_scan(["127.0.70.1:443"], InProcessExecutor(), probes=["no-such-probe"])
    with pytest.raises(EngineError, match="shards"):
        distributed_scan(["127.0.70.1:443"], InProcessExecutor(), shards=0)
    with pytest.raises(TargetError):  # the streaming form checks when called, not at the first result
        iter_distributed_scan(["not a target!"], InProcessExecutor())


def test_streamed_results_match_the_list(farm: Lab, targets: list[str], reference: list[str]) -> None:
    stream = iter_distributed_scan(targets, InProcessExecutor(), shards=4, probes=["all"], timeout=TIMEOUT)
    assert sorted(as_json(list(stream))) == reference


def test_shards_carry_the_scope_and_workers_enforce_it(executor: Executor, farm: Lab, tmp_path: Path) -> None:
    scope = tmp_path / "scope.txt"
    scope.write_text("127.0.70.0/28\n")
    inside = f"127.0.70.2:{farm.port}"
    tasks = shard_tasks([inside], executor, scope=scope, timeout=TIMEOUT)
    assert [task.options["scope"] for task in tasks] == [(ipaddress.ip_network("127.0.70.0/28"),)]
    # a shard that lists an address outside the scope (never made by shard_tasks) is refused on the worker itself
    outside = parse_targets([f"127.0.71.1:{farm.port}"])[0]
    forged = dataclasses.replace(tasks[0], pieces=((outside, 0, 1),))
    assert [r["target"] for r in next(executor.map(scan_shard, [tasks[0], forged]))] == [inside]
    with pytest.raises(TargetError, match="outside the scope"):
        list(executor.map(scan_shard, [tasks[0], forged]))


def test_scan_command_on_a_cluster_matches_the_local_scan(
    dask_executor: Executor, targets: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["scan", *targets, "--probe", "all", "--timeout", str(TIMEOUT), "--format", "json"]
    assert main([*args, "--no-store"]) == 1
    local = json.loads(capsys.readouterr().out)["results"]
    assert isinstance(dask_executor, DaskExecutor)
    address = dask_executor.address
    db = tmp_path / "runs.db"
    assert main([*args, "--cluster", address, "--db", str(db)]) == 1
    remote = json.loads(capsys.readouterr().out)
    assert remote["results"] == local and len(local) == 11
    stored = [r["target"] for r in Store(db).scan_results_of(remote["run"]["id"])]
    assert sorted(stored) == sorted(set(targets[1:] + [r["target"] for r in local]))  # the target named twice: one row
    assert main([*args, "--workers", "1", "--no-store"]) == 1
    assert json.loads(capsys.readouterr().out)["results"] == local
    assert main([*args, "--cluster", "local:x", "--no-store"]) == 3  # an engine error: one line, exit 3
    assert capsys.readouterr().err.count("\n") == 1
