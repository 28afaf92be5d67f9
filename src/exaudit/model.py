"""The one result model: every command writes it, every renderer reads it.

JSON is the canonical form (``SCHEMA``). All timestamps are ISO 8601 strings in UTC
(``2021-03-03T04:05:06Z``); helpers below produce and read them.

Document shapes (stable, pinned by tests):

* scan:  ``{"schema", "kind": "scan", "run", "results": [ScanResult]}``
* hunt:  ``{"schema", "kind": "hunt", "run", "hosts": [HostVerdict], "findings": [Finding],
  "timeline": [TimelineEvent], "inputs": [InputFile], "errors": [ErrorEntry]}``
* webshells: same shape as hunt (``"kind": "webshells"``).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SCHEMA = "exaudit/1"


class Status(enum.StrEnum):
    """Exposure of one build to one CVE."""

    VULNERABLE = "vulnerable"
    POSSIBLY_VULNERABLE = "possibly_vulnerable"
    NOT_VULNERABLE = "not_vulnerable"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Higher is worse; used to pick a target's worst status."""
        return {"vulnerable": 3, "possibly_vulnerable": 2, "unknown": 1, "not_vulnerable": 0}[self.value]

    @property
    def actionable(self) -> bool:
        """Something to act on: install a fix or verify what the build cannot show."""
        return self in (Status.VULNERABLE, Status.POSSIBLY_VULNERABLE)


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return ["info", "low", "medium", "high", "critical"].index(self.value)


class Verdict(enum.StrEnum):
    """Per-host conclusion of a hunt, strongest first."""

    COMPROMISED = "compromised"  # attacker code or credential theft evidenced
    EXPLOITED = "exploited"  # a successful exploitation step, no persistence seen
    ATTEMPTED = "attempted"  # probes or failed tries only
    NO_EVIDENCE = "no_evidence"  # never "clean": read together with coverage

    @property
    def rank(self) -> int:
        return ["no_evidence", "attempted", "exploited", "compromised"].index(self.value)


class Precision(enum.StrEnum):
    """How much of a build a fingerprint revealed."""

    EXACT = "exact"  # all four parts: CU and SU known
    CU = "cu"  # three parts: CU known, SU level unknown
    NONE = "none"


# --------------------------------------------------------------------------- time


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``; naive datetimes are taken as UTC (IIS logs are UTC)."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    ts = ts.astimezone(UTC)
    text = ts.isoformat(timespec="milliseconds" if ts.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- exposure


@dataclass
class CveStatus:
    """The knowledge base's decision for one (build, CVE)."""

    cve: str
    status: Status
    reason: str
    fix: str | None = None  # what to install: "15.1.2176.9 (Mar21SU, KB5000871)" or a CU


@dataclass
class ScanResult:
    """One target as the scanner saw it."""

    target: str  # exactly as the user gave it, or "address:port" for a CIDR member
    url: str | None = None
    reachable: bool = False
    exchange: bool = False
    product: str | None = None  # "2010", "2013", "2016", "2019", "SE"
    build: str | None = None  # "15.1.2176.9" or "15.1.2176" (precision cu)
    build_precision: Precision = Precision.NONE
    build_method: str | None = None  # which fingerprint gave the build
    cves: list[CveStatus] = field(default_factory=list)
    mitigations: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def worst(self) -> Status | None:
        return worst_status(self.cves)


def worst_status(cves: list[CveStatus]) -> Status | None:
    """The worst status over a target's CVEs; None when no build was learnt."""
    return max((c.status for c in cves), key=lambda s: s.rank, default=None)


# --------------------------------------------------------------------------- compromise


@dataclass
class SourceRef:
    """Where a finding was seen: the path as the server saw it and the line or record number."""

    path: str
    line: int | None = None


@dataclass
class Indicators:
    ips: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)

    def merge(self, other: Indicators) -> None:
        for name in ("ips", "files", "urls", "user_agents"):
            mine: list[str] = getattr(self, name)
            for value in getattr(other, name):
                if value not in mine:
                    mine.append(value)

    def is_empty(self) -> bool:
        return not (self.ips or self.files or self.urls or self.user_agents)


