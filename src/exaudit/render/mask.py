"""Masking of secrets in everything meant for sharing (HTML, Markdown, CSV, STIX, MISP, Timesketch, letters).

Session tokens let whoever reads a report replay a session, and passwords typed on a command line are still
valid: neither belongs in a document sent to partners or a CERT. The canonical JSON keeps the raw evidence.

What is masked (the value only; the name stays so the reader knows what was there):

* ECP/OWA/RPS session tokens: ``msExchEcpCanary``, ``X-OWA-CANARY``, ``X-Rps-CAT``, the OWA forms-based
  authentication cookies ``cadata``, ``cadataKey``, ``cadataIV``, ``cadataSig``, ``cadataTTL``, and the
  ASP.NET session cookies (``ASP.NET_SessionId``, ``.ASPXAUTH``, ``FedAuth``, ``MSISAuth``).
* every cookie value in a ``Cookie:``/``Set-Cookie:`` header, except the cookies that *are* the attack
  (``X-BEResource``, ``X-AnonResource-Backend``, ``X-BackEndCookie``): they carry the SSRF target, not a secret.
* ``Authorization:`` header credentials.
* passwords on command lines: ``-p secret``, ``7z a -psecret``, ``/password:secret``, ``/pass:``,
  ``-Password 'secret'``, ``ConvertTo-SecureString 'secret'``, ``pass=``/``password=``/``pwd=``,
  ``net user NAME secret``, and ``user:secret@`` in URLs.

References:
    CSS-Exchange Test-ProxyLogon.ps1 output (msExchEcpCanary in AnchorMailbox, issue #100);
    Splunk "Exchange PowerShell Abuse via SSRF" (X-Rps-CAT in autodiscover.json queries).
"""

from __future__ import annotations

import re
from functools import lru_cache

MASK = "[MASKED]"

# IIS logs write spaces as "+" and URL-encode them as %20; attacker commands arrive both ways.
_SEP = r"(?:\s|\+|%20)+"
_VALUE = r"""(?:"[^"]*"|'[^']*'|[^\s&;,"'+]+)"""

# names of session tokens (not secrets themselves)
_TOKEN_NAMES = r"msExchEcpCanary|X-OWA-CANARY|X-Rps-CAT|cadata(?:Key|IV|Sig|TTL)?|ASP\.NET_SessionId|\.ASPXAUTH|FedAuth|MSISAuth"  # noqa: S105
_ATTACK_COOKIES = ("x-beresource", "x-anonresource-backend", "x-backendcookie")

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # name=value tokens anywhere (query strings, cookies, AnchorMailbox fields)
    (re.compile(rf"(?i)\b({_TOKEN_NAMES})(=|%3D)[^\s&;,\"'#]+"), rf"\1\2{MASK}"),
    # Authorization: Basic/Bearer/NTLM/Negotiate <credential>
    (re.compile(r"(?i)\b(Authorization:\s*\w+)\s+\S+"), rf"\1 {MASK}"),
    # /password:secret, /pass:secret, /p:secret (Windows tools)
    (re.compile(rf"(?i)(/(?:password|passwd|pass|pwd|p):){_VALUE}"), rf"\1{MASK}"),
    # -Password secret / -Password 'secret' / -AccountPassword (PowerShell)
    (re.compile(rf"(?i)(?<=[\s+(])(-\w*Password{_SEP})(?!\(){_VALUE}"), rf"\1{MASK}"),
    (re.compile(rf"(?i)(ConvertTo-SecureString(?:{_SEP}-String)?{_SEP}){_VALUE}"), rf"\1{MASK}"),
    # pass=secret in query strings and config text
    (re.compile(r"(?i)\b(pass|password|passwd|pwd)(=|%3D)[^\s&;,\"']+"), rf"\1\2{MASK}"),
    # -p secret (psexec, mysql, plink -pw): a lone -p followed by a value
    (re.compile(rf"(?<![\w-])(-pw?{_SEP})(?!-){_VALUE}"), rf"\1{MASK}"),
    # net user NAME secret [/add]
    (re.compile(rf"(?i)\b(net1?{_SEP}user{_SEP}(?![/-])[^\s+/]+{_SEP})(?![/-]|\*){_VALUE}"), rf"\1{MASK}"),
    # scheme://user:secret@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s/@]+@"), rf"\1{MASK}@"),
]

# 7z/rar take the password glued to the switch (7z a -pSecret x.7z); only there is "-pX" a password.
_ARCHIVER = re.compile(r"(?i)\b(?:7z|7za|7zr|rar|winrar|unrar)(?:\.exe)?\b")
_GLUED_P = re.compile(r"(?<![\w-])(-p)(?!w?(?:\s|\+|%20))([^\s+]+)")

_COOKIE_HEADER = re.compile(r"(?i)\b((?:Set-)?Cookie:\s*)([^\r\n]*)")
_COOKIE_PAIR = re.compile(r"([^=;\s]+)=([^;]*)")


def _mask_cookie_header(match: re.Match[str]) -> str:
    def pair(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.lower().lstrip("+") in _ATTACK_COOKIES:
            return m.group(0)
        return f"{name}={MASK}"

    return match.group(1) + _COOKIE_PAIR.sub(pair, match.group(2))


# Every pattern above needs one of these words; most strings of a document (times, ids, names) have none.
_TRIGGER = re.compile(
    r"(?i)canary|rps-cat|cadata|sessionid|aspxauth|fedauth|msisauth|cookie|authori[sz]ation|pass|pwd|/p:|-p|net1?(?:\s|\+|%20)|://"
)


@lru_cache(maxsize=65536)  # documents repeat the same strings (hosts, rules, URLs) many times
def mask_secrets(text: str) -> str:
    """Return ``text`` with session tokens and command-line passwords replaced by ``[MASKED]``."""
    if not text or not _TRIGGER.search(text):
        return text
    text = _COOKIE_HEADER.sub(_mask_cookie_header, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    if _ARCHIVER.search(text):
        text = _GLUED_P.sub(rf"\1{MASK}", text)
    return text
