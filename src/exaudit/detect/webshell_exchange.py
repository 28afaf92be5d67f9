"""Exchange-specific checks of the web shell scanner, where YARA is clumsy.

* Which folders are Exchange web folders (scanned first, and always whole): ``FrontEnd\\HttpProxy``
  (``owa\\auth`` with ``Current`` and version folders, ``ecp\\auth``, ``OAB``), ``ClientAccess``,
  ``inetpub\\wwwroot`` and its ``aspnet_client``.
* Files that do not belong in folders where only Exchange's own files live. These are *name lists per
  folder*, not a hash baseline: Microsoft's removed ``CompareExchangeHashes.ps1`` showed that per-build
  hash baselines flood users with "no match" rows for builds they do not cover.
* Container headers: a PST (``!BDN``) or DER (``30 82``) file saved with a page extension and carrying
  server script is the ProxyShell mailbox-export / certificate-request web shell.

References: CISA AA21-062A (web shell search paths: any .aspx in aspnet_client, anything but
TimeoutLogoff.aspx in ecp\\auth, any .aspx in owa\\auth\\Current and owa\\auth\\<version>);
signature-base filename IOCs and ``WEBSHELL_ASPX_ProxyShell_Aug21_2/3`` (PST/DER magic);
Microsoft MSTIC HAFNIUM file paths (2021-03-02); reference/peer-tools-and-iocs.md §2, §6, §7.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exaudit.model import Severity

SCRIPT_EXTENSIONS = frozenset(
    {".aspx", ".asp", ".ashx", ".asmx", ".asax", ".ascx", ".asa", ".cer", ".cdx", ".soap", ".svc", ".rem", ".master", ".cshtml", ".vbhtml"}
)
PAGE_EXTENSIONS = frozenset({".aspx", ".asp", ".ashx", ".asmx", ".asa", ".cer", ".cdx", ".soap"})

PST_MAGIC = b"!BDN"
DER_MAGIC = b"\x30\x82"

# Folder patterns on the normalised path (lower case, "/" separators), most specific first.
_FOLDERS: list[tuple[str, re.Pattern[str]]] = [
    ("owa_auth_version", re.compile(r"(^|/)frontend/httpproxy/owa/auth/\d+(\.\d+){2,3}/")),
    ("owa_auth_current", re.compile(r"(^|/)frontend/httpproxy/owa/auth/current/")),
    ("owa_auth", re.compile(r"(^|/)frontend/httpproxy/owa/auth/[^/]+$")),
    ("ecp_auth", re.compile(r"(^|/)frontend/httpproxy/ecp/auth/[^/]+$")),
    ("oab", re.compile(r"(^|/)frontend/httpproxy/oab/")),
    ("aspnet_client", re.compile(r"(^|/)aspnet_client/")),
    ("httpproxy", re.compile(r"(^|/)frontend/httpproxy/")),
    ("clientaccess", re.compile(r"(^|/)clientaccess/")),
    ("wwwroot", re.compile(r"(^|/)inetpub/wwwroot/")),
]

# Exchange's own server pages per folder (lower case). Only folders where Exchange alone puts pages are
# listed; a page outside the list is "unexpected" (suspicious, not proof). The lists hold names Microsoft's
# own material and public incident write-ups name as Exchange files; a name missing here gives a medium
# finding, never a critical one, so an incomplete list costs a review, not a false "compromised".
EXCHANGE_OWN_PAGES: dict[str, frozenset[str]] = {
    "owa_auth": frozenset(
        {"logon.aspx", "logoff.aspx", "errorfe.aspx", "expiredpassword.aspx", "frowny.aspx", "signout.aspx", "redirsuiteserviceproxy.aspx"}
    ),
    "ecp_auth": frozenset({"timeoutlogoff.aspx"}),
    "owa_auth_current": frozenset(),  # static resources only (themes, scripts)
    "owa_auth_version": frozenset(),  # static resources only
    "aspnet_client": frozenset(),  # ASP.NET client script folders: no server pages
    "oab": frozenset(),  # OAB downloads and web.config: no server pages
}


def normalise(path: str) -> str:
    return path.replace("\\", "/").lower()


def extension(path: str) -> str:
    name = normalise(path).rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1] if "." in name else ""


def web_folder(path: str) -> str | None:
    """The Exchange/IIS web folder a server path lies in, or None."""
    norm = normalise(path)
    for name, pattern in _FOLDERS:
        if pattern.search(norm):
            return name
    return None


def is_script(path: str) -> bool:
    return extension(path) in SCRIPT_EXTENSIONS


@dataclass(frozen=True)
class StructureHit:
    rule: str
    title: str
    severity: Severity
    reason: str
    cves: tuple[str, ...] = ()


def unexpected_in_exchange_folder(path: str) -> StructureHit | None:
    """A server page in a folder where Exchange puts only its own, known files."""
    folder = web_folder(path)
    if folder not in EXCHANGE_OWN_PAGES or not is_script(path):
        return None
    name = normalise(path).rsplit("/", 1)[-1]
    if name in EXCHANGE_OWN_PAGES[folder]:
        return None
    where = folder.replace("_", "\\")
    return StructureHit(
        rule="exaudit_exchange_unexpected_page",
        title="Server page that is not one of Exchange's own files in an Exchange web folder",
        severity=Severity.MEDIUM,
        reason=f"{name} is not an Exchange file of {where} (CISA AA21-062A search paths)",
    )


def container_kind(head: bytes) -> str | None:
    """``pst`` or ``der`` when the file starts like an Outlook PST or a DER certificate request."""
    if head.startswith(PST_MAGIC):
        return "pst"
    if head.startswith(DER_MAGIC):
        return "der"
    return None


def wrapped_page(path: str, head: bytes, has_script: bool) -> StructureHit | None:
    """A PST or DER container carrying server script, or a page extension on a binary container."""
    kind = container_kind(head)
    if kind and has_script:
        label = "Outlook PST (mailbox export)" if kind == "pst" else "DER certificate request"
        return StructureHit(
            rule=f"exaudit_exchange_{kind}_wrapped_page",
            title=f"{label} carrying server script (ProxyShell-style web shell)",
            severity=Severity.CRITICAL,
            reason=f"file starts with the {kind.upper()} header and contains server script",
            cves=("CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207"),
        )
    if kind and extension(path) in PAGE_EXTENSIONS:
        return StructureHit(
            rule="exaudit_exchange_binary_page",
            title="Page extension on a PST/DER container",
            severity=Severity.MEDIUM,
            reason=f"{extension(path)} file starts with the {kind.upper()} header (mailbox or certificate export written as a page)",
        )
    return None


def looks_utf16(head: bytes) -> str | None:
    """The UTF-16 codec of a page saved as UTF-16 (BOM, or NUL in every other byte), else None."""
    if head.startswith(b"\xff\xfe"):
        return "utf-16-le"
    if head.startswith(b"\xfe\xff"):
        return "utf-16-be"
    sample = head[:512]
    if len(sample) >= 16:
        odd_nuls = sample[1::2].count(0) / max(1, len(sample) // 2)
        even_nuls = sample[0::2].count(0) / max(1, len(sample) // 2)
        if odd_nuls > 0.6 and even_nuls < 0.1:
            return "utf-16-le"
        if even_nuls > 0.6 and odd_nuls < 0.1:
            return "utf-16-be"
    return None
