"""Correlation: what the attacker showed in one source raises findings in the others; the timeline.

An address that ran the SSRF, a tool user agent, or the URL of a web shell found on disk are searched
again in every web log of the host (bytes first: a file that does not contain the token is not
parsed a second time). Requests that no single-record rule caught become findings of their own, so
the responder sees the attacker's whole session, not only the lines that matched a pattern.

References: ARCHITECTURE.md ("correlation by IP and time"); reference/published-attack-examples.md
§3 (shell write locations → URLs), §1e (web shell paths under FrontEnd\\HttpProxy).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from exaudit.detect.engine import Hit, RecordView, Rule, make_hit
from exaudit.detect.prefilter import LineScanner
from exaudit.detect.verdict import counts
from exaudit.model import Finding, Severity, TimelineEvent
from exaudit.parsers.base import Record

WEB_ARTIFACTS = frozenset({"iis", "httpproxy", "rps_http"})
IP_FIELDS = ("c-ip", "ClientIpAddress")
UA_FIELDS = ("cs(User-Agent)", "UserAgent")
STEM_FIELDS = ("cs-uri-stem", "UrlStem")
_WEB_ROOTS = (
    ("\\frontend\\httpproxy\\", "/"),  # ...\FrontEnd\HttpProxy\owa\auth\x.aspx -> /owa/auth/x.aspx
    ("\\inetpub\\wwwroot\\", "/"),  # C:\inetpub\wwwroot\aspnet_client\x.aspx -> /aspnet_client/x.aspx
)
_STRONG_STAGES = ("exploit", "persistence", "post")


@dataclass
class AttackerIndicators:
    ips: set[str] = field(default_factory=set)
    user_agents: set[str] = field(default_factory=set)
    shell_urls: set[str] = field(default_factory=set)  # lower-case URL paths

    def tokens(self) -> list[bytes]:
        """Literal byte strings a web log must contain to be worth a second look."""
        out = [ip.encode() for ip in self.ips]
        out += [ua.replace(" ", "+").encode() for ua in self.user_agents] + [ua.encode() for ua in self.user_agents]
        out += [url.encode() for url in self.shell_urls]
        return out

    def __bool__(self) -> bool:
        return bool(self.ips or self.user_agents or self.shell_urls)


def _public_or_routable(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip.split("%")[0])
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_unspecified)


def url_of_web_file(path: str) -> str | None:
    """The URL path a file under an IIS web root answers to, if any (lower case)."""
    low = path.replace("/", "\\").lower()
    for root, prefix in _WEB_ROOTS:
        if root in low:
            return prefix + low.split(root, 1)[1].replace("\\", "/")
    return None


def attacker_indicators(findings: Iterable[Finding]) -> AttackerIndicators:
    """Indicators from findings strong enough to trust (stage exploit or later, counted)."""
    ind = AttackerIndicators()
    for f in findings:
        if f.stage not in _STRONG_STAGES or not counts(f):
            continue
        ind.ips.update(ip for ip in f.indicators.ips if _public_or_routable(ip))
        # Browser-like agents would drag in every user; only tool agents identify the attacker.
        ind.user_agents.update(ua for ua in f.indicators.user_agents if ua and not ua.lower().startswith("mozilla/"))
        for path in f.indicators.files:
            url = url_of_web_file(path)
            if url and url.endswith((".aspx", ".ashx", ".asmx", ".asp")):
                ind.shell_urls.add(url)
    return ind


def _related(view: RecordView, ind: AttackerIndicators) -> str | None:
    """Why a web record belongs to the attacker, or None."""
    ip = view.first(IP_FIELDS)
    if ip in ind.ips:
        return f"address {ip}"
    ua = view.first(UA_FIELDS).replace("+", " ")
    if ua and any(ua == u.replace("+", " ") for u in ind.user_agents):
        return f"user agent {ua}"
    stem = view.first(STEM_FIELDS).lower()
    if stem and stem in ind.shell_urls:
        return f"web shell URL {stem}"
    return None


CORRELATED_RULE = Rule(
    id="correlated-attacker-activity",
    title="Other requests by the attacker (same address, tool user agent or web shell URL)",
    artifacts=tuple(WEB_ARTIFACTS),
    condition=lambda _v: True,
    severity=Severity.MEDIUM,
    confidence="medium",
    stage="attempt",
    attack=["T1190"],
    indicators={"ips": IP_FIELDS, "urls": STEM_FIELDS, "user_agents": UA_FIELDS},
    group_by=IP_FIELDS,
    description="Seen in another source with a successful exploitation step; no rule matched this line alone.",
)
SHELL_USE_RULE = Rule(
    id="correlated-webshell-access",
    title="Request to a web shell found on this host",
    artifacts=tuple(WEB_ARTIFACTS),
    condition=lambda _v: True,
    severity=Severity.HIGH,
    confidence="high",
    stage="post",
    attack=["T1505.003"],
    indicators={"ips": IP_FIELDS, "urls": STEM_FIELDS, "user_agents": UA_FIELDS},
    group_by=STEM_FIELDS,
    success=lambda v: v.first(("sc-status", "HttpStatus")) == "200",
    attempt_severity=Severity.MEDIUM,
)


def correlated_hits(records: Iterable[Record], ind: AttackerIndicators, already: set[tuple[str, int]]) -> Iterator[Hit]:
    """Hits for attacker records that no rule matched on the first pass."""
    for record in records:
        if record.artifact not in WEB_ARTIFACTS or (record.path, record.line) in already:
            continue
        view = RecordView(record)
        why = _related(view, ind)
        if why is None:
            continue
        rule = SHELL_USE_RULE if why.startswith("web shell URL") else CORRELATED_RULE
        yield make_hit(rule, view)


def relates(record: Record, ind: AttackerIndicators) -> bool:
    """Could ``correlated_hits`` raise a hit for this record (the ``already`` test aside)?"""
    return record.artifact in WEB_ARTIFACTS and _related(RecordView(record), ind) is not None


def _line_regex(text: str) -> bytes | None:
    """A token as Hyperscan/``re`` bytes: a space or ``+`` matches either (IIS writes spaces as ``+``);
    a quote also as a doubled quote (CSV). Non-ASCII tokens need none: such lines are candidates anyway."""
    if not text or not text.isascii():
        return None
    out = []
    for ch in text:
        if ch in " +":
            out.append("[ +]")
        elif ch == '"':
            out.append('"{1,2}')
        else:
            out.append(re.escape(ch))
    return "".join(out).encode("ascii")


def related_records_scanner(ind: AttackerIndicators) -> LineScanner:
    """The line scanner of the correlation pass: addresses, tool user agents, web shell URLs."""
    return _scanner_for(frozenset(ind.ips), frozenset(ind.user_agents), frozenset(ind.shell_urls))


@functools.lru_cache(maxsize=8)
def _scanner_for(ips: frozenset[str], agents: frozenset[str], urls: frozenset[str]) -> LineScanner:
    patterns = {p for p in map(_line_regex, sorted(ips | agents | urls)) if p}
    return LineScanner([], extra_patterns=sorted(patterns), special_lines=True)


def file_may_relate(read_chunks: Callable[[], Iterator[bytes]], tokens: list[bytes]) -> bool:
    """Bytes first: does the file contain any token at all (case-insensitive for URLs)?

    Tokens are also searched as UTF-16 (logs re-saved by Windows tools): the parsers read those files too."""
    lowered = [t.lower() for t in tokens]
    lowered += [t.decode("latin-1").encode(codec) for t in lowered for codec in ("utf-16-le", "utf-16-be")]
    tail = b""
    keep = max((len(t) for t in lowered), default=1)
    for chunk in read_chunks():
        data = tail + chunk.lower()
        if any(t in data for t in lowered):
            return True
        tail = data[-keep:]
    return False


def timeline(findings: Iterable[Finding], limit: int = 5000) -> list[TimelineEvent]:
    """First (and last, when different) sighting of every finding, oldest first."""
    events: list[TimelineEvent] = []
    for f in findings:
        if f.first_seen:
            events.append(TimelineEvent(f.first_seen, f.host, f.rule, f"{f.title} - first of {f.count}", f.source, f.id))
        if f.last_seen and f.last_seen != f.first_seen:
            events.append(TimelineEvent(f.last_seen, f.host, f.rule, f"{f.title} - last of {f.count}", None, f.id))
    events.sort(key=lambda e: (e.time, e.host, e.rule))
    return events[:limit]
