"""Log formats the evidence generator writes, column by column as Exchange and IIS write them.

* IIS W3C (``u_exYYMMDD.log``): ``#Software/#Version/#Date/#Fields`` then space-separated values,
  spaces inside values written as ``+``, empty as ``-``; times UTC. Two field sets: the Exchange
  default and the extended one (s-computername, cs-host, bytes ...), chosen per seed.
* Exchange CSV family (HttpProxy, ECP server, Rps_Http, Rps_Cmdlet, OABGenerator): directives
  ``#Software/#Version/#Log-type/#Date/#Fields`` then CSV rows; the 74 HttpProxy columns of
  Exchange 2016/2019. Exchange 2013 writes fewer trailing columns (68 in a published CU21 row);
  which ones are missing is not documented - we drop the last six [inferred].
* Rps_Http columns are an approximation: only ``ClientInfo``, ``HttpStatus``, ``UrlStem``,
  ``ClientIpAddress`` and ``AuthenticatedUser`` are known from CrowdStrike's Rps_Http-IOC script.
* The OABGenerator header is not documented either; we write the Exchange CSV family with a
  ``Message`` column [inferred], which is what matters: the ``Download failed ...`` text.
* Windows events as JSON lines in the flat OTRF/Mordor shape (``TimeCreated``, ``EventID``,
  ``Channel``, ``SourceName``, ``Hostname``, ``Message`` and the event data by name): EVTX is a binary
  format we do not write.

References: reference/microsoft-css-exchange.md §1.15 (HttpProxy columns, ECP EventData, directives);
corpus exchange-logs/ (real-format examples); reference/peer-tools-and-iocs.md §6 (Rps_Http).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

IIS_FIELDS_DEFAULT = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) "
    "sc-status sc-substatus sc-win32-status time-taken"
).split()
IIS_FIELDS_EXTENDED = (
    "date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs-version "
    "cs(User-Agent) cs(Referer) cs-host sc-status sc-substatus sc-win32-status sc-bytes cs-bytes time-taken"
).split()

HTTPPROXY_FIELDS = (
    "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,UrlStem,"
    "ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,"
    "ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,TargetServerVersion,RoutingType,"
    "RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,ResponseBytes,TargetOutstandingRequests,"
    "AuthModulePerfContext,HttpPipelineLatency,CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,"
    "AccountForestLatencyBreakup,TotalAccountForestLatency,ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,"
    "SharedCacheLatencyBreakup,TotalSharedCacheLatency,ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,"
    "ClientReqStreamLatency,BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,"
    "BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,HandlerCompletionLatency,RequestHandlerLatency,"
    "HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,TotalRequestTime,"
    "RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,EdgeTraceId,DatabaseGuid,UserADObjectGuid,"
    "PartitionEndpointLookupLatency,RoutingStatus"
).split(",")
ECP_FIELDS = ["TimeStamp", "ServerName", "EventId", "EventData"]
OAB_FIELDS = ["DateTime", "Level", "OabName", "Message"]
RPS_HTTP_FIELDS = (
    "DateTime,StartTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,UrlHost,UrlStem,"
    "AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,ClientIpAddress,ServerHostName,FrontEndServer,"
    "HttpStatus,SubStatus,ErrorCode,Action,CommandId,CommandName,SessionId,ShellId,ClientInfo,RequestBytes,Latency,GenericInfo"
).split(",")
RPS_CMDLET_FIELDS = (
    "DateTime,StartTime,RequestId,ClientRequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ServerHostName,"
    "ProcessId,ProcessName,ThreadId,CultureInfo,Organization,AuthenticatedUser,ExecutingUserSid,EffectiveOrganization,"
    "UserServicePlan,IsAdmin,ClientApplication,Cmdlet,Parameters,CmdletUniqueId,UserBudgetOnStart,ContributeToFailFast,"
    "TotalTime,ErrorType,ExecutionResult,GenericInfo,GenericErrors,NonPiiParameters"
).split(",")


def stamp(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def padded_version(build: str) -> str:
    """``15.1.2176.2`` → ``15.01.2176.002`` as the ``#Version`` directive writes it."""
    major, minor, b, rev = [*build.split("."), "0", "0", "0", "0"][:4]
    return f"{int(major)}.{int(minor):02d}.{int(b):04d}.{int(rev):03d}"


@dataclass
class Request:
    """One web request: IIS on the front end writes it, and so does the HttpProxy when it proxies it."""

    time: datetime
    method: str
    stem: str
    query: str = ""
    user: str = ""
    ip: str = ""
    ua: str = ""
    status: int = 200
    anchor: str = ""
    routing_hint: str = ""
    backend_cookie: str = ""
    target: str = ""
    proxied: bool = True  # written to the HttpProxy log too
    taken: int = 15


