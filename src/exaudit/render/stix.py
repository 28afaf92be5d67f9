"""A STIX 2.1 bundle of the report, built and validated by the ``stix2`` library.

* ``identity`` objects: the producing tool, and one per server (``identity_class: system``), because
  ``where_sighted_refs`` must point to identities or locations and STIX has no host object.
* ``vulnerability`` per CVE, ``indicator`` per IP, absolute URL and file hash with a STIX pattern (a bare
  path such as ``/owa/auth/logon.aspx`` is not a URL, and often a legitimate page: it stays out),
* ``observed-data`` per finding (what we saw: its addresses, URLs and files as SCOs),
* ``sighting`` per (indicator, finding): indicator X was seen on server Y, backed by observed-data Z.

No custom properties: the bundle parses back with ``allow_custom=False``. Marked with the TLP 1.0
marking definitions stix2 ships (``clear`` is TLP:WHITE there).

References:
    STIX 2.1 (OASIS), sections Indicator, Observed Data, Sighting, Patterning;
    stix2 Python library 3.0 (https://stix2.readthedocs.io/).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import stix2

from exaudit.model import Finding, iso, parse_iso, utc_now
from exaudit.render.i18n import text
from exaudit.render.indicators import SharedIndicator, collect
from exaudit.render.view import ReportView

_TLP = {"clear": stix2.TLP_WHITE, "green": stix2.TLP_GREEN, "amber": stix2.TLP_AMBER, "amber+strict": stix2.TLP_AMBER, "red": stix2.TLP_RED}


def pattern_literal(value: str) -> str:
    """A STIX pattern string literal: backslash and quote escaped (STIX 2.1 Patterning, Literals)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pattern(item: SharedIndicator) -> str | None:
    if item.kind == "ipv4":
        return f"[ipv4-addr:value = {pattern_literal(item.value)}]"
    if item.kind == "ipv6":
        return f"[ipv6-addr:value = {pattern_literal(item.value)}]"
    if item.kind == "url":
        return f"[url:value = {pattern_literal(item.value)}]"
    if item.kind == "file" and item.sha256:
        return f"[file:hashes.'SHA-256' = {pattern_literal(item.sha256)}]"
    return None  # user agents and unhashed file names are shown in observed-data only


def _sco(item: SharedIndicator) -> Any:
    if item.kind == "ipv4":
        return stix2.IPv4Address(value=item.value)
    if item.kind == "ipv6":
        return stix2.IPv6Address(value=item.value)
    if item.kind == "url":
        return stix2.URL(value=item.value)
    if item.kind == "file":
        return stix2.File(name=item.name, hashes={"SHA-256": item.sha256} if item.sha256 else None)
    return None


def _time(value: str | None, default: datetime) -> datetime:
    try:
        parsed = parse_iso(value)
    except ValueError:
        parsed = None
    return parsed or default


def _cve_refs(findings: list[Finding]) -> list[dict[str, str]]:
    cves = sorted({c for f in findings for c in f.cves})
    return [{"source_name": "cve", "external_id": c} for c in cves]


def render_stix(view: ReportView, lang: str, tlp: str) -> str:
    now = utc_now()
    marking = [_TLP[tlp]]
    tool = stix2.Identity(name=text("share_tool", lang), identity_class="system", object_marking_refs=marking)
    hosts = {
        h.name: stix2.Identity(
            name=text("share_host", lang, host=h.name), identity_class="system", created_by_ref=tool, object_marking_refs=marking
        )
        for h in view.hosts
    }
    common = {"created_by_ref": tool.id, "object_marking_refs": marking}
    objects: list[Any] = [tool, *hosts.values()]
    cves = sorted({c for f in view.findings for c in f.cves} | {c.cve for h in view.hosts for c in h.open_cves})
    objects += [stix2.Vulnerability(name=c, external_references=[{"source_name": "cve", "external_id": c}], **common) for c in cves]

    shared = collect(view)
    indicators: dict[tuple[str, str], Any] = {}
    for item in shared:
        pattern = _pattern(item)
        if pattern is None:
            continue
        titles = "; ".join(dict.fromkeys(f.title for f in item.findings))
        indicators[(item.kind, item.value)] = stix2.Indicator(
            name=text(f"share_{'ip' if item.kind.startswith('ipv') else 'url' if item.kind == 'url' else 'file'}", lang, value=item.name),
            description=text("share_seen_in", lang, titles=titles),
            pattern=pattern,
            pattern_type="stix",
            valid_from=_time(item.first_seen, now),
            indicator_types=["malicious-activity"],
            external_references=_cve_refs(item.findings) or None,
            **common,
        )
    objects += indicators.values()

    scos: dict[tuple[str, str], Any] = {}
    for item in shared:
        sco = _sco(item)
        if sco is not None:
            scos[(item.kind, item.value)] = sco
    objects += scos.values()

    by_finding: dict[int, list[SharedIndicator]] = {}
    for item in shared:
        for f in item.findings:
            by_finding.setdefault(id(f), []).append(item)
    for finding in view.findings:
        mine = by_finding.get(id(finding), [])
        refs = [scos[(i.kind, i.value)].id for i in mine if (i.kind, i.value) in scos]
        if not refs:
            continue
        first = _time(finding.first_seen, now)
        last = max(first, _time(finding.last_seen, first))
        observed = stix2.ObservedData(
            first_observed=first, last_observed=last, number_observed=max(1, finding.count), object_refs=refs, **common
        )
        objects.append(observed)
        for item in mine:
            indicator = indicators.get((item.kind, item.value))
            if indicator is None:
                continue
            objects.append(
                stix2.Sighting(
                    sighting_of_ref=indicator.id,
                    observed_data_refs=[observed.id],
                    where_sighted_refs=[hosts[finding.host].id],
                    first_seen=first,
                    last_seen=last,
                    count=max(1, finding.count),
                    description=f"{finding.title} ({iso(first)} UTC)",
                    **common,
                )
            )
    # stix2's pretty=True orders properties in quadratic time (minutes for a few thousand objects):
    # serialise compactly, then indent with json
    compact = stix2.Bundle(objects=objects, allow_custom=False).serialize()
    return json.dumps(json.loads(compact), indent=2, ensure_ascii=False)
