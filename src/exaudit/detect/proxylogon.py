"""The ProxyLogon chain across HttpProxy rows: how far did each client address get?

Test-ProxyLogon lists matching rows; it cannot say whether an address only knocked (autodiscover
only, "the attacker did not find a valid email address"), got an admin session (proxyLogon.ecp
answered 241), read the OAB virtual directory, or reset it (the web shell write). This module
follows each address through the published sequence and reports the furthest *successful* step
as one finding, so attempt and success are told apart by status codes and follow-up requests.

References: reference/microsoft-css-exchange.md §1.4 (helsecert sequence, statuses), §1.7
(Reset*VirtualDirectory with 200); reference/published-attack-examples.md §1a (CSS-Exchange#100).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from exaudit.detect.engine import Hit, RecordView, excerpt
from exaudit.model import Finding, Indicators, Severity, SourceRef, iso

CHAIN_RULES = frozenset({"proxylogon-ssrf-anchor", "proxylogon-ssrf-autodiscover", "proxylogon-reset-vdir"})

# (step name, test on the lower-cased AnchorMailbox path, stage when it succeeded, what it means)
STEPS: tuple[tuple[str, str, str, str], ...] = (
    ("autodiscover", "/autodiscover/", "attempt", "SSRF reached autodiscover (back-end name and user lookup)"),
    ("mapi", "/mapi/emsmdb", "exploit", "SSRF reached MAPI (user SID obtained)"),
    ("proxylogon", "/ecp/proxylogon.ecp", "exploit", "ECP session established as the user (proxyLogon.ecp)"),
    ("getobject", "/getobject", "exploit", "OAB virtual directory read through ECP"),
    ("setobject", "/setobject", "exploit", "OAB virtual directory changed through ECP"),
    ("reset", "virtualdirectory#", "persistence", "virtual directory reset: configuration with the script written as a file"),
)
_STAGE_RANK = {"attempt": 0, "exploit": 1, "persistence": 2, "post": 3}


@dataclass
class _Chain:
    ip: str
    steps: dict[str, list[Hit]] = field(default_factory=dict)


def _step_of(anchor: str) -> str | None:
    low = anchor.lower()
    if "reset" in low and low.endswith("virtualdirectory#"):
        return "reset"
    for name, needle, _stage, _label in STEPS[:-1]:
        if needle in low:
            return name
    return None


def _succeeded(hit: Hit, step: str) -> bool:
    status = RecordView(hit.record).get("HttpStatus").strip()
    if step == "proxylogon":
        return status == "241"  # ECP answers 241 when the forged session is accepted
    if step == "reset":
        return status == "200"  # Test-ProxyLogon's own condition
    return status.startswith(("2", "3"))


def chain_findings(hits: Iterable[Hit], host: str) -> list[Finding]:
    """One finding per client address that sent ServerInfo~ anchors: the furthest step that worked."""
    chains: dict[str, _Chain] = {}
    seen: set[tuple[str, int]] = set()
    for hit in hits:
        key = (hit.record.path, hit.record.line)
        if hit.rule.id not in CHAIN_RULES or key in seen:
            continue  # one row can match two rules (the reset row is also an SSRF anchor)
        seen.add(key)
        view = RecordView(hit.record)
        step = _step_of(view.get("AnchorMailbox"))
        if step is None:
            continue
        ip = view.get("ClientIpAddress") or "unknown"
        chains.setdefault(ip, _Chain(ip)).steps.setdefault(step, []).append(hit)
    return [f for chain in chains.values() if (f := _chain_finding(chain, host)) is not None]


def _chain_finding(chain: _Chain, host: str) -> Finding | None:
    reached: list[str] = []
    stage = "attempt"
    for name, _needle, step_stage, label in STEPS:
        hits = chain.steps.get(name, [])
        if not hits:
            continue
        ok = any(_succeeded(h, name) for h in hits)
        reached.append(f"{name}: {len(hits)} request(s), {'succeeded' if ok else 'failed'} - {label}")
        if ok and _STAGE_RANK[step_stage] > _STAGE_RANK[stage]:
            stage = step_stage
    all_hits = sorted((h for hs in chain.steps.values() for h in hs), key=lambda h: (iso(h.record.time) or "", h.record.line))
    if not all_hits:
        return None
    first, last = all_hits[0], all_hits[-1]
    indicators = Indicators(ips=[chain.ip] if chain.ip != "unknown" else [])
    for h in all_hits:
        indicators.merge(h.indicators)
    del indicators.urls[25:]
    severity = {"attempt": Severity.MEDIUM, "exploit": Severity.CRITICAL, "persistence": Severity.CRITICAL}[stage]
    cves = ["CVE-2021-26855"] + (["CVE-2021-27065"] if stage == "persistence" else [])
    title = {
        "attempt": "ProxyLogon chain attempted, no step beyond autodiscover succeeded",
        "exploit": "ProxyLogon chain succeeded (authenticated back-end access through SSRF)",
        "persistence": "ProxyLogon chain completed to the virtual directory reset (web shell written)",
    }[stage]
    return Finding(
        rule="proxylogon-chain",
        title=title,
        host=host,
        severity=severity,
        confidence="high",
        cves=cves,
        attack=["T1190"] + (["T1505.003"] if stage == "persistence" else []),
        first_seen=iso(first.record.time),
        last_seen=iso(last.record.time),
        count=len(all_hits),
        source=SourceRef(first.record.path, first.record.line),
        evidence=excerpt(f"client {chain.ip}: " + "; ".join(reached)),
        indicators=indicators,
        references=["https://github.com/microsoft/CSS-Exchange/blob/main/Security/src/Test-ProxyLogon.ps1"],
        stage=stage,
    ).finalize()