@dataclass
class Row:
    """A row of an Exchange CSV log (ECP, OAB, Rps_Http, Rps_Cmdlet): fields by name."""

    time: datetime
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Event:
    time: datetime
    channel: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class DroppedFile:
    path: tuple[str, ...]  # parts under the drive root (C:)
    content: bytes
    time: datetime


def protocol_of(stem: str) -> str:
    low = stem.lower()
    for prefix, name in (
        ("/owa/calendar", "OwaCalendar"),
        ("/owa", "Owa"),
        ("/ecp", "Ecp"),
        ("/ews", "Ews"),
        ("/mapi", "Mapi"),
        ("/microsoft-server-activesync", "Eas"),
        ("/autodiscover", "Autodiscover"),
        ("/powershell", "PowerShell"),
        ("/oab", "Oab"),
        ("/rpc", "RpcHttp"),
    ):
        if low.startswith(prefix):
            return name
    return "Owa"


# --------------------------------------------------------------------------- IIS


def iis_header(ts: datetime, fields: list[str]) -> str:
    return (
        "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n"
        f"#Date: {ts:%Y-%m-%d %H:%M:%S}\r\n#Fields: {' '.join(fields)}\r\n"
    )


def _w3c(value: str) -> str:
    value = value.replace(" ", "+")
    return value if value else "-"


def iis_line(req: Request, fields: list[str], server_ip: str, host: str, fqdn: str) -> str:
    values = {
        "date": f"{req.time:%Y-%m-%d}",
        "time": f"{req.time:%H:%M:%S}",
        "s-sitename": "W3SVC1",
        "s-computername": host,
        "s-ip": server_ip,
        "cs-method": req.method,
        "cs-uri-stem": req.stem,
        "cs-uri-query": req.query,
        "s-port": "443",
        "cs-username": req.user,
        "c-ip": req.ip,
        "cs-version": "HTTP/1.1",
        "cs(User-Agent)": req.ua,
        "cs(Referer)": "",
        "cs-host": fqdn,
        "sc-status": str(req.status),
        "sc-substatus": "0",
        "sc-win32-status": "0",
        "sc-bytes": str(400 + len(req.stem) * 7),
        "cs-bytes": str(300 + len(req.query)),
        "time-taken": str(req.taken),
    }
    return " ".join(_w3c(values[name]) for name in fields) + "\r\n"


# --------------------------------------------------------------------------- Exchange CSV family


def exchange_header(ts: datetime, version: str, log_type: str, fields: list[str]) -> str:
    return (
        f"#Software: Microsoft Exchange Server\r\n#Version: {version}\r\n#Log-type: {log_type}\r\n"
        f"#Date: {stamp(ts)}\r\n#Fields: {','.join(fields)}\r\n"
    )


def csv_line(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def httpproxy_values(req: Request, build: str, host: str, fqdn: str, request_id: str, fields: list[str]) -> list[str]:
    major, minor, b, rev = build.split(".")
    authenticated = bool(req.user)
    values = {
        "DateTime": stamp(req.time),
        "RequestId": request_id,
        "MajorVersion": major,
        "MinorVersion": minor,
        "BuildVersion": b,
        "RevisionVersion": rev,
        "Protocol": protocol_of(req.stem),
        "UrlHost": fqdn,
        "UrlStem": req.stem,
        "AuthenticationType": "Negotiate" if authenticated else "FBA",
        "IsAuthenticated": "true" if authenticated else "false",
        "AuthenticatedUser": req.user,
        "AnchorMailbox": req.anchor,
        "UserAgent": req.ua.replace(",", " "),  # Exchange writes commas inside values as spaces
        "ClientIpAddress": req.ip,
        "ServerHostName": host,
        "HttpStatus": str(req.status),
        "BackEndStatus": str(req.status),
        "Method": req.method,
        "ProxyAction": "Proxy",
        "TargetServer": req.target or fqdn,
        "TargetServerVersion": padded_version(build)[:-3] + "000",
        "RoutingType": "IntraForest",
        "RoutingHint": req.routing_hint,
        "BackEndCookie": req.backend_cookie,
        "UrlQuery": ("?" + req.query) if req.query else "",
        "TotalRequestTime": str(req.taken),
        "GenericInfo": f"BeginRequest={stamp(req.time)};CorrelationID=<empty>;ProxyState-Run=None;",
    }
    return [values.get(name, "") for name in fields]


def json_event(ev: Event, host: str) -> str:
    record = {
        "TimeCreated": f"{ev.time:%Y-%m-%d %H:%M:%S}.{ev.time.microsecond // 1000:03d}",
        "Hostname": host,
        "Channel": ev.channel,
        **ev.fields,
    }
    return json.dumps(record, ensure_ascii=False) + "\n"
