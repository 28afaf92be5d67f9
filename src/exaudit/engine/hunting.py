"""``distributed_hunt``: the hunt, one task per host, merged into the document ``exaudit.hunt.hunt`` writes.

Planning opens each evidence path here (cheap: the layout is read, no log is) to count its hosts. A path
with one host (or one that cannot be opened) is one task, ``hunt([path])``, so its errors are worded by the
hunt itself; a folder of several collections gives one task per host, ``hunt_views([view])``. Per-file
tasks would split a host's multi-record logic (the ProxyLogon chain, correlation), so a host is the unit.

The merge reproduces ``exaudit.hunt.build_document``: hosts, inputs and host errors in input order, errors
of unopenable paths first, findings sorted by (severity, host, first seen, rule) with a stable sort, and
the timeline rebuilt from the merged findings with the hunt's own ``timeline``. The result is the same
JSON, byte for byte, as ``hunt(paths)`` on whatever executor ran the tasks.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from typing import Any

from exaudit.engine.base import Executor
from exaudit.model import SCHEMA, ErrorEntry, Severity, finding_from_dict, to_jsonable

Task = dict[str, Any]  # {"path": str} or {"path": str, "index": int, "host": str}


def distributed_hunt(
    paths: Iterable[str | os.PathLike[str]], executor: Executor, *, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Hunt every host in ``paths`` on ``executor``; the canonical hunt document (without the ``run`` block).

    On a remote cluster, relative paths are made absolute: the evidence must be reachable at that same path
    on every worker (a shared mount). ``progress`` is called here, once per finished host.
    """
    tasks = plan(paths, absolute=not executor.shares_cwd)
    documents = []
    for done, document in enumerate(executor.map(hunt_task, tasks), 1):
        documents.append(document)
        if progress:
            task = tasks[done - 1]
            progress(f"{task.get('host') or task['path']}: hunted ({done}/{len(tasks)})")
    return merge_documents(documents)


def plan(paths: Iterable[str | os.PathLike[str]], absolute: bool = False) -> list[Task]:
    """One task per evidence path, or per host where a path holds several."""
    from exaudit.evidence import open_evidence
    from exaudit.evidence.tree import close_archives

    tasks: list[Task] = []
    for path in paths:
        text = os.path.abspath(path) if absolute else os.fspath(path)
        try:
            hosts = [view.hostname for view in open_evidence(text)]
        except Exception:  # hunt([path]) reports it in its own words
            hosts = []
        if len(hosts) <= 1:
            tasks.append({"path": text})
        else:
            tasks += [{"path": text, "index": index, "host": host} for index, host in enumerate(hosts)]
    close_archives()  # planning must not keep archives open for the rest of the run
    return tasks


# --------------------------------------------------------------------------- on the worker


@functools.cache
def _rules() -> Any:
    """The rule set, loaded once per worker process rather than once per task."""
    from exaudit.detect.engine import RuleSet

    return RuleSet()


def hunt_task(task: Task) -> dict[str, Any]:
    """Hunt one path (``hunt``) or one host of a path (``hunt_views``); the hunt document of that part."""
    from exaudit.evidence import open_evidence
    from exaudit.hunt import hunt, hunt_views

    path = task["path"]
    if "index" not in task:
        return hunt([path], rules=_rules())
    try:
        view = open_evidence(path)[task["index"]]
    except Exception as exc:  # the path vanished or is not mounted on this worker
        return _error_document(path, f"cannot open evidence on this worker: {exc}")
    if view.hostname != task["host"]:
        return _error_document(path, f"evidence changed during the hunt: host {task['host']} not found")
    return hunt_views([view], rules=_rules())


def _error_document(path: str, message: str) -> dict[str, Any]:
    entry = to_jsonable(ErrorEntry(path, "unreadable", message))
    return {"schema": SCHEMA, "kind": "hunt", "hosts": [], "findings": [], "timeline": [], "inputs": [], "errors": [entry]}


# --------------------------------------------------------------------------- merge


def merge_documents(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Partial hunt documents (in task order) → one document, as ``exaudit.hunt.build_document`` orders it."""
    from exaudit.detect.correlate import timeline

    findings = [f for d in documents for f in d["findings"]]
    findings.sort(key=_finding_order)
    unopened = [e for d in documents if not d["hosts"] for e in d["errors"]]
    host_errors = [e for d in documents if d["hosts"] for e in d["errors"]]
    return {
        "schema": SCHEMA,
        "kind": "hunt",
        "hosts": [h for d in documents for h in d["hosts"]],
        "findings": findings,
        "timeline": to_jsonable(timeline([finding_from_dict(f) for f in findings])),
        "inputs": [i for d in documents for i in d["inputs"]],
        "errors": unopened + host_errors,
    }


def _finding_order(finding: dict[str, Any]) -> tuple[int, str, str, str]:
    """The hunt's own order: most severe first, then host, first sighting, rule (stable for ties)."""
    return (-Severity(finding["severity"]).rank, finding["host"], finding["first_seen"] or "", finding["rule"])
