"""One merged view of stored runs (scan, hunt, webshells) that every shareable renderer reads.

Scan results and hunt verdicts are joined per server: a hunt host name (often the short NetBIOS name)
joins a scan target when the names are equal or the target's first DNS label is that name. Hosts are
ordered worst first (compromise, then exposure) so that a reader sees what to act on at the top.

For sharing (``masked=True``) every string of the documents goes through :func:`mask_secrets` first;
the canonical JSON renderer never builds a view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from exaudit.model import (
    Coverage,
    CveStatus,
    ErrorEntry,
    Finding,
    HostVerdict,
    Indicators,
    InputFile,
    ScanResult,
    Severity,
    SourceRef,
    Status,
    TimelineEvent,
    Verdict,
    cve_status_from_dict,
    finding_from_dict,
    parse_iso,
    scan_result_from_dict,
    worst_status,
)
from exaudit.render.mask import mask_secrets

HUNT_KINDS = ("hunt", "webshells")

# Words that show credential theft or abuse of administrative rights in a finding (rule, title, evidence).
_CRED_THEFT = re.compile(r"(?i)lsass|procdump|comsvcs|minidump|mimikatz|sekurlsa|ntds\.dit|credential.?dump")
_ADMIN_ABUSE = re.compile(
    r"(?i)New-ManagementRoleAssignment|Add-RoleGroupMember|Add-MailboxPermission|net1?(?:\s|\+)+(?:user|localgroup|group)\b.*?/add"
)
_SHORT_LOGS_DAYS = 30.0


@dataclass
class FixLine:
    cve: str
    fix: str | None


@dataclass
class RemovalItem:
    path: str
    sha256: str | None = None


@dataclass
class Plan:
    """What to do on one server, in the order a person does it."""

    best_fix: str | None = None
    fixes: list[FixLine] = field(default_factory=list)
    up_to_date: bool = False
    scanned: bool = False
    mitigations: list[str] = field(default_factory=list)  # i18n keys
    observed_mitigations: list[str] = field(default_factory=list)
    remove: list[RemovalItem] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)  # i18n keys
    next_checks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (i18n key, params)

    def is_empty(self) -> bool:
        return not (self.fixes or self.mitigations or self.remove or self.credentials or self.next_checks)


@dataclass
class HostView:
    name: str
    aliases: list[str] = field(default_factory=list)  # other names of the same server (hunt host name of a scan target)
    targets: list[str] = field(default_factory=list)
    scans: list[ScanResult] = field(default_factory=list)
    hunted: bool = False
    verdict: Verdict | None = None
    reasons: list[str] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)
    build: str | None = None
    cves: list[CveStatus] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    plan: Plan = field(default_factory=Plan)

    @property
    def exposure(self) -> Status | None:
        """Worst status over the CVEs known for this host; None when nothing told us the build."""
        return worst_status(self.cves)

    @property
    def exposure_key(self) -> str:
        return f"exp_{self.exposure.value}" if self.exposure else "exp_not_scanned"

    @property
    def verdict_key(self) -> str:
        return f"ver_{self.verdict.value}" if self.verdict else "ver_not_hunted"

    @property
    def open_cves(self) -> list[CveStatus]:
        return [c for c in self.cves if c.status.actionable]


@dataclass
class ReportView:
    runs: list[dict[str, Any]] = field(default_factory=list)
    hosts: list[HostView] = field(default_factory=list)
    other_targets: int = 0
    findings: list[Finding] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    indicators: Indicators = field(default_factory=Indicators)
    file_hashes: dict[str, str] = field(default_factory=dict)  # suspicious file path -> SHA-256
    inputs: list[InputFile] = field(default_factory=list)
    errors: list[ErrorEntry] = field(default_factory=list)
    masked: bool = True

    @property
    def by_severity(self) -> list[tuple[Severity, list[Finding]]]:
        groups = []
        for sev in sorted(Severity, key=lambda s: -s.rank):
            members = [f for f in self.findings if f.severity == sev]
            if members:
                groups.append((sev, members))
        return groups

    @property
    def needs_action(self) -> bool:
        return bool(self.findings) or any(h.open_cves for h in self.hosts)


# --------------------------------------------------------------------------- reading documents


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Only the keys ``cls`` knows: documents written by a newer version still load."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _source(d: dict[str, Any] | None) -> SourceRef | None:
    return SourceRef(**_known(SourceRef, d)) if d else None


def host_verdict_from_dict(d: dict[str, Any]) -> HostVerdict:
    return HostVerdict(
        host=d["host"],
        verdict=Verdict(d.get("verdict", "no_evidence")),
        reasons=list(d.get("reasons", [])),
        coverage=[Coverage(**_known(Coverage, c)) for c in d.get("coverage", [])],
        build=d.get("build"),
        cves=[cve_status_from_dict(c) for c in d.get("cves", [])],
    )


def timeline_event_from_dict(d: dict[str, Any]) -> TimelineEvent:
    return TimelineEvent(
        time=d["time"], host=d.get("host", ""), rule=d.get("rule", ""), message=d.get("message", ""),
        source=_source(d.get("source")), finding=d.get("finding"),
    )  # fmt: skip


def mask_document(obj: Any) -> Any:
    """Every string of a JSON document passed through :func:`mask_secrets`."""
    if isinstance(obj, str):
        return mask_secrets(obj)
    if isinstance(obj, dict):
        return {k: mask_document(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask_document(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- joining hosts


def normalise_host(target: str) -> str:
    """``https://EX01.corp.example:443/owa`` → ``ex01.corp.example``; ``[::1]:443`` → ``::1``."""
    text = target.strip()
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        host = None
    return (host or target).lower()


