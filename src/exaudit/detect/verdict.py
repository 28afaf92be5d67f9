"""Per-host verdict from the findings, always with its reasons and the coverage caveats.

* ``compromised`` - attacker code or credential theft evidenced: a finding at stage persistence or
  post (web shell written or used, shell started by w3wp, lsass dumped).
* ``exploited`` - a successful exploitation step, no persistence seen.
* ``attempted`` - probes or failed tries only.
* ``no_evidence`` - nothing counted; never "clean": the coverage caveats say what could not be seen.

Findings with confidence ``low`` or severity ``info`` are listed but do not move the verdict (a
published IP, an administrator's mailbox export): they are named in the reasons instead.

References: ARCHITECTURE.md (verdict definitions); reference/peer-tools-and-iocs.md §8 (users asked
for attempt vs success and log coverage).
"""

from __future__ import annotations

from collections.abc import Iterable

from exaudit.detect.coverage import caveats
from exaudit.model import Coverage, CveStatus, Finding, HostVerdict, Severity, Status, Verdict

_STAGE_VERDICT = {
    "post": Verdict.COMPROMISED,
    "persistence": Verdict.COMPROMISED,
    "exploit": Verdict.EXPLOITED,
    "attempt": Verdict.ATTEMPTED,
}
MAX_REASONS = 8


def counts(finding: Finding) -> bool:
    """Whether a finding is strong enough to move the verdict."""
    return finding.severity != Severity.INFO and finding.confidence != "low"


def verdict_of(findings: Iterable[Finding]) -> tuple[Verdict, list[Finding]]:
    """The verdict and the findings that carry it (strongest first)."""
    counted = [f for f in findings if counts(f)]
    if not counted:
        return Verdict.NO_EVIDENCE, []
    best = max((_STAGE_VERDICT[f.stage] for f in counted), key=lambda v: v.rank)
    carriers = [f for f in counted if _STAGE_VERDICT[f.stage] == best]
    carriers.sort(key=lambda f: (-f.severity.rank, f.first_seen or ""))
    return best, carriers


def host_verdict(host: str, findings: list[Finding], coverage: list[Coverage]) -> HostVerdict:
    mine = [f for f in findings if f.host == host]
    verdict, carriers = verdict_of(mine)
    reasons: list[str] = []
    for f in carriers[:MAX_REASONS]:
        when = f" from {f.first_seen}" if f.first_seen else ""
        reasons.append(f"{f.stage}: {f.title} ({f.rule}, {f.count}x{when})")
    if len(carriers) > MAX_REASONS:
        reasons.append(f"... and {len(carriers) - MAX_REASONS} more finding(s) at this stage")
    weak = [f for f in mine if not counts(f)]
    if weak:
        reasons.append(f"{len(weak)} low-confidence or informational finding(s) to review, not counted in the verdict")
    if verdict in (Verdict.NO_EVIDENCE, Verdict.ATTEMPTED):
        notes = caveats(coverage)
        if verdict is Verdict.NO_EVIDENCE:
            reasons.append("no evidence is not proof of a clean server: read it with the coverage below")
        reasons.extend(notes)
    return HostVerdict(host=host, verdict=verdict, reasons=reasons, coverage=coverage)


def exposure_reasons(build: str | None, cves: list[CveStatus], findings: list[Finding]) -> list[str]:
    """What the build seen in the logs means for the findings: exploitable, or patched against them."""
    if not build or not cves:
        return []
    status = {c.cve: c.status for c in cves}
    vulnerable = [c.cve for c in cves if c.status is Status.VULNERABLE]
    reasons = [
        f"the Exchange build in the logs, {build}, is vulnerable to {len(vulnerable)} known CVE(s)"
        if vulnerable
        else f"the Exchange build in the logs, {build}, is not vulnerable to any CVE the knowledge base lists"
    ]
    targeted = sorted({c for f in findings if counts(f) for c in f.cves})
    patched = [c for c in targeted if status.get(c) is Status.NOT_VULNERABLE]
    if patched:
        reasons.append(f"findings name {', '.join(patched)}, which this build is patched against (at the time of the newest log)")
    return reasons
