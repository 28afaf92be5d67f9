"""End to end against the lab: real sockets, real TLS, the real knowledge base (tests use 127.x only)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from exaudit.lab import Lab, ServerSpec
from exaudit.model import Precision, ScanResult, Status
from exaudit.scan import scan
from exaudit.scan.fingerprint import AUTODISCOVER_PATH, EWS_PATH, EXPORTTOOL_PATH, OWA_PATH
from exaudit.scan.probes import EEMS_CONTROL_PATH, EEMS_TEST_PATH, NMAP_26855_COOKIE, NMAP_26855_PATH

TIMEOUT = 1.5  # generous: the machine is shared; hostile servers cost at most ~2 x this

SPECS = {
    "2016-cu": ServerSpec(build="15.1.2176.2", owa_version_header=False, exporttool=False),
    "2016-exporttool": ServerSpec(build="15.1.2176.9", owa_version_header=False, exporttool=True),
    "2019-header-mitigated": ServerSpec(build="15.2.1118.7", owa_version_header=True, eomt=True, eems=True),
    "2013-plain-http": ServerSpec(build="15.0.1497.2", owa_version_header=False, exporttool=False, tls=False),
    "2010": ServerSpec(build="14.3.513.0"),
    "se": ServerSpec(build="15.2.2562.17", owa_version_header=True),
    "2016-eomt": ServerSpec(build="15.1.2176.2", owa_version_header=False, exporttool=True, eomt=True),
    "plain-iis": ServerSpec(kind="plain"),
    "plain-nginx": ServerSpec(kind="plain", plain_server="nginx", tls=False),
    "tarpit": ServerSpec(kind="tarpit"),
    "endless": ServerSpec(kind="endless"),
    "redirect_loop": ServerSpec(kind="redirect_loop"),
    "garbage": ServerSpec(kind="garbage"),
    "reset": ServerSpec(kind="reset"),
    "slow_headers": ServerSpec(kind="slow_headers", drip=0.05),
}
NAMES = list(SPECS)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(SPECS.values(), first_address="127.0.77.1", port=0) as running:
        yield running


def target_of(lab: Lab, name: str) -> str:
    endpoint = lab.endpoints[NAMES.index(name)]
    return f"{endpoint.host}:{endpoint.port}"


@pytest.fixture(scope="module")
def probed(lab: Lab) -> dict[str, ScanResult]:
    """Every lab server scanned once with every probe."""
    results = scan([target_of(lab, n) for n in NAMES], probes=["all"], timeout=TIMEOUT)
    by_target = {r.target: r for r in results}
    return {name: by_target[target_of(lab, name)] for name in NAMES}


def cve(result: ScanResult, name: str) -> tuple[Status, str]:
    (status,) = [c for c in result.cves if c.cve == name]
    return status.status, status.reason


@pytest.mark.parametrize(
    ("name", "product", "build", "precision", "method"),
    [
        ("2016-cu", "2016", "15.1.2176", Precision.CU, "owa logon resource path"),
        ("2016-exporttool", "2016", "15.1.2176.9", Precision.EXACT, "ecp exporttool manifest"),
        ("2019-header-mitigated", "2019", "15.2.1118.7", Precision.EXACT, "x-owa-version header"),
        ("2013-plain-http", "2013", "15.0.1497", Precision.CU, "owa logon resource path"),
        ("2010", "2010", "14.3.513.0", Precision.EXACT, "owa resource path"),
        ("se", "SE", "15.2.2562.17", Precision.EXACT, "x-owa-version header"),
    ],
)
def test_products_builds_and_precision(
    probed: dict[str, ScanResult], name: str, product: str, build: str, precision: Precision, method: str
) -> None:
    result = probed[name]
    assert (result.reachable, result.exchange, result.product, result.build, result.build_precision) == (
        True,
        True,
        product,
        build,
        precision,
    )
    assert (result.build_method or "").startswith(method)
    assert result.error is None
    assert len(result.cves) >= 20 and len({c.cve for c in result.cves}) == len(result.cves)


def test_plain_http_fallback_and_url(lab: Lab, probed: dict[str, ScanResult]) -> None:
    assert probed["2013-plain-http"].url == f"http://{target_of(lab, '2013-plain-http')}"
    assert probed["2016-cu"].url == f"https://{target_of(lab, '2016-cu')}"


def test_not_exchange_has_no_cves(probed: dict[str, ScanResult]) -> None:
    for name in ("plain-iis", "plain-nginx"):
        result = probed[name]
        assert (result.reachable, result.exchange, result.build_precision, result.cves, result.error) == (
            True,
            False,
            Precision.NONE,
            [],
            None,
        )


def test_exposure_by_precision(probed: dict[str, ScanResult]) -> None:
    assert cve(probed["2016-exporttool"], "CVE-2021-26855")[0] is Status.NOT_VULNERABLE  # Mar21SU seen exactly
    assert cve(probed["2016-exporttool"], "CVE-2021-34473")[0] is Status.VULNERABLE  # no Apr21SU
    assert cve(probed["2019-header-mitigated"], "CVE-2022-41040")[0] is Status.VULNERABLE  # CU11 RTM, before Nov22SU


def test_proxylogon_probe_outcomes(probed: dict[str, ScanResult]) -> None:
    def outcome(name: str) -> str:
        return next(p["outcome"] for p in probed[name].probes if p["name"] == "proxylogon")

    assert outcome("2016-cu") == "vulnerable"
    assert outcome("2016-exporttool") == "not_vulnerable"
    assert outcome("2016-eomt") == "aborted"
    # the probe proves what the build could only suspect: possibly (CU only) -> vulnerable
    status, reason = cve(probed["2016-cu"], "CVE-2021-26855")
    assert status is Status.VULNERABLE and reason.startswith("confirmed by probe") and "possibly_vulnerable" in reason


def test_mitigations_never_clear_a_vulnerable_build(probed: dict[str, ScanResult]) -> None:
    result = probed["2016-eomt"]
    assert [(m["name"], m["present"]) for m in result.mitigations] == [("eomt", True), ("eems", False)]
    status, reason = cve(result, "CVE-2021-26855")
    assert status is Status.VULNERABLE and reason.startswith("mitigated by URL Rewrite (eomt), vulnerable by build")
    both = probed["2019-header-mitigated"]
    assert [(m["name"], m["present"]) for m in both.mitigations] == [("eomt", True), ("eems", True)]
    status, reason = cve(both, "CVE-2022-41040")
    assert status is Status.VULNERABLE and "mitigated by URL Rewrite (eems)" in reason
    assert {p["name"]: p["outcome"] for p in both.probes} == {"proxylogon": "aborted", "eomt": "mitigated", "eems": "mitigated"}


def test_unmitigated_servers_say_so(probed: dict[str, ScanResult]) -> None:
    assert {p["name"]: p["outcome"] for p in probed["2016-cu"].probes} == {
        "proxylogon": "vulnerable",
        "eomt": "not_mitigated",
        "eems": "not_mitigated",
    }
    assert "no URL Rewrite mitigation (eems) detected" in cve(probed["2016-cu"], "CVE-2022-41040")[1]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tarpit", "in time"),
        ("endless", "larger than 256 KiB"),
        ("redirect_loop", "redirect loop"),
        ("garbage", "not a valid HTTP response"),
        ("reset", "reset"),
        ("slow_headers", "no complete response in time"),
    ],
)
def test_hostile_servers_end_in_a_clear_error(probed: dict[str, ScanResult], name: str, message: str) -> None:
    result = probed[name]
    assert result.exchange is False and result.cves == []
    assert message in (result.error or ""), result.error


def test_only_documented_get_requests_without_probes(lab: Lab) -> None:
    lab.clear_requests()
    names = ["2016-cu", "2019-header-mitigated", "plain-iis"]
    scan([target_of(lab, n) for n in names], timeout=TIMEOUT)
    seen = lab.requests
    assert seen and {r.method for r in seen} == {"GET"}
    assert {r.address for r in seen} == {lab.endpoints[NAMES.index(n)].host for n in names}
    documented = {OWA_PATH, "/owa/auth/logon.aspx", EXPORTTOOL_PATH, EWS_PATH, AUTODISCOVER_PATH}
    versioned = re.compile(r"^/ecp/15\.\d+\.\d+\.\d+/exporttool/microsoft\.exchange\.ediscovery\.exporttool\.application$")
    assert {r.path for r in seen if not versioned.match(r.path)} <= documented
    # the versioned ECP folders are only tried for the CU-only server, and only that CU's builds
    assert {r.address for r in seen if versioned.match(r.path)} == {lab.endpoints[0].host}
    assert all(r.path.startswith("/ecp/15.1.2176.") for r in seen if versioned.match(r.path))
    assert not any(r.header("Cookie") for r in seen)  # no probe unless asked


def test_probe_requests_are_the_documented_ones(lab: Lab) -> None:
    lab.clear_requests()
    scan([target_of(lab, "2016-cu")], probes=["proxylogon", "eems"], timeout=TIMEOUT)
    with_cookie = [r for r in lab.requests if r.header("Cookie")]
    assert [(r.method, r.target, r.header("Cookie")) for r in with_cookie] == [("GET", NMAP_26855_PATH, NMAP_26855_COOKIE)]
    assert {r.target for r in lab.requests} >= {EEMS_TEST_PATH, EEMS_CONTROL_PATH}
    assert {r.method for r in lab.requests} == {"GET"}


def test_cidr_names_members_and_skips_silent_addresses() -> None:
    specs = [ServerSpec(build="15.1.2176.2", exporttool=False), ServerSpec(kind="plain", tls=False), ServerSpec(kind="tarpit")]
    with Lab(specs, first_address="127.0.78.1", port=0) as small:
        ports = [e.port for e in small.endpoints]
        results = scan(["127.0.78.0/29"], ports=ports, timeout=TIMEOUT)
        expected = {f"{e.host}:{e.port}" for e in small.endpoints}
    assert {r.target for r in results} == expected  # .4-.6 answer nothing and are left out
    by_target = {r.target: r for r in results}
    first = by_target[f"127.0.78.1:{ports[0]}"]
    assert first.exchange and first.build == "15.1.2176"
    assert by_target[f"127.0.78.3:{ports[2]}"].error


def test_unanswered_single_target_is_reported(lab: Lab) -> None:
    (result,) = scan(["127.0.79.1:1"], timeout=TIMEOUT)
    assert (result.target, result.reachable, result.exchange, result.error) == ("127.0.79.1:1", False, False, "connection refused")


def test_rate_waits_do_not_use_up_the_host_time_bound(lab: Lab) -> None:
    names = ["2019-header-mitigated", "se", "2010", "2016-exporttool", "plain-iis", "2016-eomt"]
    # ~12 requests at 6 per second take ~2 s: longer than the 1 s host bound of the last hosts
    results = scan([target_of(lab, n) for n in names], rate=6, concurrency=len(names), timeout=1.0, host_timeout=1.0)
    assert len(results) == len(names)
    assert [r.error for r in results] == [None] * len(names)
    assert sum(r.exchange for r in results) == len(names) - 1
