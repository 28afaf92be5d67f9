"""Fingerprinting: what each unauthenticated response reveals about an Exchange front end.

Every method of the reference ``remote-fingerprinting.md`` (§1-§4):

* ``x-owa-version`` header (any response; name case-insensitive) — full 4-part build with the SU [WAP, 3G, ROBL];
* the ECP export-tool ClickOnce manifest ``assemblyIdentity version`` — full build [RIGHEL, CN];
* OWA logon resource paths: ``/owa/auth/15.x.y/`` (2013+, CU level only) and ``/owa/14.3.x.y/`` (2010,
  4-part, roll-up level) [NUC, CSS107, GB];
* Exchange-only headers (``X-FEServer``, ``X-BEServer``, ``X-CalculatedBETarget``, ``X-DiagInfo``) and the OWA
  logon page itself: Exchange, but no build [3G, MSXFAQ, GB].

The functions here are pure (they read ``Observation`` objects) so they can be tested without a network.
``merge`` keeps the most precise build and names the method that gave it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from exaudit.model import Precision

OWA_PATH = "/owa/"
EXPORTTOOL_NAME = "microsoft.exchange.ediscovery.exporttool.application"
EXPORTTOOL_PATH = f"/ecp/Current/exporttool/{EXPORTTOOL_NAME}"
EWS_PATH = "/EWS/Exchange.asmx"
AUTODISCOVER_PATH = "/autodiscover/autodiscover.xml"

EXCHANGE_HEADERS = ("x-feserver", "x-beserver", "x-calculatedbetarget", "x-diaginfo", "x-owa-version")

_BUILD4 = r"\d{1,2}\.\d{1,2}\.\d{1,5}\.\d{1,5}"
_VERSION_HEADER = re.compile(rf"^\s*({_BUILD4}|\d{{1,2}}\.\d{{1,2}}\.\d{{1,5}})\s*$")
_OWA_AUTH_PATH = re.compile(rb"/owa/auth/(\d{1,2}\.\d{1,2}\.\d{1,5}(?:\.\d{1,5})?)/", re.I)
_OWA_LEGACY_PATH = re.compile(rb"/owa/(" + _BUILD4.encode() + rb")/", re.I)
_ASSEMBLY_VERSION = re.compile(rb"<(?:\w+:)?assemblyIdentity\b[^>]*?\bversion\s*=\s*[\"'](" + _BUILD4.encode() + rb")[\"']", re.I)
_OWA_TITLE = re.compile(rb"<title>[^<]{0,80}(Outlook|Exchange)[^<]{0,80}</title>", re.I)
_LOGON_FORM = re.compile(rb"/owa/auth(?:\.owa|/logon\.aspx)", re.I)


@dataclass
class Observation:
    """One HTTP response as the fingerprinting needs it (header names lower-cased)."""

    path: str
    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    location: str | None = None


@dataclass
class Clue:
    """One thing a response revealed: a build (with its precision) or just 'this is Exchange'."""

    method: str
    build: str | None = None
    precision: Precision = Precision.NONE


@dataclass
class Fingerprint:
    exchange: bool = False
    build: str | None = None
    precision: Precision = Precision.NONE
    method: str | None = None
    clues: list[Clue] = field(default_factory=list)

    @property
    def product(self) -> str | None:
        return product_of(self.build) if self.build else None


def clues_from(obs: Observation) -> list[Clue]:
    """Everything one response says about Exchange and its build."""
    clues = _version_header_clues(obs) + _body_build_clues(obs)
    named = [name for name in EXCHANGE_HEADERS[:-1] if name in obs.headers]
    if named:
        clues.append(Clue(f"exchange header {named[0]} ({obs.path})"))
    if obs.path.startswith("/owa") and (_OWA_TITLE.search(obs.body) or (obs.status == 200 and _LOGON_FORM.search(obs.body))):
        clues.append(Clue("owa logon page"))
    return clues


def _version_header_clues(obs: Observation) -> list[Clue]:
    header = obs.headers.get("x-owa-version")
    if header is None:
        return []
    match = _VERSION_HEADER.match(header)
    if match is None:
        return [Clue(f"x-owa-version header ({obs.path}, unparsable)")]
    return [_build_clue(f"x-owa-version header ({obs.path})", match[1])]


def _body_build_clues(obs: Observation) -> list[Clue]:
    clues = []
    if obs.status == 200 and obs.path.lower().endswith(f"/exporttool/{EXPORTTOOL_NAME}"):
        manifest = _ASSEMBLY_VERSION.search(obs.body)
        if manifest:
            where = "" if obs.path == EXPORTTOOL_PATH else f" ({obs.path.split('/exporttool/')[0]}/)"
            clues.append(_build_clue(f"ecp exporttool manifest{where}", manifest[1].decode()))
    for regex, label in ((_OWA_LEGACY_PATH, "owa resource path"), (_OWA_AUTH_PATH, "owa logon resource path")):
        path = regex.search(obs.body)
        if path:
            clues.append(_build_clue(label, path[1].decode()))
            break
    return clues


def _build_clue(method: str, build: str) -> Clue:
    parts = build.split(".")
    if not _plausible(parts):
        return Clue(f"{method} (implausible {build})")
    precision = Precision.EXACT if len(parts) == 4 else Precision.CU
    return Clue(method, build, precision)


def _plausible(parts: list[str]) -> bool:
    # Exchange 2007 = 8.x, 2010 = 14.x, 2013+ = 15.x; anything else is not an Exchange build.
    return parts[0] in ("8", "14", "15") and len(parts) in (3, 4)


_RANK = {Precision.EXACT: 2, Precision.CU: 1, Precision.NONE: 0}


def merge(clues: Iterable[Clue]) -> Fingerprint:
    """The most precise build wins; on a tie the first seen (requests run in order of trust)."""
    fp = Fingerprint(clues=list(clues))
    fp.exchange = bool(fp.clues)
    best: Clue | None = None
    for clue in fp.clues:
        if clue.build and (best is None or _RANK[clue.precision] > _RANK[best.precision]):
            best = clue
    if best is not None:
        fp.build, fp.precision, fp.method = best.build, best.precision, best.method
        disagree = sorted({c.build for c in fp.clues if c.build and not _same_cu(c.build, best.build)})  # type: ignore[arg-type]
        if disagree:
            fp.method = f"{best.method}; other responses said {', '.join(disagree)} (load-balanced mixed estate?)"
    elif fp.exchange:
        fp.method = fp.clues[0].method
    return fp


def _same_cu(a: str, b: str) -> bool:
    return a.split(".")[:3] == b.split(".")[:3]


def product_of(build: str) -> str | None:
    """Product from the version number: 15.2 with build >= 2562 is Subscription Edition [HC]."""
    parts = [int(p) for p in build.split(".")]
    if parts[0] == 8:
        return "2007"
    if parts[0] == 14:
        return "2010"
    if parts[0] == 15:
        if parts[1] == 2:
            return "SE" if parts[2] >= 2562 else "2019"
        return {0: "2013", 1: "2016"}.get(parts[1])
    return None


def needs_more(fp: Fingerprint) -> bool:
    """Whether another request could make the answer more precise."""
    return fp.precision is not Precision.EXACT


def versioned_exporttool_path(build: str) -> str:
    """The export tool under the ECP folder named after the full build (the fallback of [RIGHEL] and [CN])."""
    return f"/ecp/{build}/exporttool/{EXPORTTOOL_NAME}"
