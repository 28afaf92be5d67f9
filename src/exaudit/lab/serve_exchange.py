"""What an emulated Exchange front end (or plain web site) answers, response header by header.

Responses are pre-rendered once per distinct spec; per request only Date, request-id, X-FEServer and the
Host-dependent Location are filled in. Sources (project reference documents):

* remote-fingerprinting.md §1 — logon page resource path ``/owa/auth/<Major.Minor.Build>/themes/resources/...``
  on 2013+ (3 parts) and ``/owa/<4-part build>/themes/resources/...`` on 2010; §2 ``X-OWA-Version``; §3 the ECP
  export-tool manifest at ``/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application`` (and the
  ``/ecp/<4-part build>/exporttool/...`` folder); §4 ``X-FEServer`` on 2013+ EWS/OWA answers, none on 2010.
* The full 2019 CU9 ``/owa/auth/logon.aspx`` response quoted in [NUC] (header set: Cache-Control no-cache, no-store;
  Expires -1; Pragma no-cache; request-id; Server Microsoft-IIS/10.0; X-AspNet-Version 4.0.30319; X-Frame-Options
  SAMEORIGIN; X-Powered-By ASP.NET; title "Exchange Admin Center" when ``url=`` points to /ecp).
* microsoft-css-exchange.md §2 — the nmap CVE-2021-26855 check: GET ``/owa/auth/x.js`` with X-AnonResource /
  X-AnonResource-Backend / X-BEResource cookies; vulnerable = ``X-CalculatedBETarget`` containing ``localhost``
  (earlier versions also required status 500 and ``NegotiateSecurityContext`` in the body; we send all three).
  §3.1 EOMT rules and §3.5 the EEMS/EOMTv2 rule (``AbortRequest``: the connection is dropped without an answer).
* peer-tools-and-iocs.md §3 — ProxyShell probe ``/autodiscover/autodiscover.json?@x/owa/?&Email=autodiscover/
  autodiscover.json%3F@x``: 302 vulnerable (body mentions errorfe.aspx / OwaADUserNotFoundException), 400 patched.
* Exchange 2013 CU6+ and 2016 redirect ``/`` to ``/owa`` with a 301 (blog.expta.com, 2016-05-02).

Unknown, approximated here (also in docs/lab.md): the exact bodies (ours are short and carry the markers real tools
read), which responses carry X-OWA-Version (we send it on every Exchange application answer when enabled), the
answer of a patched server to the 26855 probe (we send the IIS 404 of a missing file), the TCP shape of
``AbortRequest`` (we reset the connection), IIS versions per product (7.5 for 2010, 8.5 for 2013, 10.0 after).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from exaudit.lab.serve_spec import ServerSpec

REASONS = {
    200: "OK", 301: "Moved Permanently", 302: "Found", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
}  # fmt: skip

EXPORTTOOL_NAME = "microsoft.exchange.ediscovery.exporttool.application"
PROXYLOGON_PROBE_RE = re.compile(r"^/(?:owa/auth|ecp)/[^/]+\.(?:js|css|flt|gif|png)$", re.I)
_BERESOURCE_RE = re.compile(r"X-BEResource=([^;]*)", re.I)
# EOMT / ExchangeMitigations rules 1 and 2 (microsoft-css-exchange.md §3.1), matched against {HTTP_COOKIE}.
EOMT_RULES = (re.compile(r"(.*)X-AnonResource-Backend(.*)", re.I), re.compile(r"(.*)X-BEResource=(.+)/(.+)~(.+)", re.I))
# EEMS M1.1 / EOMTv2 final rule (§3.5), matched against {UrlDecode:{REQUEST_URI}}.
EEMS_RULE = re.compile(r"(?=.*autodiscover)(?=.*powershell)", re.I)

_AUTH_401 = (("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM"))


@dataclass(frozen=True)
class Answer:
    """One pre-rendered answer: status, static headers, body; ``location`` is a template filled with the Host."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    location: str | None = None
    exchange: bool = True  # an Exchange application answer (request-id, X-FEServer, X-OWA-Version)
    basic_realm: bool = False  # add WWW-Authenticate: Basic realm="<host>"
    moved_body: bool = False  # body is the ASP.NET "Object moved" page pointing at the filled-in Location


