"""Bytes first: the literal tokens a log line must hold for any rule to match it, and a scanner for them.

Every YAML rule is turned into a *necessary condition* on its raw line: a disjunction of conjunctions of
lower-case ASCII literals ("the line holds ``/owa/auth/`` and ``.aspx``, or ``/ecp/auth/`` and ``.aspx`` …").
It is derived from the rule's ``keywords`` (the engine already tests a rule only when one of them is in the
record's raw text) and from its condition: ``contains``/``equals``/``startswith``/``endswith`` values,
``like`` pieces, and the literal runs a ``regex`` cannot match without (read from Python's own regex parse
tree). ``not``, ``empty``, and ``decode: true`` (percent-encoding can hide any literal) add no token. Every
value a condition reads is a substring of the line (IIS values are space-separated, HttpProxy values
comma-separated; quoted CSV values only differ in ``"``, so tokens with a quote are dropped), hence a line
without the tokens cannot make the rule match. Case: rules compare ``str.lower()``; a few non-ASCII
characters lower-case to ASCII (the Kelvin sign to ``k``), so every line holding a byte >= 0x80 is a
candidate too. A rule of an artifact without any token makes ``tokens_for`` return None: that artifact is
parsed in full.

The scanner runs one multi-pattern search over a block of raw bytes and returns the offsets of the lines
that hold a candidate. Backends, chosen by measurement on 0.5 GB of lab IIS logs (bench/bench_hunt.py
prints the comparison): Hyperscan (``hyperscan`` wheel; 0.8-1.9 GB/s, one pattern per conjunction, the
tokens in any order within one line), a compiled ``re`` alternation on lower-cased bytes (75 MB/s) and
pyahocorasick (60-90 MB/s once the bytes are decoded for it). Without Hyperscan, ``bytes.find`` per token
on the lower-cased block is the fallback (~100 MB/s).

References: ARCHITECTURE.md ("Bytes first, parse late"); Hyperscan developer reference (pattern support,
HS_FLAG_CASELESS, block mode); Python ``re`` parser (``re._parser``) for the regex literals.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from typing import Any

from exaudit.detect.engine import Rule, RuleSet

try:  # Python 3.11+: the parser of the re module (sre_parse before)
    from re import _constants as sre_c  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as sre_c  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

Conj = tuple[bytes, ...]  # every token must be in the line
DNF = frozenset[Conj] | None  # one conjunction must hold; None: no literal is necessary
MIN_TOKEN = 3  # shorter literals select nearly every line: dropped (dropping a token only widens the filter)
MAX_CONJ_TOKENS = 3  # the longest ones are kept
MAX_ALTERNATIVES = 256
NON_ASCII = rb"[\x80-\xff]"
_NON_ASCII_RX = re.compile(NON_ASCII)


# --------------------------------------------------------------------------- derivation


def _token(text: str) -> bytes | None:
    low = text.lower()
    if len(low) < MIN_TOKEN or not low.isascii() or '"' in low or "\n" in low:
        return None
    return low.encode("ascii")


def _conj(tokens: Iterable[str | bytes]) -> Conj | None:
    """A conjunction of usable tokens (longest kept), or None when none is usable (no constraint)."""
    kept = {t for t in (_token(x.decode("latin-1") if isinstance(x, bytes) else x) for x in tokens) if t}
    kept = {t for t in kept if not any(t != other and t in other for other in kept)}  # implied by a longer one
    if not kept:
        return None
    return tuple(sorted(kept, key=lambda t: (-len(t), t))[:MAX_CONJ_TOKENS])


def minimal(conjunctions: Iterable[Conj]) -> frozenset[Conj]:
    """Drop a conjunction that holds whenever a smaller one does (it selects no line the other misses)."""
    items = set(conjunctions)

    def implied_by(c: Conj, o: Conj) -> bool:  # a line holding all of c holds all of o
        return o != c and all(any(t in u for u in c) for t in o)

    return frozenset(c for c in items if not any(implied_by(c, o) for o in items))


def any_of(alternatives: Iterable[Conj | None]) -> DNF:
    out: set[Conj] = set()
    for conj in alternatives:
        if conj is None:
            return None  # one alternative needs nothing: the disjunction needs nothing
        out.add(conj)
    return frozenset(out) if out and len(out) <= MAX_ALTERNATIVES else None


def all_of(parts: Iterable[DNF]) -> DNF:
    """The conjunction of necessary conditions: their product (unconstrained parts are skipped)."""
    result: DNF = None
    for part in parts:
        if part is None:
            continue
        if result is None:
            result = part
            continue
        product = {_conj(a + b) for a in result for b in part}
        if None in product or len(product) > MAX_ALTERNATIVES:
            continue  # keep the narrower of the two rather than explode
        result = frozenset(c for c in product if c is not None)
    return result


def _values(spec: dict[str, Any], key: str) -> list[str]:
    value = spec.get(key)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def _like_pieces(pattern: str) -> list[str]:
    """The literal pieces of a PowerShell ``-like`` pattern (``*``, ``?`` and ``[..]`` separate them)."""
    return [p for p in re.split(r"\*|\?|\[[^\]]*\]", pattern) if p]


def leaf_dnf(spec: dict[str, Any]) -> DNF:
    """The literals a field test needs (the field's value is a substring of the line)."""
    if spec.get("decode"):
        return None
    parts: list[DNF] = []
    for key in ("contains", "equals", "startswith", "endswith"):
        if key in spec:
            parts.append(any_of(_conj([v]) for v in _values(spec, key)))
    if "contains_all" in spec:
        parts.append(any_of([_conj(_values(spec, "contains_all"))]))
    if "like" in spec:
        parts.append(any_of(_conj(_like_pieces(p)) for p in _values(spec, "like")))
    if "regex" in spec:
        parts.append(any_of_dnfs(regex_dnf(p) for p in _values(spec, "regex")))
    return all_of(parts)


def any_of_dnfs(dnfs: Iterable[DNF]) -> DNF:
    out: set[Conj] = set()
    for dnf in dnfs:
        if dnf is None:
            return None
        out |= dnf
    return frozenset(out) if out and len(out) <= MAX_ALTERNATIVES else None


def condition_dnf(spec: Any) -> DNF:
    """Necessary literals of a YAML condition (same grammar as ``engine.compile_condition``)."""
    if not isinstance(spec, dict):
        return None
    if "all" in spec:
        return all_of(condition_dnf(s) for s in spec["all"])
    if "any" in spec:
        return any_of_dnfs(condition_dnf(s) for s in spec["any"])
    if "not" in spec or "field" not in spec:
        return None
    return leaf_dnf(spec)


# --------------------------------------------------------------------------- regex literals


def _exact_strings(items: list[Any]) -> set[str] | None:
    """The strings a regex fragment matches when it is made of literals and literal alternatives only."""
    strings = {""}
    for op, av in items:
        if op is sre_c.LITERAL:
            options = {chr(av)}
        elif op is sre_c.SUBPATTERN:
            options = _exact_strings(av[-1]) or set()
        elif op is sre_c.BRANCH:
            options = set()
            for branch in av[1]:
                sub = _exact_strings(branch)
                if sub is None:
                    return None
                options |= sub
        elif op is sre_c.AT:
            continue
        else:
            return None
        if not options:
            return None
        strings = {s + o for s in strings for o in options}
        if len(strings) > 32:
            return None
    return strings


def _sequence_dnf(items: list[Any]) -> DNF:
    parts: list[DNF] = []
    runs = {""}  # alternative literal runs being built

    def flush() -> None:
        nonlocal runs
        parts.append(any_of(_conj([r]) for r in runs))
        runs = {""}

    for op, av in items:
        exact = _exact_strings([(op, av)]) if op is not sre_c.AT else {""}
        if exact is not None and len(runs) * len(exact) <= 32:
            runs = {r + e for r in runs for e in exact}
            continue
        flush()
        if op is sre_c.SUBPATTERN:
            parts.append(_sequence_dnf(av[-1]))
        elif op is sre_c.BRANCH:
            parts.append(any_of_dnfs(_sequence_dnf(b) for b in av[1]))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and av[0] >= 1:
            parts.append(_sequence_dnf(av[2]))
    flush()
    return all_of(parts)


def regex_dnf(pattern: str) -> DNF:
    """Literal runs a match of ``pattern`` must contain (case-insensitive), or None."""
    try:
        return _sequence_dnf(list(sre_parse.parse(pattern)))
    except Exception:  # an exotic construct: no constraint is always safe
        return None


# --------------------------------------------------------------------------- rules → tokens


def rule_dnf(rule: Rule, spec: dict[str, Any]) -> DNF:
    """Keywords (the engine's own gate) and the condition's literals, both necessary."""
    keywords = any_of(_conj([k]) for k in rule.keywords) if rule.keywords else None
    return all_of([keywords, condition_dnf(spec.get("condition"))])


def tokens_for(rules: RuleSet, artifact: str) -> frozenset[Conj] | None:
    """The union of the necessary conditions of every rule of ``artifact``; None if one rule has none."""
    index = rules.by_artifact.get(artifact)
    if index is None:
        return frozenset()
    out: set[Conj] = set()
    for rule in [*index.always, *{id(r): r for rs in index.by_keyword.values() for r in rs}.values()]:
        if not rule.source:
            return None  # a rule built in code: its condition cannot be read
        dnf = rule_dnf(rule, rule.source)
        if dnf is None:
            return None
        out |= dnf
    return minimal(out)


# --------------------------------------------------------------------------- scanning


def _line_pattern(conj: Conj) -> bytes:
    """Hyperscan: the tokens of a conjunction in any order within one line."""
    orders = itertools.permutations(conj) if len(conj) <= 3 else [conj]
    return b"|".join(rb"[^\n]*".join(re.escape(t) for t in order) for order in orders)


class LineScanner:
    """Offsets of the starts of the lines of a block that hold a candidate (a conjunction or a non-ASCII byte)."""

    def __init__(self, conjunctions: Iterable[Conj], extra_patterns: Iterable[bytes] = ()) -> None:
        self.conjunctions = sorted(set(conjunctions))
        self.extra = list(extra_patterns)
        self._scan = _hyperscan(self.conjunctions, self.extra) or self._python_scan
        self.backend = "hyperscan" if self._scan is not self._python_scan else "python"
        self._extra_rx = [re.compile(p, re.IGNORECASE) for p in self.extra]

    def line_starts(self, block: bytes) -> list[int]:
        return sorted(self._scan(block))

    def _python_scan(self, block: bytes) -> set[int]:
        """Without Hyperscan: every occurrence of each conjunction's first token, the rest checked per line."""
        low = block.lower()
        starts: set[int] = set()
        for conj in self.conjunctions:
            anchor, rest = conj[0], conj[1:]
            pos = low.find(anchor)
            while pos >= 0:
                start = low.rfind(b"\n", 0, pos) + 1
                end = low.find(b"\n", pos)
                line = low[start : end if end >= 0 else len(low)]
                if all(t in line for t in rest):
                    starts.add(start)
                pos = low.find(anchor, end if end >= 0 else len(low))
        for rx in [_NON_ASCII_RX, *self._extra_rx]:
            for match in rx.finditer(block):
                starts.add(block.rfind(b"\n", 0, match.start()) + 1)
        return starts


def _hyperscan(conjunctions: list[Conj], extra: list[bytes]) -> Callable[[bytes], set[int]] | None:
    try:
        import hyperscan
    except ImportError:
        return None
    patterns = [_line_pattern(c) for c in conjunctions] + [NON_ASCII, *extra]
    database = hyperscan.Database()
    database.compile(
        expressions=patterns,
        ids=list(range(len(patterns))),
        elements=len(patterns),
        flags=[hyperscan.HS_FLAG_CASELESS] * len(patterns),
    )

    def scan(block: bytes) -> set[int]:
        ends: list[int] = []
        database.scan(block, match_event_handler=lambda _id, _start, end, _flags, _ctx: ends.append(end))
        starts: set[int] = set()
        last_end = -1
        last_start = 0
        for end in sorted(set(ends)):
            if end <= last_end:  # same line as the previous match
                starts.add(last_start)
                continue
            start = block.rfind(b"\n", 0, end - 1) + 1
            nl = block.find(b"\n", end - 1)
            last_end = nl if nl >= 0 else len(block)
            last_start = start
            starts.add(start)
        return starts

    return scan
