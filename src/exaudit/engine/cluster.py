"""A Dask cluster as an executor: ``tcp://HOST:8786`` (any Dask deployment) or ``local[:N]`` (a LocalCluster).

Tasks travel to the workers as pickles of plain data and a function named by its module, so every worker
needs the same exaudit version installed; this is checked on connect. Dask's TCP is unauthenticated:
docs/cluster.md says how to protect it. References: Dask distributed documentation, "Client",
"LocalCluster", "Managing computation" (futures) and "Security" (TLS).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from exaudit import __version__
from exaudit.engine.base import EngineError, Executor, R, T, default_workers, first_line

CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler and to see its first worker


def worker_version() -> str:
    """Run on each worker at connect: proves exaudit imports there and tells its version."""
    from exaudit import __version__ as version

    return version


class DaskExecutor(Executor):
    """Tasks as Dask futures, one per item; results gathered in the order of the items."""

    def __init__(self, client: Any, address: str, cluster: Any = None) -> None:
        self._client_log = logging.getLogger("distributed.client")
        self._log_level = self._client_log.level
        self._client_log.setLevel(logging.CRITICAL)  # a lost scheduler is our one-line EngineError, not its tracebacks
        self.client = client
        self.address = address
        self._cluster = cluster
        self.name = f"dask {address}"
        self.shares_cwd = cluster is not None  # a LocalCluster's workers are children of this process
        self.workers = max(1, sum(client.nthreads().values()))

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        from distributed.client import FutureCancelledError
        from distributed.comm.core import CommClosedError
        from distributed.scheduler import KilledWorker

        futures = self.client.map(fn, list(items), pure=False)
        try:
            for future in futures:
                yield future.result()
        except KilledWorker as exc:
            raise EngineError(f"a Dask worker died on every try of one task (out of memory?): {first_line(exc)}") from exc
        except (FutureCancelledError, CommClosedError) as exc:  # the scheduler went away: Dask cancels every future
            raise EngineError(f"lost the Dask scheduler at {self.address}: {first_line(exc)}") from exc
        finally:
            with contextlib.suppress(Exception):  # nothing to cancel on a scheduler that is gone
                self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a client whose scheduler is gone may complain
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        self._client_log.setLevel(self._log_level)


def connect(address: str, workers: int | None = None, timeout: float = CONNECT_TIMEOUT) -> DaskExecutor:
    """A client on the scheduler at ``address``, or on a new LocalCluster for ``local`` / ``local:N``."""
    if address == "local" or address.startswith("local:"):
        return _local(_local_workers(address, workers))
    from distributed import Client

    try:
        client = Client(address, timeout=timeout)
    except (OSError, ValueError, TypeError) as exc:  # TimeoutError is an OSError
        raise EngineError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s: {first_line(exc)}") from exc
    try:
        _ready(client, address, timeout)
    except BaseException:
        client.close()
        raise
    return DaskExecutor(client, address)


def _local_workers(address: str, workers: int | None) -> int:
    count = address.partition(":")[2]
    if count and not count.isdigit():
        raise EngineError(f"expected local or local:N with N a number of workers, not {address!r}")
    n = int(count) if count else (workers or default_workers())
    if n < 1:
        raise EngineError(f"a local cluster needs at least 1 worker, not {n}")
    return n


def _local(n: int) -> DaskExecutor:
    from distributed import Client, LocalCluster

    try:
        with warnings.catch_warnings():  # its health HTTP server moves off a busy 8787 by itself: not news
            warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,  # the tasks are CPU-bound Python: one task per process
                processes=True,
                host="127.0.0.1",  # loopback only: nothing listens on the network
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
    except Exception as exc:
        raise EngineError(f"cannot start a local Dask cluster of {n} workers: {first_line(exc)}") from exc
    return DaskExecutor(Client(cluster), f"local:{n}", cluster)


def _ready(client: Any, address: str, timeout: float) -> None:
    """At least one worker, and every worker runs this exaudit version (identical results need identical code)."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError) as exc:
        raise EngineError(f"the Dask scheduler at {address} has no worker (none joined within {timeout:g} s)") from exc
    answers = client.run(worker_version, on_error="return")
    for worker, answer in sorted(answers.items()):
        if isinstance(answer, BaseException):
            raise EngineError(f"Dask worker {worker} cannot run exaudit (install it there): {first_line(answer)}")
        if answer != __version__:
            raise EngineError(f"Dask worker {worker} runs exaudit {answer}, this machine {__version__}: install one version everywhere")