ABORT = "abort"


def iis_version(spec: ServerSpec) -> str:
    major, minor, _, _ = spec.version
    if major == 14:
        return "7.5"
    return "8.5" if minor == 0 else "10.0"


def _iis_404() -> bytes:
    return (
        b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; '
        b'charset=iso-8859-1"/>\r\n<title>404 - File or directory not found.</title>\r\n</head>\r\n<body>\r\n'
        b'<div id="header"><h1>Server Error</h1></div>\r\n<div id="content">\r\n <div class="content-container"><fieldset>\r\n'
        b"  <h2>404 - File or directory not found.</h2>\r\n  <h3>The resource you are looking for might have been removed, "
        b"had its name changed, or is temporarily unavailable.</h3>\r\n </fieldset></div>\r\n</div>\r\n</body>\r\n</html>\r\n"
    )


def _iis_start(version: str) -> bytes:
    title = "IIS7" if version.startswith("7") else "IIS Windows Server"
    return (
        f'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; '
        f'charset=iso-8859-1" />\r\n<title>{title}</title>\r\n</head>\r\n<body>\r\n<div id="container">\r\n'
        f'<a href="http://go.microsoft.com/fwlink/?linkid=66138&amp;clcid=0x409"><img src="iisstart.png" alt="IIS" '
        f'width="960" height="600" /></a>\r\n</div>\r\n</body>\r\n</html>'
    ).encode()


def moved_page(location: str) -> bytes:
    """ASP.NET's redirect body; ``location`` must already be HTML-safe."""
    return (
        "<html><head><title>Object moved</title></head><body>\r\n"
        f'<h2>Object moved to <a href="{location}">here</a>.</h2>\r\n</body></html>\r\n'
    ).encode()


def _document_moved() -> bytes:
    return b'<head><title>Document Moved</title></head>\n<body><h1>Object Moved</h1>This document may be found <a HREF="">here</a></body>'


def logon_page(spec: ServerSpec, admin: bool) -> bytes:
    """The forms-based logon page with the version folder in every resource URL (remote-fingerprinting.md §1)."""
    major, minor, _, _ = spec.version
    if major == 14:
        res = f"/owa/{spec.owa_path_version}/themes/resources"
        title = "Outlook Web App"
        year = "2010"
    else:
        res = f"/owa/auth/{spec.owa_path_version}/themes/resources"
        title = "Outlook Web App" if minor == 0 else "Outlook"
        year = "2011"
    if admin:
        title = "Exchange Admin Center"
    fonts = "".join(
        f'@font-face {{\n    font-family: "wf_segoe-ui_{weight}";\n    src: url("{res}/segoeui-{face}.eot?#iefix") '
        f'format("embedded-opentype"),\n            url("{res}/segoeui-{face}.ttf") format("truetype");\n}}\n'
        for weight, face in (("normal", "regular"), ("semilight", "semilight"), ("semibold", "semibold"))
    )
    page = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n'
        f"<!-- Copyright (c) {year} Microsoft Corporation.  All rights reserved. -->\n"
        "<!-- OwaPage = ASP.auth_logon_aspx -->\n\n"
        "<html>\n<head>\n"
        '<meta http-equiv="X-UA-Compatible" content="IE=10" />\n'
        f'<link rel="shortcut icon" href="{res}/favicon.ico" type="image/x-icon">\n'
        '<meta http-equiv="Content-Type" content="text/html; CHARSET=utf-8">\n'
        '<meta name="Robots" content="NOINDEX, NOFOLLOW">\n'
        f"<title>{title}</title>\n<style>\n{fonts}</style>\n"
        f'<link type="text/css" rel="stylesheet" href="{res}/logon.css">\n'
        '</head>\n<body class="signInBg">\n'
        '<form action="/owa/auth.owa" method="POST" name="logonForm" ENCTYPE="application/x-www-form-urlencoded" autocomplete="off">\n'
        '<input type="hidden" name="destination" value="">\n<input type="hidden" name="flags" value="4">\n'
        '<input type="hidden" name="forcedownlevel" value="0">\n'
        '<div class="signInInputLabel" id="userNameLabel">Domain\\user name:</div>\n'
        '<input id="username" name="username" type="text" class="signInInputText" role="textbox">\n'
        '<div class="signInInputLabel" id="passwordLabel">Password:</div>\n'
        '<input id="password" name="password" type="password" class="signInInputText">\n'
        '<input name="isUtf8" value="1" type="hidden">\n'
        '<div onclick="clkLgn()" class="signinbutton" role="button" tabIndex="0"><span class="signinTxt">sign in</span></div>\n'
        "</form>\n</body>\n</html>\n"
    )
    return page.encode()


