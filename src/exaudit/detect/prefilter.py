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

import contextlib
import functools
import hashlib
import itertools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from re import _constants as sre_c  # type: ignore[attr-defined]  # the re parser (3.11+)
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from exaudit.detect.engine import Predicate, RecordView, Rule, RuleSet, compile_condition
from exaudit.parsers.base import Record

MIN_TOKEN = 3  # shorter literals select nearly every line: dropped (dropping a token only widens the filter)
MAX_CONJ_TOKENS = 3
MAX_ALTERNATIVES = 256
NON_ASCII = rb"[\x80-\xff]"
_NON_ASCII_RX = re.compile(NON_ASCII)
SPECIAL_LINE = rb"\n[^0-9]"  # a line that does not start with a digit: directive, empty, text
LONE_CR = rb"\r[^\n]"  # a carriage return that ends a line by itself for the parsers
LINE = None  # the field of a token that may sit anywhere in the line (keywords, ``_raw``, ``_text``)


@dataclass(frozen=True)
class Tok:
    """A token: its regex source (Hyperscan and Python syntax), the text it stands for when it is a literal
    (``kind`` "plain", or "decoded" for a percent-decoded value), and the field it is read from."""

    source: bytes
    text: str | None = None
    kind: str = "regex"
    field: frozenset[str] | None = LINE


Conj = tuple[Tok, ...]  # every token must match within the line (at places that do not overlap)
DNF = frozenset[Conj] | None  # one conjunction must hold; None: nothing is necessary


# --------------------------------------------------------------------------- tokens


def literal(text: str, field: frozenset[str] | None = LINE) -> Tok | None:
    """A literal token, or None when it would not select lines (short, non-ASCII, a quote)."""
    low = text.lower()
    if len(low) < MIN_TOKEN or not low.isascii() or '"' in low or "\n" in low:
        return None
    return Tok(re.escape(low.encode("ascii")), low, "plain", field)


def _percent(byte: int) -> bytes:
    """``%HH`` of one byte, each of the three characters possibly percent-encoded again (decoded twice)."""

    def hex_digit(ch: str) -> bytes:
        codes = {f"{ord(ch):02x}", f"{ord(ch.upper()):02x}"}
        return b"(?:" + ch.encode() + b"".join(b"|%" + c.encode() for c in sorted(codes)) + b")"

    code = f"{byte:02x}"
    return b"(?:%|%25)" + hex_digit(code[0]) + hex_digit(code[1])


_LOWER_FROM = {"i": "\u0130", "k": "\u212a"}  # the only non-ASCII characters whose lower() holds ASCII letters


def decoded(text: str, field: frozenset[str] | None = LINE) -> Tok | None:
    """A token for a value percent-decoded twice (``+`` read as a space) before the test.

    Each character may appear as itself or as ``%HH`` (either case of a letter, each of the three characters
    encoded again); ``i`` and ``k`` also as the encoded non-ASCII letters that lower-case to them."""
    low = text.lower()
    if not low or not low.isascii() or '"' in low or "\n" in low:
        return None
    parts = []
    for ch in low:
        options = [] if ch == "+" else [re.escape(ch.encode())]  # a raw + becomes a space before decoding
        if ch == " ":
            options.append(rb"\+")
        options += [_percent(b) for b in sorted({ord(ch), ord(ch.upper())})]
        if ch in _LOWER_FROM:
            options.append(b"".join(_percent(b) for b in _LOWER_FROM[ch].encode("utf-8")))
        parts.append(b"(?:" + b"|".join(options) + b")")
    return Tok(b"".join(parts), low, "decoded", field)


_PYTHON_ONLY = re.compile(r"\\[sSAZzG]|\(\?[=!<P]|\\\d")  # classes and constructs Hyperscan reads differently


