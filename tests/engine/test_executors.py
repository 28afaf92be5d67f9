"""The executor contract on plain functions: input order, errors carried back, work really spread out."""

from __future__ import annotations

import logging
import os
import socket

import pytest

from exaudit.engine import EngineError, Executor, InProcessExecutor, ProcessExecutor, get_executor, whereami

pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")  # Dask moves its health port itself


def test_results_come_back_in_input_order(executor: Executor) -> None:
    texts = [str(n) for n in range(40, 0, -1)]
    assert list(executor.map(int, texts)) == list(range(40, 0, -1))


def test_a_failing_task_raises_its_own_error(executor: Executor) -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        list(executor.map(int, ["1", "not a number", "3"]))


def test_an_executor_still_works_after_a_failed_task(executor: Executor) -> None:
    with pytest.raises(ValueError):
        list(executor.map(int, ["x", "y"]))
    assert list(executor.map(int, ["7"])) == [7]


def test_in_process_runs_here_and_the_others_elsewhere(executor: Executor) -> None:
    answers = list(executor.map(whereami, range(8)))
    assert [item for item, _, _ in answers] == list(range(8))
    pids = {pid for _, _, pid in answers}
    if isinstance(executor, InProcessExecutor):
        assert pids == {os.getpid()}
    else:
        assert os.getpid() not in pids
    assert executor.workers == (1 if isinstance(executor, InProcessExecutor) else 2)


def test_a_lone_task_runs_in_process_on_local_processes() -> None:
    with ProcessExecutor(2) as executor:
        assert list(executor.map(whereami, ["only"])) == [("only", socket.gethostname(), os.getpid())]
        assert executor._pool is None  # nothing was spawned for it


def test_a_dead_worker_process_is_a_clear_error_and_the_pool_recovers() -> None:
    with ProcessExecutor(2) as executor:
        with pytest.raises(EngineError, match="worker process died"):
            list(executor.map(os._exit, [3, 3]))  # the worker vanishes as an out-of-memory kill would
        assert list(executor.map(int, ["1", "2"])) == [1, 2]


def test_a_consumer_may_stop_early(executor: Executor) -> None:
    results = executor.map(int, [str(n) for n in range(10)])
    assert next(iter(results)) == 0
    results.close()  # type: ignore[attr-defined]  # a generator: closing cancels what was not needed
    assert list(executor.map(int, ["5", "6"])) == [5, 6]


# --------------------------------------------------------------------------- choosing an executor


def test_get_executor_picks_by_options() -> None:
    assert isinstance(get_executor(None, 1), InProcessExecutor)
    with get_executor(None, 3) as executor:  # nothing is spawned before the first task
        assert isinstance(executor, ProcessExecutor)
        assert executor.workers == 3


@pytest.mark.parametrize(("cluster", "workers"), [(None, 0), (None, -2), ("local:zero", None), ("local:0", None)])
def test_bad_options_are_clear_errors(cluster: str | None, workers: int | None) -> None:
    with pytest.raises(EngineError, match="worker"):
        get_executor(cluster, workers)


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_scheduler_is_a_one_line_error() -> None:
    address = f"tcp://127.0.0.1:{free_loopback_port()}"  # nothing listens there
    with pytest.raises(EngineError) as caught:
        get_executor(address, timeout=1)
    message = str(caught.value)
    assert message.startswith(f"cannot reach the Dask scheduler at {address} within 1 s")
    assert "\n" not in message


def test_scheduler_without_workers_is_a_clear_error() -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=0, processes=False, protocol="tcp://", dashboard_address=None, host="127.0.0.1", silence_logs=logging.ERROR
    ) as empty:
        with pytest.raises(EngineError, match="has no worker"):
            get_executor(empty.scheduler_address, timeout=0.5)


def test_workers_with_another_exaudit_version_are_refused(dask_executor: Executor, monkeypatch: pytest.MonkeyPatch) -> None:
    import exaudit.engine.cluster as cluster

    assert isinstance(dask_executor, cluster.DaskExecutor)
    monkeypatch.setattr(cluster, "__version__", "0.0.0-elsewhere")  # this side only: the workers keep theirs
    with pytest.raises(EngineError, match=r"runs exaudit .*, this machine 0\.0\.0-elsewhere"):
        get_executor(dask_executor.address, timeout=10)