def exporttool_manifest(build: str) -> bytes:
    """A ClickOnce deployment manifest whose assemblyIdentity carries the 4-part build (remote-fingerprinting.md §3).

    The real file's publicKeyToken and signature are not in our references: the token here is zeros (unknown).
    """
    return (
        '<?xml version="1.0" encoding="utf-8"?>\r\n'
        '<asmv1:assembly xsi:schemaLocation="urn:schemas-microsoft-com:asm.v1 assembly.adaptive.xsd" manifestVersion="1.0" '
        'xmlns:asmv1="urn:schemas-microsoft-com:asm.v1" xmlns="urn:schemas-microsoft-com:asm.v2" '
        'xmlns:asmv2="urn:schemas-microsoft-com:asm.v2" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\r\n'
        f'  <assemblyIdentity name="{EXPORTTOOL_NAME}" version="{build}" publicKeyToken="0000000000000000" '
        'language="neutral" processorArchitecture="msil" xmlns="urn:schemas-microsoft-com:asm.v1" />\r\n'
        '  <description asmv2:publisher="Microsoft Corporation" asmv2:product="Microsoft Office 365 eDiscovery Export Tool" '
        'xmlns="urn:schemas-microsoft-com:asm.v1" />\r\n'
        '  <deployment install="false" trustURLParameters="true" mapFileExtensions="true" />\r\n'
        '  <dependency>\r\n    <dependentAssembly dependencyType="install" codebase="Application Files\\'
        f'microsoft.exchange.ediscovery.exporttool_{build.replace(".", "_")}\\microsoft.exchange.ediscovery.exporttool.exe.manifest">\r\n'
        f'      <assemblyIdentity name="microsoft.exchange.ediscovery.exporttool.exe" version="{build}" '
        'publicKeyToken="0000000000000000" language="neutral" processorArchitecture="msil" type="win32" />\r\n'
        "    </dependentAssembly>\r\n  </dependency>\r\n</asmv1:assembly>\r\n"
    ).encode()