def regex_token(pattern: str, field: frozenset[str] | None = LINE) -> Tok | None:
    """A rule regex as a token: anchors dropped (the value is a substring of the line), when Hyperscan reads
    it as Python does (no ``\\s``, whose Python meaning includes \\x1c-\\x1f; no look-around; no quote)."""
    core = pattern[1:] if pattern.startswith("^") else pattern
    if core.endswith("$") and not core.endswith("\\$"):
        core = core[:-1]
    if not core or not core.isascii() or '"' in core or _PYTHON_ONLY.search(core) or re.search(r"(?<![\[\\])\^|(?<!\\)\$", core):
        return None
    try:
        re.compile(core)
    except re.error:
        return None
    # A value holds no line break: negated classes must not run into the next line (Hyperscan's [^?] would).
    source = re.sub(r"(?<!\\)\[\^", r"[^\\n", core).encode("ascii")
    return Tok(source, None, "regex", field) if _hyperscan_accepts(source) else None


@functools.lru_cache(maxsize=256)
def _hyperscan_accepts(source: bytes) -> bool:
    try:
        import hyperscan
    except ImportError:
        return True  # the Python scanner reads Python syntax
    try:
        hyperscan.Database().compile(expressions=[source], flags=[hyperscan.HS_FLAG_CASELESS])
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------- necessary conditions


def _implies(a: Tok, b: Tok) -> bool:
    """A line where ``a`` matches also holds ``b``."""
    return a == b or (a.kind == b.kind != "regex" and a.text is not None and b.text is not None and b.text in a.text)


def _can_overlap(x: str, y: str) -> bool:
    return x in y or y in x or any(x.endswith(y[:k]) or y.endswith(x[:k]) for k in range(1, min(len(x), len(y))))


def _disjoint(a: Tok, b: Tok) -> bool:
    """Can both be required at places that do not overlap (what the line pattern checks)?

    Values of different fields are different parts of the line; two literals of the same kind that cannot
    overlap as text cannot overlap in the line either (a decoded character comes from its own raw bytes)."""
    if a.field is not None and b.field is not None and a.field.isdisjoint(b.field):
        return True
    return a.kind == b.kind != "regex" and a.text is not None and b.text is not None and not _can_overlap(a.text, b.text)


def _conj(tokens: Iterable[Tok | None]) -> Conj | None:
    """A conjunction of usable tokens (most selective first), or None when none is usable (no constraint).

    Dropping a token only widens the filter: implied tokens go, and so does one that could overlap a kept one."""
    ordered = sorted(
        {t for t in tokens if t is not None},
        key=lambda t: (t.kind != "regex", t.kind != "decoded", -len(t.text or ""), t.field is LINE, t.source, sorted(t.field or ())),
    )
    kept: list[Tok] = []
    for token in ordered:
        if any(_implies(k, token) for k in kept):
            continue
        if len(kept) < MAX_CONJ_TOKENS and all(_disjoint(token, k) for k in kept):
            kept.append(token)
    return tuple(kept) or None


def minimal(conjunctions: Iterable[Conj]) -> frozenset[Conj]:
    """Drop a conjunction that holds whenever a smaller one does (it selects no line the other misses)."""

    def implied_by(c: Conj, o: Conj) -> bool:  # a line holding all of c holds all of o
        return all(any(_implies(u, t) for u in c) for t in o)

    kept: list[Conj] = []
    for conj in sorted(set(conjunctions), key=lambda c: (len(c), [(t.source, sorted(t.field or ())) for t in c])):
        if not any(implied_by(conj, k) for k in kept):
            kept.append(conj)
    return frozenset(kept)


def any_of(alternatives: Iterable[Conj | None]) -> DNF:
    out: set[Conj] = set()
    for conj in alternatives:
        if conj is None:
            return None  # one alternative needs nothing: the disjunction needs nothing
        out.add(conj)
    return frozenset(out) if out and len(out) <= MAX_ALTERNATIVES else None


def any_of_dnfs(dnfs: Iterable[DNF]) -> DNF:
    out: set[Conj] = set()
    for dnf in dnfs:
        if dnf is None:
            return None
        out |= dnf
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


def field_key(spec: dict[str, Any]) -> frozenset[str] | None:
    """The field a leaf reads (any of its names, case-insensitive); LINE for ``_raw``/``_text``."""
    names = _values(spec, "field")
    if not names or any(n.startswith("_") for n in names):
        return LINE
    return frozenset(n.lower() for n in names)


