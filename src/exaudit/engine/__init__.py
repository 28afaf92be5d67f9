"""The execution engine: the same tasks in this process, on all local cores, or on a Dask cluster.

::

    from exaudit.engine import get_executor, distributed_hunt, distributed_scan
    with get_executor(None, None) as executor:          # all local cores ("local processes")
        document = distributed_hunt(["/evidence/EXCH01", "/evidence/EXCH02"], executor)
    with get_executor("tcp://10.0.0.5:8786") as executor:  # any Dask scheduler; "local:4" starts a LocalCluster
        results = distributed_scan(["10.0.0.0/16"], executor, ports=[443], probes=["all"])

Results do not depend on the executor: in-process, N processes and a cluster give the same hunt document
(byte for byte) and the same scan results in the same order. docs/cluster.md explains how to run a cluster.
"""

from __future__ import annotations

from exaudit.engine.base import EngineError, Executor, default_workers, whereami
from exaudit.engine.cluster import CONNECT_TIMEOUT, DaskExecutor, connect
from exaudit.engine.hunting import distributed_hunt, merge_documents
from exaudit.engine.local import InProcessExecutor, ProcessExecutor
from exaudit.engine.scanning import distributed_scan, iter_distributed_scan

__all__ = [
    "DaskExecutor",
    "EngineError",
    "Executor",
    "InProcessExecutor",
    "ProcessExecutor",
    "default_workers",
    "distributed_hunt",
    "distributed_scan",
    "get_executor",
    "iter_distributed_scan",
    "merge_documents",
    "whereami",
]


def get_executor(cluster: str | None = None, workers: int | None = None, *, timeout: float = CONNECT_TIMEOUT) -> Executor:
    """The executor for ``--cluster`` and ``--workers``.

    * ``cluster`` None: ``workers`` processes on this machine (default: every core it may use); 1 means in-process.
    * ``cluster`` ``local`` or ``local:N``: a Dask LocalCluster of N (default ``workers``, else the cores) processes.
    * any other ``cluster``: the address of a Dask scheduler (``tcp://HOST:8786``, ``tls://…``); its workers decide
      the parallelism. An unreachable scheduler raises ``EngineError`` within ``timeout`` seconds.
    """
    if workers is not None and workers < 1:
        raise EngineError(f"workers must be at least 1, not {workers}")
    if cluster:
        return connect(cluster, workers, timeout)
    count = workers or default_workers()
    return InProcessExecutor() if count == 1 else ProcessExecutor(count)
