"""Fingerprint clues from single responses, and how they merge (remote-fingerprinting.md §1-§4)."""

from __future__ import annotations

import pytest

from exaudit.model import Precision
from exaudit.scan.fingerprint import EXPORTTOOL_PATH, Observation, clues_from, merge, product_of

LOGON_2019 = (
    b"<!DOCTYPE html><html><head><title>Outlook</title>"
    b'<link rel="shortcut icon" href="/owa/auth/15.2.858/themes/resources/favicon.ico" type="image/x-icon">'
    b'<form action="/owa/auth.owa" method="POST" name="logonForm"></form></head></html>'
)
LOGON_2010 = b'<html><head><title>Outlook Web App</title><link href="/owa/14.3.513.0/themes/base/logon.css"></head></html>'
MANIFEST = (
    b'<?xml version="1.0" encoding="utf-8"?><asmv1:assembly xmlns:asmv1="urn:schemas-microsoft-com:asm.v1">'
    b'<assemblyIdentity name="microsoft.exchange.ediscovery.exporttool.application" version="15.1.2375.37" '
    b'publicKeyToken="b1d3a7a2c3b2e3f4" language="neutral" processorArchitecture="msil" xmlns="urn:schemas-microsoft-com:asm.v1" />'
    b"</asmv1:assembly>"
)


def obs(path: str = "/owa/auth/logon.aspx", status: int = 200, headers: dict[str, str] | None = None, body: bytes = b"") -> Observation:
    return Observation(path, status, headers or {}, body)


def test_owa_resource_path_gives_the_cu_only() -> None:
    fp = merge(clues_from(obs(body=LOGON_2019)))
    assert (fp.exchange, fp.build, fp.precision, fp.product) == (True, "15.2.858", Precision.CU, "2019")
    assert fp.method == "owa logon resource path"


def test_exchange_2010_path_is_four_part() -> None:
    fp = merge(clues_from(obs(body=LOGON_2010)))
    assert (fp.build, fp.precision, fp.product) == ("14.3.513.0", Precision.EXACT, "2010")


def test_version_header_is_exact_and_beats_the_path() -> None:
    first = obs("/owa/", 302, {"x-owa-version": "15.1.2242.12"})
    fp = merge(clues_from(first) + clues_from(obs(body=b'<link href="/owa/auth/15.1.2242/themes/x.css">')))
    assert (fp.build, fp.precision, fp.product) == ("15.1.2242.12", Precision.EXACT, "2016")
    assert fp.method == "x-owa-version header (/owa/)"


def test_exporttool_manifest_gives_the_full_build() -> None:
    fp = merge(clues_from(obs(EXPORTTOOL_PATH, body=MANIFEST)))
    assert (fp.build, fp.precision, fp.method) == ("15.1.2375.37", Precision.EXACT, "ecp exporttool manifest")
    assert clues_from(obs(EXPORTTOOL_PATH, 404, body=MANIFEST)) == []  # an error page is no manifest


def test_exchange_headers_without_a_build() -> None:
    fp = merge(clues_from(obs("/EWS/Exchange.asmx", 401, {"x-feserver": "EX01", "www-authenticate": "Negotiate"})))
    assert (fp.exchange, fp.build, fp.precision) == (True, None, Precision.NONE)
    assert fp.method == "exchange header x-feserver (/EWS/Exchange.asmx)"


def test_not_exchange() -> None:
    iis = obs("/owa/", 404, {"server": "Microsoft-IIS/10.0"}, b"<html><title>404 - File or directory not found.</title></html>")
    assert merge(clues_from(iis)).exchange is False
    assert merge(clues_from(obs(body=b"<title>Welcome to nginx!</title>"))).exchange is False


def test_implausible_or_garbled_versions_are_not_builds() -> None:
    fp = merge(clues_from(obs("/owa/", 200, {"x-owa-version": "<script>alert(1)</script>"}, b'href="/owa/auth/99.1.2/x"')))
    assert fp.exchange is True and fp.build is None  # the header name alone says Exchange


def test_disagreeing_builds_are_reported() -> None:
    clues = clues_from(obs("/owa/", 302, {"x-owa-version": "15.1.2507.6"})) + clues_from(obs(body=b'"/owa/auth/15.1.2375/t"'))
    fp = merge(clues)
    assert fp.build == "15.1.2507.6" and "15.1.2375" in (fp.method or "")


@pytest.mark.parametrize(
    ("build", "product"),
    [("14.3.513.0", "2010"), ("15.0.1497.2", "2013"), ("15.1.2176", "2016"), ("15.2.1544.4", "2019"), ("15.2.2561.1", "2019"),
     ("15.2.2562.17", "SE"), ("8.3.485.1", "2007")],
)  # fmt: skip
def test_product_from_build(build: str, product: str) -> None:
    assert product_of(build) == product