def leaf_dnf(spec: dict[str, Any]) -> DNF:
    """The tokens a field test needs (the field's value is a substring of the line)."""
    field = field_key(spec)
    decode = bool(spec.get("decode"))
    token = decoded if decode else literal
    parts: list[DNF] = []
    for key in ("contains", "equals", "startswith", "endswith"):
        if key in spec:
            parts.append(any_of(_conj([token(v, field)]) for v in _values(spec, key)))
    if "contains_all" in spec:
        parts.append(any_of([_conj(token(v, field) for v in _values(spec, "contains_all"))]))
    if "like" in spec and not decode:
        parts.append(any_of(_conj(literal(p, field) for p in _like_pieces(v)) for v in _values(spec, "like")))
    if "regex" in spec and not decode:
        parts.append(any_of_dnfs(regex_dnf(p, field) for p in _values(spec, "regex")))
    return all_of(parts)


def condition_dnf(spec: Any) -> DNF:
    """Necessary tokens of a YAML condition (same grammar as ``engine.compile_condition``)."""
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


def _sequence_dnf(items: list[Any], field: frozenset[str] | None) -> DNF:
    parts: list[DNF] = []
    runs = {""}  # alternative literal runs being built

    def flush() -> None:
        nonlocal runs
        parts.append(any_of(_conj([literal(r, field)]) for r in runs))
        runs = {""}

    for op, av in items:
        exact = _exact_strings([(op, av)]) if op is not sre_c.AT else {""}
        if exact is not None and len(runs) * len(exact) <= 32:
            runs = {r + e for r in runs for e in exact}
            continue
        flush()
        if op is sre_c.SUBPATTERN:
            parts.append(_sequence_dnf(av[-1], field))
        elif op is sre_c.BRANCH:
            parts.append(any_of_dnfs(_sequence_dnf(b, field) for b in av[1]))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and av[0] >= 1:
            parts.append(_sequence_dnf(av[2], field))
    flush()
    return all_of(parts)


def regex_dnf(pattern: str, field: frozenset[str] | None = LINE) -> DNF:
    """A regex with a small finite language as its literals; else the regex itself when Hyperscan can run
    it; else the literal runs any match must contain."""
    try:
        items = list(sre_parse.parse(pattern))
    except Exception:  # an exotic construct: no constraint is always safe
        return None
    exact = _exact_strings(items)
    if exact is not None:
        return any_of(_conj([literal(s, field)]) for s in exact)
    token = regex_token(pattern, field)
    if token is not None:
        return frozenset({(token,)})
    return _sequence_dnf(items, field)


# --------------------------------------------------------------------------- rules → tokens


def rule_dnf(rule: Rule, spec: dict[str, Any]) -> DNF:
    """Keywords (the engine's own gate, anywhere in the line) and the condition's tokens, both necessary."""
    keywords = any_of(_conj([literal(k)]) for k in rule.keywords) if rule.keywords else None
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


@dataclass(frozen=True)
class RuleVeto:
    """What rules out one rule for a record at a glance: none of its keywords in the line (the engine's own
    gate), or one of its necessary field tests false (a top-level ``field`` leaf, or ``not`` of one, of its
    condition or of its ``all``; compiled by the engine itself, so it reads the value as the engine does)."""

    keywords: tuple[str, ...]  # lower case; empty: the engine evaluates the rule on every record
    parts: tuple[Predicate, ...]

    def excludes(self, low_line: str, view: RecordView) -> bool:
        if self.keywords and not any(k in low_line for k in self.keywords):
            return True
        return any(not part(view) for part in self.parts)


def _field_parts(condition: Any) -> list[dict[str, Any]]:
    """The necessary parts of a condition that only read named fields (never ``_raw``/``_text``)."""
    items = condition.get("all") if isinstance(condition, dict) and set(condition) == {"all"} else [condition]

    def reads_fields(spec: Any) -> bool:
        if isinstance(spec, dict) and set(spec) == {"not"}:
            spec = spec["not"]
        if not isinstance(spec, dict) or "field" not in spec:
            return False
        names = spec["field"] if isinstance(spec["field"], list) else [spec["field"]]
        return bool(names) and all(isinstance(n, str) and n and not n.startswith("_") for n in names)

    return [item for item in items if reads_fields(item)] if isinstance(items, list) else []