def _same_host(scan_key: str, hunt_key: str) -> bool:
    if scan_key == hunt_key:
        return True
    return "." not in hunt_key and scan_key.split(".")[0] == hunt_key and not scan_key.replace(".", "").isdigit()


def _max_build(fixes: list[str]) -> str | None:
    """The fix that names the highest build: "15.1.2176.9 (Mar21SU, …)" or "upgrade to … (15.1.2507.75, …)".

    An open CVE that the CU never got a fix for says "upgrade to CUn and install …": its build counts too,
    so the one line to act on covers every open CVE.
    """

    def key(fix: str) -> tuple[int, ...]:
        match = re.search(r"\b(\d+\.\d+\.\d+\.\d+)\b", fix)
        return tuple(int(p) for p in match.group(1).split(".")) if match else ()

    candidates = [f for f in fixes if key(f)]
    return max(candidates, key=key) if candidates else None


# --------------------------------------------------------------------------- building


def build_view(documents: list[dict[str, Any]], masked: bool = True) -> ReportView:
    """Merge stored run documents into one :class:`ReportView` (documents are not modified)."""
    view = ReportView(masked=masked)
    hosts: dict[str, HostView] = {}
    for raw in documents:
        doc = mask_document(raw) if masked else raw
        run = doc.get("run") or {}
        view.runs.append({"id": run.get("id") or "", "started": run.get("started") or "?", "kind": doc.get("kind", "")})
        if doc.get("kind") == "scan":
            view.other_targets += _add_scan(hosts, doc)
        elif doc.get("kind") in HUNT_KINDS:
            _add_hunt(view, hosts, doc)
    view.findings.sort(key=lambda f: (-f.severity.rank, time_key(f.first_seen), f.host, f.rule))
    view.timeline.sort(key=lambda e: (time_key(e.time), e.host))
    hashes = {i.path: i.sha256 for i in view.inputs if i.sha256}
    for host in hosts.values():
        host.findings = [f for f in view.findings if f.host == host.name]
        host.plan = plan_for(host, hashes, len(view.errors))
    view.file_hashes = {p: hashes[p] for p in view.indicators.files if p in hashes}
    view.hosts = sorted(hosts.values(), key=_host_order)
    return view


