"""A MISP event (core format JSON) with the report's indicators, ready for import.

Attributes use category/type pairs that MISP accepts: ``ip-src`` / ``url`` / ``uri`` / ``user-agent`` in
*Network activity*, ``filename|sha256`` and ``filename`` in *Artifacts dropped*, ``vulnerability`` in
*External analysis*. ``to_ids`` is true only for what is safe to alert on (addresses, absolute URLs,
hashes; not user agents, bare paths nor bare file names, which legitimate traffic and software share). The event is not published
and its distribution is "your organisation only": the sharer decides.

References:
    MISP core format, draft-dulaunoy-misp-core-format (MISP/misp-rfc misp-core-format/raw.md);
    PyMISP ``MISPEvent.load`` (tests load every event we write).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from exaudit.model import Verdict, parse_iso, utc_now
from exaudit.render.i18n import text
from exaudit.render.indicators import SharedIndicator, collect
from exaudit.render.view import ReportView

_TYPES = {
    "ipv4": ("Network activity", "ip-src", True),
    "ipv6": ("Network activity", "ip-src", True),
    "url": ("Network activity", "url", True),
    # a bare path is often a legitimate Exchange page the attacker also requested (/owa/auth/logon.aspx):
    # context, not something to alert on
    "uri": ("Network activity", "uri", False),
    "user_agent": ("Network activity", "user-agent", False),
}


def _seen(value: str | None) -> str | None:
    """MISP wants first_seen/last_seen as ISO 8601 with microseconds and an offset."""
    try:
        parsed = parse_iso(value)
    except ValueError:
        return None
    return parsed.isoformat(timespec="microseconds") if parsed else None


def _attribute(
    category: str, kind: str, value: str, to_ids: bool, comment: str, first: str | None = None, last: str | None = None
) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "category": category,
        "type": kind,
        "value": value,
        "to_ids": to_ids,
        "distribution": "5",  # inherit the event's distribution
        "comment": comment[:1024],
    }
    if first:
        attribute["first_seen"] = first
    if last and last != first:
        attribute["last_seen"] = last
    return attribute


def _indicator_attribute(item: SharedIndicator, lang: str) -> dict[str, Any]:
    comment = text("share_seen_in", lang, titles="; ".join(dict.fromkeys(f"{f.host}: {f.title}" for f in item.findings)))
    first, last = _seen(item.first_seen), _seen(item.last_seen)
    if item.kind == "file":
        if item.sha256:
            return _attribute("Artifacts dropped", "filename|sha256", f"{item.name}|{item.sha256}", True, comment, first, last)
        return _attribute("Artifacts dropped", "filename", item.name, False, f"{item.value} — {comment}", first, last)
    category, kind, to_ids = _TYPES[item.kind]
    return _attribute(category, kind, item.value, to_ids, comment, first, last)


def _threat_level(view: ReportView) -> str:
    worst = max((h.verdict.rank for h in view.hosts if h.verdict), default=-1)
    if worst >= Verdict.EXPLOITED.rank:
        return "1"  # high
    return "2" if view.findings else "3"


def render_misp(view: ReportView, lang: str, tlp: str) -> str:
    now = utc_now()
    firsts = sorted(f.first_seen for f in view.findings if f.first_seen)
    lasts = sorted(t for f in view.findings if (t := f.last_seen or f.first_seen))
    info = text(
        "share_event", lang, hosts=sum(1 for h in view.hosts if h.findings), findings=len(view.findings),
        first=firsts[0] if firsts else "?", last=lasts[-1] if lasts else "?",
    )  # fmt: skip
    attributes = [_indicator_attribute(item, lang) for item in collect(view)]
    cves = sorted({c for f in view.findings for c in f.cves})
    attributes += [_attribute("External analysis", "vulnerability", c, False, "") for c in cves]
    event = {
        "uuid": str(uuid.uuid4()),
        "info": info[:256],
        "date": (firsts[0][:10] if firsts else now.date().isoformat()),
        "timestamp": str(int(now.timestamp())),
        "threat_level_id": _threat_level(view),
        "analysis": "1",  # ongoing: an automated first analysis
        "distribution": "0",  # your organisation only until someone decides to share
        "published": False,
        "Attribute": attributes,
        "Tag": [{"name": f"tlp:{tlp}"}, {"name": 'workflow:state="draft"'}],
    }
    return json.dumps({"Event": event}, indent=2, ensure_ascii=False)
