"""The rule engine: single-record detections written as data (``rules/*.yaml``), compiled once.

A rule names the artifacts it reads, a condition on named vendor fields, what counts as success
(else the hit is only an attempt), and which fields hold indicators. Logic across records lives in
Python modules beside this one (``proxylogon``, ``correlate``, ``verdict``).

Condition grammar (YAML)::

    condition:
      all: [ ... ]              # every item true
      any: [ ... ]              # at least one true
      not: { ... }              # negation
      field: cs-uri-stem        # or a list of names (the first present one is used); "_raw" is the
                                # line, "_text" every field value joined (for keyword rules)
      decode: true              # percent-decode (twice) before matching: ProxyNotShell spellings
      like: 'ServerInfo~*/*'    # PowerShell -like: case-insensitive, whole string, * ? [..]
      contains: [a, b]          # any substring (case-insensitive); contains_all: every substring
      startswith / endswith / equals / regex: [..]
      empty: true               # value is empty or "-"

References: PowerShell ``-like`` semantics as Test-ProxyLogon uses them (reference
microsoft-css-exchange.md §0, §1.4); the Sigma ``webserver`` and ``msexchange-management`` rule shapes
(peer-tools-and-iocs.md §4).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from exaudit.model import Finding, Indicators, Severity, SourceRef, iso
from exaudit.parsers.base import Record

RULES_DIR = Path(__file__).resolve().parent / "rules"
STAGES = ("attempt", "exploit", "persistence", "post")
LINE_ARTIFACTS = frozenset({"iis", "httpproxy", "ecp_server", "ecp_activity", "oabgen", "rps_http", "rps_cmdlet", "local_powershell"})
EVIDENCE_CHARS = 600  # excerpt length kept in a finding
MAX_INDICATORS = 25  # per kind and finding: enough to act on, bounded for hostile input

Predicate = Callable[["RecordView"], bool]


class RuleError(ValueError):
    """A rule file is malformed; the message names the rule and the problem."""


class RecordView:
    """Case-insensitive, cached access to one record's fields (vendor names differ in case across versions)."""

    __slots__ = ("_lower", "_text", "record")

    def __init__(self, record: Record) -> None:
        self.record = record
        self._lower: dict[str, str] | None = None
        self._text: str | None = None

    def get(self, name: str) -> str:
        if name == "_raw":
            return self.record.raw or self.text()
        if name == "_text":
            return self.text()
        value = self.record.fields.get(name)
        if value is not None:
            return value
        return self._case_insensitive(name)

    def _case_insensitive(self, name: str) -> str:
        if self._lower is None:
            self._lower = {k.lower(): v for k, v in self.record.fields.items() if v is not None}
        return self._lower.get(name.lower(), "")

    def first(self, names: tuple[str, ...]) -> str:
        """The first non-empty of several names: exact names first (cheap), then ignoring case."""
        fields = self.record.fields
        for name in names:
            value = self.get(name) if name[0] == "_" else fields.get(name)
            if value:
                return value
        if any(name in fields for name in names):
            return ""  # present but empty
        for name in names:
            value = self._case_insensitive(name)
            if value:
                return value
        return ""

    def prefilter_text(self) -> str:
        """Lower-cased text for keyword tests: a log line's raw text holds all its fields (cheap);
        an event's raw is a compact rendering, so events use every field value."""
        if self.record.raw and self.record.artifact in LINE_ARTIFACTS:
            return self.record.raw.lower()
        return self.text().lower()

    def text(self) -> str:
        if self._text is None:
            parts = [str(v) for v in self.record.fields.values() if v]
            if self.record.raw:
                parts.append(self.record.raw)
            self._text = "\n".join(parts)
        return self._text