def _host_order(h: HostView) -> tuple[int, int, str]:
    return (-(h.verdict.rank if h.verdict else -1), -(h.exposure.rank if h.exposure else -1), h.name.lower())


def _add_scan(hosts: dict[str, HostView], doc: dict[str, Any]) -> int:
    skipped = 0
    for item in doc.get("results", []):
        result = scan_result_from_dict(item)
        if not (result.reachable and result.exchange):
            skipped += 1
            continue
        key = normalise_host(result.target)
        host = hosts.setdefault(key, HostView(name=key))
        host.targets.append(result.target)
        host.scans.append(result)
        host.build = host.build or result.build
        _merge_cves(host, result.cves)
    return skipped


def _merge_cves(host: HostView, cves: list[CveStatus]) -> None:
    known = {c.cve: c for c in host.cves}
    for c in cves:
        if c.cve not in known or c.status.rank > known[c.cve].status.rank:
            known[c.cve] = c
    host.cves = sorted(known.values(), key=lambda c: c.cve)


def _hunt_host(hosts: dict[str, HostView], name: str) -> HostView:
    key = name.lower()
    if key in hosts:
        return hosts[key]
    matches = [h for k, h in hosts.items() if _same_host(k, key)]
    if len(matches) == 1:
        if name not in matches[0].aliases:
            matches[0].aliases.append(name)
        return matches[0]
    return hosts.setdefault(key, HostView(name=name))


def _add_hunt(view: ReportView, hosts: dict[str, HostView], doc: dict[str, Any]) -> None:
    for item in doc.get("hosts", []):
        verdict = host_verdict_from_dict(item)
        host = _hunt_host(hosts, verdict.host)
        host.hunted = True
        if host.verdict is None or verdict.verdict.rank > host.verdict.rank:
            host.verdict = verdict.verdict
        host.reasons += [r for r in verdict.reasons if r not in host.reasons]
        host.coverage += verdict.coverage
        host.build = host.build or verdict.build
        if not host.scans:
            _merge_cves(host, verdict.cves)
    for item in doc.get("findings", []):
        finding = finding_from_dict(item).finalize()
        if doc.get("kind") == "webshells" and finding.source and finding.source.path not in finding.indicators.files:
            finding.indicators.files.append(finding.source.path)  # the web shell file itself is the indicator
        host = _hunt_host(hosts, finding.host)
        finding.host = host.name
        if host.verdict is None:
            host.hunted, host.verdict = True, Verdict.NO_EVIDENCE
        view.findings.append(finding)
        view.indicators.merge(finding.indicators)
    for item in doc.get("timeline", []):
        event = timeline_event_from_dict(item)
        if parse_iso_safe(event.time) is not None:
            event.host = _hunt_host(hosts, event.host).name if event.host else event.host
            view.timeline.append(event)
    view.inputs += [InputFile(**_known(InputFile, i)) for i in doc.get("inputs", [])]
    view.errors += [ErrorEntry(**_known(ErrorEntry, e)) for e in doc.get("errors", [])]


def time_key(text: str | None) -> datetime:
    """Sort key for ISO 8601 strings that may differ in precision or offset notation (unparsable last)."""
    parsed = parse_iso_safe(text)
    if parsed is None:
        return datetime.max.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_iso_safe(text: str | None) -> Any:
    try:
        return parse_iso(text)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- remediation


_FAMILY_MITIGATION = (
    ({"CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858", "CVE-2021-27065"}, "mit_proxylogon"),
    ({"CVE-2022-41040", "CVE-2022-41082"}, "mit_proxynotshell"),
    ({"CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207"}, "mit_proxyshell"),
)


