"""The executor contract shared by every way of running tasks: in-process, local processes, a Dask cluster.

A task is a top-level function (importable by name, so spawned processes and Dask workers can load it) applied
to plain, picklable data: paths, strings, dicts, frozen dataclasses of those. Never an open file or a socket.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class EngineError(Exception):
    """The engine cannot run the work (bad option, unreachable scheduler, lost worker); the message says why."""


def default_workers() -> int:
    """The cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def whereami(item: T) -> tuple[T, str, int]:
    """A task that says where it ran (host name, process id): to check that a cluster really spreads work."""
    return item, socket.gethostname(), os.getpid()


def first_line(exc: BaseException) -> str:
    """An exception as one short line (scheduler errors can span several)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Executor:
    """Runs one function over many items; ``map`` yields the results in the order of the items.

    ``workers`` is how many tasks can run at once (used to size shards). ``shares_cwd`` says whether the
    workers see this process's working directory, so relative paths mean the same thing there.
    """

    name = "executor"
    workers = 1
    shares_cwd = True

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers, pools and connections; the executor cannot be used afterwards."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} workers={self.workers}>"
