"""Executors shared by the engine tests: started once, closed at the end (spawning workers costs seconds).

The Dask cluster is a real ``distributed.LocalCluster`` of two single-threaded worker processes on loopback,
reached through its ``tcp://`` address as a remote scheduler would be (connect, worker check, version check).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from exaudit.engine import Executor, InProcessExecutor, ProcessExecutor, get_executor

EXECUTORS = ("in-process", "processes", "dask")


@pytest.fixture(scope="session")
def processes_executor() -> Iterator[Executor]:
    with ProcessExecutor(2) as executor:
        yield executor


@pytest.fixture(scope="session")
def dask_executor() -> Iterator[Executor]:
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1", silence_logs=logging.ERROR
    )
    try:
        with get_executor(cluster.scheduler_address, timeout=30) as executor:
            yield executor
    finally:
        cluster.close()


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> Executor:
    """Each test that takes ``executor`` runs once per kind of executor."""
    if request.param == "in-process":
        return InProcessExecutor()
    return request.getfixturevalue(f"{request.param.replace('-', '_')}_executor")
