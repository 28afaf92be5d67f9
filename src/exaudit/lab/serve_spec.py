"""What one emulated server is: :class:`ServerSpec`, and the defaults derived from its build.

References (``/shared/reference`` of the project documentation set):

* remote-fingerprinting.md §0 (build anatomy: 14.x = 2010, 15.0 = 2013, 15.1 = 2016, 15.2 = 2019, 15.2 with
  Build >= 2562 = Subscription Edition), §2 (X-OWA-Version "only present since the July 2021 updates" — reported by
  one tool citing msxfaq, not confirmed by Microsoft, hence the ``auto`` default is a documented guess).
* microsoft-css-exchange.md §2 (the builds the nmap CVE-2021-26855 script calls vulnerable), exchange_cves.csv rows
  CVE-2021-26855 (March 2021 SU per CU) and CVE-2021-34473 (April 2021 SU per CU) for the automatic defaults.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

KINDS = ("exchange", "plain", "tarpit", "endless", "redirect_loop", "garbage", "reset", "slow_headers")
HOSTILE_KINDS = ("tarpit", "endless", "redirect_loop", "garbage", "reset", "slow_headers")
BEHAVIOURS = ("vulnerable", "patched")

_BUILD_RE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{1,4})\.(\d{1,4})\s*$")

# First build of each CU that carries the March 2021 ProxyLogon SU, keyed by (major, minor, CU build)
# (exchange_cves.csv, CVE-2021-26855). CUs at or above the "fixed CU" shipped with the fix.
_PROXYLOGON_SU = {
    (15, 0, 1395): 12, (15, 0, 1473): 6, (15, 0, 1497): 12,
    (15, 1, 1415): 10, (15, 1, 1466): 16, (15, 1, 1531): 12, (15, 1, 1591): 18, (15, 1, 1713): 10,
    (15, 1, 1779): 8, (15, 1, 1847): 12, (15, 1, 1913): 12, (15, 1, 1979): 8, (15, 1, 2044): 13,
    (15, 1, 2106): 13, (15, 1, 2176): 9,
    (15, 2, 221): 18, (15, 2, 330): 11, (15, 2, 397): 11, (15, 2, 464): 15, (15, 2, 529): 13,
    (15, 2, 595): 8, (15, 2, 659): 12, (15, 2, 721): 13, (15, 2, 792): 10,
}  # fmt: skip
_PROXYLOGON_FIXED_CU = {(15, 1): 2242, (15, 2): 858}  # 2016 CU20, 2019 CU9; 2013 had no later CU

# April 2021 SU (ProxyShell, CVE-2021-34473) per CU, and the first CUs that shipped with it.
_PROXYSHELL_SU = {(15, 0, 1497): 15, (15, 1, 2176): 12, (15, 1, 2242): 8, (15, 2, 792): 13, (15, 2, 858): 10}
_PROXYSHELL_FIXED_CU = {(15, 1): 2308, (15, 2): 922}  # 2016 CU21, 2019 CU10

# First build of each CU that had the July 2021 SU; X-OWA-Version is emitted from there on (see module doc).
_OWA_HEADER_SU = {(15, 0, 1497): 23, (15, 1, 2242): 12, (15, 1, 2308): 14, (15, 2, 858): 15, (15, 2, 922): 13}
_OWA_HEADER_CU = {(15, 1): 2375, (15, 2): 986}  # 2016 CU22, 2019 CU11 were released after July 2021


class SpecError(ValueError):
    """A server specification that cannot be served (bad build, unknown kind or option)."""


def parse_build(build: str) -> tuple[int, int, int, int]:
    """``"15.01.2176.002"`` or ``"15.1.2176.2"`` → ``(15, 1, 2176, 2)`` (compared per component, never as text)."""
    match = _BUILD_RE.match(build)
    if not match:
        raise SpecError(f"not a 4-part Exchange build: {build!r} (expected e.g. 15.1.2176.2)")
    major, minor, cu, rev = (int(part) for part in match.groups())
    if major == 14 and minor <= 3:
        return major, minor, cu, rev
    if major == 15 and minor <= 2:
        return major, minor, cu, rev
    raise SpecError(f"build {build!r} is not Exchange 2010, 2013, 2016, 2019 or SE (14.0-14.3 or 15.0-15.2)")


def product_of(build: str) -> str:
    """Product name from the build number (remote-fingerprinting.md §0)."""
    major, minor, cu, _ = parse_build(build)
    if major == 14:
        return "Exchange 2010"
    if minor == 0:
        return "Exchange 2013"
    if minor == 1:
        return "Exchange 2016"
    return "Exchange SE" if cu >= 2562 else "Exchange 2019"


def _fixed(build: str, su_table: dict[tuple[int, int, int], int], fixed_cu: dict[tuple[int, int], int]) -> bool:
    major, minor, cu, rev = parse_build(build)
    if (major, minor) in fixed_cu and cu >= fixed_cu[(major, minor)]:
        return True
    first_fixed_rev = su_table.get((major, minor, cu))
    return first_fixed_rev is not None and rev >= first_fixed_rev


def default_proxylogon(build: str) -> str:
    """``vulnerable`` unless the build contains the March 2021 fix; Exchange 2010 is not affected by CVE-2021-26855."""
    if parse_build(build)[0] == 14:
        return "patched"
    return "patched" if _fixed(build, _PROXYLOGON_SU, _PROXYLOGON_FIXED_CU) else "vulnerable"


def default_proxyshell(build: str) -> str:
    """``vulnerable`` unless the build contains the April 2021 fix (CVE-2021-34473); 2010 is not affected."""
    if parse_build(build)[0] == 14:
        return "patched"
    return "patched" if _fixed(build, _PROXYSHELL_SU, _PROXYSHELL_FIXED_CU) else "vulnerable"


def default_owa_version_header(build: str) -> bool:
    """Guess: header present from the July 2021 SU on (remote-fingerprinting.md §2, unconfirmed by Microsoft)."""
    if parse_build(build)[0] == 14:
        return False  # 2010 values were observed in the wild [GB], but not when; off by default
    return _fixed(build, _OWA_HEADER_SU, _OWA_HEADER_CU)


@dataclass(frozen=True)
class ServerSpec:
    """One emulated server. ``None`` options are resolved from the build when the spec is created.

    * ``kind``: ``exchange`` | ``plain`` (a non-Exchange IIS or nginx site) | a hostile kind: ``tarpit`` (accepts,
      never answers), ``endless`` (endless body), ``redirect_loop``, ``garbage`` (non-HTTP bytes), ``reset``
      (TCP RST at the first bytes received; never speaks TLS), ``slow_headers`` (header bytes dripped forever).
    * ``build``: any 4-part 2010/2013/2016/2019/SE build.
    * ``owa_version_header``: send ``X-OWA-Version: <build>`` (default: from the July 2021 SU on, a guess).
    * ``exporttool``: serve the ECP export-tool ClickOnce manifest with the 4-part build (2013+ only).
    * ``proxylogon`` / ``proxyshell``: ``vulnerable`` | ``patched`` (default: from the build).
    * ``eomt``: the EOMT URL Rewrite rules (abort requests whose cookie carries X-AnonResource-Backend / X-BEResource).
    * ``eems``: the EEMS/EOMTv2 ProxyNotShell rule (abort when the decoded URI holds autodiscover and powershell).
    * ``tls``: serve HTTPS with the lab's self-signed certificate. ``delay``: seconds added before every answer.
    * ``server_name``: NetBIOS name in X-FEServer (default ``EX`` + the endpoint number).
    * ``plain_server``: ``iis`` or ``nginx`` (kind ``plain``). ``drip``: seconds between bytes (``slow_headers``).
    """

    kind: str = "exchange"
    build: str = "15.2.1544.4"
    owa_version_header: bool | None = None
    exporttool: bool = True
    proxylogon: str | None = None
    proxyshell: str | None = None
    eomt: bool = False
    eems: bool = False
    tls: bool = True
    delay: float = 0.0
    server_name: str | None = None
    plain_server: str = "iis"
    drip: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SpecError(f"unknown server kind {self.kind!r} (one of: {', '.join(KINDS)})")
        parse_build(self.build)
        if self.delay < 0 or self.drip <= 0:
            raise SpecError("delay must be >= 0 and drip > 0 seconds")
        if self.plain_server not in ("iis", "nginx"):
            raise SpecError(f"plain_server must be iis or nginx, not {self.plain_server!r}")
        for name in ("proxylogon", "proxyshell"):
            value = getattr(self, name)
            if value is not None and value not in BEHAVIOURS:
                raise SpecError(f"{name} must be vulnerable or patched, not {value!r}")
        if self.proxylogon is None:
            object.__setattr__(self, "proxylogon", default_proxylogon(self.build))
        if self.proxyshell is None:
            object.__setattr__(self, "proxyshell", default_proxyshell(self.build))
        if self.owa_version_header is None:
            object.__setattr__(self, "owa_version_header", default_owa_version_header(self.build))

    @property
    def product(self) -> str:
        """``Exchange 2016`` …, ``IIS`` / ``nginx`` for plain sites, the kind for hostile servers."""
        if self.kind == "exchange":
            return product_of(self.build)
        if self.kind == "plain":
            return "IIS" if self.plain_server == "iis" else "nginx"
        return self.kind

    @property
    def version(self) -> tuple[int, int, int, int]:
        return parse_build(self.build)

    @property
    def owa_path_version(self) -> str:
        """What the OWA resource path shows: 3 parts on 2013+, the full build on 2010 (remote-fingerprinting.md §1)."""
        major, minor, cu, rev = self.version
        return f"{major}.{minor}.{cu}.{rev}" if major == 14 else f"{major}.{minor}.{cu}"

    def options(self) -> str:
        """Short text of the options that matter for this kind (for tables)."""
        if self.kind == "plain":
            return self.plain_server + ("" if self.tls else ", no TLS")
        if self.kind != "exchange":
            return "" if self.tls or self.kind == "reset" else "no TLS"
        parts = [f"proxylogon={self.proxylogon}", f"proxyshell={self.proxyshell}"]
        parts += [name for name in ("eomt", "eems") if getattr(self, name)]
        parts += ["x-owa-version"] if self.owa_version_header else []
        parts += ["exporttool"] if self.exporttool and self.version[0] == 15 else []
        parts += [] if self.tls else ["no TLS"]
        parts += [f"delay={self.delay:g}s"] if self.delay else []
        return ", ".join(parts)

    def replace(self, **changes: object) -> ServerSpec:
        """A copy with some fields changed (auto fields are re-derived unless given)."""
        auto = {name: None for name in ("proxylogon", "proxyshell", "owa_version_header") if "build" in changes and name not in changes}
        return dataclasses.replace(self, **{**auto, **changes})  # type: ignore[arg-type]


SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(ServerSpec))


def spec_from_mapping(data: dict[str, object]) -> ServerSpec:
    """Build a spec from a YAML/JSON mapping, refusing unknown keys with a clear message."""
    unknown = sorted(set(data) - set(SPEC_FIELDS))
    if unknown:
        raise SpecError(f"unknown server option(s): {', '.join(unknown)} (known: {', '.join(SPEC_FIELDS)})")
    try:
        return ServerSpec(**data)  # type: ignore[arg-type]
    except TypeError as exc:
        raise SpecError(str(exc)) from exc
