"""Dropped files: LSASS dumps and staged archives, weighed instead of flagged blindly.

Test-ProxyLogon flagged every .zip/.7z/.rar in ProgramData; McAfee and backup archives filled the
reports (CSS-Exchange#311, #328, #251) until it hid them unless a CVE check hit (PR #386). Here:

* an ``lsass*.dmp`` anywhere is credential theft (confidence high when the file starts with the
  minidump signature ``MDMP``);
* an archive in a web folder is reported (it can be downloaded by anyone);
* an archive in ProgramData, C:\\root or Windows\\Temp is reported only when it was written inside
  the attack window that other findings establish (first sighting minus one day to last plus 30
  days), or carries a name from published reports; the reason is stated in the finding.

References: reference/microsoft-css-exchange.md §1.8, §6; reference/published-attack-examples.md §3c
(archives in C:\\ProgramData, it.zip); reference/peer-tools-and-iocs.md §6 (MSTIC lsass/it.zip).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from exaudit.evidence.base import EvidenceFile
from exaudit.model import Finding, Indicators, Severity, SourceRef, iso, parse_iso

_LSASS_DUMP = re.compile(r"(^|\\)lsass[^\\]*\.dmp$", re.IGNORECASE)
_ARCHIVE = re.compile(r"\.(zip|7z|rar|cab)$", re.IGNORECASE)
_STAGING_DIRS = ("\\programdata\\", "\\root\\", "\\windows\\temp\\", "\\users\\public\\")
_WEB_DIRS = ("\\inetpub\\wwwroot\\", "\\frontend\\httpproxy\\", "\\clientaccess\\")
_KNOWN_NAMES = frozenset({"it.zip", "pst.7z", "lsass.zip", "dmp.zip"})  # MSTIC / Sigma HAFNIUM rules
WINDOW_BEFORE = timedelta(days=1)
WINDOW_AFTER = timedelta(days=30)


def attack_window(findings: Iterable[Finding]) -> tuple[datetime, datetime] | None:
    times = [t for f in findings if f.stage != "attempt" for t in (parse_iso(f.first_seen), parse_iso(f.last_seen)) if t]
    if not times:
        return None
    return min(times) - WINDOW_BEFORE, max(times) + WINDOW_AFTER


def _mtime(file: EvidenceFile) -> datetime | None:
    return datetime.fromtimestamp(file.mtime, UTC) if file.mtime is not None else None


def _head(file: EvidenceFile) -> bytes:
    try:
        with file.open() as stream:
            return stream.read(4)
    except OSError:
        return b""


def _finding(file: EvidenceFile, host: str, rule: str, title: str, severity: Severity, confidence: str, why: str) -> Finding:
    when = iso(_mtime(file))
    return Finding(
        rule=rule,
        title=title,
        host=host,
        severity=severity,
        confidence=confidence,
        attack=["T1003.001"] if rule == "dropped-lsass-dump" else ["T1560.001"],
        first_seen=when,
        last_seen=when,
        source=SourceRef(file.path, None),
        evidence=why,
        indicators=Indicators(files=[file.path]),
        references=["https://github.com/microsoft/CSS-Exchange/blob/main/Security/src/Test-ProxyLogon.ps1"],
        stage="post",
    ).finalize()


def dropped_file_findings(files: Iterable[EvidenceFile], host: str, findings: list[Finding]) -> list[Finding]:
    window = attack_window(findings)
    out: list[Finding] = []
    for file in files:
        low = file.path.replace("/", "\\").lower()
        name = low.rsplit("\\", 1)[-1]
        if _LSASS_DUMP.search(low):
            magic = _head(file) == b"MDMP"
            why = "file named like an LSASS dump" + (" with a minidump header (MDMP)" if magic else " (no minidump header seen)")
            out.append(
                _finding(
                    file, host, "dropped-lsass-dump", "LSASS memory dump on disk", Severity.CRITICAL, "high" if magic else "medium", why
                )
            )
            continue
        if not _ARCHIVE.search(name):
            continue
        if any(d in low for d in _WEB_DIRS):
            why = "archive inside a web folder: downloadable by anyone who knows its name"
            out.append(_finding(file, host, "dropped-archive-web", "Archive in an Exchange web folder", Severity.HIGH, "low", why))
            continue
        if not any(d in low for d in _STAGING_DIRS):
            continue
        mtime = _mtime(file)
        if name in _KNOWN_NAMES:
            why = f"archive name {name} appears in published intrusion reports"
        elif window and mtime and window[0] <= mtime <= window[1]:
            why = f"archive written {iso(mtime)}, inside the attack window {iso(window[0])} to {iso(window[1])} set by other findings"
        else:
            continue  # an ordinary archive outside any attack window: not flagged (Test-ProxyLogon's false positives)
        out.append(_finding(file, host, "dropped-archive-staging", "Archive staged for exfiltration", Severity.MEDIUM, "low", why))
    return out