class Site:
    """The routes of one emulated server; ``answer()`` is called per request and does only lookups."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.server_header = ("Server", f"Microsoft-IIS/{iis_version(spec)}")
        self.not_found = Answer(404, (self.server_header, ("Content-Type", "text/html")), _iis_404(), exchange=False)
        self.routes: dict[str, Answer] = {}
        self.prefixes: list[tuple[str, Answer]] = []
        if spec.kind == "plain":
            self._plain_routes()
        else:
            self._exchange_routes()

    # -- building -------------------------------------------------------------------------------------------------

    def _aspx(self, status: int, body: bytes = b"", location: str | None = None, extra: tuple[tuple[str, str], ...] = ()) -> Answer:
        """An answer of the Exchange ASP.NET application (the header set of the [NUC] response)."""
        aspnet = "2.0.50727" if self.spec.version[0] == 14 else "4.0.30319"
        headers = (
            ("Cache-Control", "no-cache, no-store" if status == 200 else "no-cache"),
            ("Pragma", "no-cache"),
            *((("Expires", "-1"),) if status == 200 else ()),
            ("Content-Type", "text/html; charset=utf-8"),
            self.server_header,
            *extra,
            ("X-AspNet-Version", aspnet),
            ("X-Powered-By", "ASP.NET"),
        )
        return Answer(status, headers, body, location, moved_body=location is not None)

    def _static(self, content_type: str, body: bytes) -> Answer:
        """A static file served by IIS itself (no ASP.NET headers)."""
        return Answer(200, (("Content-Type", content_type), self.server_header, ("Accept-Ranges", "bytes")), body, exchange=False)

    def _unauthorized(self, basic: bool) -> Answer:
        headers = (("Content-Type", "text/html"), self.server_header, *_AUTH_401, ("X-Powered-By", "ASP.NET"))
        return Answer(401, headers, b"", basic_realm=basic)

    def _iis_redirect(self, location: str) -> Answer:
        headers = (("Content-Type", "text/html; charset=UTF-8"), self.server_header, ("X-Powered-By", "ASP.NET"))
        return Answer(301, headers, _document_moved(), location, exchange=False)

    def _exchange_routes(self) -> None:
        spec, modern = self.spec, self.spec.version[0] == 15
        logon = "{scheme}://{host}/owa/auth/logon.aspx?url={scheme}%3a%2f%2f{qhost}%2f{app}%2f&reason=0"
        start_page = self._static("text/html", _iis_start(iis_version(spec)))
        root_redirects = modern and spec.version >= (15, 0, 995, 0)  # 2013 CU6 (15.0.995) and later
        self.routes["/"] = self._aspx(301, location="{scheme}://{host}/owa") if root_redirects else start_page
        for app in ("owa", "ecp", "ews", "autodiscover", "oab", "mapi", "rpc", "microsoft-server-activesync", "powershell"):
            self.routes[f"/{app}"] = self._iis_redirect(f"{{scheme}}://{{host}}/{app}/")
        for app in ("owa", "ecp"):
            target = logon.replace("{app}", app)
            self.routes[f"/{app}/"] = self._aspx(302, location=target)
        self.routes["/owa/auth/logon.aspx"] = self._aspx(200, logon_page(spec, admin=False), extra=(("X-Frame-Options", "SAMEORIGIN"),))
        self.admin_logon = self._aspx(200, logon_page(spec, admin=True), extra=(("X-Frame-Options", "SAMEORIGIN"),))
        favicon = self._static("image/x-icon", _favicon())
        folder = f"/owa/auth/{spec.owa_path_version}" if modern else f"/owa/{spec.owa_path_version}"
        self.routes[f"{folder}/themes/resources/favicon.ico"] = favicon
        for path in ("/ews/", "/ews/exchange.asmx", "/ews/services.wsdl", "/owa/service.svc", "/oab/", "/mapi/", "/rpc/",
                     "/microsoft-server-activesync/", "/rpc/rpcproxy.dll"):  # fmt: skip
            self.routes[path] = self._unauthorized(basic=path.startswith(("/oab", "/rpc", "/microsoft")))
        self.routes["/powershell/"] = Answer(401, (self.server_header, ("WWW-Authenticate", "Negotiate")), b"")
        self.routes["/autodiscover/autodiscover.xml"] = self._unauthorized(basic=True)
        if modern:
            self.routes["/autodiscover/autodiscover.json"] = self._unauthorized(basic=True)
            self._exporttool_routes()
        # The answers of the two behavioural probes (used by answer()).
        self.proxyshell_hit = self._aspx(302, location="{scheme}://{host}" + _ERRORFE)
        self.proxyshell_miss = Answer(400, (("Content-Type", "text/html"), self.server_header), b"Bad Request")
        self.proxylogon_hit = self._aspx(500, _NEGOTIATE_ERROR)

    def _exporttool_routes(self) -> None:
        if not self.spec.exporttool:
            return
        manifest = Answer(200, (("Content-Type", "application/x-ms-application"), self.server_header, ("Accept-Ranges", "bytes"),
                                ("X-Powered-By", "ASP.NET")), exporttool_manifest(self.spec.build), exchange=False)  # fmt: skip
        for folder in ("current", self.spec.build):
            self.routes[f"/ecp/{folder}/exporttool/{EXPORTTOOL_NAME}"] = manifest

    def _plain_routes(self) -> None:
        if self.spec.plain_server == "nginx":
            server = ("Server", "nginx/1.24.0")
            page = b"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n"
            page += b"</body>\n</html>\n"
            not_found = b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n"
            not_found += b"<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n"
            self.not_found = Answer(404, (server, ("Content-Type", "text/html")), not_found, exchange=False)
            self.routes["/"] = Answer(200, (server, ("Content-Type", "text/html")), page, exchange=False)
        else:
            self.server_header = ("Server", "Microsoft-IIS/10.0")
            self.not_found = Answer(404, (self.server_header, ("Content-Type", "text/html")), _iis_404(), exchange=False)
            self.routes["/"] = self._static("text/html", _iis_start("10.0"))

    # -- answering --------------------------------------------------------------------------------------------------

    def mitigation_aborts(self, target: str, cookie: str) -> bool:
        """True when an EOMT or EEMS URL Rewrite rule of this server aborts the request."""
        if self.spec.eomt and cookie and any(rule.match(cookie) for rule in EOMT_RULES):
            return True
        return self.spec.eems and bool(EEMS_RULE.match(unquote(target)))

    def answer(self, target: str, cookie: str) -> Answer | str:
        """The answer to a GET/HEAD of ``target`` (path and query), or ``ABORT``."""
        if self.spec.kind == "exchange" and self.mitigation_aborts(target, cookie):
            return ABORT
        if target[:8].lower().startswith(("http://", "https://")):  # absolute-form request target
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        raw_path, _, query = target.partition("?")
        path = unquote(raw_path).lower()
        if self.spec.kind == "exchange":
            special = self._special(path, query, cookie)
            if special is not None:
                return special
        return self.routes.get(path, self.not_found)

    def _special(self, path: str, query: str, cookie: str) -> Answer | None:
        if path == "/owa/auth/logon.aspx" and "/ecp" in unquote(query).lower():
            return self.admin_logon
        if path.startswith("/autodiscover/autodiscover.json") and self.spec.version[0] == 15:
            if "autodiscover/autodiscover.json" in unquote(query).lower():  # the ProxyShell SSRF shape
                return self.proxyshell_hit if self.spec.proxyshell == "vulnerable" else self.proxyshell_miss
        if self.spec.proxylogon == "vulnerable" and cookie and PROXYLOGON_PROBE_RE.match(path) and path not in self.routes:
            backend = calculated_backend(cookie)
            if backend:
                return dataclasses.replace(self.proxylogon_hit, headers=(*self.proxylogon_hit.headers, ("X-CalculatedBETarget", backend)))
        return None


def calculated_backend(cookie: str) -> str | None:
    """What a vulnerable front end computed as back end from ``X-BEResource=<host>/<path>~<version>`` (the host)."""
    match = _BERESOURCE_RE.search(cookie)
    if not match or "/" not in match.group(1):
        return None
    host = match.group(1).split("/", 1)[0].strip()
    return host.lower() or None


_ERRORFE = "/owa/auth/errorFE.aspx?httpCode=500&owaError=Microsoft.Exchange.Clients.Owa2.Server.Core.OwaADUserNotFoundException"
_NEGOTIATE_ERROR = (
    b"<html><head><title>Error</title></head><body>NegotiateSecurityContext failed for host 'localhost' "
    b"with status 'TargetUnknown'</body></html>"
)


@functools.lru_cache(maxsize=1)
def _favicon() -> bytes:
    # A 1x1 ICO: header, one directory entry, a 32-bit BMP. Content is irrelevant; presence and type matter.
    bmp = (40).to_bytes(4, "little") + (1).to_bytes(4, "little") + (2).to_bytes(4, "little") + b"\x01\x00\x20\x00"
    bmp += bytes(32)  # rest of the header, one pixel, the AND mask
    entry = b"\x01\x01\x00\x00\x01\x00\x20\x00" + len(bmp).to_bytes(4, "little") + (22).to_bytes(4, "little")
    return b"\x00\x00\x01\x00\x01\x00" + entry + bmp


@functools.lru_cache(maxsize=1024)
def site_for(spec: ServerSpec) -> Site:
    """Sites are shared by every endpoint with the same spec (the farm has far fewer distinct specs than hosts)."""
    return Site(spec)


def location_for(template: str, host: str, scheme: str = "https") -> str:
    """Fill the Host into a Location template; the Host is client text, so it is percent-encoded where unsafe.

    ``{qhost}`` is the Host inside a query value, encoded with lower-case hex as ASP.NET's UrlEncode does.
    """
    location = template.replace("{scheme}", scheme).replace("{host}", quote(host, safe=":[]"))
    if "{qhost}" in location:
        location = location.replace("{qhost}", _HEX_RE.sub(lambda m: m.group(0).lower(), quote(host, safe="")))
    return location


_HEX_RE = re.compile(r"%[0-9A-F]{2}")
