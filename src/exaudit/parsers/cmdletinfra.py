"""CmdletInfra logs: remote PowerShell proxy HTTP (``Rps_Http``), remote PowerShell cmdlets
(``Rps_Cmdlet``) and local (EMS) PowerShell cmdlets.

Paths: ``<install>\\Logging\\CmdletInfra\\Powershell-Proxy\\Http\\Rps_Http_<yyyymmddhh>-<n>.LOG``,
``…\\Powershell-Proxy\\Cmdlet\\Rps_Cmdlet_*.LOG`` and ``…\\LocalPowerShell\\Cmdlet\\*_Cmdlet_*.LOG``.
All three are the Exchange CSV family (``#Fields`` header); ``Cmdlet`` and ``Parameters`` carry what
an attacker ran (ProxyShell ``New-MailboxExportRequest``, OWASSRF ``ClientInfo``).

References:
    reference/peer-tools-and-iocs.md §4 (CrowdStrike Rps_Http-IOC, Sigma cmdlet-history deletion), §9;
    corpus exchange-logs/Rps_Cmdlet_*.LOG.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from exaudit.parsers.base import ParseStats, Record
from exaudit.parsers.exchange_csv import parse_csv_log

RPS_HTTP = "rps_http"
RPS_CMDLET = "rps_cmdlet"
LOCAL_POWERSHELL = "local_powershell"


def parse(stream: BinaryIO, path: str, stats: ParseStats, artifact: str = RPS_CMDLET) -> Iterator[Record]:
    return parse_csv_log(stream, path, stats, artifact)
