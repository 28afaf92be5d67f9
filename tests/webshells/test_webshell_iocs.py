"""IOC layer: packaged published hashes and the user's CSV, STIX 2.1 and MISP files."""

from __future__ import annotations

import hashlib
import json

import pytest
import stix2
from test_webshell_rules import memory_file

from exaudit.detect.webshell import scan_files
from exaudit.detect.webshell_iocs import IocError, load_iocs, packaged_iocs
from exaudit.model import Severity

DATA = b"<html>an innocuous looking page</html>"
SHA = hashlib.sha256(DATA).hexdigest()


def test_packaged_hashes_hold_the_published_mstic_set() -> None:
    iocs = packaged_iocs()
    assert "b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0" in iocs.hashes
    assert len(iocs.hashes) >= 20 and not iocs.paths  # reference URLs are not file paths


def _scan_with(path) -> dict[str, Severity]:
    files = [memory_file("site/page.aspx", DATA), memory_file("C:\\inetpub\\wwwroot\\aspnet_client\\x1.txt", b"x")]
    result = scan_files(files, "h", iocs=load_iocs(path))
    return {f.source.path: f.severity for f in result.findings}


def test_csv_hash_and_path(tmp_path) -> None:
    path = tmp_path / "iocs.csv"
    path.write_text(f"Indicator,IndicatorType\n{SHA},sha256\nC:\\inetpub\\wwwroot\\aspnet_client\\x1.txt,filepath\n")
    found = _scan_with(path)
    assert found["site/page.aspx"] is Severity.CRITICAL
    assert found["C:\\inetpub\\wwwroot\\aspnet_client\\x1.txt"] is Severity.HIGH


def test_stix_bundle(tmp_path) -> None:
    indicator = stix2.Indicator(
        name="test shell", pattern=f"[file:hashes.'SHA-256' = '{SHA}']", pattern_type="stix", valid_from="2021-03-02T00:00:00Z"
    )
    path = tmp_path / "bundle.json"
    path.write_text(stix2.Bundle(indicator).serialize())
    assert _scan_with(path)["site/page.aspx"] is Severity.CRITICAL


def test_misp_event_with_object_attribute(tmp_path) -> None:
    event = {"Event": {"Attribute": [], "Object": [{"Attribute": [{"type": "filename|sha256", "value": f"page.aspx|{SHA}"}]}]}}
    path = tmp_path / "misp.json"
    path.write_text(json.dumps(event))
    assert _scan_with(path)["site/page.aspx"] is Severity.CRITICAL


@pytest.mark.parametrize("content", ['{"not": "an event"}', "{broken json"])
def test_bad_ioc_file_gives_a_clear_error(tmp_path, content) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(IocError, match=r"bad\.json"):
        load_iocs(path)