# --------------------------------------------------------------------------- compiling conditions


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """PowerShell ``-like``: case-insensitive, whole string; ``*`` any run, ``?`` one char, ``[..]`` a class."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out.append("[" + re.escape(pattern[i + 1 : end]) + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def like_matcher(pattern: str) -> Callable[[str], bool]:
    """``-like`` in linear time when the pattern only uses ``*`` (all packaged rules): the literal pieces
    must appear in order, the first as a prefix and the last as a suffix. A regex with several ``.*``
    backtracks polynomially on hostile input (an attacker writes AnchorMailbox and URLs)."""
    if "?" in pattern or "[" in pattern:
        rx = like_to_regex(pattern)
        return lambda v: rx.fullmatch(v) is not None
    pieces = pattern.lower().split("*")
    head, tail, middle = pieces[0], pieces[-1], pieces[1:-1]
    if len(pieces) == 1:
        return lambda v: v.lower() == head

    def match(value: str) -> bool:
        v = value.lower()
        if len(v) < len(head) + len(tail) or not v.startswith(head) or not v.endswith(tail):
            return False
        pos, end = len(head), len(v) - len(tail)
        for piece in middle:
            found = v.find(piece, pos, end)
            if found < 0:
                return False
            pos = found + len(piece)
        return True

    return match


def percent_decode(value: str) -> str:
    """Decode twice: ``%2550owershell`` and ``%50owershell`` both read ``powershell``."""
    return unquote(unquote(value.replace("+", " ")))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _value_test(spec: dict[str, Any], where: str) -> Callable[[str], bool]:
    """The test applied to one field value."""
    tests: list[Callable[[str], bool]] = []
    if "like" in spec:
        likes = [like_matcher(p) for p in _as_list(spec["like"])]
        tests.append(lambda v: any(m(v) for m in likes))
    if "regex" in spec:
        try:
            rx = [re.compile(p, re.IGNORECASE) for p in _as_list(spec["regex"])]
        except re.error as exc:
            raise RuleError(f"{where}: bad regex: {exc}") from exc
        tests.append(lambda v: any(r.search(v) for r in rx))
    if "contains" in spec:
        subs = [s.lower() for s in _as_list(spec["contains"])]
        tests.append(lambda v: any(s in v.lower() for s in subs))
    if "contains_all" in spec:
        subs_all = [s.lower() for s in _as_list(spec["contains_all"])]
        tests.append(lambda v: all(s in v.lower() for s in subs_all))
    if "startswith" in spec:
        pre = tuple(s.lower() for s in _as_list(spec["startswith"]))
        tests.append(lambda v: v.lower().startswith(pre))
    if "endswith" in spec:
        suf = tuple(s.lower() for s in _as_list(spec["endswith"]))
        tests.append(lambda v: v.lower().endswith(suf))
    if "equals" in spec:
        vals = {s.lower() for s in _as_list(spec["equals"])}
        tests.append(lambda v: v.lower() in vals)
    if "empty" in spec:
        want = bool(spec["empty"])
        tests.append(lambda v: (v.strip() in ("", "-")) == want)
    if not tests:
        raise RuleError(f"{where}: condition on a field needs an operator (like, contains, regex, ...)")
    return lambda v: all(t(v) for t in tests)


def compile_condition(spec: Any, where: str) -> Predicate:
    """Turn a YAML condition into a predicate on a ``RecordView``."""
    if not isinstance(spec, dict):
        raise RuleError(f"{where}: a condition must be a mapping, got {type(spec).__name__}")
    if "all" in spec:
        parts = [compile_condition(s, where) for s in spec["all"]]
        return lambda r: all(p(r) for p in parts)
    if "any" in spec:
        alts = [compile_condition(s, where) for s in spec["any"]]
        return lambda r: any(p(r) for p in alts)
    if "not" in spec:
        inner = compile_condition(spec["not"], where)
        return lambda r: not inner(r)
    if "field" not in spec:
        raise RuleError(f"{where}: condition needs all, any, not or field")
    names = tuple(_as_list(spec["field"]))
    test = _value_test(spec, where)
    if spec.get("decode"):
        return lambda r: test(percent_decode(r.first(names)))
    return lambda r: test(r.first(names))


# --------------------------------------------------------------------------- rules


@dataclass
class Rule:
    id: str
    title: str
    artifacts: tuple[str, ...]
    condition: Predicate
    severity: Severity
    confidence: str = "medium"
    stage: str = "attempt"
    cves: list[str] = field(default_factory=list)
    attack: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    keywords: tuple[str, ...] = ()  # lower-case literals: a record without any of them cannot match
    success: Predicate | None = None  # absent: every hit is at the rule's stage
    indicators: dict[str, tuple[str, ...]] = field(default_factory=dict)
    group_by: tuple[str, ...] = ()  # the first non-empty of these splits findings (default: the IP fields)
    attempt_severity: Severity = Severity.MEDIUM  # ceiling when ``success`` does not hold
    description: str = ""
    source: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the YAML it came from

    def indicators_of(self, view: RecordView) -> Indicators:
        ind = Indicators()
        for kind in ("ips", "files", "urls", "user_agents"):
            for name in self.indicators.get(kind, ()):
                value = view.get(name).strip()
                if value and value != "-" and value not in getattr(ind, kind):
                    getattr(ind, kind).append(value)
        return ind


def _rule_from_dict(d: dict[str, Any], source: str) -> Rule:
    rid = d.get("id")
    where = f"{source}: rule {rid or '?'}"
    for key in ("id", "title", "artifact", "condition", "severity"):
        if key not in d:
            raise RuleError(f"{where}: missing {key!r}")
    stage = d.get("stage", "attempt")
    if stage not in STAGES:
        raise RuleError(f"{where}: stage must be one of {STAGES}")
    try:
        severity = Severity(d["severity"])
    except ValueError as exc:
        raise RuleError(f"{where}: unknown severity {d['severity']!r}") from exc
    success = compile_condition(d["success"], where) if "success" in d else None
    inds = {k: tuple(_as_list(v)) for k, v in (d.get("indicators") or {}).items()}
    group = tuple(_as_list(d.get("group_by"))) or inds.get("ips", ())
    return Rule(
        id=str(rid),
        title=str(d["title"]),
        artifacts=tuple(_as_list(d["artifact"])),
        condition=compile_condition(d["condition"], where),
        severity=severity,
        confidence=str(d.get("confidence", "medium")),
        stage=stage,
        cves=_as_list(d.get("cves")),
        attack=_as_list(d.get("attack")),
        references=_as_list(d.get("references")),
        keywords=tuple(k.lower() for k in _as_list(d.get("keywords"))),
        success=success,
        indicators=inds,
        group_by=group,
        attempt_severity=Severity(d.get("attempt_severity", "medium")),
        description=str(d.get("description", "")).strip(),
        source=d,
    )


def load_rules_from(paths: Iterable[Path]) -> list[Rule]:
    rules: list[Rule] = []
    seen: set[str] = set()
    for path in sorted(paths):
        try:
            docs = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as exc:
            raise RuleError(f"{path.name}: not valid YAML: {exc}") from exc
        for d in docs:
            rule = _rule_from_dict(d, path.name)
            if rule.id in seen:
                raise RuleError(f"{path.name}: duplicate rule id {rule.id}")
            seen.add(rule.id)
            rules.append(rule)
    return rules


@functools.lru_cache(maxsize=1)
def load_rules() -> tuple[Rule, ...]:
    """The packaged rules, loaded and compiled once per process."""
    return tuple(load_rules_from(RULES_DIR.glob("*.yaml")))


# --------------------------------------------------------------------------- matching


@dataclass
class Hit:
    """One record that matched one rule, with the stage it reached."""

    rule: Rule
    record: Record
    stage: str
    severity: Severity
    indicators: Indicators
    group: str = ""


@dataclass
class _ArtifactRules:
    always: list[Rule]  # rules without keywords: every record is evaluated
    by_keyword: dict[str, list[Rule]]


def _index(rules: list[Rule]) -> _ArtifactRules:
    by_keyword: dict[str, list[Rule]] = {}
    for rule in rules:
        for keyword in rule.keywords:
            by_keyword.setdefault(keyword, []).append(rule)
    return _ArtifactRules([r for r in rules if not r.keywords], by_keyword)


class RuleSet:
    """Rules indexed by artifact. Bytes first: a record is tested for each distinct rule keyword with a
    plain substring search (C speed; a regex alternation was ten times slower), and only rules with a
    keyword present (or with none) evaluate their conditions."""

    def __init__(self, rules: Iterable[Rule] | None = None) -> None:
        self.rules = tuple(load_rules() if rules is None else rules)
        grouped: dict[str, list[Rule]] = {}
        for rule in self.rules:
            for art in rule.artifacts:
                grouped.setdefault(art, []).append(rule)
        self.by_artifact = {art: _index(rules) for art, rules in grouped.items()}

    def artifacts(self) -> set[str]:
        return set(self.by_artifact)

    def candidates(self, view: RecordView, index: _ArtifactRules) -> list[Rule]:
        rules = list(index.always)
        text = view.prefilter_text()
        for keyword, keyed in index.by_keyword.items():
            if keyword in text:
                rules.extend(r for r in keyed if r not in rules)
        return rules

    def match(self, record: Record) -> list[Hit]:
        index = self.by_artifact.get(record.artifact)
        if index is None:
            return []
        view = RecordView(record)
        return [make_hit(rule, view) for rule in self.candidates(view, index) if rule.condition(view)]


def make_hit(rule: Rule, view: RecordView) -> Hit:
    stage, severity = rule.stage, rule.severity
    if rule.success is not None and not rule.success(view):
        # Tried but did not succeed: an attempt, never above medium (users asked for attempt vs success).
        stage = "attempt"
        severity = min(severity, rule.attempt_severity, key=lambda s: s.rank)
    group = view.first(rule.group_by)
    return Hit(rule=rule, record=view.record, stage=stage, severity=severity, indicators=rule.indicators_of(view), group=group)


# --------------------------------------------------------------------------- hits → findings


def _cap(ind: Indicators) -> Indicators:
    for kind in ("ips", "files", "urls", "user_agents"):
        del getattr(ind, kind)[MAX_INDICATORS:]
    return ind


def excerpt(text: str) -> str:
    text = text.replace("\r", " ").replace("\n", " ")
    return text if len(text) <= EVIDENCE_CHARS else text[:EVIDENCE_CHARS] + "…"


def findings_from_hits(hits: Iterable[Hit], host: str) -> list[Finding]:
    """One finding per (rule, stage, group): count, first and last seen, the earliest record as evidence."""
    groups: dict[tuple[str, str, str], Finding] = {}
    for hit in hits:
        key = (hit.rule.id, hit.stage, hit.group)
        ts = iso(hit.record.time)
        finding = groups.get(key)
        if finding is None:
            rule = hit.rule
            title = rule.title if hit.stage == rule.stage else f"{rule.title} (attempt, not successful)"
            groups[key] = Finding(
                rule=rule.id,
                title=title,
                host=host,
                severity=hit.severity,
                confidence=rule.confidence,
                cves=list(rule.cves),
                attack=list(rule.attack),
                first_seen=ts,
                last_seen=ts,
                source=SourceRef(hit.record.path, hit.record.line),
                evidence=excerpt(hit.record.raw or RecordView(hit.record).text()),
                indicators=Indicators(**{k: list(getattr(hit.indicators, k)) for k in ("ips", "files", "urls", "user_agents")}),
                references=list(rule.references),
                stage=hit.stage,
            )
            continue
        finding.count += 1
        finding.indicators.merge(hit.indicators)
        _cap(finding.indicators)
        if ts and (finding.first_seen is None or ts < finding.first_seen):
            finding.first_seen = ts
            finding.source = SourceRef(hit.record.path, hit.record.line)
            finding.evidence = excerpt(hit.record.raw or RecordView(hit.record).text())
        if ts and (finding.last_seen is None or ts > finding.last_seen):
            finding.last_seen = ts
    return [f.finalize() for f in groups.values()]
