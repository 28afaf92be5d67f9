"""Draft letters after an Exchange compromise: partners, clients, the data protection authority.

The tool states what the evidence shows (what happened and when, which servers, what was fixed or is
left to fix) and leaves clearly marked placeholders (``[[TO COMPLETE: …]]`` / ``[[À COMPLÉTER : …]]``)
for what it cannot know: names, data subjects, decisions. The regulator draft follows GDPR Art. 33(3)
(a)–(d), recalls the 72-hour deadline of Art. 33(1) and Art. 34, and DORA Art. 19 for financial entities.

References:
    Regulation (EU) 2016/679 (GDPR) Art. 33 and 34; Regulation (EU) 2022/2554 (DORA) Art. 19 and
    Commission Delegated Regulation (EU) 2025/301 (reporting time limits).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from exaudit.model import Severity, Verdict, iso, utc_now
from exaudit.render.i18n import check_lang, text
from exaudit.render.templating import md_env
from exaudit.render.text import Raw, defang, fence
from exaudit.render.view import HostView, ReportView, build_view, time_key

AUDIENCES = ("partners", "clients", "regulator")
_EXPORT = re.compile(r"(?i)New-MailboxExportRequest|MailboxExport|\.pst\b")


@dataclass
class LetterFacts:
    """What the letters say, drawn from the findings (masked text only)."""

    level: str = "none"  # compromised | exploited | attempted | none (worst verdict)
    affected: list[HostView] = field(default_factory=list)  # exploited or compromised
    attempted: list[HostView] = field(default_factory=list)
    first_attempt: str | None = None
    first_success: str | None = None
    last_activity: str | None = None
    last_success: str | None = None
    cves: list[str] = field(default_factory=list)
    what: list[str] = field(default_factory=list)  # distinct titles of the serious findings
    web_shells: bool = False
    credential_theft: bool = False
    mailbox_export: bool = False
    still_vulnerable: list[HostView] = field(default_factory=list)
    fixed: list[HostView] = field(default_factory=list)
    files_to_remove: int = 0
    coverage_from: str | None = None
    ips: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


def letter_facts(view: ReportView) -> LetterFacts:
    facts = LetterFacts()
    ranked = [h for h in view.hosts if h.verdict is not None]
    worst = max((h.verdict.rank for h in ranked if h.verdict), default=-1)
    facts.level = next((v.value for v in Verdict if v.rank == worst and v != Verdict.NO_EVIDENCE), "none")
    facts.affected = [h for h in ranked if h.verdict in (Verdict.COMPROMISED, Verdict.EXPLOITED)]
    facts.attempted = [h for h in ranked if h.verdict == Verdict.ATTEMPTED]
    # what the hunt itself does not count in a verdict (informational, low confidence) is not stated as fact
    counted = [f for f in view.findings if f.severity != Severity.INFO and f.confidence != "low"]
    seen = [f for f in counted if f.first_seen]
    facts.first_attempt = min((f.first_seen for f in seen if f.first_seen), key=time_key, default=None)
    facts.first_success = min((f.first_seen for f in seen if f.first_seen and f.stage != "attempt"), key=time_key, default=None)
    facts.last_activity = max((t for f in seen if (t := f.last_seen or f.first_seen)), key=time_key, default=None)
    facts.last_success = max((t for f in seen if f.stage != "attempt" and (t := f.last_seen or f.first_seen)), key=time_key, default=None)
    facts.cves = sorted({c for f in counted if f.stage != "attempt" for c in f.cves})
    serious = [f for f in counted if f.stage != "attempt" or f.severity.rank >= Severity.HIGH.rank]
    facts.what = list(dict.fromkeys(f.title for f in serious))[:8]
    facts.web_shells = any(f.stage == "persistence" for f in counted)
    facts.credential_theft = any("cred_theft" in h.plan.credentials for h in view.hosts)
    facts.mailbox_export = any(_EXPORT.search(f.evidence + " " + f.title) for f in counted)
    facts.still_vulnerable = [h for h in view.hosts if h.open_cves]
    facts.fixed = [h for h in facts.affected + facts.attempted if h.plan.up_to_date]
    facts.files_to_remove = sum(len(h.plan.remove) for h in view.hosts)
    facts.coverage_from = min((c.first for h in view.hosts for c in h.coverage if c.first), default=None)
    # what a partner can block: addresses and absolute URLs (a bare path only means something on our servers)
    facts.ips = [ip for ip in view.indicators.ips if _is_ip(ip)]
    facts.urls = [defang(u) for u in view.indicators.urls if "://" in u]
    return facts


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def render_letter(documents: list[dict[str, Any]], audience: str, lang: str) -> str:
    """A Markdown draft for ``audience`` (partners, clients, regulator) in ``lang`` (en, fr)."""
    check_lang(lang)
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}: choose one of {', '.join(AUDIENCES)}")
    view = build_view(documents, masked=True)
    facts = letter_facts(view)
    marker = "[[À COMPLÉTER : {}]]" if lang == "fr" else "[[TO COMPLETE: {}]]"

    def todo(what: str) -> Raw:
        return Raw(marker.format(what))

    def level(key: str) -> Raw:
        return Raw(text(key, lang))

    indicators = "\n".join(facts.ips + facts.urls)
    context = {
        "f": facts,
        "todo": todo,
        "level": level,
        "today": iso(utc_now().replace(microsecond=0)),
        "indicator_block": fence(indicators) if indicators else None,
    }
    template = md_env().get_template(f"letters/{audience}.{lang}.md.j2")
    return template.render(context)