def rule_veto(rule: Rule) -> RuleVeto | None:
    """The rule's quick exclusions, or None when it has none (no keyword, no field test)."""
    parts = tuple(compile_condition(part, rule.id) for part in _field_parts(rule.source.get("condition"))) if rule.source else ()
    keywords = tuple(k.lower() for k in rule.keywords)
    if not all(k.isascii() for k in keywords):
        keywords = ()  # the engine reads an excerpt ending in "…": only ASCII keywords are judged on the line
    return RuleVeto(keywords, parts) if keywords or parts else None


class LineVeto:
    """A second, exact look at a candidate line before it is parsed (``hunt_fast``): the line is dropped when
    every rule with quick exclusions (``RuleVeto``) is excluded and no other rule's tokens are in it.

    Sound by construction: the exclusions are the engine's own necessary tests, applied to the values the
    parser maps (``fields``: a plain line split at its separators under the current ``#Fields``), and a line
    that matches any other rule holds one of the conjunctions of ``rest``, as in the first scan. The rules
    whose keywords are in the line are found by one Hyperscan call (every occurrence, overlapping or not)."""

    def __init__(self, vetoes: list[RuleVeto], rest: LineScanner | None) -> None:
        self.vetoes = vetoes
        self.rest = rest  # None: every rule has exclusions
        self.always = [v for v in vetoes if not v.keywords]
        keywords = sorted({k for v in vetoes for k in v.keywords})
        self.keyed = [[v for v in vetoes if k in v.keywords] for k in keywords]
        self._keywords = _literal_scanner(keywords)

    def drops(self, fields: dict[str, str], line: bytes) -> bool:
        low = line.decode("ascii").lower()
        view = RecordView(Record("", "", 0, None, fields))
        if not all(v.excludes(low, view) for v in self._candidates(line)):
            return False
        return self.rest is None or not self.rest.line_starts(line)

    def _candidates(self, line: bytes) -> list[RuleVeto]:
        """The vetoes without keywords and those whose keywords the line holds (all of them without Hyperscan)."""
        if self._keywords is None:
            return self.vetoes
        found: set[int] = set()
        self._keywords.scan(line, match_event_handler=lambda i, _s, _e, _f, _c: found.add(i))
        out = list(self.always)
        for i in sorted(found):
            out.extend(v for v in self.keyed[i] if v not in out)
        return out


def _literal_scanner(literals: list[str]) -> Any:
    """A Hyperscan database of lower-case ASCII literals (caseless), or None without Hyperscan or literals."""
    try:
        import hyperscan
    except ImportError:
        return None
    return _compiled(hyperscan, [re.escape(k.encode("ascii")) for k in literals]) if literals else None


def line_veto(rules: RuleSet, artifact: str) -> LineVeto | None:
    """The ``LineVeto`` of an artifact's rules, or None when no rule has exclusions (or one has no tokens)."""
    index = rules.by_artifact.get(artifact)
    if index is None:
        return None
    vetoes: list[RuleVeto] = []
    rest: set[Conj] = set()
    for rule in [*index.always, *{id(r): r for rs in index.by_keyword.values() for r in rs}.values()]:
        veto = rule_veto(rule)
        if veto is not None:
            vetoes.append(veto)
            continue
        dnf = rule_dnf(rule, rule.source) if rule.source else None
        if dnf is None:
            return None
        rest |= dnf
    if not vetoes:
        return None
    return LineVeto(vetoes, LineScanner(minimal(rest)) if rest else None)


METHOD_FIELDS = frozenset({"cs-method", "method"})


def without_method_tokens(conjunctions: Iterable[Conj]) -> frozenset[Conj]:
    """The conjunctions without their request-method tokens (``post``, ``get``) where another token remains.

    A method is in nearly every line: each occurrence starts Hyperscan looking for the other tokens along the
    line (measured: IIS 390 -> 530 MB/s) and it selects almost nothing. Dropping a token only widens the filter;
    the ``LineVeto`` then rules the extra lines out exactly before they are parsed."""
    out = []
    for conj in conjunctions:
        kept = tuple(t for t in conj if t.field is LINE or not t.field <= METHOD_FIELDS)
        out.append(kept or conj)
    return minimal(out)


# --------------------------------------------------------------------------- scanning


