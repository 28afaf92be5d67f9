"""A cluster started the way docs/cluster.md says (``dask scheduler`` + ``dask worker``), on loopback.

One test, because it ends by killing the scheduler: work in flight must end in a one-line EngineError.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from exaudit.engine import EngineError, get_executor, whereami


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


def test_documented_commands_then_a_lost_scheduler() -> None:
    address = f"tcp://127.0.0.1:{free_loopback_port()}"
    dask = [sys.executable, "-m", "dask"]
    port = address.rsplit(":", 1)[1]
    scheduler = start([*dask, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"])
    worker = start([*dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"])
    try:
        executor = get_executor(address, timeout=60)
        try:
            answers = list(executor.map(whereami, range(4)))
            assert [item for item, _, _ in answers] == [0, 1, 2, 3]
            assert os.getpid() not in {pid for _, _, pid in answers}
            threading.Timer(0.5, scheduler.send_signal, (signal.SIGTERM,)).start()  # while the tasks below sleep
            with pytest.raises(EngineError, match="lost the Dask scheduler"):
                list(executor.map(time.sleep, [4, 4]))
        finally:
            executor.close()
    finally:
        stop(worker)
        stop(scheduler)
