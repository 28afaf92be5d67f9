"""Exposure: the knowledge base decides per CVE; probes add evidence to that decision.

The rule for probes (remote-fingerprinting.md §5, microsoft-css-exchange.md §3.4): behaviour can prove a
server vulnerable, but it never proves one safe — a URL Rewrite rule hides the bug without fixing it, and a CU
install silently removes the rule. So a probe may raise a status to ``vulnerable`` and always explains itself
in the reason, but never turns a build-based ``vulnerable`` or ``possibly_vulnerable`` into ``not_vulnerable``.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

from exaudit.model import CveStatus, Status


@lru_cache(maxsize=1)
def _kb() -> Any:
    from exaudit.kb import load_kb

    return load_kb()


def cve_ids() -> list[str]:
    """Every CVE the knowledge base knows, in its order."""
    ids = []
    for cve in _kb().cves():
        ids.append(str(getattr(cve, "id", None) or getattr(cve, "cve", None) or getattr(cve, "name", cve)))
    return ids


@lru_cache(maxsize=1024)
def known_builds_of_cu(build: str) -> tuple[str, ...]:
    """Every known 4-part build of the CU a 3-part build names, newest first (for the versioned ECP folders)."""
    from exaudit.kb import BuildError, parse_build

    try:
        cu = _kb().cu_of(parse_build(build))
    except BuildError:
        return ()
    if cu is None:
        return ()
    return tuple(str(row.build) for row in reversed(cu.rows))


def assess(build: str | None, product: str | None) -> list[CveStatus]:
    """The KB's decision for every CVE; ``unknown`` for all when the build could not be seen."""
    if build is None:
        reason = "Exchange detected but no build was visible without authentication; check the server itself"
        return [CveStatus(cve, Status.UNKNOWN, reason) for cve in cve_ids()]
    # probes rewrite reasons in place: every result gets its own copies of the cached decision
    return [dataclasses.replace(status) for status in _assess_build(build, product)]


@lru_cache(maxsize=4096)
def _assess_build(build: str, product: str | None) -> tuple[CveStatus, ...]:
    """The KB decision, once per distinct build (a sweep sees the same few dozen builds thousands of times)."""
    from exaudit.kb import BuildError, parse_build

    try:
        return tuple(_kb().assess(parse_build(build)))
    except BuildError as exc:
        reason = f"build {build} ({product or 'unknown product'}) is not in the knowledge base: {exc}"
        return tuple(CveStatus(cve, Status.UNKNOWN, reason) for cve in cve_ids())


def apply_probes(cves: list[CveStatus], probes: list[dict[str, Any]], mitigations: list[dict[str, Any]]) -> None:
    """Fold probe outcomes into the per-CVE reasons (and raise to vulnerable on proof)."""
    by_id = {c.cve: c for c in cves}
    for probe in probes:
        if probe.get("name") != "proxylogon":
            continue
        for cve_id in probe["cves"]:
            status = by_id.get(cve_id)
            if status is None:
                continue
            if probe["outcome"] == "vulnerable":
                status.reason = f"confirmed by probe ({probe['evidence']}); by build: {status.status.value}, {status.reason}"
                status.status = Status.VULNERABLE
            elif probe["outcome"] in ("not_vulnerable", "aborted") and status.status is not Status.NOT_VULNERABLE:
                status.reason = f"{status.reason}; probe saw no SSRF ({probe['outcome']}), which a URL Rewrite rule also produces"
    for mitigation in mitigations:
        for cve_id in mitigation["cves"]:
            status = by_id.get(cve_id)
            if status is None or status.status is Status.NOT_VULNERABLE:
                continue
            if mitigation["present"]:
                status.reason = f"mitigated by URL Rewrite ({mitigation['name']}), {status.status.value} by build: {status.reason}"
            else:
                status.reason = f"{status.reason}; no URL Rewrite mitigation ({mitigation['name']}) detected"
