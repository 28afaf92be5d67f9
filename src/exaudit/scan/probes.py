"""Safe behavioural probes (off by default; ``--probe NAME`` or ``--probe all``).

Each probe is a GET that Microsoft's own checks sent or that only tests whether a URL Rewrite rule drops a
request; nothing posts, writes or needs a callback. Exact requests are listed in docs/scan.md.

* ``proxylogon`` — Microsoft's nmap script ``http-vuln-cve2021-26855.nse`` (CSS-Exchange, final 2021-03-09):
  ``GET /owa/auth/x.js`` with ``Cookie: X-AnonResource=true; X-AnonResource-Backend=localhost/ecp/default.flt?~3;
  X-BEResource=localhost/owa/auth/logon.aspx?~3;``; VULNERABLE when ``X-CalculatedBETarget`` contains
  ``localhost`` (reference microsoft-css-exchange.md §2).
* ``eomt`` — the EOMT / ExchangeMitigations URL Rewrite rules abort any request whose cookie contains
  ``X-AnonResource-Backend`` or ``X-BEResource=a/b~c`` (§3.1). The same nmap request is the test; a plain
  ``GET /owa/auth/x.js`` is the control. Aborted test + answered control = mitigation present (§3.4: this
  cannot tell a mitigated server from a patched one, and a CU install silently removes the rule).
* ``eems`` — the EOMTv2 / EEMS M1.1 rule aborts any request whose URL-decoded URI contains both
  ``autodiscover`` and ``powershell`` (§3.5). Test: ``GET /autodiscover/autodiscover.json/powershell``
  (anonymous, no ``@`` explicit-logon part, so no proxying happens on an unmitigated server); control:
  ``GET /autodiscover/autodiscover.xml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exaudit.scan.fingerprint import Observation
from exaudit.scan.http import FetchError

NMAP_26855_PATH = "/owa/auth/x.js"
NMAP_26855_COOKIE = (
    "X-AnonResource=true; X-AnonResource-Backend=localhost/ecp/default.flt?~3; X-BEResource=localhost/owa/auth/logon.aspx?~3;"
)
EEMS_TEST_PATH = "/autodiscover/autodiscover.json/powershell"
EEMS_CONTROL_PATH = "/autodiscover/autodiscover.xml"


@dataclass(frozen=True)
class ProbeSpec:
    name: str
    title: str
    cves: tuple[str, ...]
    test_path: str
    test_cookie: str | None
    control_path: str | None


PROBES: dict[str, ProbeSpec] = {
    "proxylogon": ProbeSpec(
        "proxylogon", "CVE-2021-26855 SSRF check (Microsoft nmap script)", ("CVE-2021-26855",), NMAP_26855_PATH, NMAP_26855_COOKIE, None
    ),
    "eomt": ProbeSpec(
        "eomt",
        "EOMT URL Rewrite mitigation for CVE-2021-26855",
        ("CVE-2021-26855",),
        NMAP_26855_PATH,
        NMAP_26855_COOKIE,
        NMAP_26855_PATH,
    ),
    "eems": ProbeSpec(
        "eems",
        "EEMS / EOMTv2 URL Rewrite mitigation for CVE-2022-41040 (ProxyNotShell)",
        ("CVE-2022-41040", "CVE-2022-41082"),
        EEMS_TEST_PATH,
        None,
        EEMS_CONTROL_PATH,
    ),
}


class ProbeError(ValueError):
    pass


def probe_names(requested: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate ``--probe`` values; ``all`` selects every probe."""
    names: list[str] = []
    for name in requested:
        chosen = list(PROBES) if name == "all" else [name]
        for item in chosen:
            if item not in PROBES:
                raise ProbeError(f"unknown probe {name!r}; choose from {', '.join(PROBES)} or all")
            if item not in names:
                names.append(item)
    return tuple(names)


def request_text(spec: ProbeSpec, cookie: bool = True) -> str:
    text = f"GET {spec.test_path}"
    return f"{text} (Cookie: {spec.test_cookie})" if cookie and spec.test_cookie else text


Answer = Observation | FetchError


def judge_proxylogon(test: Answer) -> dict[str, Any]:
    """The nmap script's final decision, plus what it could not say (an aborted request)."""
    spec = PROBES["proxylogon"]
    entry: dict[str, Any] = {"name": spec.name, "title": spec.title, "cves": list(spec.cves), "request": request_text(spec)}
    if isinstance(test, FetchError):
        if test.kind == "aborted":
            entry.update(outcome="aborted", evidence=f"{test}; a URL Rewrite rule (EOMT) drops this request")
        else:
            entry.update(outcome="error", evidence=str(test))
        return entry
    target = test.headers.get("x-calculatedbetarget", "")
    if "localhost" in target.lower():
        entry.update(outcome="vulnerable", evidence=f"HTTP {test.status}, X-CalculatedBETarget: {target[:200]}")
    else:
        shown = f", X-CalculatedBETarget: {target[:200]}" if target else ", no X-CalculatedBETarget"
        entry.update(outcome="not_vulnerable", evidence=f"HTTP {test.status}{shown}")
    return entry


def judge_mitigation(name: str, test: Answer, control: Answer) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``(probe entry, mitigation entry or None)``: present when the test is aborted and the control answers."""
    spec = PROBES[name]
    entry: dict[str, Any] = {
        "name": spec.name,
        "title": spec.title,
        "cves": list(spec.cves),
        "request": request_text(spec),
        "control": f"GET {spec.control_path}",
    }
    if isinstance(control, FetchError):
        entry.update(outcome="inconclusive", evidence=f"control request failed: {control}")
        return entry, None
    if isinstance(test, FetchError) and test.kind == "aborted":
        evidence = f"test request aborted ({test}); control answered HTTP {control.status}"
        entry.update(outcome="mitigated", evidence=evidence)
        mitigation = {"name": spec.name, "title": spec.title, "cves": list(spec.cves), "present": True, "evidence": evidence}
        mitigation["note"] = "hides the bug, does not fix it; a CU install silently removes the rule: install the fix"
        return entry, mitigation
    if isinstance(test, FetchError):
        entry.update(outcome="inconclusive", evidence=f"test request failed: {test}")
        return entry, None
    evidence = f"test request answered HTTP {test.status}; control answered HTTP {control.status}"
    entry.update(outcome="not_mitigated", evidence=evidence)
    return entry, {"name": spec.name, "title": spec.title, "cves": list(spec.cves), "present": False, "evidence": evidence}
