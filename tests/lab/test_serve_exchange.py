"""The emulated Exchange front ends, checked over real loopback sockets (TLS on, like the real thing)."""

from __future__ import annotations

import http.client
import socket
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from exaudit.lab import Endpoint, Lab, LabError, ServerSpec

NMAP_COOKIE = "X-AnonResource=true; X-AnonResource-Backend=localhost/ecp/default.flt?~3; X-BEResource=localhost/owa/auth/logon.aspx?~3;"
EXPORTTOOL = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application"
TLS = ssl._create_unverified_context()

SPECS = {
    "e2010": ServerSpec(build="14.3.123.4"),
    "e2013": ServerSpec(build="15.0.1497.2"),
    "e2016": ServerSpec(build="15.1.2176.2"),
    "e2019": ServerSpec(build="15.2.858.5"),
    "se": ServerSpec(build="15.2.2562.17"),
    "e2019_jul21": ServerSpec(build="15.2.858.15"),
    "header_forced": ServerSpec(build="15.1.2176.2", owa_version_header=True, proxylogon="patched"),
    "no_exporttool": ServerSpec(build="15.2.1544.4", exporttool=False, owa_version_header=False),
    "eomt": ServerSpec(build="15.1.2176.2", eomt=True),
    "eems": ServerSpec(build="15.1.2375.7", eems=True),
    "delayed": ServerSpec(build="15.2.1544.4", delay=1.0),
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with Lab(list(SPECS.values()), first_address="127.0.91.1", port=0, tls_dir=tmp_path_factory.mktemp("tls")) as running:
        yield running


def endpoint(lab: Lab, name: str) -> Endpoint:
    return lab.endpoints[list(SPECS).index(name)]


def fetch(ep: Endpoint, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPSConnection(ep.host, ep.port, context=TLS, timeout=5)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def fetch_body(ep: Endpoint, path: str) -> tuple[http.client.HTTPResponse, str]:
    connection = http.client.HTTPSConnection(ep.host, ep.port, context=TLS, timeout=5)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read().decode("utf-8")
    connection.close()
    return response, body


@pytest.mark.parametrize(
    ("name", "resource", "title"),
    [
        ("e2010", "/owa/14.3.123.4/themes/resources/favicon.ico", "Outlook Web App"),
        ("e2013", "/owa/auth/15.0.1497/themes/resources/favicon.ico", "Outlook Web App"),
        ("e2016", "/owa/auth/15.1.2176/themes/resources/favicon.ico", "Outlook"),
        ("e2019", "/owa/auth/15.2.858/themes/resources/favicon.ico", "Outlook"),
        ("se", "/owa/auth/15.2.2562/themes/resources/favicon.ico", "Outlook"),
    ],
)
def test_logon_page_names_the_version_folder(lab: Lab, name: str, resource: str, title: str) -> None:
    ep = endpoint(lab, name)
    response, body = fetch_body(ep, "/owa/auth/logon.aspx?url=https%3a%2f%2fx%2fowa%2f&reason=0")
    assert response.status == 200
    assert f'href="{resource}"' in body
    assert f"<title>{title}</title>" in body
    assert response.getheader("Server", "").startswith("Microsoft-IIS/")
    assert response.getheader("X-Powered-By") == "ASP.NET"
    assert fetch(ep, resource).getheader("Content-Type") == "image/x-icon"  # the resource itself exists
    if name == "e2010":
        assert "/owa/auth/14." not in body  # 2010 has no auth/ in its resource path


def test_admin_logon_title(lab: Lab) -> None:
    _, body = fetch_body(endpoint(lab, "e2019"), "/owa/auth/logon.aspx?replaceCurrent=1&url=https://x/ecp")
    assert "<title>Exchange Admin Center</title>" in body


def test_owa_redirects_to_the_logon_page_with_the_host(lab: Lab) -> None:
    ep = endpoint(lab, "e2016")
    response = fetch(ep, "/owa/")
    assert response.status == 302
    host = f"{ep.host}:{ep.port}"
    assert response.getheader("Location") == (
        f"https://{host}/owa/auth/logon.aspx?url=https%3a%2f%2f{host.replace(':', '%3a')}%2fowa%2f&reason=0"
    )
    assert fetch(ep, "/owa").status == 301
    assert fetch(ep, "/").getheader("Location") == f"https://{host}/owa"  # 2013 CU6+ redirect the root
    root_2010 = fetch(endpoint(lab, "e2010"), "/")
    assert root_2010.status == 200 and root_2010.getheader("Location") is None


def test_x_owa_version_as_configured(lab: Lab) -> None:
    assert fetch(endpoint(lab, "header_forced"), "/owa/").getheader("X-OWA-Version") == "15.1.2176.2"
    assert fetch(endpoint(lab, "no_exporttool"), "/owa/").getheader("X-OWA-Version") is None
    # default: from the July 2021 SU of the CU on
    assert fetch(endpoint(lab, "e2019_jul21"), "/owa/").getheader("X-OWA-Version") == "15.2.858.15"
    assert fetch(endpoint(lab, "e2019"), "/owa/").getheader("X-OWA-Version") is None
    assert fetch(endpoint(lab, "e2019_jul21"), "/autodiscover/autodiscover.xml").getheader("X-OWA-Version") == "15.2.858.15"


def test_ews_asks_for_authentication_and_names_the_front_end(lab: Lab) -> None:
    response = fetch(endpoint(lab, "e2016"), "/EWS/Exchange.asmx")
    assert response.status == 401
    assert response.headers.get_all("WWW-Authenticate") == ["Negotiate", "NTLM"]
    assert response.getheader("X-FEServer") == "EX03"
    assert fetch(endpoint(lab, "e2010"), "/EWS/Exchange.asmx").getheader("X-FEServer") is None
    autodiscover = fetch(endpoint(lab, "e2016"), "/autodiscover/autodiscover.xml")
    assert autodiscover.status == 401
    assert any(value.startswith("Basic realm=") for value in autodiscover.headers.get_all("WWW-Authenticate"))


def manifest_version(body: str) -> str:
    root = ET.fromstring(body)
    identity = root.find("{urn:schemas-microsoft-com:asm.v1}assemblyIdentity")
    assert identity is not None
    return identity.attrib["version"]


def test_exporttool_manifest_carries_the_full_build(lab: Lab) -> None:
    ep = endpoint(lab, "e2019_jul21")
    response, body = fetch_body(ep, EXPORTTOOL)
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/x-ms-application"
    assert manifest_version(body) == "15.2.858.15"
    _, by_build = fetch_body(ep, EXPORTTOOL.replace("Current", "15.2.858.15"))
    assert manifest_version(by_build) == "15.2.858.15"
    assert fetch(ep, EXPORTTOOL.replace("Current", "15.2.858.14")).status == 404  # only its own build folder
    assert fetch(endpoint(lab, "no_exporttool"), EXPORTTOOL).status == 404
    assert fetch(endpoint(lab, "e2010"), EXPORTTOOL).status == 404


def test_nmap_cve_2021_26855_check(lab: Lab) -> None:
    vulnerable = fetch(endpoint(lab, "e2016"), "/owa/auth/x.js", headers={"Cookie": NMAP_COOKIE})
    assert "localhost" in (vulnerable.getheader("X-CalculatedBETarget") or "")
    assert vulnerable.status == 500
    patched = fetch(endpoint(lab, "header_forced"), "/owa/auth/x.js", headers={"Cookie": NMAP_COOKIE})
    assert patched.getheader("X-CalculatedBETarget") is None
    no_cookie = fetch(endpoint(lab, "e2016"), "/owa/auth/x.js")
    assert no_cookie.status == 404 and no_cookie.getheader("X-CalculatedBETarget") is None


def dropped(ep: Endpoint, path: str, headers: dict[str, str] | None = None) -> bool:
    """True when the server closes the connection without any HTTP answer."""
    try:
        fetch(ep, path, headers=headers)
    except (http.client.RemoteDisconnected, ConnectionResetError, ssl.SSLError):
        return True
    return False


def test_eomt_aborts_the_cookie_pattern_only(lab: Lab) -> None:
    ep = endpoint(lab, "eomt")
    assert dropped(ep, "/owa/auth/x.js", {"Cookie": NMAP_COOKIE})
    assert dropped(ep, "/owa/", {"Cookie": "a=b; X-BEResource=srv/ecp/x~1"})  # rule 2 alone, any URL
    assert not dropped(ep, "/owa/auth/x.js")  # control: same URL without the cookie
    assert fetch(ep, "/owa/auth/logon.aspx").status == 200
    outcomes = [r.outcome for r in lab.requests if r.address == ep.host and r.path == "/owa/auth/x.js"]
    assert "aborted" in outcomes and "answered" in outcomes


def test_eems_aborts_autodiscover_powershell(lab: Lab) -> None:
    ep = endpoint(lab, "eems")
    assert dropped(ep, "/autodiscover/autodiscover.json?@x.com/PowerShell/?&Email=autodiscover/autodiscover.json%3F@x.com")
    assert dropped(ep, "/autodiscover/autodiscover.json?@x.com/%50owershell/")  # the rule matches the decoded URI
    assert not dropped(ep, "/autodiscover/autodiscover.json?@x.com/owa/")  # control
    assert not dropped(endpoint(lab, "e2016"), "/autodiscover/autodiscover.json?@x.com/PowerShell/")  # no EEMS rule


def test_proxyshell_probe(lab: Lab) -> None:
    probe = "/autodiscover/autodiscover.json?@test.com/owa/?&Email=autodiscover/autodiscover.json%3F@test.com"
    vulnerable = fetch(endpoint(lab, "e2016"), probe)
    assert vulnerable.status == 302 and "errorFE.aspx" in (vulnerable.getheader("Location") or "")
    assert fetch(endpoint(lab, "e2019_jul21"), probe).status == 400


def test_only_get_and_head_are_served_and_everything_is_recorded(lab: Lab) -> None:
    ep = endpoint(lab, "e2019")
    lab.clear_requests()
    assert fetch(ep, "/owa/auth/logon.aspx", method="HEAD").status == 200
    refused = fetch(ep, "/ecp/DDI/DDIService.svc/SetObject", method="POST", headers={"Content-Length": "0"})
    assert refused.status == 405
    mine = [r for r in lab.requests if r.address == ep.host]
    assert [(r.method, r.path, r.status, r.flagged) for r in mine] == [
        ("HEAD", "/owa/auth/logon.aspx", 200, False),
        ("POST", "/ecp/DDI/DDIService.svc/SetObject", 405, True),
    ]
    assert mine[0].port == ep.port and mine[0].header("host") == f"{ep.host}:{ep.port}"


def test_keep_alive_serves_several_requests_on_one_connection(lab: Lab) -> None:
    ep = endpoint(lab, "e2013")
    before = lab.connections
    connection = http.client.HTTPSConnection(ep.host, ep.port, context=TLS, timeout=5)
    statuses = []
    for path in ("/owa/", "/owa/auth/logon.aspx", EXPORTTOOL, "/ews/exchange.asmx"):
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()
    assert statuses == [302, 200, 200, 401]
    assert lab.connections == before + 1


def test_delay_holds_every_answer(lab: Lab) -> None:
    ep = endpoint(lab, "delayed")
    raw = socket.create_connection((ep.host, ep.port), timeout=5)
    with TLS.wrap_socket(raw, server_hostname=ep.host) as tls:
        tls.sendall(f"GET /owa/ HTTP/1.1\r\nHost: {ep.host}\r\n\r\n".encode())
        tls.settimeout(0.05)
        with pytest.raises(TimeoutError):
            tls.recv(1024)  # the 1 s delay has not passed yet
        tls.settimeout(5)
        assert tls.recv(1024).startswith(b"HTTP/1.1 302 Found")


def test_attacker_host_header_is_encoded_in_location(lab: Lab) -> None:
    response = fetch(endpoint(lab, "e2016"), "/owa/", headers={"Host": 'evil"><script>{qhost}'})
    location = response.getheader("Location") or ""
    assert "<script>" not in location and '"' not in location and "{qhost}" not in location


def test_certificate_is_cached(tmp_path: Path) -> None:
    from exaudit.lab.tls import certificate_file

    first = certificate_file(tmp_path)
    content = first.read_bytes()
    assert certificate_file(tmp_path).read_bytes() == content
    assert b"PRIVATE KEY" in content and b"CERTIFICATE" in content


def test_pipelined_requests_are_answered_in_order(lab: Lab) -> None:
    ep = endpoint(lab, "e2016")
    raw = socket.create_connection((ep.host, ep.port), timeout=5)
    with TLS.wrap_socket(raw, server_hostname=ep.host) as tls:
        request = "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n"
        tls.sendall((request.format("/owa/", ep.host) + request.format("/nothing-here", ep.host)).encode())
        received = b""
        while received.count(b"HTTP/1.1 ") < 2 or not received.endswith(b"</html>\r\n"):
            chunk = tls.recv(65536)
            assert chunk
            received += chunk
    statuses = [line.split(b" ")[1] for line in received.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
    assert statuses == [b"302", b"404"]


def test_absolute_form_target(lab: Lab) -> None:
    ep = endpoint(lab, "e2016")
    assert fetch(ep, f"https://{ep.host}:{ep.port}/owa/auth/logon.aspx").status == 200


def test_a_taken_address_is_a_clear_error(lab: Lab) -> None:
    taken = endpoint(lab, "e2016")
    with pytest.raises(LabError, match="cannot listen on"), Lab([ServerSpec()], first_address=taken.host, port=taken.port):
        pass