def plan_for(host: HostView, hashes: dict[str, str], error_count: int) -> Plan:
    """The remediation plan of one server: update, interim mitigations, files, credentials, next checks."""
    plan = Plan(scanned=bool(host.scans) or bool(host.cves))
    open_cves = host.open_cves
    plan.fixes = [FixLine(c.cve, c.fix) for c in open_cves]
    best = _max_build([c.fix for c in open_cves if c.fix])
    plan.best_fix = f"install {best}" if best and best[0].isdigit() else best  # KB fixes name a build or an action
    plan.up_to_date = plan.scanned and not open_cves
    if open_cves:
        ids = {c.cve for c in open_cves}
        plan.mitigations = [key for family, key in _FAMILY_MITIGATION if family & ids] + ["mit_generic"]
    for scan in host.scans:
        plan.observed_mitigations += [_describe(m) for m in scan.mitigations]
    plan.remove = _files_to_remove(host, hashes)
    plan.credentials = _credential_actions(host)
    plan.next_checks = _next_checks(host, error_count)
    return plan


def _describe(mitigation: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in mitigation.items())


def is_system_file(path: str) -> bool:
    """A Windows file the attacker used but did not bring (``cmd.exe``, ``rundll32.exe``): never to remove or share.

    Everything under ``C:\\Windows`` counts, except the temp folders and the ASP.NET compilation folder, where
    attackers drop dumps, archives and compiled web shells.
    """
    text = path.replace("/", "\\").lower()
    in_windows = re.match(r"^(?:[a-z]:|%systemroot%|%windir%)?\\windows\\", text) is not None or text.startswith(
        ("%systemroot%", "%windir%")
    )
    return in_windows and "\\temp\\" not in text and "temporary asp.net files" not in text


def _files_to_remove(host: HostView, hashes: dict[str, str]) -> list[RemovalItem]:
    """Files named by persistence or post-exploitation findings, or by any finding of high severity or worse."""
    paths: list[str] = []
    for finding in host.findings:
        if finding.stage in ("persistence", "post") or finding.severity.rank >= Severity.HIGH.rank:
            paths += [p for p in finding.indicators.files if p not in paths and not is_system_file(p)]
    return [RemovalItem(p, hashes.get(p)) for p in paths]


def _credential_actions(host: HostView) -> list[str]:
    texts = [" ".join([f.rule, f.title, f.evidence, " ".join(f.attack)]) for f in host.findings]
    actions = []
    if any(_CRED_THEFT.search(t) or "T1003" in t for t in texts):
        actions.append("cred_theft")
    if any(_ADMIN_ABUSE.search(t) or "T1098" in t or "T1136" in t for t in texts):
        actions.append("cred_admin")
    if not actions and host.verdict == Verdict.COMPROMISED:
        actions.append("cred_compromised")
    return actions


def _next_checks(host: HostView, error_count: int) -> list[tuple[str, dict[str, Any]]]:
    checks: list[tuple[str, dict[str, Any]]] = []
    if not host.hunted:
        # a server patched late may have been compromised before: only its logs can tell
        checks.append(("next_hunt" if host.open_cves else "next_hunt_patched", {}))
        return checks
    if not host.coverage:
        checks.append(("next_no_logs", {}))
    for cov in host.coverage:
        if cov.records and cov.days < _SHORT_LOGS_DAYS:
            checks.append(("next_short_logs", {"artifact": cov.artifact, "days": f"{cov.days:.1f}", "first": cov.first or "?"}))
        if cov.gaps:
            checks.append(("next_gaps", {"artifact": cov.artifact, "count": len(cov.gaps)}))
    if host.verdict in (Verdict.COMPROMISED, Verdict.EXPLOITED):
        checks += [("next_lateral", {}), ("next_other_servers", {})]
    elif host.verdict == Verdict.ATTEMPTED and host.findings:
        first = min((f.first_seen for f in host.findings if f.first_seen), default="?")
        checks.append(("next_attempted", {"first": first}))
    if error_count:
        checks.append(("next_errors", {"count": error_count}))
    return checks
