"""Executors on this machine: in-process (the reference path) and a pool of spawned processes.

Processes are started with ``spawn``: the caller may run threads (the lab's servers, an asyncio loop) and
forking a threaded process can deadlock. Spawned workers import the task function by name, which is why
tasks are top-level functions. Reference: Python documentation, ``concurrent.futures.ProcessPoolExecutor``
and ``multiprocessing`` "Contexts and start methods".
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from exaudit.engine.base import EngineError, Executor, R, T, first_line


class InProcessExecutor(Executor):
    """One task after the other in this process: what every other executor must reproduce."""

    name = "in-process"

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)


class ProcessExecutor(Executor):
    """``workers`` spawned processes, started on first use and reused until ``close``.

    A lone task runs in this process: spawning a worker (about a second to import exaudit) would only
    delay it, and the result is the same.
    """

    name = "processes"

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise EngineError(f"workers must be at least 1, not {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        batch = list(items)
        if len(batch) == 1:
            yield fn(batch[0])
            return
        futures = [self._started().submit(fn, item) for item in batch]
        try:
            for future in futures:
                yield future.result()
        except BrokenProcessPool as exc:
            self.close()  # a broken pool accepts no more work: the next map starts a fresh one
            raise EngineError(f"a worker process died (out of memory or killed?): {first_line(exc)}") from exc
        finally:
            for future in futures:
                future.cancel()  # only those not started yet: a consumer that stops early frees the pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