@dataclass
class Finding:
    """One detection on one host. ``evidence`` is raw text (attacker-controlled: escape on output)."""

    rule: str
    title: str
    host: str
    severity: Severity
    confidence: str = "medium"  # low | medium | high
    cves: list[str] = field(default_factory=list)
    attack: list[str] = field(default_factory=list)  # ATT&CK technique ids
    first_seen: str | None = None
    last_seen: str | None = None
    count: int = 1
    source: SourceRef | None = None
    evidence: str = ""
    indicators: Indicators = field(default_factory=Indicators)
    references: list[str] = field(default_factory=list)
    stage: str = "attempt"  # attempt | exploit | persistence | post (drives the verdict)
    id: str = ""  # stable content hash, filled by ``finalize``
    details: dict[str, Any] = field(default_factory=dict)  # detector-specific facts (file size, SHA-256, reasons …)

    def finalize(self) -> Finding:
        if not self.id:
            basis = "|".join(
                [
                    self.rule,
                    self.host,
                    self.source.path if self.source else "",
                    str(self.source.line if self.source else ""),
                    self.first_seen or "",
                ]
            )
            self.id = hashlib.sha256(basis.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return self


@dataclass
class Coverage:
    """How far back one log type lets us see on one host."""

    artifact: str
    files: int = 0
    records: int = 0
    first: str | None = None
    last: str | None = None
    days: float = 0.0
    gaps: list[dict[str, str]] = field(default_factory=list)


@dataclass
class HostVerdict:
    host: str
    verdict: Verdict = Verdict.NO_EVIDENCE
    reasons: list[str] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)
    build: str | None = None  # the Exchange build the evidence revealed, if any
    cves: list[CveStatus] = field(default_factory=list)


@dataclass
class TimelineEvent:
    time: str
    host: str
    rule: str
    message: str
    source: SourceRef | None = None
    finding: str | None = None  # Finding.id


@dataclass
class InputFile:
    """One evidence file read: chain of custody."""

    path: str  # as the server saw it
    sha256: str | None = None
    artifact: str | None = None
    records: int = 0
    errors: int = 0
    size: int | None = None
    host: str | None = None
    origin: str | None = None  # where we read it (local path, zip member)


@dataclass
class ErrorEntry:
    """Errors are data: a damaged file or an unreachable target does not stop the run."""

    where: str
    kind: str  # damaged | lfs_pointer | empty | wrong_format | unreadable | timeout | ...
    message: str


@dataclass
class RunInfo:
    id: str
    command: str
    started: str
    finished: str | None = None
    args: list[str] = field(default_factory=list)
    version: str = ""


# --------------------------------------------------------------------------- JSON


def to_jsonable(obj: Any) -> Any:
    """Dataclasses → dicts, enums → values, recursively. The canonical JSON form."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, datetime):
        return iso(obj)
    return obj


def cve_status_from_dict(d: dict[str, Any]) -> CveStatus:
    return CveStatus(cve=d["cve"], status=Status(d["status"]), reason=d["reason"], fix=d.get("fix"))


def finding_from_dict(d: dict[str, Any]) -> Finding:
    src = d.get("source")
    return Finding(
        rule=d["rule"],
        title=d["title"],
        host=d["host"],
        severity=Severity(d["severity"]),
        confidence=d.get("confidence", "medium"),
        cves=list(d.get("cves", [])),
        attack=list(d.get("attack", [])),
        first_seen=d.get("first_seen"),
        last_seen=d.get("last_seen"),
        count=d.get("count", 1),
        source=SourceRef(**src) if src else None,
        evidence=d.get("evidence", ""),
        indicators=Indicators(**d.get("indicators", {})),
        references=list(d.get("references", [])),
        stage=d.get("stage", "attempt"),
        details=dict(d.get("details", {})),
        id=d.get("id", ""),
    )


def scan_result_from_dict(d: dict[str, Any]) -> ScanResult:
    return ScanResult(
        target=d["target"],
        url=d.get("url"),
        reachable=d.get("reachable", False),
        exchange=d.get("exchange", False),
        product=d.get("product"),
        build=d.get("build"),
        build_precision=Precision(d.get("build_precision", "none")),
        build_method=d.get("build_method"),
        cves=[cve_status_from_dict(c) for c in d.get("cves", [])],
        mitigations=list(d.get("mitigations", [])),
        probes=list(d.get("probes", [])),
        error=d.get("error"),
    )
