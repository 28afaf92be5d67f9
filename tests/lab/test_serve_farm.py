"""The farm, address allocation and scope, server specs, and the ``exaudit lab serve`` command."""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from exaudit.cli import OK, USAGE, main
from exaudit.lab import HOSTILE_KINDS, Lab, LabError, ServerSpec, SpecError, farm_specs, loopback_addresses
from exaudit.lab.serve_spec import default_proxylogon, product_of, spec_from_mapping


def test_farm_is_deterministic_and_mixed() -> None:
    farm = farm_specs(2000, seed=1)
    assert farm == farm_specs(2000, seed=1)
    assert farm != farm_specs(2000, seed=2)
    kinds = Counter(spec.kind for spec in farm)
    assert kinds["exchange"] > 1600 and kinds["plain"] > 80
    assert set(HOSTILE_KINDS) <= set(kinds)
    products = {spec.product for spec in farm if spec.kind == "exchange"}
    assert products == {"Exchange 2010", "Exchange 2013", "Exchange 2016", "Exchange 2019", "Exchange SE"}
    exchange = [spec for spec in farm if spec.kind == "exchange"]
    for flag in ("eomt", "eems", "owa_version_header"):
        assert 0 < sum(getattr(spec, flag) for spec in exchange) < len(exchange)
    assert {spec.proxylogon for spec in exchange} == {"vulnerable", "patched"}
    assert all(spec.proxylogon == "vulnerable" for spec in exchange if spec.eomt)  # EOMT ran on unpatched servers


def test_addresses_roll_over_octets_and_stay_on_loopback() -> None:
    assert loopback_addresses("127.0.10.254", 3) == ["127.0.10.254", "127.0.11.1", "127.0.11.2"]
    with pytest.raises(LabError, match=r"outside 127\.0\.0\.0/8"):
        loopback_addresses("127.255.255.253", 3)
    with pytest.raises(LabError, match=r"outside 127\.0\.0\.0/8"):
        Lab([ServerSpec()], first_address="192.168.1.10")


def test_spec_defaults_follow_the_build() -> None:
    assert default_proxylogon("15.1.2176.2") == "vulnerable"
    assert default_proxylogon("15.1.2176.9") == "patched"  # CU19 March 2021 SU
    assert default_proxylogon("15.01.2242.004") == "patched"  # CU20 shipped with the fix
    assert default_proxylogon("15.0.1367.3") == "vulnerable"  # 2013 CU20 never got a fix
    assert default_proxylogon("14.3.123.4") == "patched"  # 2010 is not affected by CVE-2021-26855
    assert product_of("15.2.2562.17") == "Exchange SE" and product_of("15.2.1748.10") == "Exchange 2019"
    assert ServerSpec(build="15.1.2176.2").replace(build="15.2.858.5").proxylogon == "patched"
    with pytest.raises(SpecError):
        ServerSpec(build="15.1.2176")
    with pytest.raises(SpecError):
        ServerSpec(kind="honeypot")
    with pytest.raises(SpecError, match="unknown server option"):
        spec_from_mapping({"build": "15.1.2176.2", "proxylogn": "vulnerable"})


async def _logon_pages(lab: Lab) -> dict[str, str]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    pages: dict[str, str] = {}
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=100), timeout=timeout) as session:

        async def one(url: str) -> None:
            async with session.get(url + "/owa/auth/logon.aspx") as response:
                pages[url] = await response.text()

        await asyncio.gather(*(one(ep.url) for ep in lab.endpoints if ep.spec.kind == "exchange"))
    return pages


def test_a_farm_of_hundreds_starts_and_answers(tmp_path: Path) -> None:
    specs = farm_specs(300, seed=7)
    with Lab(specs, first_address="127.0.93.1", port=0, tls_dir=tmp_path) as lab:
        assert len(lab.endpoints) == 300 and len({ep.host for ep in lab.endpoints}) == 300
        pages = asyncio.run(_logon_pages(lab))
        requests = lab.requests
    exchange = [ep for ep in lab.endpoints if ep.spec.kind == "exchange"]
    assert len(pages) == len(exchange) > 200
    for ep in exchange:
        assert f"/{ep.spec.owa_path_version}/themes/resources/favicon.ico" in pages[ep.url]
    assert {r.method for r in requests} == {"GET"} and not any(r.flagged for r in requests)
    assert {r.address for r in requests} == {ep.host for ep in exchange}


def test_cli_serves_for_a_duration(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    targets = tmp_path / "targets.txt"
    code = main(["lab", "serve", "--build", "15.1.2176.2", "--hostile", "tarpit", "--first", "127.0.94.1", "--port", "0",
                 "--duration", "0.1", "--delay", "200ms", "--no-tls", "--targets", str(targets)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == OK
    assert "127.0.94.1" in out and "15.1.2176.2" in out and "tarpit" in out and "Exchange 2016" in out
    urls = targets.read_text().split()
    assert len(urls) == 2 and urls[0].startswith("http://127.0.94.1:") and urls[1].startswith("http://127.0.94.2:")


def test_cli_refuses_addresses_outside_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "serve", "--build", "15.1.2176.2", "--first", "10.0.0.1", "--port", "0", "--duration", "0"]) == USAGE
    assert "outside 127.0.0.0/8" in capsys.readouterr().err


def test_cli_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "lab.yaml"
    config.write_text("first: 127.0.95.1\nport: 0\nservers:\n  - build: 14.3.123.4\n  - kind: plain\n    plain_server: nginx\n")
    assert main(["lab", "serve", "--config", str(config), "--duration", "0.1"]) == OK
    out = capsys.readouterr().out
    assert "Exchange 2010" in out and "nginx" in out and "127.0.95.2" in out
    config.write_text("servers:\n  - build: 15.1.2176.2\n    colour: blue\n")
    assert main(["lab", "serve", "--config", str(config), "--duration", "0"]) == USAGE
    assert "colour" in capsys.readouterr().err


def test_cli_bad_delay_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "serve", "--build", "15.1.2176.2", "--delay", "soon", "--port", "0"]) == USAGE
    assert "not a duration" in capsys.readouterr().err
