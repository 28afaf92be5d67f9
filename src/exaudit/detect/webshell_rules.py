"""YARA layer of the web shell scanner: the project's own rules, compiled once, and how hits combine.

The rule files live in ``exaudit/detect/yara/*.yar`` (families, behaviours, Exchange carriers). Every rule
carries ``meta`` that this module reads: ``severity``, ``category`` (family | behaviour | capability |
exchange | marker), ``title`` and optionally ``capability``, ``family``, ``cves``, ``reference``.

Severity model (documented in docs/webshells.md):

* a *family*, *behaviour* or *exchange* rule gives its own severity (critical/high: a known web shell);
* *capability* rules (run processes, browse files, SQL console, sockets …) are weak alone: one is ``low``;
  a page with a strong capability (processes, attacker UI text, obfuscation, password gate, SQL console)
  plus any other, or with three capabilities, is a multi-function web shell (``high``).

References: yara-python documentation (compile/save/load, match with ``data=``), ATT&CK T1505.003.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yara

from exaudit.model import Severity

RULES_DIR = Path(__file__).resolve().parent / "yara"
STRONG_CAPABILITIES = frozenset({"shell_exec", "shell_ui", "obfuscation", "auth_gate", "sql_console"})
MATCH_TIMEOUT_S = 60


class RuleError(Exception):
    """A rule file cannot be compiled; the message names the file and the reason."""


@dataclass(frozen=True)
class RuleHit:
    """One YARA rule that matched one file (or one chunk of it)."""

    rule: str
    title: str
    severity: Severity
    category: str
    capability: str = ""
    family: str = ""
    cves: tuple[str, ...] = ()
    reference: str = ""
    offset: int = 0  # offset of the first matched string, for the excerpt
    namespace: str = ""
    excerpt: str = ""  # raw text around the first match (attacker-controlled: escape on output)


@dataclass
class Assessment:
    """What the hits of one file add up to."""

    severity: Severity
    rule: str
    title: str
    reasons: list[str] = field(default_factory=list)
    family: str = ""
    cves: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    excerpt: str = ""


def rule_files(directory: Path) -> dict[str, str]:
    """``namespace -> path`` for every ``.yar``/``.yara`` file of a folder (sorted, so the cache key is stable)."""
    files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in (".yar", ".yara") and p.is_file())
    return {f"{p.parent.name}_{p.stem}" if directory != p.parent else p.stem: str(p) for p in files}


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "exaudit"


def _digest(sources: dict[str, str]) -> str:
    h = hashlib.sha256(yara.__version__.encode())
    for name, path in sources.items():
        h.update(name.encode())
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:24]


def compile_rules(directory: str | None = None) -> yara.Rules:
    """Compile the rules of ``directory`` (a folder or one file; default: the packaged rules) once per process.

    Compiled rules are also cached on disk (``~/.cache/exaudit/yara-<digest>.yarc``), keyed by the rule text
    and the YARA version, so a new process loads them instead of compiling again; an edited rule file gets a
    new digest and is compiled afresh.
    """
    folder = Path(directory) if directory else RULES_DIR
    sources = {folder.stem: str(folder)} if folder.is_file() else rule_files(folder)
    if not sources:
        raise RuleError(f"no .yar or .yara files in {folder}")
    try:
        digest = _digest(sources)
    except OSError as exc:
        raise RuleError(f"cannot read YARA rules in {folder}: {exc}") from exc
    return _compiled(digest, tuple(sources.items()), str(folder))


@lru_cache(maxsize=16)
def _compiled(digest: str, sources: tuple[tuple[str, str], ...], folder: str) -> yara.Rules:
    cached = _cache_dir() / f"yara-{digest}.yarc"
    if cached.is_file():
        try:
            return yara.load(str(cached))
        except yara.Error:
            pass  # a damaged cache is rebuilt below
    try:
        rules = yara.compile(filepaths=dict(sources))
    except yara.Error as exc:
        raise RuleError(f"cannot compile YARA rules in {folder}: {exc}") from exc
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        rules.save(str(tmp))
        tmp.replace(cached)
        _prune(cached.parent)
    except OSError:
        pass  # no writable cache: compile again next time
    return rules


def _prune(folder: Path, keep: int = 16) -> None:
    """Edited rules leave old compiled files behind; keep the most recent few."""
    files = sorted(folder.glob("yara-*.yarc"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        old.unlink(missing_ok=True)


def _severity(value: object, default: Severity = Severity.MEDIUM) -> Severity:
    try:
        return Severity(str(value).lower())
    except ValueError:
        return default


def excerpt(data: bytes, offset: int, before: int = 40, after: int = 160) -> str:
    """A short one-line text around ``offset``; control characters dropped, nothing interpreted."""
    raw = data[max(0, offset - before) : offset + after].decode("utf-8", errors="replace")
    text = "".join(ch if ch.isprintable() else " " for ch in raw)
    return " ".join(text.split())[:200]


def _first_offset(match: yara.Match) -> int:
    offsets = [inst.offset for s in match.strings for inst in s.instances]
    return min(offsets) if offsets else 0


def hits_of(matches: Iterable[yara.Match], data: bytes = b"", base_offset: int = 0, user: bool = False) -> list[RuleHit]:
    """Turn yara-python matches into ``RuleHit``s; user rules without meta count as ``high`` behaviours."""
    hits = []
    for m in matches:
        meta = m.meta
        offset = _first_offset(m)
        default = Severity.HIGH if user else Severity.MEDIUM
        cves = tuple(c.strip() for c in str(meta.get("cves", "")).split(",") if c.strip())
        hits.append(
            RuleHit(
                rule=m.rule,
                title=str(meta.get("title") or meta.get("description") or m.rule),
                severity=_severity(meta.get("severity"), default),
                category=str(meta.get("category", "user" if user else "behaviour")),
                capability=str(meta.get("capability", "")),
                family=str(meta.get("family", "")),
                cves=cves,
                reference=str(meta.get("reference", "")),
                offset=base_offset + offset,
                namespace=m.namespace,
                excerpt=excerpt(data, offset) if data else "",
            )
        )
    return hits


def merge_hits(hits: Iterable[RuleHit]) -> list[RuleHit]:
    """One hit per rule (the first offset wins), e.g. after scanning a file in chunks."""
    seen: dict[str, RuleHit] = {}
    for hit in hits:
        key = f"{hit.namespace}:{hit.rule}"
        if key not in seen or hit.offset < seen[key].offset:
            seen[key] = hit
    return list(seen.values())


def combine(hits: list[RuleHit]) -> Assessment | None:
    """The severity a file deserves from its rule hits, with every reason spelled out."""
    if not hits:
        return None
    strong = [h for h in hits if h.category not in ("capability", "marker")]
    capabilities = sorted({h.capability or h.rule for h in hits if h.category == "capability"})
    reasons = [f"{h.rule}: {h.title}" for h in sorted(strong, key=lambda h: -h.severity.rank)]
    if capabilities:
        reasons.append("capabilities: " + ", ".join(capabilities))
    best = max(strong, key=lambda h: h.severity.rank, default=None)
    cap_severity, cap_title = _capability_severity(capabilities)
    if best is not None and best.severity.rank >= cap_severity.rank:
        severity, rule, title, shown = best.severity, best.rule, best.title, best
    elif capabilities:
        cap_hits = [h for h in hits if h.category == "capability"]
        severity, rule, title = cap_severity, "exaudit_multi_capability", cap_title
        shown = min(cap_hits, key=lambda h: h.offset)
    else:
        return None  # only markers
    return Assessment(
        severity=severity,
        rule=rule,
        title=title,
        reasons=reasons,
        family=next((h.family for h in strong if h.family), ""),
        cves=sorted({c for h in strong for c in h.cves}),
        references=sorted({h.reference for h in strong if h.reference}),
        excerpt=shown.excerpt,
    )


def _capability_severity(capabilities: list[str]) -> tuple[Severity, str]:
    names = set(capabilities)
    if not names:
        return Severity.INFO, ""
    label = " + ".join(sorted(names))
    if len(names) >= 3 or (names & STRONG_CAPABILITIES and len(names) >= 2):
        return Severity.HIGH, f"Multi-function web shell ({label})"
    return Severity.LOW, f"Page with a sensitive capability ({label})"
