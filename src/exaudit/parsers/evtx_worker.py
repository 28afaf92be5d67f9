"""Child process that parses one damaged EVTX file for ``exaudit.parsers.evtx``.

Run as a script (``python evtx_worker.py FD MEMORY_BYTES``): it imports only the standard library
and ``evtx``, so it starts fast. It reads the already-open, read-only file descriptor it inherited,
caps its own address space, and writes one JSON object a line to standard output:
``{"record": …}`` (what ``records_json`` yields), ``{"warning": "…"}`` (a skipped chunk or record)
or ``{"error": "…"}`` (the parser stopped). The parent kills it when it stops making progress.

Why a child: the ``evtx`` crate can loop forever or allocate without bound on corrupt chunks when
checksums are not validated (omerbenamram/evtx#263, #264, #288, #290); a Rust loop holds the GIL,
so nothing in the parent process could stop it.
"""

from __future__ import annotations

import json
import os
import sys
import warnings


def _emit(kind: str, value: object) -> None:
    sys.stdout.write(json.dumps({kind: value}) + "\n")


def _limit_memory(limit: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass  # not POSIX, or not allowed: the parent's stall watchdog still applies


def _flush_warnings(caught: list[warnings.WarningMessage]) -> None:
    for warning in caught:
        _emit("warning", str(warning.message))
    caught.clear()


def main(argv: list[str]) -> int:
    fd, limit = int(argv[1]), int(argv[2])
    _limit_memory(limit)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]  # our evtx.py is not the package
    from evtx import PyEvtxParser

    os.lseek(fd, 0, os.SEEK_SET)
    with os.fdopen(fd, "rb") as stream, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for item in PyEvtxParser(stream, number_of_threads=1, skip_errors=True).records_json():
                _flush_warnings(caught)
                _emit("record", item)
        except BaseException as exc:  # a Rust panic is a BaseException; report any stop
            _emit("error", f"{type(exc).__name__}: {exc}"[:300])
        _flush_warnings(caught)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