def _line_pattern(conj: Conj) -> bytes:
    """The tokens of a conjunction in any order within one line (one Hyperscan expression)."""
    orders = itertools.permutations(conj) if len(conj) <= 3 else [conj]
    return b"|".join(rb"[^\n]*".join(b"(?:" + t.source + b")" for t in order) for order in orders)


class LineScanner:
    """Offsets of the starts of the lines of a block that hold a candidate (a conjunction or a non-ASCII byte)."""

    def __init__(self, conjunctions: Iterable[Conj], extra_patterns: Iterable[bytes] = (), special_lines: bool = False) -> None:
        self.conjunctions = sorted(set(conjunctions), key=lambda c: [t.source for t in c])
        self.extra = list(extra_patterns) + ([SPECIAL_LINE, LONE_CR] if special_lines else [])
        self.special_lines = special_lines  # also report lines that do not start with a digit (not the block's
        # first) and lines holding a lone carriage return
        hyperscan_scan = _hyperscan(self.conjunctions, self.extra)
        self.backend = "hyperscan" if hyperscan_scan else "python"
        self._scan = hyperscan_scan or self._python_scan
        self._python: list[list[re.Pattern[bytes]]] | None = None

    def line_starts(self, block: bytes) -> list[int]:
        return sorted(self._scan(block))

    def _python_scan(self, block: bytes) -> set[int]:
        """Without Hyperscan: each conjunction's first token searched, the others tested on its line only
        (linear: no pattern spans a line, so a hostile line cannot make it backtrack across the block)."""
        if self._python is None:
            patterns = [[t.source for t in c] for c in self.conjunctions] + [[NON_ASCII]] + [[p] for p in self.extra]
            self._python = [[re.compile(t, re.IGNORECASE) for t in c] for c in patterns]
        starts: set[int] = set()
        for first, *rest in self._python:
            pos = 0
            while (match := first.search(block, pos)) is not None:
                last = max(match.end() - 1, match.start())  # a special-line match starts on the line before
                start = block.rfind(b"\n", 0, last) + 1
                end = block.find(b"\n", last)
                end = len(block) if end < 0 else end
                if all(rx.search(block, start, end) for rx in rest):
                    starts.add(start)
                pos = end  # not end + 1: a special-line match begins with this line's break
        return starts


def _hyperscan(conjunctions: list[Conj], extra: list[bytes]) -> Callable[[bytes], set[int]] | None:
    try:
        import hyperscan
    except ImportError:
        return None
    patterns = [_line_pattern(c) for c in conjunctions] + [NON_ASCII, *extra]
    database = _compiled(hyperscan, patterns)

    def scan(block: bytes) -> set[int]:
        ends: list[int] = []
        database.scan(block, match_event_handler=lambda _id, _start, end, _flags, _ctx: ends.append(end))
        starts: set[int] = set()
        line_end = -1
        for end in sorted(set(ends)):
            if end <= line_end:
                continue  # another match on a line already taken
            starts.add(block.rfind(b"\n", 0, end - 1) + 1 if end else 0)
            nl = block.find(b"\n", end - 1)
            line_end = nl if nl >= 0 else len(block)
        return starts

    return scan


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "exaudit" / "hyperscan"


def _compiled(hyperscan: Any, patterns: list[bytes]) -> Any:
    """A compiled database, kept in the user's cache (compiling the decoded-token patterns takes ~0.5 s, and every
    worker process would pay it); the key is the patterns' hash and the Hyperscan version."""
    key = hashlib.sha256(b"\0".join([str(getattr(hyperscan, "__version__", "")).encode(), *patterns])).hexdigest()[:32]
    path = _cache_dir() / f"{key}.db"
    with contextlib.suppress(Exception):  # a missing, stale or foreign cache entry is compiled again
        database = hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
        database.scratch = hyperscan.Scratch(database)
        database.scan(b"warm-up\n", match_event_handler=lambda *_args: None)
        return database
    database = hyperscan.Database()
    database.compile(
        expressions=patterns,
        ids=list(range(len(patterns))),
        elements=len(patterns),
        flags=[hyperscan.HS_FLAG_CASELESS] * len(patterns),
    )
    with contextlib.suppress(OSError):  # a read-only home: compile every time
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(hyperscan.dumpb(database))
        os.replace(temporary, path)
    return database
